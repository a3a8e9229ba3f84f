"""Refresh the zh_Hans catalogue and fill translations from JSON files, for work in progress.

    .venv/bin/python scripts/po_fill.py new-messages.json [more.json ...]

Each JSON file maps an English msgid to its Chinese text (plural msgids map to a list: [singular, plural]).
The script runs makemessages, fills every entry the files name (clearing a fuzzy guess), and writes django.mo from
the entries translated so far, listing the ones still missing. `make messages` stays the strict gate: it refuses
a catalogue with any untranslated or fuzzy entry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "safetrain" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def makemessages() -> None:
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "zh_Hans",
            "--no-obsolete",
            "--ignore=node_modules",
            "--ignore=.venv",
            "-v",
            "0",
        ],
        cwd=ROOT,
        check=True,
        # makemessages needs no secrets: the test settings work on a checkout without a .env
        env={"DJANGO_SETTINGS_MODULE": "config.settings_test", **os.environ},
    )


def main(paths: list[str]) -> int:
    translations: dict[str, str | list[str]] = {}
    for path in paths:
        translations.update(json.loads(Path(path).read_text(encoding="utf-8")))
    makemessages()
    po = polib.pofile(str(CATALOGUE))
    for entry in po:
        text = translations.get(entry.msgid)
        if text is None or (entry.translated() and not entry.fuzzy):
            continue
        if entry.msgid_plural:
            forms = text if isinstance(text, list) else [text]
            entry.msgstr_plural = {0: forms[0]}
        else:
            entry.msgstr = text if isinstance(text, str) else text[0]
        if entry.fuzzy:
            entry.flags.remove("fuzzy")
            entry.previous_msgid = None
            entry.previous_msgctxt = None
    po.save()
    makemessages()  # gettext's own line wrapping again, so the diff shows only the new entries
    po = polib.pofile(str(CATALOGUE))
    po.save_as_mofile(str(CATALOGUE.with_suffix(".mo")))
    missing = po.untranslated_entries() + po.fuzzy_entries()
    for entry in missing:
        sys.stdout.write(f"still untranslated: {entry.msgid!r}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

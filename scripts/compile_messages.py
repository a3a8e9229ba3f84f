"""Compile every safetrain/locale/*/LC_MESSAGES/django.po into django.mo with polib (no system gettext needed).

Refuses (exit 1, nothing written) when a catalogue has untranslated or fuzzy entries, or a translation whose
%-placeholders do not fit its msgid: such a catalogue would show English or fail at runtime with a KeyError.
Run by `make messages` after `manage.py makemessages`; the .mo files are committed.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "safetrain" / "locale"

# Python %-format specifiers: named "%(n)d" or positional "%s"; "%%" is a literal percent sign.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<type>[diouxXeEfFgGcrsa%])"
)


def placeholders(text: str) -> Counter[str]:
    """Named placeholders by name, positional ones under "" (how many), ignoring "%%"."""
    return Counter(m["name"] or "" for m in PLACEHOLDER.finditer(text) if m["type"] != "%")


def label(entry: polib.POEntry) -> str:
    where = ", ".join(f"{path}:{line}" for path, line in entry.occurrences[:2])
    context = f"[{entry.msgctxt}] " if entry.msgctxt else ""
    return f"{context}{entry.msgid!r}" + (f" ({where})" if where else "")


def format_problems(entry: polib.POEntry) -> list[str]:
    """A translation may not use placeholders its msgid lacks (KeyError) nor, when singular, drop any."""
    if "python-format" not in entry.flags:
        return []
    problems = []
    if entry.msgid_plural:
        known = placeholders(entry.msgid) | placeholders(entry.msgid_plural)
        for index, text in sorted(entry.msgstr_plural.items()):
            extra = placeholders(text) - known
            if extra:
                problems.append(f"msgstr[{index}] uses unknown placeholders {sorted(extra)}")
    elif placeholders(entry.msgstr) != placeholders(entry.msgid):
        problems.append(
            f"placeholders differ: msgid {sorted(placeholders(entry.msgid).elements())}, "
            f"msgstr {sorted(placeholders(entry.msgstr).elements())}"
        )
    return problems


def check(po: polib.POFile) -> list[str]:
    errors = []
    if po.metadata_is_fuzzy:
        errors.append("the header is marked fuzzy")
    errors += [f"fuzzy: {label(e)}" for e in po.fuzzy_entries()]
    errors += [f"untranslated: {label(e)}" for e in po.untranslated_entries()]
    for entry in po.translated_entries():
        errors += [f"{problem}: {label(entry)}" for problem in format_problems(entry)]
    return errors


def main() -> int:
    catalogues = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po"))
    if not catalogues:
        sys.stderr.write(
            f"no catalogues found under {LOCALE_DIR.relative_to(ROOT)}/*/LC_MESSAGES/django.po\n"
        )
        return 1
    loaded = [(path, polib.pofile(str(path))) for path in catalogues]
    failed = False
    for path, po in loaded:
        errors = check(po)
        if errors:
            failed = True
            sys.stderr.write(f"{path.relative_to(ROOT)}: {len(errors)} problem(s), not compiled:\n")
            sys.stderr.writelines(f"  {error}\n" for error in errors)
    if failed:
        sys.stderr.write("Translate every entry and remove the fuzzy flags, then run this again.\n")
        return 1
    for path, po in loaded:
        mo_path = path.with_suffix(".mo")
        po.save_as_mofile(str(mo_path))
        sys.stdout.write(f"{mo_path.relative_to(ROOT)}: {len(po.translated_entries())} messages\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

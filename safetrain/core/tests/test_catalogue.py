"""UX-02: the zh_Hans catalogue is complete and its compiled .mo is what the .po says."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings

PO = Path(settings.BASE_DIR) / "safetrain" / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


def test_ux_02_every_message_has_a_chinese_translation():
    catalogue = polib.pofile(str(PO))
    assert len(catalogue) > 200
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []


def test_ux_02_the_compiled_catalogue_matches_the_source():
    source = polib.pofile(str(PO))
    compiled = polib.mofile(str(PO.with_suffix(".mo")))
    compiled_map = {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural for e in compiled}
    for entry in source:
        assert compiled_map.get((entry.msgctxt, entry.msgid)) == (entry.msgstr or entry.msgstr_plural), (
            entry.msgid
        )


def test_ux_02_every_literal_msgid_in_templates_and_code_is_in_the_catalogue():
    """A cheap stand-in for `makemessages`: simple {% translate "..." %} and _("...") literals must all be known."""
    import re

    root = Path(settings.BASE_DIR) / "safetrain"
    known = {e.msgid for e in polib.pofile(str(PO)) if not e.msgctxt}
    known_ctx = {(e.msgctxt, e.msgid) for e in polib.pofile(str(PO)) if e.msgctxt}
    template_re = re.compile(r"""{%\s*translate\s+(["'])(.+?)\1(?:\s+context\s+(["'])(.+?)\3)?\s*%}""")
    code_re = re.compile(r"""(?<![\w.])(?:_|_lazy|gettext|gettext_lazy)\(\s*"([^"\\]+)"\s*\)""")
    missing = set()
    for path in root.rglob("*.html"):
        for m in template_re.findall(path.read_text(encoding="utf-8")):
            if m[3] and (m[3], m[1]) not in known_ctx:
                missing.add(f"{m[3]}|{m[1]}")
            elif not m[3] and m[1] not in known:
                missing.add(m[1])
    for path in root.rglob("*.py"):
        if "/tests/" in str(path) or "/migrations/" in str(path):
            continue
        missing |= set(code_re.findall(path.read_text(encoding="utf-8"))) - known
    assert missing == set(), "run `make messages` and translate: " + ", ".join(sorted(missing))

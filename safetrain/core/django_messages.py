"""Django's own messages that its zh_Hans catalogue leaves in English (Django 5.2 reworded them).

Named here so that `makemessages` keeps them in the platform's catalogue, which Django consults before its own
(LOCALE_PATHS): the password-length rule (ACC-03) then speaks Chinese on the pages and in the API.
"""

from django.utils.translation import ngettext


def _untranslated_by_django() -> None:  # pragma: no cover - never called; makemessages reads it
    ngettext(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        8,
    )

"""Django's and django-axes' own messages that their zh_Hans catalogues leave in English (Django 5.2 reworded some,
added others; axes has no Chinese).

Named here so that `makemessages` keeps them in the platform's catalogue, which Django consults before its own
(LOCALE_PATHS): the password-length rule (ACC-03) then speaks Chinese on the pages and in the API.
"""

from django.utils.translation import gettext, ngettext


def _untranslated_by_django() -> None:  # pragma: no cover - never called; makemessages reads it
    ngettext(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        8,
    )
    # The admin index's column headings for screen readers (Django 5.1) and django-axes' model names.
    gettext("Model name")
    gettext("Add link")
    gettext("Change or view list link")
    gettext("access attempt")
    gettext("access attempts")
    gettext("access failure")
    gettext("access failures")
    gettext("access log")
    gettext("access logs")
    gettext("access attempt expiration")
    gettext("access attempt expirations")

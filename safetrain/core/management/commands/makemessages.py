"""`makemessages` that also finds the strings of `_lazy(...)`: the modules that need both gettext and gettext_lazy import the
latter as `_lazy`."""

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=_lazy"]

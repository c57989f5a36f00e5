"""Refresh the catalogues after changing strings: derived names, makemessages, compilemessages."""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from localization.catalogue import IGNORE, MAKEMESSAGES_OPTIONS, TRANSLATED, catalogue


class Command(BaseCommand):
    help = "Extract every marked string into locale/<lang>/LC_MESSAGES/django.po and compile the .mo files."

    def handle(self, *args, **options):
        import polib

        call_command("list_derived_names", write=True, verbosity=0)
        call_command("makemessages", locale=TRANSLATED, **MAKEMESSAGES_OPTIONS)
        for language in TRANSLATED:
            todo = [e for e in polib.pofile(str(catalogue(language))) if not e.translated() or e.fuzzy]
            self.stdout.write(
                _("%(language)s: %(count)d messages to translate in %(path)s")
                % {"language": language, "count": len(todo), "path": catalogue(language)}
            )
        call_command("compilemessages", locale=TRANSLATED, ignore_patterns=IGNORE, verbosity=0)
        self.stdout.write(_("Compiled the catalogues under %(path)s.") % {"path": settings.LOCALE_PATHS[0]})

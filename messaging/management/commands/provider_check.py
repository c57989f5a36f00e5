"""manage.py provider_check ACCOUNT_NAME [--json]: test one provider account's connection."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from messaging import services
from messaging.models import ProviderAccount


class Command(BaseCommand):
    help = "Test a provider account's connection. Exit code 0 only when it is OK."

    def add_arguments(self, parser):
        parser.add_argument("account", help="The account's name (as shown in the admin).")
        parser.add_argument(
            "--json",
            action="store_true",
            help="Print one JSON object on the last line (ok, status, detail, …).",
        )

    def handle(self, *args, account, **options):
        found = ProviderAccount.objects.filter(name=account).first()
        if found is None:
            names = ", ".join(ProviderAccount.objects.values_list("name", flat=True)[:20]) or _("none yet")
            if options["json"]:
                self.stdout.write(
                    json.dumps(
                        {
                            "ok": False,
                            "status": "missing",
                            "detail": _("No provider account named %(name)r.") % {"name": account},
                        }
                    )
                )
                raise SystemExit(2)
            raise CommandError(
                _("No provider account named %(name)r. Accounts: %(names)s.") % {"name": account, "names": names}
            )
        result = services.test_connection(found)
        if options["json"]:
            payload = {"account": found.name, "provider": found.provider, **result.as_dict()}
            self.stdout.write(json.dumps(payload, ensure_ascii=False))
        else:
            style = self.style.SUCCESS if result.ok else self.style.ERROR
            self.stdout.write(style(f"{found.name} ({found.provider_class.display_name}): {result.detail}"))
        if not result.ok:
            raise SystemExit(1)

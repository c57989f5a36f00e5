"""python manage.py sync ACCOUNT_NAME [--resource all|contacts|lists|templates|…] [--direction pull|push|both] [--json]

The --resource choices are the registered sync resources (messaging.sync.core.register_resource).
"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from messaging.models import ProviderAccount
from messaging.sync.core import resource_names
from messaging.sync.services import SyncBusy, sync_account


class Command(BaseCommand):
    help = "Sync one provider account now, in this process (resumes an interrupted run of the same kind)."

    def add_arguments(self, parser):
        parser.add_argument("account", help="The account's name (as shown in the admin)")
        parser.add_argument("--resource", choices=resource_names(), default="all")
        parser.add_argument("--direction", choices=["pull", "push", "both"], default="both")
        parser.add_argument(
            "--json", action="store_true", help="End with one JSON line: the run's counts and status"
        )

    def handle(self, *args, **options):
        try:
            account = ProviderAccount.objects.get(name=options["account"])
        except ProviderAccount.DoesNotExist:
            names = ", ".join(ProviderAccount.objects.values_list("name", flat=True)) or "none yet"
            raise CommandError(
                f"No provider account called {options['account']!r} (accounts: {names})."
            ) from None
        try:
            run = sync_account(account, options["resource"], options["direction"], trigger="cli")
        except SyncBusy as exc:
            if options["json"]:
                self.stdout.write(json.dumps({"status": "busy", "detail": str(exc)}))
            raise CommandError(str(exc)) from None
        summary = run.summary()
        if options["json"]:
            self.stdout.write(json.dumps(summary))
        else:
            parts = ", ".join(f"{n} {summary[n]}" for n in run.COUNTS if summary[n])
            self.stdout.write(
                f"Sync #{run.pk} of {account}: {run.get_status_display().lower()}. {parts or 'Nothing to do.'}"
            )
            if run.error:
                self.stdout.write(self.style.ERROR(run.error))
            for problem in run.problems.all()[:20]:
                self.stdout.write(f"  {problem.level}: {problem.message}")
        if run.status == run.Status.FAILED:
            raise CommandError(f"Sync #{run.pk} failed: {run.error}")

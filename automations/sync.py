"""The "automations" sync resource: pull each account's provider automations (Spoki's flows).

`python manage.py sync ACCOUNT --resource automations --direction pull --json` runs it through
the sync engine (lock, SyncRun, problems); it is also pulled on the account's schedule.
"""

from __future__ import annotations

from django.db import transaction

from messaging.sync.core import ResourceSync, register_resource


@register_resource
class AutomationSync(ResourceSync):
    """Pull only: automations are built at the provider; here staff pick one to start."""

    name = "automations"
    kind = "automation"
    scheduled = True
    order = 400

    def phases(self):
        if self.pull and self.caps.supports("automations", "pull"):
            return [("automations:pull", self.pull_automations)]
        return []

    def pull_automations(self, cursor) -> None:
        from .services import store_provider_automations

        remotes = list(self.provider.iter_provider_automations())
        with transaction.atomic():
            counts = store_provider_automations(self.account, remotes)
            self.run.pulled += counts["pulled"]
            self.run.created += counts["created"]
            self.run.updated += counts["updated"]
            for remote in remotes:
                if not remote.trigger_id or not remote.trigger_secret:
                    self.note(self.kind, f"“{remote.name}” has no API trigger: it cannot be started from here.",
                              remote_id=remote.remote_id)  # fmt: skip
            self.checkpoint("automations:pull", None)

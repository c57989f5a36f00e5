"""Templates sync: statuses and remotely-made templates pulled in, local edits pushed.

Pull: every template on the account (WhatsApp, and RCS where the provider has them) is
matched by its link, else by name + language, else created here (in our named variables,
decoded by the provider's syntax); its status and reason land on the TemplateLink.
Content follows the usual three-way rule (local and remote fingerprints at the last sync):
only theirs changed → applied here; only ours → pushed; both → the account's conflict
policy (provider_wins applies theirs; otherwise ours is kept and the run notes it).
A second pull changes nothing. Push: linked templates whose content changed here since the
last sync are sent again (and so go back to review), through messaging.templating.services.
"""

from __future__ import annotations

from django.db import transaction

from messaging.providers.base import Op, Resource

from .core import ResourceSync, register_resource
from .models import RemoteLink

TEMPLATE = RemoteLink.Kind.TEMPLATE


def link_key(remote_id: str, language: str) -> str:
    """The RemoteLink id of one template localisation (some providers share ids across languages)."""
    return f"{remote_id}|{language}" if language else str(remote_id)


@register_resource
class TemplateSync(ResourceSync):
    """templates:pull → templates:reconcile → templates:push"""

    name = "templates"
    kind = TEMPLATE
    link_field = "template"
    scheduled = True  # statuses are pulled on the account's schedule
    order = 30

    def phases(self):
        if not self.caps.resources.get(Resource.TEMPLATES):
            return []
        phases = []
        if self.pull and self.caps.supports("templates", Op.PULL):
            phases += [
                ("templates:pull", self.pull_templates),
                ("templates:reconcile", self.reconcile_templates),
            ]
        if self.push and self.caps.supports("templates", Op.PUSH):
            phases += [("templates:push", self.push_templates)]
        return phases

    # -- pull ------------------------------------------------------------------------------------

    def pull_templates(self, cursor) -> None:
        from messaging.templating.services import record_pulled_template

        kinds = self.provider.template_kinds
        batch = []
        for remote in self.provider.iter_templates():
            if (remote.channel or "whatsapp") not in kinds:
                continue
            batch.append(remote)
            if len(batch) >= 50:
                self._pull_batch(batch, record_pulled_template)
                batch = []
        self._pull_batch(batch, record_pulled_template)

    def _pull_batch(self, batch, record) -> None:
        if not batch:
            return
        with transaction.atomic():
            self.run.pulled += len(batch)
            for remote in batch:
                if not remote.remote_id or not remote.name:
                    self.error(
                        self.kind, f"A template without an id or name was skipped ({remote.remote_id!r})."
                    )
                    continue
                try:
                    with transaction.atomic():
                        outcome, note = record(self.account, self.provider, remote, run=self.run)
                except Exception as exc:  # one bad record must not stop the run
                    self.error(self.kind, f"Not imported: {exc}", remote_id=remote.remote_id)
                    continue
                if outcome in ("created", "updated", "unchanged", "conflicts"):
                    setattr(self.run, outcome, getattr(self.run, outcome) + 1)
                if note:
                    self.note(self.kind, note, remote_id=remote.remote_id)
            self.checkpoint("templates:pull", None)

    def reconcile_templates(self, cursor) -> None:
        """Templates gone from the provider: their status there is dropped (the template stays here)."""
        from messaging.templating.models import TemplateLink

        seen = RemoteLink.objects.filter(account=self.account, kind=TEMPLATE, last_seen_run=self.run.pk)
        gone = RemoteLink.objects.filter(account=self.account, kind=TEMPLATE).exclude(
            last_seen_run=self.run.pk
        )
        if not gone.exists():
            return
        if not seen.exists():
            with transaction.atomic():
                self.note(
                    self.kind,
                    f"{self.provider.display_name} returned no templates at all; links were kept. Check the account.",
                )
                self.flush()
            return
        with transaction.atomic():
            template_ids = [t for t in gone.values_list("template_id", flat=True) if t]
            TemplateLink.objects.filter(account=self.account, template_id__in=template_ids).delete()
            self.run.unlinked += len(template_ids)
            gone.delete()
            self.note(
                self.kind, f"Templates gone from {self.provider.display_name} were unlinked (kept here)."
            )
            self.flush()

    # -- push ------------------------------------------------------------------------------------

    def push_templates(self, cursor) -> None:
        from messaging.templating.services import changed_since_sync, push_template

        for link in changed_since_sync(self.account):
            outcome = push_template(link.template, self.account, provider=self.provider)
            with transaction.atomic():
                if outcome["ok"]:
                    self.run.pushed += 1
                else:
                    self.error(
                        self.kind, outcome["detail"], remote_id=link.remote_id, local_id=link.template_id
                    )
                self.flush()

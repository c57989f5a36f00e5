"""The "senders" sync resource: the provider's listing of senders, pulled into Sender rows.

Pull only (providers list senders; none documents creating one over its API). The listing is
read whole (it is a handful of rows) and applied in one transaction by
messaging.senders.services.record_pulled_senders, so a second pull changes nothing.
Runs on the account's schedule, on "Sync now", and when staff save the account.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from messaging.providers.base import Op, Resource
from messaging.sync.core import ResourceSync, register_resource


@register_resource
class SenderSync(ResourceSync):
    """senders:pull"""

    name = "senders"
    kind = "sender"
    scheduled = True
    order = 40

    def phases(self):
        if self.pull and self.caps.supports(Resource.SENDERS, Op.PULL):
            return [("senders:pull", self.pull_senders)]
        return []

    def pull_senders(self, cursor) -> None:
        from .services import record_pulled_senders

        remote = list(self.provider.iter_senders())
        with transaction.atomic():
            counts = record_pulled_senders(self.account, remote)
            self.run.pulled += len(remote)
            for key in ("created", "updated", "unchanged"):
                setattr(self.run, key, getattr(self.run, key) + counts[key])
            if counts["skipped"]:
                self.note(self.kind, _("%(count)s senders without an address or channel were skipped.")
                          % {"count": counts["skipped"]})  # fmt: skip
            if counts["deactivated"]:
                self.note(self.kind, _("%(count)s senders no longer listed by %(provider)s were switched off.")
                          % {"count": counts["deactivated"], "provider": self.provider.display_name})  # fmt: skip
            if not remote:
                self.note(self.kind, _("%(provider)s listed no senders; the ones here were kept.")
                          % {"provider": self.provider.display_name})  # fmt: skip
            self.checkpoint("senders:pull", None, done=True)

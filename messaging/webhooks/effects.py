"""What each normalised webhook event does. Core code: no provider's payload shape appears here.

- DeliveryUpdate → the one status service (messaging.status.apply_delivery_update): forward only,
  counters move with it, our reference matched first.
- InboundMessage → record_inbound (conversation, contact, keywords, replied, contact event).
- ResourceChange → the sync engine's rules: a pull of that resource on that account (the engine
  matches links, applies the conflict policy and the delete policy), one per batch and resource.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..providers.base import DeliveryUpdate, InboundMessage, ResourceChange, WebhookRead
from .inbound import record_inbound


@dataclass
class BatchContext:
    """What one drain batch collects to do once at its end (sync pulls per account and resource)."""

    pulls: set[tuple[int, str]] = field(default_factory=set)

    def finish(self, accounts: dict) -> None:
        if not self.pulls:
            return
        from ..sync.models import SyncRun
        from ..sync.services import start_sync

        known = set(SyncRun.Resource.values)
        for account_id, resource in sorted(self.pulls):
            if resource in known:
                start_sync(accounts[account_id], resource=resource, direction="pull", trigger="api")
        self.pulls.clear()


def apply_read(account, read: WebhookRead, context: BatchContext) -> dict:
    """Apply one request's events; returns what happened, for the event's `outcome`."""
    from ..status import apply_delivery_update

    deliveries: Counter[str] = Counter()
    outcome: dict = {}
    for event in read.events:
        if isinstance(event, DeliveryUpdate):
            deliveries[apply_delivery_update(account, event).outcome.value] += 1
        elif isinstance(event, InboundMessage):
            result = record_inbound(account, event)
            inbound = outcome.setdefault("inbound", [])
            inbound.append({
                "message_id": result.message.pk, "created": result.created,
                "contact_id": result.message.contact_id, "contact_created": result.contact_created,
                "opted_out": result.opted_out, "opted_in": result.opted_in, "replied_to": result.replied_to,
            })  # fmt: skip
    if deliveries:
        outcome["deliveries"] = dict(deliveries)
    changes: list[dict] = []
    for change in read.changes:
        changes.append(_apply_change(account, change, context))
    if changes:
        outcome["changes"] = changes
    return outcome


def _apply_change(account, change: ResourceChange, context: BatchContext) -> dict:
    from ..providers.base import Op

    supported = account.provider_class.capabilities.supports(change.resource, Op.PULL)
    if supported:
        context.pulls.add((account.pk, change.resource))
    return {
        "resource": change.resource, "action": change.action, "remote_id": change.remote_id,
        "sync": "pull" if supported else "not supported",
    }  # fmt: skip


def finish_batch(context: BatchContext, accounts: dict) -> None:
    """Queue what the batch asked for; start_sync enqueues on commit, so after the marks are saved."""
    context.finish(accounts)

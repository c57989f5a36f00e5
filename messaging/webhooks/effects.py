"""What each normalised webhook event does. Core code: no provider's payload shape appears here.

- DeliveryUpdate → the one status service, a drain batch's updates in one call per account
  (messaging.status.apply_delivery_update_results): forward only, counters move with it, our
  reference matched first.
- InboundMessage → record_inbound (conversation, contact, keywords, replied, contact event).
- ResourceChange → the sync engine's rules: a pull of that resource on that account (the engine
  matches links, applies the conflict policy and the delete policy), one per batch and resource.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from ..providers.base import DeliveryUpdate, InboundMessage, ResourceChange, WebhookRead
from .inbound import record_inbound

log = logging.getLogger(__name__)


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


def apply_deliveries(parsed) -> dict[int, list]:
    """The delivery updates of a batch of (event, read), through the status service in one batch
    per account; returns each event's results by event id, in its updates' order.

    When a batch raises, its events are left out and each applies its own updates in
    apply_read, so one bad event fails alone and the others go through.
    """
    from ..status import apply_delivery_update_results

    by_account: dict[int, list[tuple]] = {}
    for event, read in parsed:
        updates = [e for e in read.events if isinstance(e, DeliveryUpdate)]
        if updates:
            by_account.setdefault(event.account_id, []).append((event, updates))
    results: dict[int, list] = {}
    for items in by_account.values():
        flat = [update for _, updates in items for update in updates]
        try:
            applied = apply_delivery_update_results(items[0][0].account, flat)  # its own savepoint
        except Exception:
            log.warning("batch of %d delivery updates failed; applying them one event at a time", len(flat),
                        exc_info=True)  # fmt: skip
            continue
        position = 0
        for event, updates in items:
            results[event.pk] = applied[position : position + len(updates)]
            position += len(updates)
    return results


def apply_read(account, read: WebhookRead, context: BatchContext, deliveries=None) -> dict:
    """Apply one request's events; returns what happened, for the event's `outcome`.

    `deliveries`: the results of its delivery updates when apply_deliveries applied them already.
    """
    from ..status import apply_delivery_update_results

    outcome: dict = {}
    updates = [event for event in read.events if isinstance(event, DeliveryUpdate)]
    if updates and deliveries is None:
        deliveries = apply_delivery_update_results(account, updates)
    if updates:
        outcome["deliveries"] = dict(Counter(result.outcome.value for result in deliveries))
    for event in read.events:
        if isinstance(event, InboundMessage):
            result = record_inbound(account, event)
            inbound = outcome.setdefault("inbound", [])
            inbound.append({
                "message_id": result.message.pk, "created": result.created,
                "contact_id": result.message.contact_id, "contact_created": result.contact_created,
                "opted_out": result.opted_out, "opted_in": result.opted_in, "replied_to": result.replied_to,
            })  # fmt: skip
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

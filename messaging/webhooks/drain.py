"""The drainer: stored webhook events, in batches, through their effects, each marked once.

A batch is claimed with SELECT … FOR UPDATE SKIP LOCKED (several drainers share the backlog
without taking the same rows) and handled in ONE transaction: each event's effects run in a
savepoint and its new status is written in the same transaction. So a crash anywhere in a batch
rolls back both the effects and the marks, and the events are processed once, on the retry.
An event whose effects raise is marked failed with the error (savepoint rolled back, the batch
goes on) and retried later, up to WEBHOOK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .effects import BatchContext, apply_read, finish_batch
from .models import WebhookEvent

log = logging.getLogger(__name__)

S = WebhookEvent.Status


def _headers_and_body(event: WebhookEvent) -> tuple[dict, bytes]:
    return dict(event.headers or {}), (event.body or "").encode("utf-8")


def process_event(event: WebhookEvent, providers: dict, context: BatchContext) -> None:
    """Apply one stored event and set its status, error and outcome (not saved here)."""
    event.attempts += 1
    event.processed_at = timezone.now()
    provider = providers.get(event.account_id)
    if provider is None:
        provider = providers[event.account_id] = event.account.get_provider()
    headers, body = _headers_and_body(event)
    try:
        with transaction.atomic():
            read = provider.read_webhook(headers, body)
            if read.empty:
                event.status, event.error, event.outcome = S.IGNORED, "", {}
                return
            event.outcome = apply_read(event.account, read, context)
            event.status, event.error = S.PROCESSED, ""
    except Exception as exc:
        log.warning("Webhook event %s failed: %s", event.pk, exc, exc_info=True)
        event.status = S.FAILED
        event.error = (f"{type(exc).__name__}: {exc}")[:2000]


def drain_batch(batch_size: int | None = None) -> Counter:
    """Claim and process up to batch_size waiting events; returns counts by new status."""
    size = batch_size or getattr(settings, "WEBHOOK_DRAIN_BATCH", 200)
    counts: Counter = Counter()
    with transaction.atomic():
        events = list(
            WebhookEvent.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("account")
            .filter(status=S.RECEIVED)
            .order_by("id")[:size]
        )
        if not events:
            return counts
        providers: dict = {}
        context = BatchContext()
        for event in events:
            process_event(event, providers, context)
            counts[event.status] += 1
        WebhookEvent.objects.bulk_update(events, ["status", "error", "outcome", "attempts", "processed_at"])
        finish_batch(context, {e.account_id: e.account for e in events})
    return counts


def requeue_failed(now=None) -> int:
    """Failed events that were received in good order go back to the queue, with a growing pause."""
    now = now or timezone.now()
    limit = getattr(settings, "WEBHOOK_MAX_ATTEMPTS", 5)
    requeued = 0
    for attempts in range(1, limit):
        requeued += WebhookEvent.objects.filter(
            status=S.FAILED, http_status__lt=400, attempts=attempts,
            processed_at__lt=now - dt.timedelta(minutes=attempts * attempts),
        ).update(status=S.RECEIVED)  # fmt: skip
    return requeued


def drain_webhook_events(*, max_seconds: float = 50.0, batch_size: int | None = None) -> dict:
    """Drain the backlog batch after batch, for at most max_seconds; returns counts by status."""
    requeue_failed()
    started = time.monotonic()
    totals: Counter = Counter()
    while True:
        counts = drain_batch(batch_size)
        totals.update(counts)
        if not counts or time.monotonic() - started > max_seconds:
            break
    return dict(totals)


def reprocess_webhook_events(events) -> tuple[int, int]:
    """Queue events again (admin action, API). Refused and malformed requests and duplicates never run.

    Effects are idempotent (the status service is forward only, inbound messages are keyed by
    the provider's id), so processing an event again does not count it twice. → (queued, skipped)
    """
    ids = (
        list(events.values_list("pk", flat=True))
        if hasattr(events, "values_list")
        else [e.pk for e in events]
    )
    eligible = WebhookEvent.objects.filter(pk__in=ids, http_status__lt=400).exclude(status=S.DUPLICATE)
    queued = eligible.update(status=S.RECEIVED, error="")
    if queued:
        transaction.on_commit(kick_drainer_now)
    return queued, len(ids) - queued


def kick_drainer_now() -> None:
    from .tasks import process_webhook_events

    try:
        process_webhook_events.apply_async()
    except Exception:
        log.warning("Could not enqueue the webhook drainer", exc_info=True)


def refusal_text(event: WebhookEvent) -> str:
    return _("Refused (%(status)s): %(error)s") % {"status": event.http_status, "error": event.error}

"""Thin Celery task for the webhook drainer (queue `webhooks`)."""

from __future__ import annotations

from celery import shared_task

from .drain import drain_webhook_events


@shared_task(name="messaging.tasks.process_webhook_events", ignore_result=True)
def process_webhook_events() -> dict:
    """Drain stored webhook events in batches until the backlog is empty; ~50 s, then re-queue."""
    result = drain_webhook_events()
    if result.pop("more", False):
        process_webhook_events.apply_async()
    return result

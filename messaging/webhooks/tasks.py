"""Thin Celery task for the webhook drainer (queue `webhooks`)."""

from __future__ import annotations

from celery import shared_task

from .drain import drain_webhook_events


@shared_task(name="messaging.tasks.process_webhook_events", ignore_result=True)
def process_webhook_events() -> dict:
    """Drain stored webhook events in batches until the backlog is empty (or ~50 s passed)."""
    return drain_webhook_events()

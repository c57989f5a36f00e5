"""Thin Celery tasks for automations: each calls one service and returns counts."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="automations.tasks.drain_automation_events", acks_late=True)
def drain_automation_events() -> dict:
    """Consume new contact events in batches (safe to run in parallel: SKIP LOCKED)."""
    from .engine import drain_events

    return drain_events()


@shared_task(name="automations.tasks.run_due_automations", acks_late=True)
def run_due_automations() -> dict:
    """Perform the steps whose time has come (delays, retries, runs a dead worker left)."""
    from .engine import run_due

    return run_due()


@shared_task(name="automations.tasks.evaluate_date_automations", acks_late=True)
def evaluate_date_automations() -> dict:
    """Refresh the date index from changed contacts, start today's date runs, perform them."""
    from .dates import evaluate_date_triggers, refresh_contact_dates
    from .engine import run_due

    indexed = refresh_contact_dates()
    created = evaluate_date_triggers()
    return {"indexed": indexed, "created": created, **run_due()}


@shared_task(name="automations.tasks.pull_provider_automations", acks_late=True)
def pull_provider_automations(account_id: int) -> dict:
    from messaging.models import ProviderAccount

    from .services import pull_provider_automations as service

    return service(ProviderAccount.objects.get(pk=account_id))

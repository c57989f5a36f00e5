"""Thin Celery tasks for sync. Named messaging.tasks.sync_* so CELERY_TASK_ROUTES sends them to "sync".

Imported by messaging/sync/__init__.py, so the worker registers them whenever the
messaging app loads (Celery's autodiscovery only looks at messaging/tasks.py).
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="messaging.tasks.sync_account", acks_late=True)
def sync_account(run_id: int) -> dict:
    """Run (or resume) one queued SyncRun; returns its summary."""
    from .models import SyncRun
    from .services import SyncBusy, execute_run

    run = SyncRun.objects.select_related("account").get(pk=run_id)
    if run.finished and not run.cursor:
        return run.summary()
    try:
        run = execute_run(run)
    except SyncBusy as exc:
        return {"id": run_id, "status": "busy", "detail": str(exc)}
    return run.summary()


@shared_task(name="messaging.tasks.sync_scheduled")
def sync_scheduled(account_id: int) -> dict:
    """The periodic sync of one account (django-celery-beat calls this per account)."""
    from messaging.models import ProviderAccount

    from .services import SyncBusy, scheduled_resources
    from .services import sync_account as sync_now

    account = ProviderAccount.objects.filter(pk=account_id, is_active=True).first()
    if account is None:
        return {"account": account_id, "status": "skipped"}
    try:
        summary = sync_now(account, trigger="schedule").summary()
    except SyncBusy as exc:
        # Periodic jobs skip when one is already running.
        summary = {"account": account_id, "status": "busy", "detail": str(exc)}
    # Resources outside "all" that run on the schedule too (template statuses, …), each its own run.
    also = []
    for resource in scheduled_resources(account):
        try:
            also.append(sync_now(account, resource, "pull", trigger="schedule").summary())
        except SyncBusy as exc:
            also.append({"resource": resource, "status": "busy", "detail": str(exc)})
    if also:
        summary["also"] = also
    return summary

"""Thin Celery tasks for contacts (routed to the "imports" queue by config/settings.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="contacts.tasks.run_import", acks_late=True)
def run_import(import_id: int) -> dict:
    """Run or resume one import; a redelivered task continues from the last committed batch."""
    from contacts.imports.services import run_import as service

    return service(import_id)


@shared_task(name="contacts.tasks.fail_stale_imports")
def fail_stale_imports() -> dict:
    """Periodic: imports whose worker vanished are marked failed (resumable), never left running;
    search indexes such a worker had deferred for a large load are built again."""
    from contacts.imports.indexes import restore_if_idle
    from contacts.imports.services import fail_stale_imports as service

    return {"failed": service(), "indexes_rebuilt": restore_if_idle()}


@shared_task(name="contacts.tasks.run_export", acks_late=True)
def run_export(export_id: int) -> dict:
    """Write one export file in the background."""
    from contacts.imports.exports import run_export as service

    return service(export_id)

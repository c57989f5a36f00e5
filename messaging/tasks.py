"""Thin Celery tasks: they take ids, call one service and return a small dict."""

from __future__ import annotations

from celery import shared_task

from . import services
from .models import ProviderAccount


@shared_task(ignore_result=False)
def check_account_health(account_id: int) -> dict:
    """Test one account's connection and record its health."""
    account = ProviderAccount.objects.filter(pk=account_id).first()
    if account is None:
        return {"ok": False, "status": "missing", "detail": f"No provider account {account_id}."}
    return services.test_connection(account).as_dict()


@shared_task
def prune_http_log(days: int | None = None) -> dict:
    """Delete old HTTP log rows (run daily by celery beat)."""
    return {"deleted": services.prune_http_log(days)}


# The webhook drainer lives with the webhooks package; imported here so autodiscovery finds it.
from .webhooks.tasks import process_webhook_events  # noqa: E402, F401

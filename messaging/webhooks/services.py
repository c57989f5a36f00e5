"""Webhook services staff and the API call: rotate the URL, register with the provider, summaries."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from ..providers.base import Provider
from ..providers.errors import NotSupported
from .models import WebhookEvent
from .tokens import new_webhook_token


def rotate_webhook_token(account) -> str:
    """Give the account a new /hooks/ URL; the old one answers 404 from the next request on.

    (The receiver's per-process cache is re-checked by its INSERT, so no process keeps the old URL.)
    """
    account.webhook_token = new_webhook_token()
    account.save(update_fields=["webhook_token", "updated_at"])
    return account.webhook_token


def can_register(account) -> bool:
    """Whether the provider's API lets us register the URL (else staff paste it by hand)."""
    return account.provider_class.register_webhooks is not Provider.register_webhooks


def can_rotate_secrets(account) -> bool:
    return account.provider_class.rotate_webhook_secrets is not Provider.rotate_webhook_secrets


def _secret_map_state(account) -> dict:
    return {**(account.webhook_registration or {}), "secret": account.webhook_secret}


@transaction.atomic
def register_webhooks(account) -> dict:
    """Register (or update) our URL with the provider and keep what it answered.

    Secrets the provider issues (Spoki: one per subscription) go into the encrypted
    webhook_secret; ids and the URL into webhook_registration. Raises NotSupported where the
    provider's API has no such call, ProviderError when the call fails.
    """
    provider = account.get_provider()
    state = provider.register_webhooks(account.webhook_url, _secret_map_state(account))
    _keep(account, state)
    return account.webhook_registration


@transaction.atomic
def rotate_webhook_secrets(account) -> dict:
    """Ask the provider for new signing secrets (the old ones stop working there at once)."""
    provider = account.get_provider()
    state = provider.rotate_webhook_secrets(_secret_map_state(account))
    _keep(account, state)
    return account.webhook_registration


def _keep(account, state: dict) -> None:
    state = dict(state or {})
    secrets = state.pop("secrets", None)
    state.pop("secret", None)
    fields = ["webhook_registration", "updated_at"]
    if secrets:
        account.webhook_secret = (
            json.dumps(secrets, sort_keys=True) if isinstance(secrets, dict) else str(secrets)
        )
        fields.append("webhook_secret")
    account.webhook_registration = {**state, "registered_at": timezone.now().isoformat()}
    account.save(update_fields=fields)


@dataclass
class WebhookSummary:
    """An account's last 24 hours of webhooks, for its page and the API."""

    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    last_received_at: dt.datetime | None = None
    backlog: int = 0

    @property
    def silent(self) -> bool:
        return self.last_received_at is None or self.last_received_at < timezone.now() - dt.timedelta(days=1)


def webhook_summary(account, now=None) -> WebhookSummary:
    now = now or timezone.now()
    recent = WebhookEvent.objects.filter(account=account, received_at__gte=now - dt.timedelta(hours=24))
    counts = dict.fromkeys(WebhookEvent.Status.values, 0)
    for row in recent.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    last = WebhookEvent.objects.filter(account=account).aggregate(last=Max("received_at"))["last"]
    backlog = WebhookEvent.objects.filter(account=account, status=WebhookEvent.Status.RECEIVED).count()
    return WebhookSummary(counts=counts, total=sum(counts.values()), last_received_at=last, backlog=backlog)


def registration_help(account) -> list[str]:
    """What the account page says about connecting the provider to our URL."""
    provider = account.get_provider()
    steps = provider.webhook_instructions(account.webhook_url)
    if steps:
        return steps
    if can_register(account):
        return [_("Press “Register webhooks” to point the provider at this address.")]
    return []


__all__ = [
    "NotSupported",
    "register_webhooks",
    "rotate_webhook_secrets",
    "rotate_webhook_token",
    "webhook_summary",
]


DRAIN_TASK_NAME = "Process received webhook events"


def ensure_webhook_tasks(**kwargs) -> None:
    """post_migrate: drain every minute as a safety net (web processes also nudge a worker)."""
    from config.beat import ensure_periodic_task

    ensure_periodic_task(
        DRAIN_TASK_NAME,
        "messaging.tasks.process_webhook_events",
        description="Applies stored webhook events in batches; re-queues failed ones with a growing pause.",
        every_minutes=1,
        using=kwargs.get("using", "default"),
    )

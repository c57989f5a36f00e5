"""Statuses by polling (for accounts without webhooks) and the once-a-minute campaign tick.

Polled updates go through the same status service as webhooks, so a status seen by both
counts once.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.utils import timezone

from messaging.message_models import Message
from messaging.providers.errors import NotSupported, ProviderError
from messaging.status import apply_delivery_updates

from ..models import Campaign
from . import lifecycle

logger = logging.getLogger("switchboard.campaigns")

POLL_CHUNK = 200
POLL_FOR = dt.timedelta(days=3)  # statuses stop changing after a few days


def poll_campaign(campaign_id: int) -> dict:
    """Fetch the status of a campaign's sent messages that may still move (sent or delivered)."""
    campaign = Campaign.objects.select_related("account").filter(pk=campaign_id).first()
    if campaign is None:
        return {"missing": campaign_id}
    if campaign.execution == Campaign.Execution.PROVIDER:
        from .provider_run import pull_provider_stats

        return pull_provider_stats(campaign)
    provider = campaign.account.get_provider()
    counts: dict[str, int] = {}
    pending = Message.objects.filter(
        campaign=campaign, status__in=[Message.Status.SENT, Message.Status.DELIVERED]
    ).exclude(provider_message_id="")
    last_id = 0
    while True:
        ids = list(
            pending.filter(id__gt=last_id)
            .order_by("id")
            .values_list("id", "provider_message_id")[:POLL_CHUNK]
        )
        if not ids:
            break
        last_id = ids[-1][0]
        try:
            updates = provider.fetch_delivery_updates([pid for _, pid in ids], campaign.channel)
        except NotSupported:
            return {"supported": False}
        except ProviderError as exc:
            logger.warning("polling campaign %s: %s", campaign_id, exc)
            counts["errors"] = counts.get("errors", 0) + 1
            break
        for key, n in apply_delivery_updates(campaign.account, updates).items():
            counts[key] = counts.get(key, 0) + n
    return counts


def tick() -> dict:
    """Start due scheduled campaigns, restart sending ones nobody runs, poll recent ones."""
    from ..tasks import poll_campaign_statuses, run_campaign

    now = timezone.now()
    started = 0
    for campaign in Campaign.objects.filter(status=Campaign.Status.SCHEDULED, scheduled_at__lte=now):
        lifecycle.begin_scheduled(campaign)
        started += 1
    stalled = list(
        Campaign.objects.filter(status=Campaign.Status.SENDING)
        .exclude(runner_until__gt=now)
        .values_list("pk", flat=True)
    )
    for pk in stalled:
        run_campaign.delay(pk)
    recent = list(
        Campaign.objects.filter(started_at__gte=now - POLL_FOR)
        .exclude(status__in=[Campaign.Status.DRAFT, Campaign.Status.SCHEDULED])
        .values_list("pk", flat=True)
    )
    for pk in recent:
        poll_campaign_statuses.delay(pk)
    return {"started": started, "restarted": len(stalled), "polled": len(recent)}

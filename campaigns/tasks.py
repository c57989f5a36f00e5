"""Thin Celery tasks (queue `sending`): they take ids, call one service, return a small dict."""

from __future__ import annotations

from celery import shared_task

from .services import fanout, polling


@shared_task(acks_late=True)
def run_campaign(campaign_id: int) -> dict:
    """Send a slice of a campaign; re-enqueue itself while there is more (or a window to wait for)."""
    report = fanout.run_campaign(campaign_id)
    if report.again_in is not None:
        run_campaign.apply_async((campaign_id,), countdown=report.again_in)
    if report.sent or report.status == "completed":
        poll_campaign_statuses.apply_async((campaign_id,), countdown=10)
    return report.as_dict()


@shared_task
def poll_campaign_statuses(campaign_id: int) -> dict:
    """Ask the provider where the campaign's sent messages are (for accounts without webhooks)."""
    return polling.poll_campaign(campaign_id)


@shared_task
def tick_campaigns() -> dict:
    """Every minute: start due scheduled campaigns, restart stalled runners, poll recent campaigns."""
    return polling.tick()

"""A campaign's life: create, edit (drafts), start, pause, resume, cancel — each recorded with who and when.

draft → scheduled → sending → completed, with paused, cancelled and failed. Every change of
status goes through `_move`, which locks the campaign row, checks the transition is allowed
and writes a CampaignTransition. Sending itself is campaigns.services.fanout (ours) or
campaigns.services.provider_run (the provider's); both are started here, after commit.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from messaging.message_models import Message
from messaging.stats import StatDeltas

from ..models import Campaign, CampaignTransition
from .rules import check_campaign, provider_runs_campaign

logger = logging.getLogger("switchboard.campaigns")
S = Campaign.Status

ALLOWED = {
    S.DRAFT: {S.SCHEDULED, S.SENDING, S.CANCELLED},
    S.SCHEDULED: {S.SENDING, S.PAUSED, S.CANCELLED, S.DRAFT},
    S.SENDING: {S.PAUSED, S.COMPLETED, S.CANCELLED, S.FAILED},
    S.PAUSED: {S.SENDING, S.CANCELLED, S.FAILED},
    S.COMPLETED: set(),
    S.CANCELLED: set(),
    S.FAILED: set(),
}
EDITABLE_FIELDS = (
    "name", "description", "account", "channel", "fallback_channels", "sender", "template", "text", "variables",
    "scheduled_at", "rate_per_second", "window_start", "window_end", "window_days", "apply_frequency_cap",
    "track_clicks", "failure_threshold_percent", "failure_window",
)  # fmt: skip


class CampaignError(ValidationError):
    """The campaign cannot do that now; the message says why (and on which field)."""


def _move(campaign: Campaign, to: str, *, by=None, reason: str = "", **fields) -> Campaign:
    """Lock, check and record one status change (the caller is inside transaction.atomic)."""
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    if to not in ALLOWED[locked.status]:
        raise CampaignError(
            _("A %(status)s campaign cannot be %(action)s.")
            % {"status": locked.get_status_display().lower(), "action": S(to).label.lower()},
            code="transition",
        )
    CampaignTransition.objects.create(campaign=locked, from_status=locked.status, to_status=to, by=by,
                                      reason=reason)  # fmt: skip
    locked.status = to
    locked.status_reason = reason
    for key, value in fields.items():
        setattr(locked, key, value)
    locked.save(update_fields=["status", "status_reason", "updated_at", *fields])
    campaign.__dict__.update({k: getattr(locked, k) for k in ("status", "status_reason", *fields)})
    return locked


def _raise(errors: dict[str, list[str]]) -> None:
    if errors:
        raise CampaignError(errors)


def _apply(campaign: Campaign, data: dict) -> tuple[list | None, list | None]:
    lists = data.pop("lists", None)
    exclude = data.pop("exclude_lists", None)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise CampaignError({k: [_("This field cannot be set.")] for k in sorted(unknown)})
    for key, value in data.items():
        setattr(campaign, key, value)
    if not campaign.window_days:
        campaign.window_days = []
    return lists, exclude


def _ids(items) -> list[int]:
    return [getattr(i, "pk", i) for i in items or []]


def create_campaign(data: dict, *, by=None) -> Campaign:
    """A draft campaign from validated field values (lists/exclude_lists: lists or ids)."""
    data = dict(data)
    campaign = Campaign(created_by=by)
    lists, exclude = _apply(campaign, data)
    _raise(check_campaign(campaign, list_ids=_ids(lists), exclude_ids=_ids(exclude)))
    campaign.execution = (
        Campaign.Execution.PROVIDER if provider_runs_campaign(campaign.account, campaign.channel)
        else Campaign.Execution.SWITCHBOARD
    )  # fmt: skip
    with transaction.atomic():
        campaign.save()
        campaign.lists.set(_ids(lists))
        campaign.exclude_lists.set(_ids(exclude))
        CampaignTransition.objects.create(campaign=campaign, from_status="", to_status=S.DRAFT, by=by)
    return campaign


def update_campaign(campaign: Campaign, data: dict, *, by=None) -> Campaign:
    """Edit a draft. Anything else is refused (a sending campaign's content is what people got)."""
    if campaign.status != S.DRAFT:
        raise CampaignError(_("Only draft campaigns can be edited."), code="not_draft")
    data = dict(data)
    lists, exclude = _apply(campaign, data)
    list_ids = _ids(lists) if lists is not None else list(campaign.lists.values_list("pk", flat=True))
    exclude_ids = (
        _ids(exclude) if exclude is not None else list(campaign.exclude_lists.values_list("pk", flat=True))
    )
    _raise(check_campaign(campaign, list_ids=list_ids, exclude_ids=exclude_ids))
    campaign.execution = (
        Campaign.Execution.PROVIDER if provider_runs_campaign(campaign.account, campaign.channel)
        else Campaign.Execution.SWITCHBOARD
    )  # fmt: skip
    with transaction.atomic():
        campaign.save()
        if lists is not None:
            campaign.lists.set(list_ids)
        if exclude is not None:
            campaign.exclude_lists.set(exclude_ids)
    return campaign


def delete_campaign(campaign: Campaign, *, by=None) -> None:
    """Delete a draft (nothing was sent, so nothing is lost)."""
    if campaign.status != S.DRAFT:
        raise CampaignError(_("Only draft campaigns can be deleted; cancel it instead."), code="not_draft")
    logger.info("campaign %s deleted by %s", campaign.pk, getattr(by, "pk", None))
    campaign.delete()


def start_campaign(campaign: Campaign, *, by=None) -> Campaign:
    """Start now, or schedule for campaign.scheduled_at. Starting twice sends nothing twice."""
    if campaign.status in (S.SENDING, S.SCHEDULED, S.COMPLETED):
        return campaign  # already under way: nothing more to do
    if campaign.status != S.DRAFT:
        raise CampaignError(_("Only a draft can be started; resume a paused campaign."), code="transition")
    _raise(check_campaign(campaign, starting=True))
    with transaction.atomic():
        if campaign.scheduled_at and campaign.scheduled_at > timezone.now():
            return _move(campaign, S.SCHEDULED, by=by)
        moved = _move(campaign, S.SENDING, by=by, started_at=timezone.now())
        transaction.on_commit(lambda: _kick(moved.pk))
    return moved


def begin_scheduled(campaign: Campaign) -> Campaign:
    """A scheduled campaign whose time has come starts sending (celery beat calls this)."""
    with transaction.atomic():
        moved = _move(campaign, S.SENDING, reason="", started_at=timezone.now())
        transaction.on_commit(lambda: _kick(moved.pk))
    return moved


def pause_campaign(campaign: Campaign, *, by=None, reason: str = "") -> Campaign:
    """Stop sending after the call in flight; nothing queued is lost."""
    with transaction.atomic():
        return _move(
            campaign,
            S.PAUSED,
            by=by,
            reason=reason or _("Paused by %(who)s.") % {"who": by or _("the system")},
        )


def resume_campaign(campaign: Campaign, *, by=None) -> Campaign:
    """Continue where it stopped (with the recipients not sent yet)."""
    if campaign.status == S.SENDING:
        return campaign
    with transaction.atomic():
        moved = _move(campaign, S.SENDING, by=by, started_at=campaign.started_at or timezone.now())
        transaction.on_commit(lambda: _kick(moved.pk))
    return moved


def cancel_campaign(campaign: Campaign, *, by=None, reason: str = "") -> Campaign:
    """Stop for good. Messages not sent yet are held back (counted as skipped, with the reason)."""
    with transaction.atomic():
        moved = _move(campaign, S.CANCELLED, by=by, reason=reason, finished_at=timezone.now())
        hold_back_queued(moved, _("The campaign was cancelled before this message was sent."))
    return moved


def complete_campaign(campaign: Campaign) -> Campaign:
    with transaction.atomic():
        return _move(campaign, S.COMPLETED, finished_at=timezone.now())


def fail_campaign(campaign: Campaign, reason: str) -> Campaign:
    with transaction.atomic():
        moved = _move(campaign, S.FAILED, reason=reason, finished_at=timezone.now())
        hold_back_queued(moved, reason)
    return moved


def hold_back_queued(campaign: Campaign, reason: str) -> int:
    """Queued messages never dispatched become skipped (with `reason`), counters moved alike."""
    messages = list(
        Message.objects.select_for_update()
        .filter(campaign=campaign, status=Message.Status.QUEUED, dispatched_at__isnull=True)
        .only("pk", "campaign_id", "account_id", "channel", "status")
    )
    if not messages:
        return 0
    deltas = StatDeltas()
    now = timezone.now()
    for m in messages:
        deltas.move(m, Message.Status.QUEUED, Message.Status.SKIPPED, at=now)
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(
        status=Message.Status.SKIPPED, error_message=reason[:500], updated_at=now
    )
    deltas.flush()
    return len(messages)


def _kick(campaign_id: int) -> None:
    from ..tasks import run_campaign

    run_campaign.delay(campaign_id)

"""Provider-run campaigns: the provider sends (Qlara and Spoki campaigns over their lists), we pull its totals.

Start: the audience is synced to the provider as a list of its own (contacts pushed where they
have no twin there yet, RemoteLink kept), the campaign is created remotely as a draft with the
template's remote id, then started through the provider's own lifecycle hook (Qlara: calculate
goal → ready → confirm; Spoki: the draft scheduled a minute from now). Every step is recorded on the campaign (remote ids), so a runner that
dies resumes at the step it reached and never creates a second remote campaign. Statistics are
the provider's totals, pulled by the minute tick; the campaign page shows them beside ours.
"""

from __future__ import annotations

import logging

from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from messaging.models import RemoteLink, TemplateLink
from messaging.providers.base import CampaignStatus, RemoteCampaign, RemoteContact, RemoteList
from messaging.providers.errors import ProviderError

from ..models import Campaign
from . import lifecycle
from .audience import compute_audience

logger = logging.getLogger("switchboard.campaigns")


def _remote_contact_ids(campaign, provider, contacts: list[Contact]) -> list[str]:
    links = dict(
        RemoteLink.objects.filter(account=campaign.account, kind=RemoteLink.Kind.CONTACT, detached=False,
                                  contact__in=contacts).values_list("contact_id", "remote_id")
    )  # fmt: skip
    ids = [links[c.pk] for c in contacts if c.pk in links]
    for contact in (c for c in contacts if c.pk not in links):
        remote = provider.create_contact(RemoteContact(
            phone=contact.phone, first_name=contact.first_name, last_name=contact.last_name, email=contact.email,
            language=contact.language, city=contact.city, country=contact.country,
        ))  # fmt: skip
        RemoteLink.objects.create(account=campaign.account, kind=RemoteLink.Kind.CONTACT, contact=contact,
                                  remote_id=remote.remote_id)  # fmt: skip
        ids.append(remote.remote_id)
    return ids


def run_provider_campaign(campaign: Campaign, report):
    """Create and start the campaign at the provider (resuming at the step reached)."""
    provider = campaign.account.get_provider()
    state = dict(campaign.provider_stats or {})
    try:
        if not state.get("list_id"):
            audience = compute_audience(campaign)
            contacts = list(audience.contacts)
            remote_ids = _remote_contact_ids(campaign, provider, contacts)
            remote_list = provider.create_list(
                RemoteList(name=f"Switchboard: {campaign.name} (#{campaign.pk})")
            )
            step = max(1, provider.bulk_limit)
            for start in range(0, len(remote_ids), step):
                provider.add_list_members(remote_list.remote_id, remote_ids[start : start + step])
            state.update(list_id=remote_list.remote_id)
            Campaign.objects.filter(pk=campaign.pk).update(
                provider_stats=state, audience_count=audience.audience, excluded_counts=audience.excluded
            )
        if not campaign.remote_id:
            link = TemplateLink.objects.filter(template=campaign.template, account=campaign.account).first()
            remote = provider.create_campaign(RemoteCampaign(
                name=campaign.name, channel=campaign.channel, template_id=link.remote_id if link else "",
                list_ids=[state["list_id"]], text=campaign.text, sender=campaign.sender,
            ))  # fmt: skip
            campaign.remote_id = remote.remote_id
            Campaign.objects.filter(pk=campaign.pk).update(remote_id=remote.remote_id)
        if not state.get("started"):
            provider.start_campaign(campaign.remote_id)
            state["started"] = timezone.now().isoformat()
            Campaign.objects.filter(pk=campaign.pk).update(provider_stats=state)
    except ProviderError as exc:
        lifecycle.fail_campaign(campaign, _("The provider refused the campaign: %(why)s") % {"why": exc})
        report.status, report.detail = Campaign.Status.FAILED, str(exc)
        return report
    pull_provider_stats(campaign)
    campaign.refresh_from_db(fields=["status"])
    report.status = campaign.status
    return report


def pull_provider_stats(campaign: Campaign) -> dict:
    """The provider's own totals for the campaign; completes it when the provider says it finished."""
    if not campaign.remote_id:
        return {"pulled": False}
    provider = campaign.account.get_provider()
    try:
        remote, totals = provider.get_campaign_progress(campaign.remote_id)
    except ProviderError as exc:
        logger.warning("campaign %s: provider totals unavailable: %s", campaign.pk, exc)
        return {"pulled": False, "error": str(exc)}
    state = dict(Campaign.objects.get(pk=campaign.pk).provider_stats or {})
    state.update({
        "recipients": totals.recipients, "sent": totals.sent, "delivered": totals.delivered, "read": totals.read,
        "failed": totals.failed, "clicked": totals.clicked, "replied": totals.replied,
        "cost": str(totals.cost) if totals.cost is not None else None, "currency": totals.currency,
        "remote_status": remote.status,
    })  # fmt: skip
    Campaign.objects.filter(pk=campaign.pk).update(provider_stats=state, provider_stats_at=timezone.now())
    campaign.provider_stats = state
    if remote.status == CampaignStatus.COMPLETED and campaign.status == Campaign.Status.SENDING:
        lifecycle.complete_campaign(campaign)
    return {"pulled": True, **{k: state[k] for k in ("sent", "delivered", "read", "failed")}}


def provider_stats_as_ours(campaign: Campaign) -> dict:
    """The interface's stats for a provider-run campaign: the provider's totals, the funnel still adding up."""
    p = campaign.provider_stats or {}
    audience = campaign.audience_count
    sent, failed = int(p.get("sent") or 0), int(p.get("failed") or 0)
    failed = min(failed, audience)
    if sent + failed > audience:
        # Providers that count every attempt as sent (Qlara's totalSent) include the failures in it.
        sent = max(0, sent - failed)
    sent = min(sent, audience - failed)
    return {
        "audience": audience, "queued": audience - sent - failed, "sent": sent,
        "delivered": int(p.get("delivered") or 0), "read": int(p.get("read") or 0), "failed": failed,
        "unknown": 0, "skipped": 0, "replied": int(p.get("replied") or 0), "clicked": int(p.get("clicked") or 0),
        "cost": p.get("cost") or "0.00", "currency": p.get("currency") or "",
    }  # fmt: skip

"""Rows campaign tests share: a sandbox account, lists of contacts, an approved template."""

from __future__ import annotations

from collections import Counter

from django.db.models import Sum

from campaigns.services import create_campaign
from contacts.models import Membership
from messaging.models import Message, MessageStat, MessageTemplate, ProviderAccount, TemplateLink
from messaging.stats import FUNNEL_OF, campaign_totals
from tests.factories import ContactFactory, ContactListFactory


def sandbox_account(name="Sandbox", seed="s1"):
    return ProviderAccount.objects.create(provider="sandbox", name=name, settings={"seed": seed})


def list_of(n, **contact_kw):
    contact_list = ContactListFactory()
    contacts = [ContactFactory(**contact_kw) for _ in range(n)]
    Membership.objects.bulk_create([Membership(contact=c, contact_list=contact_list) for c in contacts])
    return contact_list, contacts


def add_to(contact_list, contacts):
    Membership.objects.bulk_create([Membership(contact=c, contact_list=contact_list) for c in contacts])


def approved_template(
    account, *, kind="whatsapp", body="Ciao {{first_name}}, sconti da {{city}}!", name="promo"
):
    template = MessageTemplate.objects.create(
        name=name, kind=kind, body=body, language="it", category="MARKETING"
    )
    TemplateLink.objects.create(
        template=template, account=account, status="approved", remote_id=f"tpl-{name}"
    )
    return template


def sms_campaign(account, lists, **kw):
    data = {
        "name": "Saldi",
        "account": account,
        "channel": "sms",
        "text": "Ciao {{first_name}}!",
        "lists": lists,
        "rate_per_second": 1000,
        **kw,
    }
    return create_campaign(data)


def assert_counters_match_rows(campaign):
    """The counters equal a count over the message rows, and the funnel adds up to the audience."""
    totals = campaign_totals(campaign.pk)
    rows = Message.objects.filter(campaign=campaign)
    truth = Counter(FUNNEL_OF[m.status] for m in rows)
    for level in ("queued", "sent", "failed", "unknown", "skipped"):
        assert totals[level] == truth.get(level, 0), level
    assert totals["delivered"] == rows.filter(delivered_at__isnull=False).count()
    assert totals["read"] == rows.filter(status="read").count()
    assert totals["replied"] == rows.filter(replied_at__isnull=False).count()
    assert totals["clicked"] == rows.filter(clicked_at__isnull=False).count()
    assert totals["cost"] == (rows.aggregate(s=Sum("price"))["s"] or 0)
    campaign.refresh_from_db()
    funnel = sum(totals[k] for k in ("queued", "sent", "failed", "unknown", "skipped"))
    assert funnel == campaign.audience_count == rows.count()
    reasons = MessageStat.objects.filter(campaign_id=campaign.pk, metric="failed_reason").aggregate(
        n=Sum("count")
    )
    assert (reasons["n"] or 0) == totals["failed"]
    for metric, same_as in (("cohort_delivered", "delivered"), ("cohort_read", "read")):
        cohort = MessageStat.objects.filter(campaign_id=campaign.pk, metric=metric).aggregate(n=Sum("count"))
        assert (cohort["n"] or 0) == totals[same_as], metric
    return totals


def predictable_outcomes(monkeypatch):
    """Sandbox outcomes by the phone's last digit (0 failed, 1-3 read, else delivered): any run of
    ten consecutive factory phones has each kind, whatever order the tests run in."""

    def outcome(seed, to, reference):
        last = to[-1:]
        return "failed" if last == "0" else "read" if last in "123" else "delivered"

    monkeypatch.setattr("messaging.providers.sandbox.provider.outcome_for", outcome)

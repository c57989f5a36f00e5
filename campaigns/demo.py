"""Demo campaigns for a fresh install (seed_demo): finished campaigns with real statistics and charts.

Everything goes through the real services on the Sandbox: recipients are written, sent by
the runner, and the Sandbox's simulated receipts are applied by the status service, spread
over the following hours. Then the demo moves each finished campaign back in time (its
messages, transitions and counter buckets by the same offset), so the overview shows
several days and the counters still equal a count over the rows. Idempotent.
"""

from __future__ import annotations

import datetime as dt
import random

from django.db.models import F
from django.utils import timezone

from contacts.models import ContactList
from messaging.message_models import Message, MessageStat
from messaging.models import MessageTemplate, ProviderAccount, TemplateLink
from messaging.status import apply_delivery_update, mark_replied

from .models import Campaign, CampaignTransition, TrackedLink
from .services import create_campaign, start_campaign
from .services.fanout import run_campaign
from .services.links import record_click

DEMOS = [
    # name, days ago, list, channel, text (SMS) or template body (WhatsApp)
    ("Saldi di primavera", 12, "Newsletter", "sms",
     "Ciao {{first_name}}, da oggi i saldi di primavera: -30% in tutti i negozi e su https://www.negozio-demo.it/saldi "
     "Rispondi STOP per non ricevere più messaggi."),
    ("Serata VIP", 5, "VIP customers", "whatsapp",
     "Ciao {{first_name}}, sei tra i nostri clienti VIP: giovedì serata privata a {{city}}. Ti aspettiamo!"),
    ("Promemoria negozio di Milano", 1, "Milan store", "sms",
     "Ciao {{first_name}}, domenica il negozio di Milano è aperto dalle 10 alle 19."),
]  # fmt: skip


def seed_campaigns(stdout=None) -> int:
    """Create the demo campaigns that are missing; return how many were made."""
    account = ProviderAccount.objects.filter(name="Sandbox (demo)").first()
    if account is None:
        return 0
    made = 0
    for name, days_ago, list_name, channel, text in DEMOS:
        if Campaign.objects.filter(name=name).exists():
            continue
        contact_list = ContactList.objects.filter(name=list_name).first()
        if contact_list is None:
            continue
        data = {"name": name, "account": account, "channel": channel, "lists": [contact_list],
                "rate_per_second": 1000, "description": "Demo"}  # fmt: skip
        if channel == "whatsapp":
            template, _ = MessageTemplate.objects.get_or_create(
                name="serata_vip", defaults={"kind": "whatsapp", "body": text, "language": "it",
                                             "category": "MARKETING", "samples": {"city": "Milano"}},
            )  # fmt: skip
            TemplateLink.objects.get_or_create(template=template, account=account,
                                               defaults={"status": "approved", "remote_id": "demo-serata-vip"})  # fmt: skip
            data.update(template=template, variables={"city": {"field": "city", "fallback": "Milano"}})
        else:
            data["text"] = text
            data["track_clicks"] = "https://" in text  # its link becomes one short link per recipient
        campaign = create_campaign(data)
        start_campaign(campaign)
        run_campaign(campaign.pk, sleep=lambda s: None)
        _receipts(campaign, account, seed=days_ago)
        _clicks(campaign, seed=days_ago)
        _move_back(campaign, dt.timedelta(days=days_ago, hours=3))
        made += 1
        campaign.refresh_from_db()
        if stdout:
            stdout.write(f"  demo campaign “{name}”: {campaign.audience_count} recipients")
    _draft(account)
    return made


def _receipts(campaign, account, *, seed: int) -> None:
    """The Sandbox's outcomes, arriving over the next hours as they would (most within the first two)."""
    rng = random.Random(seed)
    provider = account.get_provider()
    now = timezone.now()
    sent = list(
        Message.objects.filter(campaign=campaign).exclude(provider_message_id="").select_related("contact")
    )
    for message in sent:
        delay = dt.timedelta(minutes=rng.choice([1, 2, 3, 5, 8, 15, 30, 60, 90, 180, 300]))
        for update in provider.delivery_updates(message.provider_message_id):
            if update.status == "read":
                delay += dt.timedelta(minutes=rng.choice([5, 20, 45, 120, 240, 600, 900, 1200]))
            update.occurred_at = now + delay
            apply_delivery_update(account, update)
        if message.contact_id and rng.random() < 0.06:
            mark_replied(account, message.contact, at=now + delay + dt.timedelta(minutes=10))


def _clicks(campaign, *, seed: int) -> None:
    """Some recipients open their tracked link after it was delivered (a few more than once), through the
    same service as the /r/<code> redirect, so the "clicked" step and the counters agree with the rows."""
    rng = random.Random(seed * 31 + 7)
    links = (
        TrackedLink.objects.filter(campaign=campaign, message__delivered_at__isnull=False)
        .values("pk", "url", "message_id", "campaign_id", "message__account_id", "message__channel",
                "message__delivered_at")
        .order_by("pk")
    )  # fmt: skip
    for link in links:
        if rng.random() >= 0.22:
            continue
        at = link["message__delivered_at"] + dt.timedelta(minutes=rng.choice([2, 5, 10, 30, 60, 240]))
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            record_click(link, at=at)
            at += dt.timedelta(minutes=rng.choice([1, 3, 20]))


def _move_back(campaign, offset: dt.timedelta) -> None:
    """Shift one finished demo campaign into the past: rows and buckets by the same offset."""
    fields = ["created_at", "dispatched_at", "sent_at", "delivered_at", "read_at", "failed_at", "replied_at",
              "clicked_at"]  # fmt: skip
    for field in fields:
        Message.objects.filter(campaign=campaign, **{f"{field}__isnull": False}).update(
            **{field: F(field) - offset}
        )
    for row in MessageStat.objects.filter(campaign_id=campaign.pk).order_by("hour"):
        MessageStat.objects.filter(pk=row.pk).update(hour=row.hour - offset)
    CampaignTransition.objects.filter(campaign=campaign).update(at=F("at") - offset)
    TrackedLink.objects.filter(campaign=campaign).update(created_at=F("created_at") - offset)
    TrackedLink.objects.filter(campaign=campaign, first_clicked_at__isnull=False).update(
        first_clicked_at=F("first_clicked_at") - offset
    )
    Campaign.objects.filter(pk=campaign.pk).update(
        created_at=F("created_at") - offset,
        started_at=F("started_at") - offset,
        finished_at=F("finished_at") - offset,
    )


def _draft(account) -> None:
    if Campaign.objects.filter(name="Nuova collezione (bozza)").exists():
        return
    contact_list = ContactList.objects.filter(name="Newsletter").first()
    if contact_list is None:
        return
    create_campaign({
        "name": "Nuova collezione (bozza)", "account": account, "channel": "sms", "lists": [contact_list],
        "text": "Ciao {{first_name}}, è arrivata la nuova collezione!", "rate_per_second": 20,
        "description": "A draft to try: open it, check the preview, send a test, start it.",
    })  # fmt: skip

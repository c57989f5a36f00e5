"""Demo data (seed_demo): a few webhook events a newcomer finds on the Webhook events page.

They go through the real receiver and drainer (no HTTP): delivery receipts for a sent message,
a reply that joins a contact's conversation, a STOP that opts a contact out, a provider retry
counted as a duplicate, a forged request refused and a malformed one kept for inspection.
"""

from __future__ import annotations

import datetime as dt

from django.test.utils import override_settings
from django.utils import timezone

from ..providers.base import DeliveryUpdate, InboundMessage
from ..providers.sandbox.provider import SIGNATURE_HEADER, sign


def seed_webhook_demo(stdout=None) -> int:
    """Create the demo events once (skipped when the demo account already received some)."""
    from contacts.models import Contact

    from ..models import Message, ProviderAccount, WebhookEvent
    from ..sending import queue_message
    from . import services
    from .drain import drain_webhook_events
    from .receive import forget_accounts, receive_webhook

    account = ProviderAccount.objects.filter(provider="sandbox", name="Sandbox (demo)").first()
    if account is None or WebhookEvent.objects.filter(account=account).exists():
        return 0
    if not account.webhook_secret:
        services.register_webhooks(account)  # the sandbox issues a signing secret
        account.refresh_from_db()
    forget_accounts()
    contacts = list(Contact.objects.filter(opted_out=False, blocked=False).order_by("id")[:2])
    if len(contacts) < 2:
        return 0
    first, second = contacts
    sent = queue_message(account, channel="whatsapp", contact=first, text="Ciao! I saldi iniziano domani.",
                         source="demo")  # fmt: skip
    now = timezone.now()
    Message.objects.filter(pk=sent.pk).update(provider_message_id="demo-msg-1", status="sent", sent_at=now)
    provider = account.get_provider()
    secret = account.webhook_secret
    batches = [
        [
            DeliveryUpdate(
                "demo-msg-1",
                "delivered",
                reference=sent.reference,
                to=first.phone,
                event_id="demo-d1",
                occurred_at=now + dt.timedelta(seconds=5),
            )
        ],
        [
            DeliveryUpdate(
                "demo-msg-1",
                "read",
                reference=sent.reference,
                to=first.phone,
                event_id="demo-r1",
                occurred_at=now + dt.timedelta(seconds=40),
            )
        ],
        [
            InboundMessage(
                "demo-in-1",
                first.phone,
                channel="whatsapp",
                text="Grazie, passo in negozio sabato!",
                received_at=now + dt.timedelta(minutes=2),
            )
        ],
        [
            InboundMessage(
                "demo-in-2",
                second.phone,
                channel="sms",
                text="STOP",
                received_at=now + dt.timedelta(minutes=3),
            )
        ],
    ]
    requests = [provider.webhook_request(events, secret) for events in batches]
    requests.append(requests[0])  # the provider retried the first receipt: a counted duplicate
    forged_headers, forged_body = provider.webhook_request(batches[1], "not-the-secret")
    with override_settings(WEBHOOK_KICK_SECONDS=0):
        for headers, body in requests:
            receive_webhook(account.webhook_token, "POST", headers, body)
        receive_webhook(account.webhook_token, "POST", forged_headers, forged_body)
        cut = b'{"events": ['  # cut off in transit, but signed: stored and answered 400
        receive_webhook(account.webhook_token, "POST", {SIGNATURE_HEADER: sign(cut, secret)}, cut)
    drained = drain_webhook_events(max_seconds=10)
    if stdout is not None:
        stdout.write(f"Webhook demo: {WebhookEvent.objects.filter(account=account).count()} events "
                     f"({drained.get('processed', 0)} processed); see the timeline on {first.phone}'s page.")  # fmt: skip
    return WebhookEvent.objects.filter(account=account).count()

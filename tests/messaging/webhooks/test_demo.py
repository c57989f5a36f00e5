"""The seed_demo webhook events: what a newcomer finds, made through the real receiver and drainer."""

import pytest

from contacts.models import Contact
from messaging.models import Message, ProviderAccount, WebhookEvent
from messaging.webhooks.demo import seed_webhook_demo

pytestmark = pytest.mark.django_db


def test_demo_events_cover_each_outcome_once():
    ProviderAccount.objects.create(provider="sandbox", name="Sandbox (demo)", settings={"seed": 42})
    Contact.objects.create(phone="+393331000001", first_name="Anna")
    Contact.objects.create(phone="+393331000002", first_name="Bruno")
    assert seed_webhook_demo() == 7
    statuses = sorted(WebhookEvent.objects.values_list("status", "http_status", "event_type"))
    assert statuses == [
        ("duplicate", 200, "status"), ("failed", 400, ""), ("failed", 401, ""),
        ("processed", 200, "inbound"), ("processed", 200, "inbound"),
        ("processed", 200, "status"), ("processed", 200, "status"),
    ]  # fmt: skip
    assert Message.objects.get(direction="outbound").status == "read"
    assert Contact.objects.get(phone="+393331000002").opted_out
    assert Message.objects.filter(direction="inbound", contact__phone="+393331000001").exists()
    assert seed_webhook_demo() == 0  # a second seed_demo adds nothing

"""The webhook API (the Interfaces contract) and the admin pages staff use."""

from __future__ import annotations

import json

import pytest

from messaging.models import WebhookEvent
from messaging.webhooks.drain import drain_webhook_events

from .helpers import hook_path, make_account, qlara_examples

pytestmark = pytest.mark.django_db


@pytest.fixture
def events(client):
    account = make_account("qlara", name="Qlara IT")
    for example in qlara_examples():
        client.post(hook_path(account), data=json.dumps(example), content_type="application/json")
    client.post(hook_path(account), data=b"{oops", content_type="application/json")
    drain_webhook_events()
    return account


def test_provider_account_has_its_webhook_url_and_can_rotate_it(manager_api, client):
    account = make_account("qlara")
    detail = manager_api.get(f"/api/provider-accounts/{account.pk}/").json()
    assert detail["webhook_url"] == f"https://sb.example.com/hooks/{account.webhook_token}/"
    old = hook_path(account)
    answer = manager_api.post(f"/api/provider-accounts/{account.pk}/rotate-webhook-token/")
    assert answer.status_code == 200 and answer.json()["webhook_url"] != detail["webhook_url"]
    account.refresh_from_db()
    assert answer.json()["webhook_url"] == account.webhook_url
    body = json.dumps(qlara_examples()[0])
    assert client.post(old, data=body, content_type="application/json").status_code == 404


def test_webhook_events_list_exact_fields_and_filters(manager_api, events):
    rows = manager_api.get("/api/webhook-events/").json()["results"]
    assert set(rows[0]) == {
        "id",
        "account",
        "provider",
        "event_type",
        "status",
        "error",
        "received_at",
        "processed_at",
    }
    assert len(rows) == 5
    failed = manager_api.get(f"/api/webhook-events/?account={events.pk}&status=failed").json()["results"]
    assert len(failed) == 1 and "Malformed" in failed[0]["error"]
    inbound = manager_api.get("/api/webhook-events/?event_type=INBOUND").json()["results"]
    assert len(inbound) == 1 and inbound[0]["status"] == "processed"
    assert manager_api.get("/api/webhook-events/?status=bogus").status_code == 400
    assert manager_api.get("/api/webhook-events/?account=abc").status_code == 400


def test_reprocess_through_the_api(manager_api, events, viewer):
    processed = WebhookEvent.objects.filter(status="processed").first()
    answer = manager_api.post(f"/api/webhook-events/{processed.pk}/reprocess/")
    assert answer.status_code == 202 and answer.json()["status"] == "received"
    refused = WebhookEvent.objects.get(http_status=400)
    assert manager_api.post(f"/api/webhook-events/{refused.pk}/reprocess/").status_code == 409
    from rest_framework.test import APIClient

    as_viewer = APIClient()
    as_viewer.force_authenticate(viewer)
    assert as_viewer.get("/api/webhook-events/").status_code == 200
    assert as_viewer.post(f"/api/webhook-events/{processed.pk}/reprocess/").status_code == 403


def test_admin_list_detail_and_process_again(client, django_user_model, events):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user("boss", password="pw", is_staff=True)
    user.groups.add(Group.objects.get(name="Manager"))
    client.force_login(user)
    page = client.get("/admin/messaging/webhookevent/?status=failed")
    assert page.status_code == 200 and b"Malformed" in page.content
    event = WebhookEvent.objects.filter(status="processed").first()
    detail = client.get(f"/admin/messaging/webhookevent/{event.pk}/change/")
    assert detail.status_code == 200 and b"eventType" in detail.content
    confirm = client.get(f"/admin/messaging/webhookevent/{event.pk}/reprocess/")
    assert confirm.status_code == 200 and WebhookEvent.objects.get(pk=event.pk).status == "processed"
    client.post(f"/admin/messaging/webhookevent/{event.pk}/reprocess/")
    assert WebhookEvent.objects.get(pk=event.pk).status == "received"
    client.post("/admin/messaging/webhookevent/", {"action": "reprocess", "_selected_action": [event.pk]})
    account_page = client.get(f"/admin/messaging/provideraccount/{events.pk}/change/")
    text = account_page.content.decode()
    assert events.webhook_url in text and "Last received" in text and "Processed: <b>3</b>" in text


def test_received_messages_are_listed_by_the_message_api(manager_api, events):
    from contacts.models import Contact

    inbound = next(e for e in qlara_examples() if e["eventType"] == "INBOUND")
    contact = Contact.objects.get(phone=inbound["source"])
    answer = manager_api.get(f"/api/messages/?direction=inbound&contact={contact.pk}")
    assert answer.status_code == 200
    rows = answer.json()["results"]
    assert len(rows) == 1 and rows[0]["direction"] == "inbound" and rows[0]["status"] == "received"

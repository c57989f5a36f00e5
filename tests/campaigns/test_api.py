"""The public API of the Interfaces section: names, shapes, refusals, roles."""

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.services.fanout import run_campaign
from campaigns.services.polling import poll_campaign
from messaging.models import Message
from tests.factories import ContactFactory

from .helpers import add_to, approved_template, assert_counters_match_rows, list_of, sandbox_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return sandbox_account()


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_preview_start_and_read_stats(editor, account):
    contact_list, _contacts = list_of(8)
    add_to(contact_list, [ContactFactory(opted_out=True), ContactFactory(blocked=True)])
    api = client_for(editor)
    body = {
        "name": "Saldi",
        "account": account.pk,
        "channel": "sms",
        "text": "Ciao {{first_name}}, -20%!",
        "lists": [contact_list.pk],
        "rate_per_second": 500,
        "variables": {"nome": {"field": "first_name", "fallback": "cliente"}},
    }
    created = api.post("/api/campaigns/", body, format="json")
    assert created.status_code == 201, created.json()
    cid = created.json()["id"]
    assert created.json()["status"] == "draft"
    preview = api.post(f"/api/campaigns/{cid}/preview/").json()
    assert preview["audience"] == 8
    assert preview["excluded"] == {"opted_out": 1, "blocked": 1, "in_exclude_lists": 0, "duplicates": 0}
    assert preview["sample"][0]["text"].startswith("Ciao ") and preview["parts"] == 1
    assert preview["cost"] == "0.40" and preview["currency"] == "EUR"
    test = api.post(f"/api/campaigns/{cid}/test/", {"phone": "333 123 4567"}, format="json")
    assert test.status_code == 201 and test.json()["phone"] == "+393331234567"
    assert api.post(f"/api/campaigns/{cid}/start/").json()["status"] == "sending"
    run_campaign(cid, sleep=lambda s: None)
    poll_campaign(cid)
    data = api.get(f"/api/campaigns/{cid}/").json()
    s = data["stats"]
    assert data["status"] == "completed"
    assert set(s) == {
        "audience",
        "queued",
        "sent",
        "delivered",
        "read",
        "failed",
        "unknown",
        "skipped",
        "replied",
        "clicked",
        "cost",
        "currency",
    }
    assert s["queued"] + s["sent"] + s["failed"] + s["unknown"] + s["skipped"] == s["audience"] == 8
    assert_counters_match_rows(Campaign.objects.get(pk=cid))
    listed = api.get(f"/api/campaigns/{cid}/messages/?status=read").json()
    assert all(m["status"] == "read" for m in listed["results"]) and listed["count"] == s["read"]
    row = api.get(f"/api/campaigns/{cid}/messages/").json()["results"][0]
    assert set(row) == {
        "id",
        "campaign",
        "contact",
        "phone",
        "direction",
        "channel",
        "status",
        "provider_message_id",
        "error",
        "sent_at",
        "delivered_at",
        "read_at",
        "price",
        "status_history",
    }
    by_pid = api.get(f"/api/messages/?provider_message_id={row['provider_message_id']}").json()
    assert [m["id"] for m in by_pid["results"]] == [row["id"]]
    assert api.get(f"/api/messages/?campaign={cid}&direction=outbound").json()["count"] == 8
    overview = api.get("/api/stats/overview/").json()
    assert sum(sum(v) for v in overview["by_channel"].values()) == 9  # 8 + the test send
    assert overview["campaigns"][0]["id"] == cid


def test_refusals_are_on_the_field(editor, account):
    contact_list, _ = list_of(1)
    api = client_for(editor)
    bad = api.post(
        "/api/campaigns/",
        {"name": "W", "account": account.pk, "channel": "whatsapp", "lists": [contact_list.pk]},
        format="json",
    )
    assert bad.status_code == 400 and "template" in bad.json()
    bad = api.post("/api/campaigns/", {"name": "W", "account": account.pk, "channel": "fax"}, format="json")
    assert bad.status_code == 400 and "channel" in bad.json()
    bad = api.post(
        "/api/campaigns/",
        {
            "name": "W",
            "account": account.pk,
            "channel": "sms",
            "text": "x",
            "lists": [contact_list.pk],
            "rate_per_second": 99999,
        },
        format="json",
    )
    assert bad.status_code == 400 and "rate_per_second" in bad.json()
    assert api.get("/api/stats/overview/?from=2026-05-01&to=2026-01-01").status_code == 400
    assert api.get("/api/stats/overview/?from=yesterday").status_code == 400
    assert api.get("/api/messages/?status=exploded").status_code == 400


def test_edit_and_delete_only_while_draft(editor, account):
    contact_list, _ = list_of(2)
    api = client_for(editor)
    template = approved_template(account)
    cid = api.post(
        "/api/campaigns/",
        {
            "name": "W",
            "account": account.pk,
            "channel": "whatsapp",
            "template": template.pk,
            "lists": [contact_list.pk],
        },
        format="json",
    ).json()["id"]
    assert api.patch(f"/api/campaigns/{cid}/", {"name": "W2"}, format="json").json()["name"] == "W2"
    api.post(f"/api/campaigns/{cid}/start/")
    assert api.patch(f"/api/campaigns/{cid}/", {"name": "W3"}, format="json").status_code == 400
    assert api.delete(f"/api/campaigns/{cid}/").status_code == 400
    assert api.post(f"/api/campaigns/{cid}/pause/").json()["status"] == "paused"
    assert api.post(f"/api/campaigns/{cid}/resume/").json()["status"] == "sending"
    assert api.post(f"/api/campaigns/{cid}/cancel/").json()["status"] == "cancelled"
    assert api.post(f"/api/campaigns/{cid}/pause/").status_code == 400


def test_viewer_reads_editor_acts(viewer, editor, account):
    contact_list, _ = list_of(2)
    cid = (
        client_for(editor)
        .post(
            "/api/campaigns/",
            {"name": "S", "account": account.pk, "channel": "sms", "text": "x", "lists": [contact_list.pk]},
            format="json",
        )
        .json()["id"]
    )
    api = client_for(viewer)
    assert api.get(f"/api/campaigns/{cid}/").status_code == 200
    assert api.get(f"/api/campaigns/{cid}/messages/").status_code == 200
    assert api.get("/api/messages/").status_code == 200
    assert api.get("/api/stats/overview/").status_code == 200
    for verb in ("start", "pause", "cancel", "preview", "test"):
        assert api.post(f"/api/campaigns/{cid}/{verb}/").status_code == 403, verb
    assert api.post("/api/campaigns/", {"name": "x"}, format="json").status_code == 403
    assert not Message.objects.exists()

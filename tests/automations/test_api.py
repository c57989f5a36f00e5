"""The public API of issue 12: exact paths, fields and values; refusals; roles."""

from __future__ import annotations

import pytest

from automations.models import Automation
from contacts import services as contacts
from messaging.models import MessageTemplate, TemplateLink
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory, TagFactory
from tests.fakes.spoki import SpokiFake

from .helpers import KEY, drain, pulled, sandbox_account, spoki_account

pytestmark = pytest.mark.django_db
URL = "/api/automations/"


@pytest.fixture
def vip():
    return ContactListFactory(name="VIP")


def _body(vip, **extra):
    TagFactory._meta.model.objects.get_or_create(name="vip")
    return {"name": "VIP welcome", "enabled": True, "trigger": {"type": "list_added", "list": vip.pk},
            "conditions": [{"type": "not_opted_out"}], "actions": [{"type": "add_tag", "tag": "vip", "delay_seconds": 0}],
            **extra}  # fmt: skip


def test_crud_dry_run_and_runs(editor_api, vip):
    created = editor_api.post(URL, _body(vip), format="json")
    assert created.status_code == 201, created.json()
    data = created.json()
    assert data["trigger"] == {"type": "list_added", "list": vip.pk}
    assert data["actions"] == [{"type": "add_tag", "tag": "vip", "delay_seconds": 0}]
    assert data["enabled"] is True and data["enabled_at"]
    pk = data["id"]
    people = ContactFactory.create_batch(3)
    contacts.add_to_list(vip, [p.pk for p in people[:2]])
    drain()
    dry = editor_api.post(f"{URL}{pk}/dry-run/").json()
    assert dry["matches"] == 2 and {s["id"] for s in dry["sample"]} == {people[0].pk, people[1].pk}
    runs = editor_api.get(f"{URL}{pk}/runs/").json()["results"]
    assert {r["contact"] for r in runs} == {people[0].pk, people[1].pk}
    assert runs[0]["status"] == "succeeded"
    assert runs[0]["steps"][0].keys() >= {"action", "status", "error", "at"}
    assert runs[0]["steps"][0]["action"] == "add_tag"
    patched = editor_api.patch(f"{URL}{pk}/", {"enabled": False}, format="json")
    assert patched.status_code == 200 and patched.json()["enabled"] is False
    assert editor_api.get(f"{URL}?enabled=false").json()["results"][0]["id"] == pk
    assert editor_api.delete(f"{URL}{pk}/").status_code == 204
    assert not Automation.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"trigger": {"type": "list_added", "list": 999999}}, "trigger.list", "does not exist"),
        ({"actions": [{"type": "add_tag", "tag": "nope"}]}, "actions[0].tag", "does not exist"),
        ({"trigger": {"type": "date_field", "field": "tier"}}, "trigger.field", "not a date field"),
        ({"trigger": {"type": "date_field", "field": "missing"}}, "trigger.field", "does not exist"),
        (
            {"actions": [{"type": "set_field", "field": "nope", "value": "x"}]},
            "actions[0].field",
            "does not exist",
        ),
        (
            {"actions": [{"type": "send_text", "account": 999999, "text": "hi"}]},
            "actions[0].account",
            "does not exist",
        ),
        ({"actions": []}, "actions", ""),
        ({"trigger": {"type": "birthday"}}, "trigger", ""),
        ({"name": ""}, "name", ""),
        ({"actions": [{"type": "add_tag", "tag": "vip", "delay_seconds": -5}]}, "actions", ""),
        ({"trigger": {"type": "inbound_keyword", "keywords": []}}, "trigger.keywords", ""),
    ],
)
def test_bad_input_is_refused_naming_the_field(editor_api, vip, change, field, words):
    CustomFieldFactory(key="tier")
    response = editor_api.post(URL, {**_body(vip), **change}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    flat = str(body)
    assert field.split(".")[0].split("[")[0] in flat and words in flat
    assert not Automation.objects.exists()


def test_send_refusals_channel_template_and_spoki_secret(editor_api, vip, serve_fake):
    sandbox = sandbox_account()
    server = serve_fake(SpokiFake(api_key=KEY))
    spoki = spoki_account(server)
    template = MessageTemplate.objects.create(name="promo", kind="whatsapp", language="it", body="Ciao")
    TemplateLink.objects.create(template=template, account=spoki, status="pending", remote_id="1")
    refused = editor_api.post(
        URL,
        _body(vip, actions=[{"type": "send_text", "account": spoki.pk, "channel": "sms", "text": "hi"}]),
        format="json",
    )
    assert refused.status_code == 400 and "cannot send sms" in str(refused.json())
    refused = editor_api.post(
        URL,
        _body(vip, actions=[{"type": "send_template", "account": spoki.pk, "template": template.pk}]),
        format="json",
    )
    assert refused.status_code == 400 and "promo" in str(refused.json()["actions[0].template"])
    remote = pulled(spoki, server.fake.seed_automation("Onboarding")["id"])
    remote.secret = ""
    remote.save()
    refused = editor_api.post(
        URL,
        _body(
            vip, actions=[{"type": "start_provider_automation", "account": spoki.pk, "automation": remote.pk}]
        ),
        format="json",
    )
    assert refused.status_code == 400 and "secret" in str(refused.json())
    refused = editor_api.post(
        URL,
        _body(
            vip,
            actions=[{"type": "start_provider_automation", "account": sandbox.pk, "automation": remote.pk}],
        ),
        format="json",
    )
    assert refused.status_code == 400 and "pull them first" in str(refused.json())


def test_provider_automations_by_account(editor_api, serve_fake):
    server = serve_fake(SpokiFake(api_key=KEY))
    spoki = spoki_account(server)
    server.fake.seed_automation("Onboarding")
    pulled(spoki)
    other = sandbox_account()
    pulled(other)
    rows = editor_api.get(f"/api/provider-automations/?account={spoki.pk}").json()["results"]
    assert [(r["name"], r["is_active"], r["has_secret"]) for r in rows] == [("Onboarding", True, True)]
    assert {"remote_id", "name", "is_active"} <= rows[0].keys() and "secret" not in rows[0]
    assert len(editor_api.get("/api/provider-automations/").json()["results"]) == 3
    assert editor_api.get("/api/provider-automations/?account=abc").status_code == 400


def test_roles_viewer_reads_editor_builds(api_client, viewer, vip):
    api_client.force_authenticate(viewer)
    assert api_client.get(URL).status_code == 200
    assert api_client.post(URL, _body(vip), format="json").status_code == 403
    assert api_client.get("/api/provider-automations/").status_code == 200


def test_deleting_a_list_an_active_automation_uses_is_refused(editor_api, vip):
    assert editor_api.post(URL, _body(vip), format="json").status_code == 201
    response = editor_api.delete(f"/api/lists/{vip.pk}/")
    assert response.status_code == 400 and "VIP welcome" in str(response.json())
    Automation.objects.update(enabled=False)
    assert editor_api.delete(f"/api/lists/{vip.pk}/").status_code == 204

"""/api/templates/ and POST /api/templates/{id}/submit/ as the Interfaces section names them."""

import pytest

from messaging.models import MessageTemplate, TemplateLink

pytestmark = pytest.mark.django_db

GOOD = {
    "name": "promo_natale", "kind": "whatsapp", "language": "it", "category": "marketing",
    "header": {"type": "text", "text": "Offerta per {{first_name}}"},
    "body": "Ciao {{first_name}}, lo sconto è del 20% fino a domenica.", "footer": "Rispondi STOP",
    "buttons": [{"type": "url", "text": "Vedi", "url": "https://ex.com/o/{{code}}"}],
    "samples": {"first_name": "Maria", "code": "N24"},
}  # fmt: skip


def test_create_list_retrieve_with_derived_variables_and_statuses(editor_api, sandbox_account):
    created = editor_api.post("/api/templates/", GOOD, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["variables"] == ["first_name", "code"] and body["statuses"] == []
    assert set(GOOD) | {"id", "variables", "statuses"} <= set(body)
    listed = editor_api.get("/api/templates/").json()
    assert [t["name"] for t in listed["results"]] == ["promo_natale"]


def test_bad_input_is_a_400_naming_the_field_and_nothing_is_saved(editor_api):
    bad = {
        **GOOD,
        "name": "Promo Natale",
        "footer": "x" * 61,
        "samples": {},
        "buttons": [{"type": "url", "text": "a", "url": "ex.com"}],
    }
    response = editor_api.post("/api/templates/", bad, format="json")
    assert response.status_code == 400
    assert {"name", "footer", "samples", "buttons"} <= set(response.json())
    assert not MessageTemplate.objects.exists()
    for payload in ({**GOOD, "header": "text"}, {**GOOD, "buttons": {"a": 1}}, {**GOOD, "kind": "fax"},
                    {**GOOD, "samples": {"a": {"b": 1}}}):  # fmt: skip
        assert editor_api.post("/api/templates/", payload, format="json").status_code == 400
    editor_api.post("/api/templates/", GOOD, format="json")
    duplicate = editor_api.post("/api/templates/", GOOD, format="json")
    assert duplicate.status_code == 400 and "name" in duplicate.json()


def test_submit_returns_the_per_account_outcome(editor_api, sandbox_account):
    template_id = editor_api.post("/api/templates/", GOOD, format="json").json()["id"]
    response = editor_api.post(
        f"/api/templates/{template_id}/submit/", {"accounts": [sandbox_account.pk]}, format="json"
    )
    assert response.status_code == 200, response.json()
    [outcome] = response.json()["results"]
    assert (
        outcome["account"] == sandbox_account.pk
        and outcome["ok"]
        and outcome["status"] in ("pending", "approved")
    )
    statuses = editor_api.get(f"/api/templates/{template_id}/").json()["statuses"]
    assert [(s["account"], s["account_name"], s["provider"]) for s in statuses] == [
        (sandbox_account.pk, "Sandbox", "sandbox")
    ]
    assert set(statuses[0]) == {
        "account",
        "account_name",
        "provider",
        "status",
        "reason",
        "remote_id",
        "updated_at",
    }
    bad = editor_api.post(f"/api/templates/{template_id}/submit/", {"accounts": [999999]}, format="json")
    assert bad.status_code == 400 and "accounts" in bad.json()
    assert (
        editor_api.post(f"/api/templates/{template_id}/submit/", {"accounts": []}, format="json").status_code
        == 400
    )
    assert TemplateLink.objects.count() == 1


def test_viewer_reads_but_cannot_write_or_submit(api_client, viewer, sandbox_account):
    template = MessageTemplate.objects.create(**{**GOOD, "header": GOOD["header"]})
    api_client.force_authenticate(viewer)
    assert api_client.get("/api/templates/").status_code == 200
    assert api_client.get(f"/api/templates/{template.pk}/").status_code == 200
    assert api_client.post("/api/templates/", GOOD, format="json").status_code == 403
    assert (
        api_client.patch(f"/api/templates/{template.pk}/", {"footer": "x"}, format="json").status_code == 403
    )
    submit = api_client.post(
        f"/api/templates/{template.pk}/submit/", {"accounts": [sandbox_account.pk]}, format="json"
    )
    assert submit.status_code == 403
    assert api_client.delete(f"/api/templates/{template.pk}/").status_code == 403


def test_delete_in_use_is_a_409_naming_the_campaign(editor_api, sandbox_account):
    from messaging.templating.usage import _USERS, register_template_users

    template = MessageTemplate.objects.create(**GOOD)

    def users(t):
        yield "campaign “Natale” (sending)", True

    register_template_users(users)
    try:
        response = editor_api.delete(f"/api/templates/{template.pk}/")
    finally:
        _USERS.remove(users)
    assert response.status_code == 409 and "Natale" in response.json()["detail"]
    assert editor_api.delete(f"/api/templates/{template.pk}/").status_code == 204


def test_update_validates_and_keeps_the_rest(editor_api):
    template_id = editor_api.post("/api/templates/", GOOD, format="json").json()["id"]
    bad = editor_api.patch(f"/api/templates/{template_id}/", {"body": "{{first_name}} only"}, format="json")
    assert bad.status_code == 400 and "body" in bad.json()
    ok = editor_api.patch(f"/api/templates/{template_id}/", {"footer": "Ciao"}, format="json")
    assert ok.status_code == 200 and ok.json()["footer"] == "Ciao" and ok.json()["body"] == GOOD["body"]


def test_schema_documents_the_endpoints(editor_api):
    schema = editor_api.get("/api/schema/?format=json").json()
    assert "/api/templates/" in schema["paths"] and "/api/templates/{id}/submit/" in schema["paths"]

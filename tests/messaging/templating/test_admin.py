"""The Templates admin: pages render, the preview fragment renders rules and the counter, roles hold."""

import json

import pytest

from messaging.models import MessageTemplate, TemplateLink
from messaging.templating import services

pytestmark = pytest.mark.django_db

FORM = {
    "name": "promo_natale", "kind": "whatsapp", "language": "it", "category": "marketing",
    "header_type": "text", "header_text": "Per {{first_name}}", "header_url": "",
    "body": "Ciao {{first_name}}, sconto del 20% fino a domenica.", "footer": "Rispondi STOP",
    "buttons": json.dumps([{"type": "url", "text": "Vedi", "url": "https://ex.com/o/{{code}}"}]),
    "samples": json.dumps({"first_name": "Maria", "code": "N24"}),
    "rcs_type": "", "card_orientation": "", "cards": "[]", "sms_fallback": "",
}  # fmt: skip


def test_editor_creates_through_the_form(client, editor, sandbox_account):
    client.force_login(editor)
    assert client.get("/admin/messaging/messagetemplate/add/").status_code == 200
    response = client.post("/admin/messaging/messagetemplate/add/", FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    template = MessageTemplate.objects.get()
    assert template.header == {"type": "text", "text": "Per {{first_name}}"}
    assert template.buttons[0]["url"] == "https://ex.com/o/{{code}}" and template.created_by == editor
    page = client.get(f"/admin/messaging/messagetemplate/{template.pk}/change/")
    assert page.status_code == 200 and b"Submit for approval" in page.content


def test_bad_form_shows_messages_on_the_fields_and_saves_nothing(client, editor):
    client.force_login(editor)
    bad = {**FORM, "name": "Promo Natale", "header_text": "x" * 61, "samples": "{}"}
    response = client.post("/admin/messaging/messagetemplate/add/", bad)
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert {"name", "header_text", "samples"} <= set(form.errors)
    assert not MessageTemplate.objects.exists()


def test_preview_fills_samples_counts_sms_and_lists_rules(client, viewer):
    client.force_login(viewer)
    html = client.post("/admin/messaging/messagetemplate/preview/", FORM).content.decode()
    assert "Ciao Maria, sconto del 20% fino a domenica." in html and "https://ex.com/o/N24" in html
    assert "Ready to submit." in html
    bad = client.post(
        "/admin/messaging/messagetemplate/preview/", {**FORM, "name": "Bad Name"}
    ).content.decode()
    assert "lowercase letters" in bad
    sms = {**FORM, "kind": "sms", "body": "Città è bella {{first_name}} €" + "a" * 150}
    html = client.post("/admin/messaging/messagetemplate/preview/", sms).content.decode()
    assert 'data-encoding="GSM-7"' in html and 'data-parts="2"' in html and "count double" in html
    html = client.post(
        "/admin/messaging/messagetemplate/preview/", {**sms, "body": "Olá {{first_name}}"}
    ).content.decode()
    assert 'data-encoding="UCS-2"' in html and "Because of á the message uses UCS-2" in html


def test_submit_and_status_fragment(client, editor, sandbox_account, make_template):
    template = make_template()
    client.force_login(editor)
    response = client.post(
        f"/admin/messaging/messagetemplate/{template.pk}/submit/", {"accounts": [sandbox_account.pk]}
    )
    assert response.status_code == 302
    assert TemplateLink.objects.get().status in ("pending", "approved")
    html = client.get(f"/admin/messaging/messagetemplate/{template.pk}/statuses/").content.decode()
    assert 'data-status="approved"' in html  # review_seconds=0: the live pull sees it approved
    assert client.post(f"/admin/messaging/messagetemplate/{template.pk}/sync/").status_code == 302


def test_viewer_cannot_submit_or_change(client, viewer, sandbox_account, make_template):
    template = make_template()
    client.force_login(viewer)
    assert client.get(f"/admin/messaging/messagetemplate/{template.pk}/change/").status_code == 200
    response = client.post(
        f"/admin/messaging/messagetemplate/{template.pk}/submit/", {"accounts": [sandbox_account.pk]}
    )
    assert response.status_code == 403 and not TemplateLink.objects.exists()
    assert client.post(f"/admin/messaging/messagetemplate/{template.pk}/change/", FORM).status_code == 403


def test_delete_in_use_is_refused_naming_the_campaign(client, editor, make_template):
    from messaging.templating.usage import _USERS, register_template_users

    template = make_template()
    client.force_login(editor)

    def users(t):
        yield "campaign “Natale”", True

    register_template_users(users)
    try:
        response = client.get(f"/admin/messaging/messagetemplate/{template.pk}/delete/", follow=True)
    finally:
        _USERS.remove(users)
    assert "Natale" in response.content.decode() and MessageTemplate.objects.exists()


def test_changelist_shows_status_per_account(client, viewer, sandbox_account, make_template):
    template = make_template()
    services.submit_template(template, [sandbox_account])
    client.force_login(viewer)
    html = client.get("/admin/messaging/messagetemplate/").content.decode()
    assert "Sandbox:" in html

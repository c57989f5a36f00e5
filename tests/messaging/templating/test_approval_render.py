"""The two functions campaigns call: is_template_approved() and render_template()."""

import pytest

from contacts.models import Contact
from messaging.models import MessageTemplate, ProviderAccount, TemplateLink
from messaging.templating.services import is_template_approved, render_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def sandbox():
    return ProviderAccount.objects.create(provider="sandbox", name="Sandbox test")


@pytest.fixture
def template():
    return MessageTemplate.objects.create(
        name="promo_natale", kind="whatsapp", language="it", category="marketing",
        header={"type": "text", "text": "Ciao {{first_name}}"},
        body="Ciao {{first_name}}, a {{city}} lo sconto è {{discount}} fino a domenica.",
        footer="Rispondi STOP",
        buttons=[{"type": "url", "text": "Apri", "url": "https://ex.com/p/{{code}}"}],
        samples={"first_name": "Maria", "city": "Roma", "discount": "20%", "code": "X1"},
    )  # fmt: skip


def test_not_submitted_pending_rejected_approved(template, sandbox):
    check = is_template_approved(template, sandbox)
    assert not check and "never submitted" in check.reason
    link = TemplateLink.objects.create(template=template, account=sandbox, status="pending", remote_id="t1")
    check = is_template_approved(template, sandbox)
    assert not check and check.status == "pending" and "waiting for review" in check.reason
    link.status, link.reason = "rejected", "Contains REJECT"
    link.save()
    check = is_template_approved(template, sandbox)
    assert not check and check.reason.endswith(": Contains REJECT")
    link.status = "approved"
    link.save()
    check = is_template_approved(template, sandbox)
    assert check and check.remote_id == "t1" and check.reason == ""


def test_sms_needs_no_approval(sandbox):
    sms = MessageTemplate.objects.create(name="avviso", kind="sms", body="Ciao {{first_name}}")
    assert is_template_approved(sms, sandbox)


def test_render_for_a_contact(template, sandbox):
    contact = Contact(phone="+393331234567", first_name="Luca", city="Milano", fields={"discount": "30%"})
    rendered = render_template(template, contact=contact, values={"code": "AB"})
    assert rendered.body == "Ciao Luca, a Milano lo sconto è 30% fino a domenica."
    assert rendered.header == "Ciao Luca"
    assert (
        rendered.text == "Ciao Luca\n\nCiao Luca, a Milano lo sconto è 30% fino a domenica.\n\nRispondi STOP"
    )
    assert rendered.buttons[0]["url"] == "https://ex.com/p/AB"
    assert rendered.missing == []
    assert rendered.outbound["template_name"] == "promo_natale"
    assert rendered.outbound["variables"] == {"first_name": "Luca", "city": "Milano", "discount": "30%"}
    message = rendered.to_outbound("+393331234567", reference="m-1")
    assert message.template_language == "it" and message.reference == "m-1"


def test_render_in_the_providers_order(template, sandbox, monkeypatch):
    from messaging.providers.template_syntax import PositionalSyntax

    monkeypatch.setattr(
        type(sandbox.get_provider()), "template_syntax", lambda self, kind: PositionalSyntax()
    )
    TemplateLink.objects.create(
        template=template, account=sandbox, variable_order={"body": ["city", "first_name", "discount"]}
    )
    rendered = render_template(
        template, values={"first_name": "A", "city": "B", "discount": "C"}, account=sandbox
    )
    assert rendered.outbound["variables"] == ["B", "A", "C"]


def test_missing_values_are_reported_not_filled_with_samples(template):
    rendered = render_template(template, values={"first_name": "Ada"})
    assert rendered.missing == ["city", "discount", "code"]
    assert "{{" not in rendered.body
    preview = render_template(template, samples=True)
    assert preview.body == "Ciao Maria, a Roma lo sconto è 20% fino a domenica." and preview.missing == []


def test_sms_render_counts_parts():
    sms = MessageTemplate(name="x", kind="sms", body="Ciao {{first_name}}, " + "a" * 150)
    rendered = render_template(sms, values={"first_name": "Èva"})
    assert rendered.outbound == {"channel": "sms", "text": rendered.body}
    assert rendered.sms.encoding == "UCS-2" and rendered.sms.parts == 3

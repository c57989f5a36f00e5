"""An Editor writes a WhatsApp template with a link button, watches the preview follow the typing,
submits it to the Sandbox and to a Qlara account (the fake over HTTP) and sees each status
change without reloading the page."""

import re

import pytest
from playwright.sync_api import expect

from messaging.models import MessageTemplate, ProviderAccount, TemplateLink

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_write_preview_submit_and_watch_the_review(live_server, admin_login, editor, serve_fake):
    from tests.fakes.qlara import QlaraFake

    server = serve_fake(QlaraFake(api_key="browser-key"))
    ProviderAccount.objects.create(provider="sandbox", name="Sandbox", settings={"review_seconds": 2})
    ProviderAccount.objects.create(
        provider="qlara", name="Qlara Italia", base_url=server.url, credentials={"api_key": "browser-key"},
        settings={"sender": "SHOP", "whatsapp_phone_number_id": "5"},
    )  # fmt: skip

    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/messaging/messagetemplate/add/")
    preview = page.locator("#template-preview")

    page.locator("#id_name").press_sequentially("Promo Natale")
    expect(preview).to_contain_text("lowercase letters")  # said as they type
    page.locator("#id_name").fill("")
    page.locator("#id_name").press_sequentially("promo_natale")
    page.select_option("#id_category", "marketing")
    page.locator("#id_body").press_sequentially("Ciao {{first_name}}, lo sconto di Natale è per te.")
    expect(page.locator("input[name=sample_first_name]")).to_be_visible()
    page.locator("input[name=sample_first_name]").press_sequentially("Maria")
    expect(page.locator("#preview-body")).to_have_text("Ciao Maria, lo sconto di Natale è per te.")

    page.locator("#add-url-button").click()
    row = page.locator("[data-button='0']")
    row.locator("input[name=button_text]").press_sequentially("Vedi offerta")
    row.locator("input[name=button_url]").press_sequentially("https://example.com/o/{{code}}")
    page.locator("input[name=sample_code]").press_sequentially("N24")
    expect(preview.locator(".preview-button")).to_contain_text("Vedi offerta")
    expect(preview.locator(".preview-url")).to_have_text("https://example.com/o/N24")
    expect(page.locator("#preview-ok")).to_be_visible()

    page.get_by_role("button", name=re.compile("Save and continue")).click()
    page.wait_for_url(re.compile(r".*/admin/messaging/messagetemplate/\d+/change/"))
    template = MessageTemplate.objects.get()
    assert template.buttons == [
        {"type": "url", "text": "Vedi offerta", "url": "https://example.com/o/{{code}}"}
    ]
    assert template.samples == {"first_name": "Maria", "code": "N24"}

    page.get_by_label(re.compile("Sandbox")).check()
    page.get_by_label(re.compile("Qlara Italia")).check()
    page.locator("#submit-for-approval").click()
    page.wait_for_url(re.compile(r".*/admin/messaging/messagetemplate/\d+/change/"))
    sandbox_row = page.locator("tr[data-account='Sandbox']")
    qlara_row = page.locator("tr[data-account='Qlara Italia']")
    expect(sandbox_row).to_have_attribute("data-status", "pending")
    expect(qlara_row).to_have_attribute("data-status", "pending")
    assert server.fake.wa_templates[1]["body"] == "Ciao {first_name}, lo sconto di Natale è per te."

    # Nobody reloads: the table pulls pending statuses by itself.
    expect(sandbox_row).to_have_attribute("data-status", "approved", timeout=15000)
    server.fake.wa_templates[1].update(status="REJECTED", rejectedReason="Too promotional for UTILITY")
    expect(qlara_row).to_have_attribute("data-status", "rejected", timeout=15000)
    expect(qlara_row).to_contain_text("Too promotional for UTILITY")
    assert dict(TemplateLink.objects.values_list("account__name", "status")) == {
        "Sandbox": "approved", "Qlara Italia": "rejected",
    }  # fmt: skip

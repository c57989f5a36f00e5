"""Webhooks as staff see them: a reply on the contact's page, the events page, "Process again"."""

import json
import re

import pytest
import requests
from playwright.sync_api import expect

from contacts.models import Contact
from messaging.models import Message, WebhookEvent
from messaging.sending import queue_message
from messaging.webhooks.drain import drain_webhook_events
from tests.messaging.webhooks.helpers import hook_path, make_account, qlara_examples

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_kick(settings):
    settings.WEBHOOK_KICK_SECONDS = 0


def test_a_reply_shows_on_the_contact_page_and_events_can_be_processed_again(
    live_server, admin_login, manager
):
    account = make_account("qlara", name="Qlara Italia")
    inbound = next(e for e in qlara_examples() if e["eventType"] == "INBOUND")
    contact = Contact.objects.create(phone=inbound["source"], first_name="Marta")
    queue_message(account, channel="rcs", contact=contact, text="Saldi di primavera: -20%")
    url = live_server.url + hook_path(account)
    assert (
        requests.post(
            url, data=json.dumps(inbound), headers={"Content-Type": "application/json"}, timeout=10
        ).status_code
        == 200
    )
    assert (
        requests.post(
            url, data=b"{broken", headers={"Content-Type": "application/json"}, timeout=10
        ).status_code
        == 400
    )
    drain_webhook_events()
    assert Message.objects.filter(direction="inbound", contact=contact).count() == 1

    page = admin_login(manager)
    page.goto(f"{live_server.url}/admin/contacts/contact/{contact.pk}/change/")
    conversation = page.get_by_test_id("timeline")  # the contact's one timeline (automations/timeline.py)
    expect(conversation.locator("[data-direction=outbound]")).to_contain_text("Saldi di primavera")
    expect(conversation.locator("[data-direction=inbound]")).to_contain_text("User reply message")
    expect(conversation.locator("[data-direction=inbound]")).to_contain_text("Qlara Italia")

    page.goto(f"{live_server.url}/admin/messaging/webhookevent/")
    expect(page.locator("#result_list")).to_contain_text("INBOUND")
    page.goto(f"{live_server.url}/admin/messaging/webhookevent/?status=failed")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Malformed")

    processed = WebhookEvent.objects.get(status="processed")
    page.goto(f"{live_server.url}/admin/messaging/webhookevent/{processed.pk}/change/")
    expect(page.get_by_text("User reply message").first).to_be_visible()  # the raw payload
    page.goto(f"{live_server.url}/admin/messaging/webhookevent/{processed.pk}/reprocess/")
    page.get_by_test_id("confirm").click()
    page.wait_for_url(re.compile(rf".*/webhookevent/{processed.pk}/change/$"))
    expect(page.get_by_text("will be processed again")).to_be_visible()
    again = WebhookEvent.objects.get(pk=processed.pk)  # the drainer ran again (eager Celery here)
    assert (again.status, again.attempts) == ("processed", 2)
    assert Message.objects.filter(direction="inbound", contact=contact).count() == 1  # not twice

    page.goto(f"{live_server.url}/admin/messaging/provideraccount/{account.pk}/change/")
    expect(page.get_by_text(account.webhook_url)).to_be_visible()
    expect(page.get_by_text("Last received")).to_be_visible()

"""A non-technical user builds "added to VIP → send template + start Spoki automation" in chromium."""

import re

import pytest
from playwright.sync_api import expect

from automations.models import AutomationRun
from contacts.models import Contact
from messaging.models import Message, MessageTemplate, ProviderAccount, TemplateLink
from tests.automations.helpers import KEY, pulled, spoki_account
from tests.factories import ContactFactory, ContactListFactory
from tests.fakes.spoki import SpokiFake

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_build_vip_automation_and_see_the_run_on_the_contact(
    live_server, admin_login, editor, serve_fake, settings
):
    settings.AUTOMATIONS_SENDING_WINDOW = ""
    server = serve_fake(SpokiFake(api_key=KEY))
    spoki = spoki_account(server)
    onboarding = pulled(spoki, server.fake.seed_automation("Onboarding VIP")["id"])
    sandbox = ProviderAccount.objects.create(provider="sandbox", name="Sandbox")
    template = MessageTemplate.objects.create(
        name="benvenuto_vip", kind="whatsapp", language="it", body="Ciao {{first_name}}"
    )
    TemplateLink.objects.create(template=template, account=sandbox, status="approved", remote_id="t1")
    ContactListFactory(name="VIP")
    anna = ContactFactory(first_name="Anna", last_name="Verdi")

    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/automations/automation/add/")
    page.fill("input[name=name]", "Benvenuto VIP")
    page.check("input[name=enabled]")
    page.select_option("select[name=trigger_type]", "list_added")
    page.select_option("select[name=trigger_list]", label="VIP")
    page.select_option("select[name=action_1_type]", "send_template")
    page.select_option("select[name=action_1_account]", label="Sandbox")
    page.select_option("select[name=action_1_template]", label=str(template))
    page.select_option("select[name=action_2_type]", "start_provider_automation")
    page.select_option("select[name=action_2_account]", label=spoki.name)
    page.select_option("select[name=action_2_automation]", value=str(onboarding.pk))
    page.fill("textarea[name=action_2_variables]", "NOME={{first_name}}")
    expect(page.locator("select[name=action_1_list]")).to_be_hidden()  # only what the step needs
    page.click("button[name=_save]")
    page.wait_for_url(re.compile(r".*/admin/automations/automation/$"))
    expect(page.locator("#result_list").get_by_text("Benvenuto VIP")).to_be_visible()

    # Add Anna to VIP with the contacts' bulk action.
    page.goto(f"{live_server.url}/admin/contacts/contact/")
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "add_to_list")
    page.locator("button[type=submit][name=index], button:has-text('Run')").first.click()
    page.select_option("select[name=contact_list]", label="VIP")
    page.click("text=Add to list")
    expect(page.get_by_text("Added 1 contact to “VIP”")).to_be_visible()

    # The run succeeded, once, and is on her page.
    page.goto(f"{live_server.url}/admin/contacts/contact/{anna.pk}/change/")
    runs = page.get_by_test_id("timeline").locator("li[data-kind=automation]")
    expect(runs.and_(page.locator("[data-status=succeeded]"))).to_have_count(1)
    expect(runs).to_contain_text("Benvenuto VIP")
    expect(runs).to_contain_text("Start a Spoki automation")  # in words, not the action's code
    run = AutomationRun.objects.get()
    assert run.status == "succeeded" and run.contact_id == anna.pk
    assert Message.objects.filter(contact=anna, template_name="benvenuto_vip").count() == 1
    assert [r["metadata"] for r in server.fake.automation_runs] == [
        {"switchboard_automation": run.automation_id}
    ]
    assert Contact.objects.get(pk=anna.pk).lists.get().name == "VIP"

"""Staff pages in a real browser: Debian's chromium through Playwright."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from tests.factories import ContactListFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_add_contact_see_e164_add_to_list_and_search(live_server, admin_login, editor):
    ContactListFactory(name="Newsletter")
    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/contacts/contact/add/")
    page.fill("input[name=phone]", "333 123 4567")
    page.fill("input[name=first_name]", "Giulia")
    page.fill("input[name=last_name]", "Bianchi")
    page.click("button[name=_save]")
    page.wait_for_url(re.compile(r".*/admin/contacts/contact/$"))
    expect(page.locator("#result_list").get_by_text("+393331234567")).to_be_visible()

    # add it to a list with the bulk action
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "add_to_list")
    page.locator("button[type=submit][name=index], button:has-text('Run')").first.click()
    page.select_option("select[name=contact_list]", label="Newsletter")
    page.click("text=Add to list")
    expect(page.get_by_text("Added 1 contact to “Newsletter”")).to_be_visible()
    assert Contact.objects.get().lists.get().name == "Newsletter"

    # search by a fragment of the phone, typed with spaces
    page.fill("input[name=q]", "123 45")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*q=123\+45.*"))
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and "Giulia" in rows.first.inner_text()

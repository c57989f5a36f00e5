"""A Manager adds provider accounts in the admin and presses Test connection (real browser)."""

import importlib.util
import re

import pytest
from playwright.sync_api import expect

from messaging.models import ProviderAccount

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def add_account(page, live_server, provider: str, name: str, fields: dict[str, str] | None = None):
    page.goto(f"{live_server.url}/admin/messaging/provideraccount/add/")
    page.select_option("select[name=provider]", provider)
    page.fill("input[name=name]", name)
    for selector, value in (fields or {}).items():
        page.fill(selector, value)
    page.click("button[name=_continue]")
    page.wait_for_url(re.compile(r".*/admin/messaging/provideraccount/\d+/change/$"))


def test_manager_adds_a_sandbox_account_and_tests_it(live_server, admin_login, manager):
    page = admin_login(manager)
    add_account(page, live_server, "sandbox", "Demo sandbox")
    account = ProviderAccount.objects.get(name="Demo sandbox")
    assert account.provider == "sandbox"

    page.get_by_role("link", name=re.compile("Test connection")).click()
    page.get_by_role("button", name="Test connection now").click()  # the GET only asks (issue 8)
    expect(page.get_by_text("Demo sandbox: Connected — sandbox (no real messages are sent)")).to_be_visible()
    expect(page.get_by_text("Healthy").first).to_be_visible()
    expect(page.get_by_text("Send: RCS, SMS, Voice, WhatsApp")).to_be_visible()


@pytest.mark.skipif(importlib.util.find_spec("tests.fakes.spoki") is None, reason="no Spoki fake yet")
def test_manager_adds_a_spoki_account_pointing_at_the_fake(live_server, admin_login, manager, serve_fake):
    from tests.fakes.spoki import SpokiFake

    fake = serve_fake(SpokiFake(api_key="spoki-browser-key"))
    page = admin_login(manager)
    page.goto(f"{live_server.url}/admin/messaging/provideraccount/add/")
    # Only the chosen provider's credential inputs are shown.
    key_input = page.locator("input[name=cred__spoki__api_key]")
    expect(key_input).to_be_hidden()
    page.select_option("select[name=provider]", "spoki")
    expect(key_input).to_be_visible()
    expect(
        page.locator("input[name=cred__sandbox__seed], input[name=set__sandbox__seed]").first
    ).to_be_hidden()

    page.fill("input[name=name]", "Spoki Italy")
    page.fill("input[name=base_url]", fake.url)
    key_input.fill("spoki-browser-key")
    page.click("button[name=_continue]")
    page.wait_for_url(re.compile(r".*/admin/messaging/provideraccount/\d+/change/$"))

    # The key is never rendered back; the page says it is set.
    assert "spoki-browser-key" not in page.content()
    expect(page.get_by_text("•••• set — leave blank to keep").first).to_be_visible()

    page.get_by_role("link", name=re.compile("Test connection")).click()
    page.get_by_role("button", name="Test connection now").click()  # the GET only asks (issue 8)
    expect(page.get_by_text(re.compile(r"Spoki Italy: Connected"))).to_be_visible()
    account = ProviderAccount.objects.get(name="Spoki Italy")
    assert account.credentials == {"api_key": "spoki-browser-key"} and account.last_success_at is not None

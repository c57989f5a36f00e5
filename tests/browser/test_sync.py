"""A Manager presses Sync now on a Spoki account (the fake over HTTP) and sees the run finish."""

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from messaging.models import ProviderAccount
from messaging.sync.models import SyncRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sync_now_runs_and_shows_its_counts(live_server, admin_login, manager, serve_fake):
    from tests.fakes.spoki import SpokiFake

    server = serve_fake(SpokiFake(api_key="browser-key"))
    server.fake.seed_contacts(2)
    Contact.objects.create(phone="+393331234500", first_name="Local")
    account = ProviderAccount.objects.create(
        provider="spoki", name="Spoki Italy", base_url=server.url, credentials={"api_key": "browser-key"}
    )

    page = admin_login(manager)
    page.goto(f"{live_server.url}/admin/messaging/provideraccount/{account.pk}/change/")
    page.get_by_role("link", name=re.compile("Sync now")).click()
    page.wait_for_url(re.compile(r".*/admin/messaging/syncrun/start/\?account=\d+$"))
    page.select_option("select[name=resource]", "contacts")
    page.get_by_role("button", name="Sync now").click()

    page.wait_for_url(re.compile(r".*/admin/messaging/syncrun/\d+/change/$"))
    run = SyncRun.objects.get()
    assert (run.status, run.trigger, run.pulled, run.created, run.pushed) == ("succeeded", "button", 2, 2, 1)
    expect(page.get_by_text("succeeded").first).to_be_visible()
    expect(page.locator('[data-count="pulled"]')).to_have_text(re.compile(r"2\s+pulled"))
    expect(page.locator('[data-count="created"]')).to_have_text(re.compile(r"2\s+created"))
    expect(page.locator('[data-count="pushed"]')).to_have_text(re.compile(r"1\s+pushed"))
    assert Contact.objects.count() == 3 and len(server.fake.contacts) == 3

    # The run is in the list, and its HTTP log is one click away.
    page.goto(f"{live_server.url}/admin/messaging/syncrun/")
    expect(page.get_by_text("Spoki Italy").first).to_be_visible()
    page.goto(f"{live_server.url}/admin/messaging/syncrun/{run.pk}/change/")
    page.get_by_role("link", name=re.compile("requests made by this run")).click()
    expect(page.get_by_text("/contacts/sync_all/").first).to_be_visible()


def test_a_held_conflict_is_resolved_in_the_admin(live_server, admin_login, manager, serve_fake):
    from messaging.sync.models import SyncConflict
    from messaging.sync.services import sync_account
    from tests.fakes.spoki import SpokiFake

    server = serve_fake(SpokiFake(api_key="browser-key"))
    [remote_id] = server.fake.seed_contacts(1)
    phone = server.fake.contacts[remote_id]["phone"]
    contact = Contact.objects.create(phone=phone, first_name="Ours")
    account = ProviderAccount.objects.create(
        provider="spoki", name="Spoki hold", base_url=server.url, credentials={"api_key": "browser-key"},
        conflict_policy="hold",
    )  # fmt: skip
    run = sync_account(account, "contacts", "pull")
    assert (run.status, run.conflicts) == ("partial", 1)
    conflict = SyncConflict.objects.get()

    page = admin_login(manager)
    page.goto(f"{live_server.url}/admin/messaging/syncconflict/{conflict.pk}/change/")
    row = page.locator('tr[data-field="first_name"]')
    expect(row.locator(".ours")).to_have_text("Ours")
    expect(row.locator(".theirs")).to_have_text("Name0")
    page.get_by_role("button", name="Keep theirs").click()
    page.wait_for_url(re.compile(r".*/admin/messaging/syncconflict/$"))
    expect(page.get_by_text("The provider's version was kept")).to_be_visible()
    contact.refresh_from_db()
    conflict.refresh_from_db()
    assert (contact.first_name, conflict.status) == ("Name0", "kept_theirs")

"""A non-technical Editor sends a campaign through the Sandbox and watches it in the browser."""

import re

import pytest
from playwright.sync_api import expect

from campaigns.models import Campaign
from campaigns.services.fanout import run_campaign
from campaigns.services.polling import poll_campaign
from messaging.models import Message
from messaging.stats import campaign_totals
from tests.campaigns.helpers import approved_template, list_of, predictable_outcomes, sandbox_account

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def chart_drawn(page, selector: str) -> bool:
    return page.evaluate(
        "(sel) => { const c = document.querySelector(sel); return !!(c && window.Chart && Chart.getChart(c)); }",
        selector,
    )


def test_create_preview_start_watch_and_read_the_dashboard(live_server, admin_login, editor, monkeypatch):
    predictable_outcomes(monkeypatch)
    kicked = []
    # The worker is this test: it sends when we say, so the page can be watched filling in.
    monkeypatch.setattr("campaigns.services.lifecycle._kick", kicked.append)
    account = sandbox_account("Sandbox demo")
    contact_list, _contacts = list_of(25)
    template = approved_template(account, name="saldi_estivi")

    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    page.fill("input[name=name]", "Saldi estivi")
    page.select_option("select[name=account]", str(account.pk))
    page.select_option("select[name=channel]", "whatsapp")
    page.select_option("select[name=template]", str(template.pk))
    page.select_option("select[name=lists]", [str(contact_list.pk)])
    page.fill("input[name=rate_per_second]", "50")
    page.locator("button[name=_save], input[name=_save]").first.click()

    page.wait_for_url(re.compile(r".*/admin/campaigns/campaign/\d+/preview/$"))
    campaign = Campaign.objects.get()
    expect(page.get_by_test_id("preview-audience")).to_contain_text("25")
    expect(page.get_by_test_id("preview-cost")).to_contain_text("1.25 EUR")  # 25 at 0.05 each
    expect(page.get_by_test_id("sample-text").first).to_contain_text("Ciao ")

    page.fill("input[name=phone]", "+39 333 000 0001")
    page.get_by_test_id("send-test").click()
    expect(page.get_by_text(re.compile("Test sent to \\+393330000001"))).to_be_visible()
    assert Message.objects.filter(source="test", phone="+393330000001").exists()

    page.get_by_test_id("start-campaign").click()
    page.wait_for_url(re.compile(r".*/report/$"))
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sending")
    expect(page.get_by_test_id("funnel-sent")).to_have_text("0")
    assert kicked == [campaign.pk]

    page.get_by_test_id("pause").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Paused")
    page.get_by_test_id("resume").click()
    expect(page.get_by_test_id("campaign-status")).to_have_text("Sending")

    # The worker sends and the receipts come in; the page refreshes itself and fills in.
    run_campaign(campaign.pk, sleep=lambda s: None)
    poll_campaign(campaign.pk)
    totals = campaign_totals(campaign.pk)
    expect(page.get_by_test_id("campaign-status")).to_have_text("Completed", timeout=12000)
    expect(page.get_by_test_id("funnel-sent")).to_have_text(str(totals["sent"]))
    expect(page.get_by_test_id("funnel-delivered")).to_have_text(str(totals["delivered"]))
    expect(page.get_by_test_id("funnel-read")).to_have_text(str(totals["read"]))
    assert totals["delivered"] > 0 and totals["sent"] + totals["failed"] == 25
    assert chart_drawn(page, "#campaign-report canvas.chart")
    page.locator('[data-tab="failed"]').click()
    expect(page.locator('[data-message-status="failed"]')).to_have_count(totals["failed"])

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#overview")).to_be_visible()
    expect(page.locator('[data-overview="messages"]')).to_contain_text("26")  # 25 + the test
    expect(page.locator("#last-campaigns")).to_contain_text("Saldi estivi")
    assert chart_drawn(page, "#overview canvas.chart")
    # A date range with nothing in it says so instead of drawing empty charts.
    page.fill("#date-range input[name=from]", "2020-01-01")
    page.fill("#date-range input[name=to]", "2020-01-31")
    page.locator("#date-range button").click()
    expect(page.get_by_text("No messages in this period yet.")).to_be_visible()

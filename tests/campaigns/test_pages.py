"""The campaign pages and the CLI (server-rendered; the browser test drives them for real)."""

import json

import pytest
from django.core.management import call_command

from campaigns.services import start_campaign
from campaigns.services.fanout import run_campaign
from campaigns.services.polling import poll_campaign

from .helpers import list_of, predictable_outcomes, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished(monkeypatch):
    predictable_outcomes(monkeypatch)
    account = sandbox_account()
    contact_list, _ = list_of(30)
    campaign = sms_campaign(account, [contact_list], text='=HYPERLINK("x") Ciao {{first_name}}')
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    poll_campaign(campaign.pk)
    return campaign


def test_report_page_numbers_agree_with_the_api(client, viewer, finished, django_assert_max_num_queries):
    client.force_login(viewer)
    api = client.get(f"/api/campaigns/{finished.pk}/").json()["stats"]
    with django_assert_max_num_queries(30):
        page = client.get(f"/admin/campaigns/campaign/{finished.pk}/report/")
    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-testid="funnel-delivered">{api["delivered"]}<' in html
    assert f'data-testid="funnel-read">{api["read"]}<' in html
    assert "Simulated failure" in html  # failures by reason, in words
    assert 'data-testid="pause"' not in html  # a Viewer sees no buttons
    filtered = client.get(f"/admin/campaigns/campaign/{finished.pk}/report/?status=failed").content.decode()
    assert filtered.count('data-message-status="failed"') == api["failed"]


def test_export_is_formula_safe(client, viewer, finished):
    client.force_login(viewer)
    body = client.get(f"/admin/campaigns/campaign/{finished.pk}/export/csv/").content.decode("utf-8-sig")
    lines = body.splitlines()
    assert len(lines) == 31
    assert "\"'=HYPERLINK" in lines[1]  # quoted by csv, neutralised by the leading '
    assert ',"=' not in body and ",=" not in body
    xlsx = client.get(f"/admin/campaigns/campaign/{finished.pk}/export/xlsx/")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_viewer_cannot_act(client, viewer, finished):
    client.force_login(viewer)
    assert client.post(f"/admin/campaigns/campaign/{finished.pk}/do/pause/").status_code == 403


def test_campaign_stats_command(finished, capsys):
    call_command("campaign_stats", str(finished.pk), "--json")
    data = json.loads(capsys.readouterr().out)
    s = data["stats"]
    assert s["queued"] + s["sent"] + s["failed"] + s["unknown"] + s["skipped"] == s["audience"] == 30
    assert data["failures"] and data["funnel"][0] == {"step": "audience", "count": 30, "percent": 100.0}


def test_admin_home_shows_the_overview(client, editor, finished):
    client.force_login(editor)
    html = client.get("/admin/").content.decode()
    assert 'id="overview"' in html and finished.name in html


def test_only_managers_see_the_account_balance_on_the_preview(client, viewer, editor, manager):
    account = sandbox_account()
    account.balance_text = "12.34 EUR"
    account.save(update_fields=["balance_text"])
    contact_list, _ = list_of(2)
    campaign = sms_campaign(account, [contact_list])
    url = f"/admin/campaigns/campaign/{campaign.pk}/preview/"
    for user, shown in ((viewer, False), (editor, False), (manager, True)):
        client.force_login(user)
        page = client.get(url)
        assert page.status_code == 200
        assert ("12.34 EUR" in page.content.decode()) is shown, user.username

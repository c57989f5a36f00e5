"""The time zone each staff member works in: chosen in the user menu, remembered, used by forms and the API."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from campaigns.models import Campaign
from localization.models import UserLanguage
from localization.timezones import SESSION_KEY
from tests.campaigns.helpers import list_of, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("maria", password="pw-maria", is_staff=True, is_superuser=True)


def next_year_at(hour: int, zone) -> dt.datetime:
    return dt.datetime(timezone.now().year + 1, 3, 2, hour, 30, tzinfo=zone)


def test_the_menu_offers_the_zone_and_remembers_the_choice(client, staff, settings):
    settings.TIME_ZONE = "Europe/Rome"
    client.force_login(staff)
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'action="/i18n/settimezone/"' in home
    assert '<option value="Europe/Rome" selected>' in home
    response = client.post("/i18n/settimezone/", {"time_zone": "America/New_York", "next": "/admin/"})
    assert response.status_code == 302 and response.url == "/admin/"
    assert UserLanguage.objects.get(user=staff).time_zone == "America/New_York"
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<option value="America/New_York" selected>' in home
    assert "Dates are now shown in America/New_York." in home


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../../etc/passwd", "x" * 500])
def test_an_unknown_zone_is_refused_in_words(client, staff, bad):
    client.force_login(staff)
    response = client.post("/i18n/settimezone/", {"time_zone": bad, "next": "https://evil.example.com/"})
    assert response.status_code == 302 and response.url == "/admin/"  # never sent off-site
    assert not UserLanguage.objects.filter(user=staff).exclude(time_zone="").exists()
    assert "is not a time zone we know" in client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()


def test_the_choice_follows_the_person_to_another_browser(client, staff):
    UserLanguage.objects.create(user=staff, language="en", time_zone="Asia/Kolkata")
    client.post("/admin/login/?next=/admin/", {"username": "maria", "password": "pw-maria"})
    assert client.session[SESSION_KEY] == "Asia/Kolkata"
    assert '<option value="Asia/Kolkata" selected>' in client.get("/admin/").content.decode()


def _form_data(campaign, when_date: str, when_time: str) -> dict:
    return {
        "name": campaign.name, "description": "", "account": campaign.account_id, "channel": "sms", "sender": "",
        "template": "", "text": campaign.text, "lists": [campaign.lists.first().pk], "variables": "{}",
        "scheduled_at_0": when_date, "scheduled_at_1": when_time, "rate_per_second": 10, "window_start": "",
        "window_end": "", "window_days": "[]", "apply_frequency_cap": "on", "failure_threshold_percent": 20,
        "failure_window": 100, "_continue": "1",
    }  # fmt: skip


def test_the_admin_form_reads_and_shows_dates_in_the_users_zone(client, staff):
    UserLanguage.objects.create(user=staff, language="en", time_zone="America/New_York")
    client.post("/admin/login/?next=/admin/", {"username": "maria", "password": "pw-maria"})
    contact_list, _ = list_of(2)
    campaign = sms_campaign(sandbox_account(), [contact_list])
    when = next_year_at(9, NEW_YORK)
    url = f"/admin/campaigns/campaign/{campaign.pk}/change/"
    response = client.post(url, _form_data(campaign, when.strftime("%Y-%m-%d"), "09:30"), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 302, response.context["adminform"].form.errors
    campaign.refresh_from_db()
    assert campaign.scheduled_at == when  # 09:30 in New York, stored as the same instant in UTC
    assert campaign.scheduled_at.astimezone(dt.UTC).hour == when.astimezone(dt.UTC).hour
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'value="09:30:00"' in page  # shown back as entered, in the person's zone
    assert "In your time zone: America/New_York" in page
    past = client.post(url, _form_data(campaign, "2020-01-01", "09:30"), HTTP_ACCEPT_LANGUAGE="en")
    assert past.status_code == 200 and "This date and time is in the past." in past.content.decode()


def test_other_pages_show_dates_in_the_users_zone(client, staff):
    UserLanguage.objects.create(user=staff, language="en", time_zone="Asia/Tokyo")
    client.post("/admin/login/?next=/admin/", {"username": "maria", "password": "pw-maria"})
    contact_list, _ = list_of(1)
    campaign = sms_campaign(sandbox_account(), [contact_list])
    started = dt.datetime(2026, 3, 2, 0, 30, tzinfo=dt.UTC)  # 09:30 in Tokyo, 01:30 in Rome
    Campaign.objects.filter(pk=campaign.pk).update(started_at=started, status="completed")
    listing = client.get("/admin/campaigns/campaign/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 Mar 2026, 09:30" in listing and "01:30" not in listing
    # The zone is switched off after the request.
    assert timezone.get_current_timezone_name() == timezone.get_default_timezone_name()


def test_the_api_reads_naive_times_in_the_users_zone_and_answers_with_offsets(editor):
    UserLanguage.objects.create(user=editor, language="en", time_zone="America/New_York")
    contact_list, _ = list_of(2)
    account = sandbox_account()
    api = APIClient()
    api.force_authenticate(editor)  # as a token would: no session, no middleware zone
    body = {"name": "Saldi", "account": account.pk, "channel": "sms", "text": "Ciao!", "lists": [contact_list.pk]}
    naive = next_year_at(9, None).replace(tzinfo=None)
    created = api.post("/api/campaigns/", {**body, "scheduled_at": naive.isoformat()}, format="json")
    assert created.status_code == 201, created.json()
    stored = Campaign.objects.get(pk=created.json()["id"]).scheduled_at
    assert stored == naive.replace(tzinfo=NEW_YORK)
    assert created.json()["scheduled_at"] == naive.replace(tzinfo=NEW_YORK).isoformat()  # with -05:00
    utc = next_year_at(9, dt.UTC)
    explicit = api.post("/api/campaigns/", {**body, "scheduled_at": utc.isoformat()}, format="json")
    assert Campaign.objects.get(pk=explicit.json()["id"]).scheduled_at == utc  # an offset means that instant
    past = api.post("/api/campaigns/", {**body, "scheduled_at": "2020-01-01T09:00:00"}, format="json")
    assert past.status_code == 400 and "scheduled_at" in past.json()


def test_without_a_choice_the_default_zone_applies(editor, settings):
    settings.TIME_ZONE = "Europe/Rome"
    contact_list, _ = list_of(1)
    api = APIClient()
    api.force_authenticate(editor)
    naive = next_year_at(9, None).replace(tzinfo=None)
    created = api.post("/api/campaigns/", {"name": "S", "account": sandbox_account().pk, "channel": "sms",
                                           "text": "Ciao!", "lists": [contact_list.pk],
                                           "scheduled_at": naive.isoformat()}, format="json")  # fmt: skip
    assert created.status_code == 201, created.json()
    stored = Campaign.objects.get(pk=created.json()["id"]).scheduled_at
    assert stored == naive.replace(tzinfo=zoneinfo.ZoneInfo("Europe/Rome"))

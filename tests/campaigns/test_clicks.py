"""Click tracking: per-recipient short links written in bulk, the /r/<code> redirect, the clicked counter."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from campaigns.models import Campaign, TrackedLink
from campaigns.services import links as links_module
from campaigns.services import start_campaign
from campaigns.services.fanout import materialize_recipients, run_campaign
from campaigns.services.links import CODE_LENGTH, find_urls, short_url, tracked_link_length
from campaigns.services.preview import preview_campaign
from campaigns.services.rules import check_campaign
from campaigns.stats import campaign_stats, funnel
from messaging.models import Message
from messaging.providers.base import Op, Resource

from .helpers import approved_template, assert_counters_match_rows, list_of, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db

SHOP = "https://shop.example.com/saldi?utm=sms"
INFO = "http://example.com/info"
TEXT = f"Ciao {{{{first_name}}}}, saldi su {SHOP}. Info: {INFO} (o ancora {SHOP})!"


@pytest.fixture
def account():
    return sandbox_account()


@pytest.fixture(autouse=True)
def public_url(settings):
    settings.SWITCHBOARD_PUBLIC_URL = "https://sb.example.com/"


def tracked_campaign(account, n=4, **kw):
    contact_list, contacts = list_of(n)
    campaign = sms_campaign(account, [contact_list], text=kw.pop("text", TEXT), track_clicks=True, **kw)
    return campaign, contacts


def codes_in(text: str) -> list[str]:
    return [url.rsplit("/", 1)[1] for _, _, url in find_urls(text) if url.startswith("https://sb.example.com/r/")]


def test_finding_links_in_a_text():
    text = "Vai su https://a.it/x. Oppure (https://b.it/y), https://en.wikipedia.org/wiki/Foo_(bar)! e www.c.it"
    assert [u for _, _, u in find_urls(text)] == ["https://a.it/x", "https://b.it/y",
                                                 "https://en.wikipedia.org/wiki/Foo_(bar)"]  # fmt: skip
    assert find_urls("nessun link, solo http:// e testo") == []


def test_each_recipient_gets_own_short_link_per_url(account):
    campaign, contacts = tracked_campaign(account)
    assert materialize_recipients(campaign) == len(contacts)
    messages = list(Message.objects.filter(campaign=campaign))
    links = list(TrackedLink.objects.filter(campaign=campaign))
    assert len(links) == len(contacts) * 2  # two distinct URLs per recipient, the repeated one shares its code
    assert len({link.code for link in links}) == len(links)
    for message in messages:
        own = {link.url: link.code for link in links if link.message_id == message.pk}
        assert set(own) == {SHOP, INFO}
        assert SHOP not in message.text and INFO not in message.text
        assert message.text.count(short_url(own[SHOP])) == 2 and message.text.count(short_url(own[INFO])) == 1
        assert message.text.endswith(f"{short_url(own[SHOP])})!")  # punctuation stays outside the link
        assert all(len(code) == CODE_LENGTH and code.isalnum() for code in own.values())
    assert tracked_link_length() == len("https://sb.example.com/r/") + CODE_LENGTH


def test_without_tracking_texts_are_untouched(account):
    contact_list, _ = list_of(2)
    campaign = sms_campaign(account, [contact_list], text=TEXT)
    materialize_recipients(campaign)
    assert not TrackedLink.objects.exists()
    assert all(SHOP in m.text for m in Message.objects.filter(campaign=campaign))


def test_whatsapp_templates_keep_their_links(account):
    template = approved_template(account, body="Ciao {{first_name}}, guarda https://shop.example.com/vip")
    contact_list, _ = list_of(2)
    campaign = sms_campaign(account, [contact_list], channel="whatsapp", template=template, text="",
                            track_clicks=True)  # fmt: skip
    materialize_recipients(campaign)
    assert not TrackedLink.objects.exists()
    assert all("https://shop.example.com/vip" in m.text for m in Message.objects.filter(campaign=campaign))


def test_skipped_recipients_get_no_links(account, settings):
    settings.SWITCHBOARD_FREQUENCY_CAP_PER_DAY = 1
    campaign, contacts = tracked_campaign(account, n=3)
    Message.objects.create(account=account, contact=contacts[0], phone=contacts[0].phone, channel="sms",
                           is_marketing=True, status="sent")  # fmt: skip
    materialize_recipients(campaign)
    assert TrackedLink.objects.filter(campaign=campaign).count() == 2 * 2
    assert not TrackedLink.objects.filter(message__contact=contacts[0]).exists()


def _fanout_queries(account, n, *, track):
    contact_list, _ = list_of(n)
    campaign = sms_campaign(account, [contact_list], text=TEXT, track_clicks=track, name=f"c{n}{track}")
    with CaptureQueriesContext(connection) as queries:
        materialize_recipients(campaign)
    return len(queries)


def test_link_writing_costs_a_constant_number_of_statements_per_batch(account, monkeypatch):
    """No query per recipient: the extra statements of tracking do not grow with the batch's size."""
    monkeypatch.setattr("campaigns.services.fanout.WRITE_BATCH", 100)
    small = _fanout_queries(account, 5, track=True) - _fanout_queries(account, 5, track=False)
    large = _fanout_queries(account, 40, track=True) - _fanout_queries(account, 40, track=False)
    assert 0 < small == large <= 4  # ids by reference, savepoint, one INSERT (or COPY), release
    monkeypatch.setattr("campaigns.services.fanout.WRITE_BATCH", 10)
    batched = _fanout_queries(account, 40, track=True) - _fanout_queries(account, 40, track=False)
    assert batched == 4 * small  # four batches of ten: the same cost four times
    assert TrackedLink.objects.count() == 2 * (5 + 40 + 40)


def test_a_code_collision_draws_a_new_code_and_fixes_the_text(account, monkeypatch):
    campaign, _ = tracked_campaign(account, n=1, text=f"Vai su {INFO}")
    other, _ = tracked_campaign(account, n=1, text=f"Vai su {INFO}")
    materialize_recipients(other)
    taken = TrackedLink.objects.get().code
    draws = iter([taken, "Fresh123"])
    monkeypatch.setattr(links_module, "new_code", lambda: next(draws))
    materialize_recipients(campaign)
    link = TrackedLink.objects.get(campaign=campaign)
    assert link.code == "Fresh123"
    assert Message.objects.get(campaign=campaign).text == f"Vai su {short_url('Fresh123')}"


def test_a_click_redirects_and_counts(account, client):
    campaign, _ = tracked_campaign(account, n=3)
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    link = TrackedLink.objects.filter(campaign=campaign, url=SHOP).first()
    sibling = TrackedLink.objects.get(message=link.message, url=INFO)

    response = client.get(f"/r/{link.code}")
    assert response.status_code == 302 and response["Location"] == SHOP
    assert response["Cache-Control"] == "no-store"
    client.get(f"/r/{link.code}")
    client.get(f"/r/{sibling.code}")
    link.refresh_from_db()
    sibling.refresh_from_db()
    assert (link.clicks, sibling.clicks) == (2, 1) and link.first_clicked_at is not None
    assert Message.objects.get(pk=link.message_id).clicked_at == link.first_clicked_at
    stats = campaign_stats(campaign)
    assert stats["clicked"] == 1  # one recipient, however many clicks on however many of their links
    assert {s["step"]: s["count"] for s in funnel(campaign, stats)}["clicked"] == 1
    assert_counters_match_rows(campaign)


def test_the_api_and_the_campaign_page_show_the_same_clicked(account, client, viewer):
    campaign, _ = tracked_campaign(account, n=5)
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    for link in TrackedLink.objects.filter(campaign=campaign, url=INFO)[:3]:
        client.get(f"/r/{link.code}")
    api = APIClient()
    api.force_authenticate(viewer)
    assert api.get(f"/api/campaigns/{campaign.pk}/").json()["stats"]["clicked"] == 3
    client.force_login(viewer)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/report/").content.decode()
    assert 'data-testid="funnel-clicked">3<' in page
    assert_counters_match_rows(campaign)


def test_head_bots_and_other_methods_do_not_count(account, client):
    campaign, _ = tracked_campaign(account, n=1)
    materialize_recipients(campaign)
    link = TrackedLink.objects.filter(campaign=campaign).first()
    assert client.head(f"/r/{link.code}").status_code == 302
    preview_bot = "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"
    assert client.get(f"/r/{link.code}", HTTP_USER_AGENT=preview_bot).status_code == 302
    assert client.get(f"/r/{link.code}", HTTP_USER_AGENT="WhatsApp/2.23.20.0 A").status_code == 302
    assert client.post(f"/r/{link.code}").status_code == 405
    link.refresh_from_db()
    assert link.clicks == 0 and campaign_stats(campaign)["clicked"] == 0
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    client.get(f"/r/{link.code}", HTTP_USER_AGENT=iphone)
    link.refresh_from_db()
    assert link.clicks == 1


@pytest.mark.parametrize("code", ["Zz9Zz9Zz", "short", "x" * 300, "..%2F..%2Fetc", "a/b/c", "ab cd", "Zz9Zz9Zz/"])
def test_an_unknown_code_gets_a_friendly_page_in_the_visitors_language(client, code):
    response = client.get(f"/r/{code}", HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == 404
    assert "Link non trovato" in response.content.decode()
    english = client.get(f"/r/{code}", HTTP_ACCEPT_LANGUAGE="en")
    assert english.status_code == 404 and "Link not found" in english.content.decode()


def test_a_malformed_request_is_refused_not_crashed(client):
    assert client.get("/r/%00abc").status_code == 400  # the hardening middleware refuses NUL in a path
    assert client.get("/r/").status_code == 404


def test_a_redirect_is_cheap(account, client, django_assert_max_num_queries):
    campaign, _ = tracked_campaign(account, n=1)
    materialize_recipients(campaign)
    link = TrackedLink.objects.filter(campaign=campaign).first()
    with django_assert_max_num_queries(8):  # lookup; savepoint; link += 1; message; counter; release
        assert client.get(f"/r/{link.code}").status_code == 302
    with django_assert_max_num_queries(1):
        assert client.head(f"/r/{link.code}").status_code == 302


def test_preview_shows_short_links_and_counts_their_length(account):
    long_url = "https://shop.example.com/" + "collezione-primavera-estate/" * 5
    text = f"Saldi! {long_url}"
    campaign, _ = tracked_campaign(account, n=2, text=text)
    tracked = preview_campaign(campaign)
    assert all(long_url not in s["text"] and "https://sb.example.com/r/" in s["text"] for s in tracked["sample"])
    assert len(tracked["sample"][0]["text"]) == len("Saldi! ") + tracked_link_length()
    assert tracked["parts"] == 1
    Campaign.objects.filter(pk=campaign.pk).update(track_clicks=False)
    campaign.refresh_from_db()
    assert preview_campaign(campaign)["parts"] == 2  # the same text untracked: the long link costs a part
    assert not TrackedLink.objects.exists()  # the preview writes nothing


def test_the_campaign_form_offers_tracking_and_counts_short_links(account, client, editor):
    campaign, _ = tracked_campaign(account, n=1, text="Saldi! https://shop.example.com/" + "x" * 200)
    client.force_login(editor)
    page = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert 'name="track_clicks"' in html
    assert "WhatsApp templates are sent exactly as approved" in html
    units = len("Saldi! ") + tracked_link_length()
    assert f"As saved: {units} characters, GSM-7, 1 SMS part(s)" in html


def test_provider_run_campaigns_cannot_track(account, monkeypatch):
    campaign, _ = tracked_campaign(account, n=1)
    provider = account.provider_class
    monkeypatch.setattr(provider, "runs_campaigns", True, raising=False)
    real = provider.capabilities.supports
    monkeypatch.setattr(type(provider.capabilities), "supports",
                        lambda self, res, op: True if res == Resource.CAMPAIGNS and op in (Op.PUSH, Op.START)
                        else real(res, op))  # fmt: skip
    assert "track_clicks" in check_campaign(campaign)
    campaign.track_clicks = False
    assert "track_clicks" not in check_campaign(campaign)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_count_every_click_and_the_recipient_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SWITCHBOARD_INTEGRATION=1 with DATABASE_URL)")
    account = sandbox_account()
    campaign, _ = tracked_campaign(account, n=2)
    materialize_recipients(campaign)
    link = TrackedLink.objects.filter(campaign=campaign, url=SHOP).first()
    sibling = TrackedLink.objects.get(message=link.message, url=INFO)
    workers, per_worker = 8, 5
    barrier = threading.Barrier(workers)
    statuses, errors = [], []

    def click(code):
        try:
            browser = Client()
            barrier.wait()
            for _ in range(per_worker):
                statuses.append(browser.get(f"/r/{code}").status_code)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    codes = [link.code] * (workers - 2) + [sibling.code] * 2  # two workers race on the recipient's other link
    threads = [threading.Thread(target=click, args=(code,)) for code in codes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and statuses == [302] * workers * per_worker
    link.refresh_from_db()
    sibling.refresh_from_db()
    assert link.clicks == (workers - 2) * per_worker and sibling.clicks == 2 * per_worker
    assert campaign_stats(campaign)["clicked"] == 1
    assert Message.objects.filter(campaign=campaign, clicked_at__isnull=False).count() == 1
    assert_counters_match_rows(campaign)

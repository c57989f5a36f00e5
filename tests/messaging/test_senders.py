"""Senders: pulled from each provider's listing over HTTP (its fake), kept by the sync engine's
"senders" resource, typed by staff where no listing exists, and checked on every campaign."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from campaigns.models import Campaign
from messaging.models import ProviderAccount, Sender, SyncRun
from messaging.providers.base import RemoteSender
from messaging.senders.services import check_sender, record_pulled_senders, save_manual_sender
from messaging.sync.services import sync_account
from tests.campaigns.helpers import list_of, sandbox_account
from tests.fakes.myoperator import COMPANY_PHONE_NUMBER_ID, MyOperatorFake
from tests.fakes.qlara import QlaraFake
from tests.fakes.spoki import SpokiFake
from tests.fakes.spryng import SpryngFake

pytestmark = pytest.mark.django_db


def _account(provider, server, credentials, settings=None):
    return ProviderAccount.objects.create(provider=provider, name=provider, base_url=server.url,
                                          credentials=credentials, settings=settings or {})  # fmt: skip


def _senders(account):
    return {
        (s.channel, s.address, s.label, s.active, s.source) for s in Sender.objects.filter(account=account)
    }


def test_qlara_lists_sms_senders_rcs_agents_and_whatsapp_numbers(serve_fake):
    server = serve_fake(QlaraFake(api_key="k"))
    server.fake.sms_senders.append({"id": 2, "sender": "OLDBRAND", "status": "REJECTED"})
    account = _account("qlara", server, {"api_key": "k"})
    run = sync_account(account, "senders", "pull")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert _senders(account) == {
        ("sms", "MYCOMPANY", "MYCOMPANY", True, "pulled"),
        ("sms", "OLDBRAND", "OLDBRAND", False, "pulled"),  # refused by Qlara: kept, switched off
        ("rcs", "ag-2_ci5xnlho_agent", "My Brand", True, "pulled"),
        ("whatsapp", "5", "My Business (+393209998877)", True, "pulled"),
    }
    assert (run.pulled, run.created) == (4, 4)
    again = sync_account(account, "senders", "pull")  # a second pull changes nothing
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)


def test_myoperator_lists_its_whatsapp_numbers(serve_fake):
    server = serve_fake(MyOperatorFake(api_key="test-key", company_id="66c595699b31d875"))
    account = _account("myoperator", server, {"api_key": "test-key", "company_id": "66c595699b31d875"})
    run = sync_account(account, "senders", "pull")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    ((channel, address, _label, active, source),) = _senders(account)
    assert (channel, address, active, source) == ("whatsapp", COMPANY_PHONE_NUMBER_ID, True, "pulled")
    assert server.fake.requests_to("GET", r"^/chat/phonenumbers$")


def test_spoki_channels_in_both_documented_shapes(serve_fake):
    fake = SpokiFake(api_key="k")
    # The documented object (integers) and the saved example (words) — both must be understood.
    fake.channels[17] = {"id": 17, "name": "Main WhatsApp", "identifier": "+393332224444", "platform": 1,
                         "status": 3, "is_primary": True, "client_id": "123456789012345"}  # fmt: skip
    fake.channels[18] = {"id": 18, "name": "Negozio", "identifier": "NEGOZIO", "platform": 3, "status": 4}
    fake.channels[19] = {"id": 19, "name": "Second", "identifier": "+393332225555", "platform": "WhatsApp",
                         "status": "Active", "is_primary": False}  # fmt: skip
    server = serve_fake(fake)
    account = _account("spoki", server, {"api_key": "k"})
    run = sync_account(account, "senders", "pull")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert _senders(account) == {
        ("whatsapp", "17", "Main WhatsApp (+393332224444)", True, "pulled"),
        ("sms", "18", "Negozio (NEGOZIO)", False, "pulled"),  # Disconnected
        ("whatsapp", "19", "Second (+393332225555)", True, "pulled"),
    }
    assert Sender.objects.get(account=account, address="18").provider_status == "Disconnected"


def test_spryng_lists_whatsapp_numbers_of_its_waba_and_sms_stays_manual(serve_fake):
    server = serve_fake(SpryngFake(api_key="k"))
    account = _account("spryng", server, {"api_key": "k"}, {"waba_id": "102290129340398"})
    run = sync_account(account, "senders", "pull")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert _senders(account) == {
        ("whatsapp", "106540352242922", "Switchboard (+31 6 12345678)", True, "pulled"),
    }
    manual = save_manual_sender(account, channel="sms", address="Negozio", label="Negozio Roma")
    assert manual.source == "manual"
    sync_account(account, "senders", "pull")  # the manual one is left alone by the pull
    assert Sender.objects.get(pk=manual.pk).active


def test_a_sender_no_longer_listed_is_switched_off_and_an_empty_listing_keeps_them(db):
    account = sandbox_account()
    record_pulled_senders(account, [RemoteSender("sms", "A"), RemoteSender("sms", "B")])
    counts = record_pulled_senders(account, [RemoteSender("sms", "A")])
    assert counts["deactivated"] == 1 and not Sender.objects.get(address="B").active
    counts = record_pulled_senders(account, [])
    assert counts["deactivated"] == 0 and Sender.objects.get(address="A").active
    # A sender staff typed that the provider then lists becomes a pulled one.
    save_manual_sender(account, channel="rcs", address="agent-1")
    record_pulled_senders(account, [RemoteSender("sms", "A"), RemoteSender("rcs", "agent-1", "Brand")])
    assert Sender.objects.get(address="agent-1").source == "pulled"


def test_sandbox_offers_a_sender_per_channel(db):
    account = sandbox_account()
    run = sync_account(account, "senders", "pull")
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    channels = set(Sender.objects.filter(account=account, active=True).values_list("channel", flat=True))
    assert channels == {"sms", "whatsapp", "rcs", "voice"}


def test_manual_sender_rules(db):
    account = sandbox_account()
    with pytest.raises(ValidationError) as caught:
        save_manual_sender(account, channel="fax", address="")
    assert set(caught.value.message_dict) == {"channel", "address"}
    save_manual_sender(account, channel="sms", address="Negozio")
    with pytest.raises(ValidationError) as caught:
        save_manual_sender(account, channel="sms", address="Negozio")
    assert "address" in caught.value.message_dict
    pulled = Sender.objects.create(account=account, channel="sms", address="P", source="pulled")
    with pytest.raises(ValidationError):
        save_manual_sender(account, channel="sms", address="Q", sender=pulled)
    renamed = save_manual_sender(
        account, channel="sms", address="P", label="Promo", active=False, sender=pulled
    )
    assert (renamed.label, renamed.active) == ("Promo", False)


def test_check_sender_says_why(db):
    account = sandbox_account()
    assert check_sender(account, "sms", "") == ""  # blank: the account's default
    assert "no active sender" in check_sender(account, "sms", "Negozio")
    save_manual_sender(account, channel="sms", address="Negozio")
    save_manual_sender(account, channel="sms", address="Spento", active=False)
    assert check_sender(account, "sms", "Negozio") == ""
    assert "switched off" in check_sender(account, "sms", "Spento")
    assert "Choose one of: Negozio" in check_sender(account, "sms", "Altro")
    assert check_sender(account, "whatsapp", "Negozio")  # not a WhatsApp sender


def test_campaign_api_accepts_the_accounts_sender_and_refuses_others(editor):
    account = sandbox_account()
    sync_account(account, "senders", "pull")
    contact_list, _contacts = list_of(2)
    api = APIClient()
    api.force_authenticate(editor)
    body = {"name": "Saldi", "account": account.pk, "channel": "sms", "text": "Ciao {{first_name}}",
            "lists": [contact_list.pk], "rate_per_second": 10}  # fmt: skip
    refused = api.post("/api/campaigns/", {**body, "sender": "Sconosciuto"}, format="json")
    assert refused.status_code == 400 and "sender" in refused.json(), refused.json()
    assert "Switchboard" in " ".join(refused.json()["sender"])  # the ones it has are named
    wrong_channel = api.post("/api/campaigns/", {**body, "sender": "sandbox-wa-1"}, format="json")
    assert wrong_channel.status_code == 400 and "sender" in wrong_channel.json()
    created = api.post("/api/campaigns/", {**body, "sender": "Switchboard"}, format="json")
    assert created.status_code == 201, created.json()
    assert Campaign.objects.get(pk=created.json()["id"]).sender == "Switchboard"
    blank = api.post("/api/campaigns/", {**body, "name": "Default"}, format="json")
    assert blank.status_code == 201, blank.json()


def test_campaign_form_offers_the_active_senders(admin_client):
    account = sandbox_account()
    sync_account(account, "senders", "pull")
    Sender.objects.filter(account=account, address="sandbox_rcs_agent").update(active=False)
    page = admin_client.get(reverse("admin:campaigns_campaign_add"))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="Switchboard"' in html and 'value="sandbox-wa-1"' in html
    assert 'value="sandbox_rcs_agent"' not in html  # switched off


def test_account_page_lists_senders_and_saving_pulls_them(admin_client, django_capture_on_commit_callbacks):
    account = sandbox_account()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:messaging_provideraccount_change", args=[account.pk]),
            {"name": account.name, "is_active": "on", "conflict_policy": "hold", "delete_policy": "unlink",
             "sync_interval_minutes": "60"},
        )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    assert SyncRun.objects.filter(account=account, resource="senders", status="succeeded").exists()
    assert Sender.objects.filter(account=account, channel="whatsapp", active=True).exists()
    page = admin_client.get(reverse("admin:messaging_provideraccount_change", args=[account.pk]))
    assert "sandbox-wa-1" in page.content.decode()


def test_staff_add_a_sender_on_the_senders_page(admin_client):
    account = sandbox_account()
    response = admin_client.post(
        reverse("admin:messaging_sender_add"),
        {
            "account": account.pk,
            "channel": "sms",
            "address": " Negozio ",
            "label": "Negozio Roma",
            "active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    sender = Sender.objects.get(account=account)
    assert (sender.address, sender.label, sender.source) == ("Negozio", "Negozio Roma", "manual")


def test_a_duplicate_sender_is_refused_on_the_field(admin_client):
    account = sandbox_account()
    save_manual_sender(account, channel="sms", address="Negozio")
    response = admin_client.post(
        reverse("admin:messaging_sender_add"),
        {"account": account.pk, "channel": "sms", "address": "Negozio", "label": "", "active": "on"},
    )
    assert response.status_code == 200
    assert "This account already has this sender." in response.content.decode()
    assert Sender.objects.filter(account=account).count() == 1


def test_api_lists_an_accounts_senders_for_a_channel(viewer):
    account = sandbox_account()
    other = sandbox_account(name="Other", seed="s2")
    sync_account(account, "senders", "pull")
    save_manual_sender(other, channel="sms", address="Altro")
    api = APIClient()
    api.force_authenticate(viewer)
    response = api.get("/api/senders/", {"account": account.pk, "channel": "sms", "active": "true"})
    assert response.status_code == 200, response.content
    rows = response.json()["results"] if isinstance(response.json(), dict) else response.json()
    assert [r["address"] for r in rows] == ["Switchboard"]
    assert api.get("/api/senders/", {"account": "x"}).status_code == 400
    assert api.post("/api/senders/", {}).status_code in (403, 405)

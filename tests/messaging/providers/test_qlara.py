"""The Qlara client against the vendor's own examples and against a faithful fake, over real HTTP.

(a) contract: every saved example response (Postman collection, markdown guide) parses into
    normalised records — through the mapping functions and, replayed by a tiny server, through
    the provider's real request path;
(b) every hook against QlaraFake, asserting the fake's state;
(c) faults: 429 with Qlara's hint, 5xx on sends never retried, 5xx on reads retried, 401 with
    the vendor's text, truncated JSON, paging that must stop;
(d) webhooks: authenticated vendor payloads parse; wrong or missing credentials are refused.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import re
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from messaging.models import HttpLog, ProviderAccount
from messaging.providers.base import (
    CampaignStatus,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    RemoteCampaign,
    RemoteContact,
    RemoteList,
    RemoteTemplate,
    TemplateStatus,
)
from messaging.providers.errors import (
    AuthError,
    NotFound,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from messaging.providers.http import SlidingWindow, parse_retry_after
from messaging.providers.qlara import QlaraProvider
from messaging.providers.qlara import mapping as m
from messaging.providers.qlara import webhooks as qw
from tests.fakes.base import FakeAPI, Request, Response
from tests.fakes.qlara import QlaraFake

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "qlara"
KEY = "test-key"
SETTINGS = {"sender": "MYCOMPANY", "whatsapp_phone_number_id": "5", "rcs_agent_id": "10"}
P = "/api/partner-gateway/v1"


def saved(name: str, code: int = 200):
    """The vendor's saved example body for one request file and status code."""
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    for example in data["examples"]:
        if example["code"] == code:
            return example["body"]
    raise LookupError(f"{name} has no {code} example")


def markdown_examples() -> list[dict]:
    return [e["body"] for e in json.loads((FIXTURES / "markdown_examples.json").read_text())]


def md_example(predicate) -> dict:
    return next(body for body in markdown_examples() if isinstance(body, dict) and predicate(body))


def make_account(url: str, **credentials) -> ProviderAccount:
    return ProviderAccount.objects.create(
        provider="qlara",
        name=f"Qlara {ProviderAccount.objects.count() + 1}",
        base_url=url,
        credentials=credentials or {"api_key": KEY},
        settings=SETTINGS,
    )


def quiet(provider: QlaraProvider, sleeps: list) -> QlaraProvider:
    """Record the client's waits instead of sleeping them."""
    provider.http.sleep = sleeps.append
    return provider


@pytest.fixture
def fake():
    return QlaraFake(api_key=KEY)


@pytest.fixture
def server(serve_fake, fake):
    return serve_fake(fake)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def provider(db, server, sleeps) -> QlaraProvider:
    return quiet(make_account(server.url).get_provider(), sleeps)


# =============================================================================================
# (a) contract: the vendor's saved examples
# =============================================================================================


class TestContractMapping:
    def test_contact_examples_parse(self):
        for body in (saved("contact_find_contacts"), saved("contact_list_find_contacts_in_a_contact_list")):
            contacts = [m.contact_from_api(item) for item in m.extract_items(body)]
            assert contacts and all(c.remote_id == "12345" for c in contacts)
        contact = m.contact_from_api(saved("contact_get_contact_by_id"))
        assert contact.phone == "+39333123456"
        assert (contact.first_name, contact.last_name) == ("Mario", "Rossi")
        assert contact.email == "mario@example.com"
        assert contact.city == "Milano" and contact.country == "Italy"
        assert contact.birth_date == dt.date(2022, 3, 10)
        assert contact.created_at.tzinfo is not None
        assert contact.raw["fiscalCode"] == "string"  # raw payload kept

    def test_contact_write_answers_wrap_the_record(self):
        for name, code in (("contact_create_a_new_contact", 201), ("contact_update_a_contact", 200)):
            contacts, errors = m.contacts_from_write(saved(name, code))
            assert contacts and {c.remote_id for c in contacts} == {"12345"}  # PM repeats its placeholder
            assert contacts[0].phone == "+39333123456" and contacts[0].list_ids
            assert errors and set(errors) == {"string"}

    def test_md_contact_spelling_is_accepted(self):
        contact = m.contact_from_api(
            {"id": 9, "phone": "+393331234567", "birthDate": "1990-05-15", "nation": "Italia", "cap": "20121",
             "province": "MI", "company": "Acme", "address": "Via Roma 1", "fullName": "Anna Bianchi"}
        )  # fmt: skip
        assert contact.phone == "+393331234567"
        assert contact.birth_date == dt.date(1990, 5, 15)
        assert (contact.country, contact.postal_code, contact.province) == ("Italia", "20121", "MI")
        assert (contact.first_name, contact.last_name, contact.company) == ("Anna", "Bianchi", "Acme")

    def test_list_examples_parse_both_spellings(self):
        for name, code in (
            ("contact_list_find_contact_lists", 200), ("contact_list_get_contact_list_by_id", 200),
            ("contact_list_create_a_new_contact_list", 201), ("contact_list_update_a_contact_list", 200),
        ):  # fmt: skip
            for item in m.extract_items(saved(name, code)):
                remote = m.list_from_api(item)
                assert (remote.remote_id, remote.name, remote.member_count) == ("1", "Newsletter VIP", 150)
        md = m.list_from_api(
            {"id": 4, "name": "VIP", "numContacts": 0, "creationDate": "2026-04-09T12:00:00Z"}
        )
        assert md.member_count == 0 and md.created_at == dt.datetime(2026, 4, 9, 12, tzinfo=dt.UTC)

    def test_campaign_examples_parse(self):
        got = m.campaign_from_api(saved("campaigns_get_a_campaign"))
        assert (got.remote_id, got.status, got.channel, got.sender) == (
            "1001",
            "completed",
            "sms",
            "MYCOMPANY",
        )
        assert got.list_ids == ["101", "102"]
        created = m.campaign_from_api(saved("campaigns_create_a_campaign", 201))
        assert created.status == CampaignStatus.DRAFT and created.text.startswith("Hi {{firstName}}")
        for name in ("campaigns_get_campaign_total_price", "campaigns_recalculate_campaign_cost",
                     "campaigns_update_a_campaign"):  # fmt: skip
            full = saved(name)
            campaign = m.campaign_from_api(full)
            assert campaign.status == CampaignStatus.COMPLETED  # PM's "ARCHIVED"
            stats = m.campaign_stats_from_api(full)
            assert stats.recipients == 3339 and stats.cost == Decimal("1986")
            assert (stats.sent, stats.delivered, stats.failed, stats.read) == (7344, 916, 2479, 7001)
            assert stats.queued == 4909 + 4437 + 851
        # PM's listing and stats examples are `{}`: no records, no crash.
        assert m.extract_items(saved("campaigns_list_campaigns")) == []
        assert m.extract_items(saved("campaigns_get_campaign_statistics")) == []

    def test_status_examples_parse(self):
        batch = [
            m.delivery_from_status(i)
            for i in saved("message_delivery_status_get_batch_message_delivery_status")
        ]
        assert batch[0].status == MessageStatus.DELIVERED and batch[0].channel == "sms"
        single = m.delivery_from_status(saved("message_delivery_status_get_single_message_delivery_status"))
        assert single.remote_message_id == "msg-sms-001" and single.occurred_at is not None
        history = [m.delivery_from_status(i) for i in saved("message_history_list_send_history")]
        assert history and all(u.remote_message_id for u in history)
        rcs = m.delivery_from_status(saved("rcs_get_rcs_message_status"))
        assert (rcs.remote_message_id, rcs.status) == ("msg-rcs-001", "delivered")
        wa = m.delivery_from_status(saved("whatsapp_get_whatsapp_message_status"))
        assert (wa.remote_message_id, wa.channel, wa.to) == ("msg-wa-001", "whatsapp", "+39333123456")

    def test_template_shapes_from_the_guide(self):
        # The guide's create examples (no response body is documented; the same fields are read back).
        wa = m.whatsapp_template_from_api(
            {"id": 42, "name": "marketing_welcome", "lang": "it", "category": "MARKETING", "status": "APPROVED",
             "headerText": "Welcome", "body": "Ciao {firstName} siamo contentissimi di averti tra noi",
             "footer": "Per info visita il sito",
             "buttons": [{"type": "URL", "text": "Apri il sito", "url": "https://agiletelecom.com/"},
                         {"type": "PHONE_NUMBER", "text": "Chiamaci", "phoneNumber": "+39 123123123"},
                         {"type": "QUICK_REPLY", "text": "Voglio essere contattato"}]}
        )  # fmt: skip
        assert (wa.remote_id, wa.status, wa.language, wa.variables) == (
            "whatsapp:42",
            "approved",
            "it",
            ["firstName"],
        )
        assert wa.header == {"type": "text", "text": "Welcome"} and len(wa.buttons) == 3
        rcs = m.rcs_template_from_api(
            {"id": 7, "name": "rcs_welcome", "description": "Welcome template", "type": "TEXT",
             "body": {"text": "Ciao {name}!", "suggestions": [{"type": "reply", "text": "Grazie!"}],
                      "fallbackSms": {"sender": "AZIENDA", "text": "Ciao {name}!"}}}
        )  # fmt: skip
        assert (rcs.remote_id, rcs.channel, rcs.body, rcs.variables) == (
            "rcs:7",
            "rcs",
            "Ciao {name}!",
            ["name"],
        )

    def test_error_bodies(self):
        provider = QlaraProvider(credentials={"api_key": "k"}, settings={}, base_url="http://x")
        md = md_example(lambda b: b.get("status") == 400)
        assert provider.parse_error(400, md, {"X-Request-Id": "r-1"}) == (
            "The 'destination' field is required.",
            "r-1",
        )
        jsend = md_example(lambda b: b.get("status") == "fail")
        assert provider.parse_error(400, jsend, {})[0] == "destination: 'destination' can't be blank"
        assert provider.parse_error(400, "", {})[0] == "HTTP 400 with no message"  # PM's `""` bodies
        too_many = md_example(lambda b: b.get("status") == 429)
        assert parse_retry_after({}, too_many) == 12

    def test_webhook_examples_parse(self):
        events = [b for b in markdown_examples() if isinstance(b, dict) and "eventType" in b]
        assert len(events) == 4
        parsed = [qw.parse_event(e) for e in events]
        sms, rcs_delivery, rcs_read, rcs_inbound = parsed
        assert isinstance(sms, DeliveryUpdate) and sms.status == MessageStatus.DELIVERED
        assert sms.price == Decimal("0.035") and sms.occurred_at == dt.datetime(
            2024, 1, 15, 10, 30, tzinfo=dt.UTC
        )
        assert rcs_delivery.status == "delivered" and rcs_delivery.to == "+393401234567"
        assert rcs_read.status == MessageStatus.READ
        assert isinstance(rcs_inbound, InboundMessage)
        assert (rcs_inbound.from_phone, rcs_inbound.text, rcs_inbound.channel) == (
            "+393471488489", "User reply message", "rcs",
        )  # fmt: skip
        undelivered = qw.parse_event(
            {**events[1], "channel": "WHATSAPP", "statusCode": 6, "description": "undeliverable"}
        )
        assert (undelivered.status, undelivered.channel, undelivered.error_message) == (
            "failed", "whatsapp", "undeliverable",
        )  # fmt: skip


class ReplayFake(FakeAPI):
    """Answers every documented route with the vendor's own saved 2xx example, byte for byte."""

    name = "qlara-replay"

    def __init__(self):
        super().__init__()
        self.table = []
        for entry in json.loads((FIXTURES / "index.json").read_text()):
            if not entry.get("file"):
                continue
            data = json.loads((FIXTURES / entry["file"]).read_text())
            ok = [e for e in data["examples"] if 200 <= e["code"] < 300]
            if not ok:
                continue
            pattern = "^" + re.sub(r":\w+", "[^/]+", entry["path"]) + "$"
            literal = pattern.count("[^/]+")
            self.table.append((literal, entry["method"], re.compile(pattern), ok[0]["code"], ok[0]["body"]))
        guide = markdown_examples()
        send = [b for b in guide if isinstance(b, dict) and "results" in b]
        for channel, body in zip(("sms", "rcs", "whatsapp"), send, strict=True):
            self.table.append((0, "POST", re.compile(f"^/api/message-server/{channel}/send$"), 200, body))
        numbers = next(b for b in guide if isinstance(b, dict) and isinstance(b.get("data"), list))
        self.table.append(
            (0, "GET", re.compile("^/api/message-server/whatsapp/phone-numbers$"), 200, numbers)
        )
        self.table.sort(key=lambda row: row[0])  # literal paths before parameterised ones

    def dispatch(self, request: Request) -> Response:
        self.journal.append(request)
        for _, method, regex, code, body in self.table:
            if method == request.method and regex.match(request.path):
                return Response(code, body if isinstance(body, (dict, list)) else json.dumps(body))
        return Response(404, "")


class TestContractOverHttp:
    """The provider's real request path fed with the vendor's saved examples."""

    @pytest.fixture
    def replay(self, db, serve_fake, sleeps):
        server = serve_fake(ReplayFake())
        return quiet(make_account(server.url).get_provider(), sleeps), server.fake

    def test_every_hook_reads_the_saved_examples(self, replay):
        provider, fake = replay
        assert [c.remote_id for c in provider.iter_contacts()] == ["12345", "12345"]
        assert provider.get_contact("12345").email == "mario@example.com"
        assert provider.create_contact(RemoteContact(phone="+393331234567")).remote_id == "12345"
        assert provider.update_contact(RemoteContact(remote_id="12345", first_name="M")).remote_id == "12345"
        provider.delete_contacts(["1", "2"])
        assert [lst.name for lst in provider.iter_lists()] == ["Newsletter VIP", "Newsletter VIP"]
        assert provider.create_list(RemoteList(name="Newsletter VIP")).remote_id == "1"
        assert provider.update_list(RemoteList(remote_id="1", name="x")).member_count == 150
        provider.delete_list("1")
        assert list(provider.iter_list_members("1")) == ["12345", "12345"]
        assert provider.add_contacts_to_lists(["1"], ["3925", "5452"]) == [3967, 3533]
        provider.remove_list_members("1", ["3925"])
        assert provider.get_campaign("1001").status == "completed"
        assert provider.create_campaign(RemoteCampaign(name="Spring Promo", text="Hi")).remote_id == "1002"
        assert provider.update_campaign(RemoteCampaign(remote_id="1001", name="Summer")).remote_id == "1001"
        assert provider.calculate_goal("1001").raw["totalDestinations"] == 3339
        assert provider.get_campaign_price("1001")["price"] == Decimal("1986")
        provider.confirm_campaign("1001")
        provider.delete_campaign("1001")
        assert list(provider.iter_campaigns()) == []
        assert list(provider.iter_campaign_stats(dt.date(2025, 1, 1), dt.date(2025, 1, 31))) == []
        assert provider.get_campaign_stats("1001").delivered == 485
        assert provider.get_message_status("msg-sms-001", "sms").status == "delivered"
        assert provider.get_message_statuses(["msg-001"], "sms")[0].remote_message_id == "msg-001"
        start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
        assert list(provider.iter_message_history("sms", start, start + dt.timedelta(days=31)))
        info = provider.check_connection()
        assert (
            info.ok
            and info.detail == "Connected — credit €45,000.00 (€5,000.00 reserved for queued campaigns)"
        )
        balance = provider.get_balance()
        assert balance.balance == Decimal("45000") and balance.subscription == "PRO_MONTHLY active"
        assert provider.get_contact_quota()["remaining"] == 6658
        assert provider.configure_webhook("https://sb.example.com/h")["companyId"] == 1
        provider.delete_webhook()
        assert list(provider.iter_sms_senders()) == [] and list(provider.iter_rcs_agents()) == []
        assert [n["id"] for n in provider.iter_whatsapp_numbers()] == [5]  # MD's listing when PM's is `{}`
        for channel in ("sms", "rcs", "whatsapp"):
            result = provider.send(OutboundMessage(to="+393401234567", channel=channel, text="Ciao"))
            assert result.accepted and result.remote_id and result.status == MessageStatus.QUEUED
        assert fake.requests_to("DELETE", r"/contacts$")[0].query["ids"] == ["1,2"]


# =============================================================================================
# (b) every hook against the fake
# =============================================================================================


class TestContacts:
    def test_create_get_update(self, provider, fake):
        created = provider.create_contact(
            RemoteContact(phone="+393331234567", first_name="Mario", last_name="Rossi", email="m@example.com",
                          city="Milano", birth_date=dt.date(1990, 5, 15), tags=["vip"],
                          custom_fields={"customField1": "gold"})
        )  # fmt: skip
        stored = fake.contacts[int(created.remote_id)]
        assert stored["phoneNumbers"] == ["+393331234567"] and stored["fullName"] == "Mario Rossi"
        assert stored["birthday"] == "1990-05-15" and stored["customField1"] == "gold"
        again = provider.get_contact(created.remote_id)
        assert (again.first_name, again.email, again.tags) == ("Mario", "m@example.com", ["vip"])
        again.city = "Roma"
        again.tags = []
        provider.update_contact(again)
        assert stored["city"] == "Roma" and stored["tags"] == [] and stored["lastName"] == "Rossi"
        assert provider.find_contact_by_phone("+393331234567").remote_id == created.remote_id

    def test_invalid_phone_is_rejected_with_the_vendor_message(self, provider):
        with pytest.raises(Rejected) as caught:
            provider.create_contact(RemoteContact(phone="333 123"))
        assert caught.value.status == 400 and "E.164" in str(caught.value)

    def test_missing_contact_is_not_found(self, provider):
        with pytest.raises(NotFound):
            provider.get_contact("999")

    @pytest.mark.parametrize("paging", ["page", "offset"])
    def test_paging_streams_every_contact_and_resumes(self, provider, fake, paging):
        fake.paging = paging
        ids = [str(i) for i in fake.seed_contacts(25)]
        provider.page_size = 10
        pages = list(provider.iter_contact_pages())
        assert [len(p.items) for p in pages] == [10, 10, 5]
        assert [c.remote_id for p in pages for c in p.items] == ids
        assert pages[-1].cursor is None
        resumed = list(provider.iter_contact_pages(cursor=pages[0].cursor))
        assert [c.remote_id for p in resumed for c in p.items] == ids[10:]
        assert len(fake.requests_to("GET", r"/contacts$")) == 3 + 2

    def test_offset_envelope_capped_at_100_still_reads_everything(self, provider, fake):
        fake.paging = "offset"  # MD: max 100 per page whatever we ask; stop on `total`, not a short page
        fake.seed_contacts(230)
        assert sum(1 for _ in provider.iter_contacts()) == 230
        assert len(fake.requests_to("GET", r"/contacts$")) == 3

    @pytest.mark.parametrize(("seeded", "requests_made"), [(250, 3), (200, 3)])
    def test_a_server_capping_the_page_size_loses_nothing(self, provider, fake, seeded, requests_made):
        fake.max_page_size = 100  # we ask for 1000 (PM's maximum); this server answers 100 at most
        fake.seed_contacts(seeded)
        pages = list(provider.iter_contact_pages())
        assert sum(len(p.items) for p in pages) == seeded
        assert len(fake.requests_to("GET", r"/contacts$")) == requests_made
        resumed = list(provider.iter_contact_pages(cursor=pages[0].cursor))
        assert sum(len(p.items) for p in resumed) == seeded - 100

    def test_an_account_refusing_sort_by_id_is_read_in_its_default_order(self, provider, fake):
        fake.sort_fields = {"fullName", "name"}
        fake.seed_contacts(12)
        provider.page_size = 5
        assert len({c.remote_id for c in provider.iter_contacts()}) == 12
        requests_made = fake.requests_to("GET", r"/contacts$")
        assert requests_made[0].query["sortBy"] == ["id"] and "sortBy" not in requests_made[-1].query
        assert len(requests_made) == 4  # the refused one, then 5 + 5 + 2

    def test_contact_update_keeps_secondary_numbers_and_emails(self, provider, fake):
        created = provider.create_contact(RemoteContact(phone="+393331234567", email="a@example.com"))
        stored = fake.contacts[int(created.remote_id)]
        stored["phoneNumbers"].append("+390212345678")
        stored["emailAddresses"].append("b@example.com")
        contact = provider.get_contact(created.remote_id)
        contact.phone = "+393339999999"
        provider.update_contact(contact)
        assert stored["phoneNumbers"] == ["+393339999999", "+390212345678"]
        assert stored["emailAddresses"] == ["a@example.com", "b@example.com"]

    def test_bulk_delete_sends_ids_in_query_and_body(self, provider, fake):
        ids = fake.seed_contacts(3)
        provider.delete_contacts([str(ids[0]), str(ids[2])])
        assert list(fake.contacts) == [ids[1]]
        request = fake.requests_to("DELETE", r"/contacts$")[0]
        assert request.query["ids"] == [f"{ids[0]},{ids[2]}"] and request.json == [ids[0], ids[2]]
        provider.delete_contacts([])  # never a bare DELETE (Qlara's notIds form deletes everything else)
        assert len(fake.requests_to("DELETE", r"/contacts$")) == 1


class TestLists:
    def test_crud_and_soft_delete(self, provider, fake):
        created = provider.create_list(RemoteList(name="VIP", description="best"))
        assert fake.lists[int(created.remote_id)]["name"] == "VIP" and created.member_count == 0
        created.name = "VIP 2026"
        assert provider.update_list(created).name == "VIP 2026"
        assert provider.get_list(created.remote_id).description == "best"
        other = provider.create_list(RemoteList(name="Other"))
        provider.delete_list(created.remote_id)
        assert fake.lists[int(created.remote_id)]["isDeleted"] is True
        assert [lst.remote_id for lst in provider.iter_lists()] == [other.remote_id]
        with pytest.raises(NotFound):
            provider.get_list(created.remote_id)

    def test_membership(self, provider, fake):
        (list_id,) = fake.seed_lists(1)
        contacts = [str(i) for i in fake.seed_contacts(12)]
        provider.page_size = 5
        provider.add_list_members(str(list_id), contacts[:8])
        provider.add_list_members(str(list_id), contacts[:10])  # idempotent at Qlara: no duplicates
        assert list(fake.list_members[list_id]) == [int(c) for c in contacts[:10]]
        assert len(fake.associations) == 10
        assert list(provider.iter_list_members(str(list_id))) == contacts[:10]
        provider.remove_list_members(str(list_id), contacts[:3])
        assert list(provider.iter_list_members(str(list_id))) == contacts[3:10]
        assert provider.get_list(str(list_id)).member_count == 7
        assert provider.get_contact(contacts[5]).list_ids == [str(list_id)]

    def test_members_of_unknown_list(self, provider):
        with pytest.raises(NotFound):
            list(provider.iter_list_members("404"))


class TestTemplates:
    def test_whatsapp_template_lifecycle(self, provider, fake):
        created = provider.create_template(
            RemoteTemplate(name="order_ready", language="it", category="UTILITY", body="Ciao {name}, pronto!",
                           header={"type": "text", "text": "Ordine"}, footer="Grazie",
                           buttons=[{"type": "URL", "text": "Apri", "url": "https://example.com"}])
        )  # fmt: skip
        assert created.remote_id.startswith("whatsapp:") and created.status == TemplateStatus.PENDING
        raw_id = int(created.remote_id.split(":")[1])
        assert fake.wa_templates[raw_id]["headerText"] == "Ordine"
        assert fake.requests_to("POST", r"/whatsapp/templates$")[0].query["phoneNumberId"] == ["5"]
        fake.wa_templates[raw_id]["status"] = "APPROVED"
        assert provider.get_template(created.remote_id).status == "approved"
        created.body = "Ciao {name}, il tuo ordine è pronto!"
        updated = provider.update_template(created)
        assert updated.status == "pending" and fake.requests_to("PATCH", r"/whatsapp/templates/\d+$")
        provider.delete_template(created.remote_id)
        assert raw_id not in fake.wa_templates

    def test_rcs_templates_and_listing_across_channels(self, provider, fake):
        fake.seed_template("whatsapp")
        created = provider.create_template(RemoteTemplate(name="rcs_hi", channel="rcs", body="Ciao {name}"))
        assert created.remote_id.startswith("rcs:") and created.variables == ["name"]
        created.body = "Salve {name}"
        assert provider.update_template(created).body == "Salve {name}"
        names = sorted((t.channel, t.name) for t in provider.iter_templates())
        assert names == [("rcs", "rcs_hi"), ("whatsapp", "template_1")]
        provider.delete_template(created.remote_id)
        assert fake.rcs_templates == {}

    def test_invalid_name_rejected(self, provider):
        with pytest.raises(Rejected) as caught:
            provider.create_template(RemoteTemplate(name="Bad Name", language="it", body="x"))
        assert "lowercase" in str(caught.value)


class TestCampaigns:
    def test_lifecycle(self, provider, fake):
        (list_id,) = fake.seed_lists(1)
        fake.seed_contacts(40, list_id=list_id)
        campaign = provider.create_campaign(
            RemoteCampaign(
                name="Spring Promo", channel="sms", text="Hi {{firstName}}!", list_ids=[str(list_id)]
            )
        )
        stored = fake.campaigns[int(campaign.remote_id)]
        assert campaign.status == CampaignStatus.DRAFT and stored["smsSender"] == "MYCOMPANY"
        assert stored["contactListIds"] == [list_id] and stored["readyToSend"] is False
        campaign.name = "Spring Promo 2"
        assert provider.update_campaign(campaign).name == "Spring Promo 2"
        provider.update_campaign(RemoteCampaign(remote_id=campaign.remote_id, name="Spring Promo 3"))
        assert fake.requests_to("PUT", r"/campaigns/\d+$")[-1].json == {"name": "Spring Promo 3"}  # partial
        assert stored["smsBody"] == "Hi {{firstName}}!"
        goal = provider.calculate_goal(campaign.remote_id)
        assert goal.raw["totalDestinations"] == 40
        assert provider.get_campaign_price(campaign.remote_id)["price"] == Decimal("2.0")
        started = provider.start_campaign(campaign.remote_id)
        assert started.status == CampaignStatus.SCHEDULED and fake.credit["frozenCredit"] == 2.0
        assert len(fake.requests_to("PUT", r"/confirm$")) == 1
        fake.complete_campaign(int(campaign.remote_id), failed=4, read=10)
        stats = provider.get_campaign_stats(campaign.remote_id)
        assert (stats.recipients, stats.sent, stats.delivered, stats.failed) == (40, 40, 36, 4)
        assert [c.remote_id for c in provider.iter_campaigns()] == [campaign.remote_id]
        today = dt.datetime.now(dt.UTC).date()
        buckets = list(provider.iter_campaign_stats(today, today))
        assert buckets[0].sent == 40 and buckets[0].bucket_start.date() == today
        with pytest.raises(NotFound):  # completed campaigns cannot be deleted
            provider.delete_campaign(campaign.remote_id)

    def test_confirm_refused_without_credit(self, provider, fake):
        (list_id,) = fake.seed_lists(1)
        fake.seed_contacts(5, list_id=list_id)
        fake.credit["credit"] = 0.0
        campaign = provider.create_campaign(
            RemoteCampaign(name="x", channel="sms", text="Hi", list_ids=[str(list_id)])
        )
        with pytest.raises(Rejected) as caught:
            provider.start_campaign(campaign.remote_id)
        assert "Insufficient credit" in str(caught.value)
        provider.delete_campaign(campaign.remote_id)
        assert fake.campaigns == {}


class TestSending:
    def test_sms(self, provider, fake):
        result = provider.send(OutboundMessage(to="+393401234567", text="Ciao {nome}", variables={"nome": "Marco"},
                                               reference="ref-1"))  # fmt: skip
        assert result.accepted and result.remote_id == "ref-1" and result.channel == "sms"
        sent = fake.messages["ref-1"]["request"]
        assert sent["sender"] == "MYCOMPANY" and sent["placeholders"] == {"nome": "Marco"}

    def test_whatsapp_template_by_name_with_fallback_chain(self, provider, fake):
        tid = fake.seed_template("whatsapp", name="order_ready", body="Ciao {name}, ordine {order}")
        result = provider.send(
            OutboundMessage(to="+393401234567", channel="whatsapp", template_name="order_ready", text="Ordine pronto",
                            template_language="it", variables=["Mario", "ORD-1"], fallback=["rcs", "sms"])
        )  # fmt: skip
        assert result.accepted
        sent = fake.messages[result.remote_id]["request"]
        assert sent["template"] == {"id": tid} and sent["phoneNumberId"] == 5
        assert sent["placeholders"] == {"name": "Mario", "order": "ORD-1"}
        assert sent["fallbackRcs"] == {"agentId": 10}
        assert sent["fallbackSms"] == {"sender": "MYCOMPANY", "text": "Ordine pronto"}

    def test_whatsapp_free_form_media_and_rcs(self, provider, fake):
        image = provider.send(OutboundMessage(to="+393401234567", channel="whatsapp", text="Eccolo",
                                              media_url="https://example.com/p.jpg"))  # fmt: skip
        assert fake.messages[image.remote_id]["request"]["body"] == {
            "image": {"url": "https://example.com/p.jpg", "caption": "Eccolo"}
        }
        rcs = provider.send(OutboundMessage(to="+393401234567", channel="rcs", text="Ciao", fallback=["sms"]))
        sent = fake.messages[rcs.remote_id]["request"]
        assert sent["agentId"] == 10 and sent["body"]["type"] == "TEXT" and sent["maxSmsParts"] == 3

    def test_template_by_id_with_positional_values(self, provider, fake):
        tid = fake.seed_template("whatsapp", body="Ciao {name}, codice {code}")
        for _ in range(2):
            result = provider.send(OutboundMessage(to="+393401234567", channel="whatsapp",
                                                   template_name=f"whatsapp:{tid}", variables=["Anna", "X1"]))  # fmt: skip
            assert fake.messages[result.remote_id]["request"]["placeholders"] == {
                "name": "Anna",
                "code": "X1",
            }
        assert len(fake.requests_to("GET", rf"/whatsapp/templates/{tid}$")) == 1  # read once, then cached

    def test_unapproved_template_is_not_accepted(self, provider, fake):
        fake.seed_template("whatsapp", status="PENDING")
        result = provider.send(
            OutboundMessage(to="+393401234567", channel="whatsapp", template_name="whatsapp:1")
        )
        assert not result.accepted and result.status == MessageStatus.FAILED and "PENDING" in result.error
        assert fake.messages == {}

    def test_validation_errors_carry_jsend_reasons(self, provider):
        with pytest.raises(Rejected) as caught:
            provider.send(OutboundMessage(to="3401234567", text="x"))
        assert "destination" in str(caught.value) and caught.value.status == 400

    def test_status_polling(self, provider, fake):
        result = provider.send(OutboundMessage(to="+393401234567", text="Ciao", reference="m-1"))
        fake.deliver("m-1")
        update = provider.get_message_status("m-1", "sms")
        assert (update.status, update.to) == ("delivered", "+393401234567")
        assert [u.remote_message_id for u in provider.get_message_statuses(["m-1", "nope"], "sms")] == ["m-1"]
        start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        history = list(provider.iter_message_history("sms", start, start + dt.timedelta(hours=2)))
        assert [h.remote_message_id for h in history] == [result.remote_id]
        with pytest.raises(NotFound):  # asked on the wrong channel
            provider.get_message_status("m-1", "whatsapp")


class TestAccount:
    def test_check_connection_and_balance(self, provider, fake):
        info = provider.check_connection()
        assert info.ok and info.detail == "Connected — credit €150.50" and info.balance == Decimal("150.5")
        fake.credit["frozenCredit"] = 50.0
        balance = provider.get_balance()
        assert balance.balance == Decimal("100.5") and balance.subscription == "PRO_MONTHLY active"

    def test_basic_auth(self, db, serve_fake, sleeps):
        server = serve_fake(QlaraFake(api_key="unused", username="u", password="p"))
        provider = quiet(make_account(server.url, username="u", password="p").get_provider(), sleeps)
        assert provider.check_connection().ok
        assert server.fake.journal[-1].header("authorization").startswith("Basic ")

    def test_senders_numbers_agents(self, provider):
        assert [s["sender"] for s in provider.iter_sms_senders()] == ["MYCOMPANY"]
        assert [n["id"] for n in provider.iter_whatsapp_numbers()] == [5]
        assert [a["id"] for a in provider.iter_rcs_agents()] == [10]

    def test_registry_builds_it_from_the_account(self, provider):
        assert isinstance(provider, QlaraProvider)
        assert provider.capabilities.supports("lists", "membership")
        assert not provider.capabilities.supports("contacts", "bulk")
        with pytest.raises(Exception, match="does not support"):
            provider.set_contact_blocked("1", True)


# =============================================================================================
# (c) faults
# =============================================================================================


class TestFaults:
    def test_429_is_retried_after_the_vendor_hint(self, provider, fake, sleeps):
        fake.seed_contacts(1)
        fake.fail_next(429, retry_after=7)
        assert provider.get_contact("1").remote_id == "1"
        assert len(fake.requests_to("GET", r"/contacts/1$")) == 2
        assert any(7 <= s < 7.5 for s in sleeps)

    def test_429_on_a_send_is_retried_once_accepted(self, provider, fake, sleeps):
        fake.fail_next(429, retry_after=2)
        provider.send(OutboundMessage(to="+393401234567", text="Ciao", reference="r-429"))
        assert len(fake.requests_to("POST", r"/sms/send$")) == 2 and list(fake.messages) == ["r-429"]

    def test_5xx_on_a_send_is_not_retried(self, provider, fake):
        fake.fail_next(500)
        with pytest.raises(Unavailable):
            provider.send(OutboundMessage(to="+393401234567", text="Ciao"))
        assert len(fake.requests_to("POST", r"/sms/send$")) == 1

    def test_5xx_on_contact_create_and_confirm_is_not_retried(self, provider, fake):
        fake.fail_next(502)
        with pytest.raises(Unavailable):
            provider.create_contact(RemoteContact(phone="+393331234567"))
        assert len(fake.requests_to("POST", r"/contacts$")) == 1
        fake.fail_next(500)
        with pytest.raises(Unavailable):
            provider.confirm_campaign("1001")
        assert len(fake.requests_to("PUT", r"/confirm$")) == 1

    def test_5xx_on_a_read_is_retried(self, provider, fake, sleeps):
        fake.seed_contacts(3)
        fake.fail_next(503, times=2)
        assert len(list(provider.iter_contacts())) == 3
        assert len(fake.requests_to("GET", r"/contacts$")) == 3 and len(sleeps) >= 2

    def test_wrong_key_is_an_auth_error_with_the_vendor_text(self, db, serve_fake, sleeps):
        server = serve_fake(QlaraFake(api_key="right"))
        provider = quiet(make_account(server.url, api_key="wrong").get_provider(), sleeps)
        with pytest.raises(AuthError) as caught:
            provider.check_connection()
        assert "Invalid API key" in str(caught.value) and caught.value.status == 401
        assert len(server.fake.journal) == 1  # never retried

    def test_truncated_json(self, provider, fake):
        fake.seed_contacts(2)
        fake.fail_next("truncate")
        assert provider.get_contact("1").remote_id == "1"  # a read is simply asked again
        fake.fail_next("truncate")
        with pytest.raises(Unavailable, match="not valid JSON"):
            provider.send(OutboundMessage(to="+393401234567", text="Ciao"))
        assert len(fake.requests_to("POST", r"/sms/send$")) == 1

    def test_timeouts(self, provider, fake):
        fake.seed_contacts(1)
        provider.http.timeout = 0.2
        fake.fail_next("timeout", delay=0.5)
        assert provider.get_contact("1").remote_id == "1"  # a read that timed out is asked again
        fake.fail_next("timeout", delay=0.5)
        with pytest.raises(Unavailable, match="timeout"):
            provider.send(OutboundMessage(to="+393401234567", text="Ciao"))
        assert len(fake.requests_to("POST", r"/sms/send$")) == 1  # it may have gone out: not resent

    def test_burst_limit_is_respected_by_the_client(self, provider, fake):
        fake.rate_limit = QlaraFake.BURST_LIMIT  # 50 per second, counted in a sliding window
        fake.seed_contacts(40)
        provider.page_size = 1
        provider.http.sleep = time.sleep  # really wait for the client's own bucket
        assert len(list(provider.iter_contacts())) == 40
        assert fake.rate_limited_count == 0

    @pytest.mark.parametrize("plan", ["production", "trial"])
    def test_client_buckets_stay_under_the_documented_limits_in_any_window(self, plan):
        """Simulated clock: pace 3 minutes of back-to-back calls through the declared buckets."""
        now = [0.0]
        limits = QlaraProvider.rate_limits if plan == "production" else QlaraProvider.trial_rate_limits
        buckets = [SlidingWindow(limit.calls, limit.per_seconds, clock=lambda: now[0]) for limit in limits]
        stamps = []
        while now[0] < 180:
            for bucket in buckets:  # what HttpClient._throttle does, sleeping on the fake clock
                now[0] += bucket.reserve()
            stamps.append(now[0])
        (per_minute, _), (per_second, _) = QlaraProvider.DOCUMENTED_LIMITS[plan]

        def busiest(width):
            return max(bisect.bisect_left(stamps, t + width) - i for i, t in enumerate(stamps))

        assert busiest(60.0) <= per_minute and busiest(1.0) <= per_second
        assert len(stamps) / 3 >= 0.9 * per_minute  # and still at least 90 % of the limit

    def test_paging_stops_on_an_empty_page(self, provider, fake):
        fake.seed_contacts(10)
        provider.page_size = 5
        assert len(list(provider.iter_contacts())) == 10
        assert len(fake.requests_to("GET", r"/contacts$")) == 3  # 5, 5, then empty

    def test_paging_stops_on_a_repeated_page(self, provider, fake):
        fake.seed_contacts(10)
        fake.ignore_paging = True
        provider.page_size = 5
        assert len(list(provider.iter_contacts())) == 5
        assert len(fake.requests_to("GET", r"/contacts$")) == 2

    def test_paging_survives_a_lying_total(self, provider, fake):
        fake.paging = "offset"
        fake.lying_total = 1_000_000
        fake.seed_contacts(30)
        provider.page_size = 20
        assert len(list(provider.iter_contacts())) == 30
        assert len(fake.requests_to("GET", r"/contacts$")) == 3  # 20, 10, then empty

    def test_rate_limit_enforced_by_the_fake(self, provider, fake, sleeps):
        assert QlaraFake.DOCUMENTED_LIMIT == (1000, 60.0)
        fake.rate_limit = (2, 60.0)
        provider.http.max_retries = 2
        provider.get_credit()
        provider.get_credit()
        with pytest.raises(RateLimited) as caught:
            provider.get_credit()
        assert caught.value.retry_after == 1 and fake.rate_limited_count == 3


# =============================================================================================
# (d) webhooks
# =============================================================================================


class TestWebhooks:
    SECRET = "s3cret-value"

    def test_configure_points_qlara_at_our_url_with_the_secret(self, provider, fake):
        url = provider.callback_url("https://sb.example.com/webhooks/qlara/1/", self.SECRET)
        provider.configure_webhook(url)
        assert fake.webhook["callbackUrl"] == url
        provider.configure_webhook(url + "?v=2")  # exists: PUT, not a 409
        assert fake.webhook["callbackUrl"].endswith("?v=2")
        assert provider.get_webhook()["callbackUrl"] == url + "?v=2"
        provider.delete_webhook()
        assert fake.webhook is None and provider.get_webhook() is None
        logged = list(HttpLog.objects.values_list("request_body", "response_body"))
        assert len(logged) >= 5 and not any(self.SECRET in body for row in logged for body in row)
        assert any("qlara:***@sb.example.com" in row[0] for row in logged)  # the secret never reaches the log

    def test_signed_vendor_payload_is_accepted_and_parsed(self, provider, fake):
        # What Qlara sends to a callback URL holding credentials: requests derives Basic auth from it.
        url = provider.callback_url("https://sb.example.com/webhooks/qlara/1/", self.SECRET)
        user, password = requests.utils.get_auth_from_url(url)
        headers = {
            "Authorization": requests.auth._basic_auth_str(user, password),
            "Content-Type": "application/json",
        }
        result = provider.send(
            OutboundMessage(to="+393401234567", channel="whatsapp", text="Ciao", reference="w-1")
        )
        batch = [
            fake.webhook_payload(result.remote_id, "DELIVERY"),
            fake.webhook_payload(result.remote_id, "READ"),
        ]
        body = json.dumps(batch).encode()
        provider.verify_webhook(headers, body, self.SECRET)
        events = provider.parse_webhook(headers, body)
        assert [(e.remote_message_id, e.status, e.channel) for e in events] == [
            ("w-1", "delivered", "whatsapp"), ("w-1", "read", "whatsapp"),
        ]  # fmt: skip
        sms = json.dumps(md_example(lambda b: b.get("channel") == "SMS")).encode()
        provider.verify_webhook({"authorization": qw.basic_header(self.SECRET)}, sms, self.SECRET)
        assert provider.parse_webhook({}, sms)[0].price == Decimal("0.035")

    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer s3cret-value"}, {"Authorization": "Basic !!!"},
         {"Authorization": qw.basic_header("wrong")}],
    )  # fmt: skip
    def test_bad_or_missing_credentials_are_refused(self, provider, headers):
        body = json.dumps(md_example(lambda b: b.get("eventType") == "READ")).encode()
        with pytest.raises(WebhookRejected):
            provider.verify_webhook(headers, body, self.SECRET)

    def test_missing_secret_refuses(self, provider):
        with pytest.raises(WebhookRejected, match="No webhook secret"):
            provider.verify_webhook({"Authorization": qw.basic_header("")}, b"{}", "")

    def test_unknown_events_are_skipped_and_garbage_refused(self, provider):
        assert provider.parse_webhook({}, b'{"eventType": "SOMETHING_NEW"}') == []
        with pytest.raises(WebhookRejected):
            provider.parse_webhook({}, b"{not json")


# =============================================================================================
# the fake itself: every documented route answers, and the parts the client does not use behave
# =============================================================================================


class TestFakeCoverage:
    def test_every_documented_route_has_a_handler(self):
        fake = QlaraFake()
        missing = []
        for entry in json.loads((FIXTURES / "index.json").read_text()):
            path = re.sub(r":\w+", "1", entry["path"])
            if not any(method == entry["method"] and regex.match(path) for method, regex, _ in fake._routes):
                missing.append(f"{entry['method']} {entry['path']}")
        assert missing == []

    def test_literal_routes_win_over_parameters(self, server, fake):
        session = requests.Session()
        session.headers["X-Api-Key"] = KEY
        assert session.get(f"{server.url}{P}/contacts/list").json() == []
        assert session.get(f"{server.url}{P}/campaigns/stats").status_code == 400  # its required params
        assert session.get(f"{server.url}{P}/inbox/conversations/assignable-users").json()[0]["id"] == 4521

    def test_uploads_exports_inbox_media(self, server, fake):
        session = requests.Session()
        session.headers["X-Api-Key"] = KEY
        base = server.url + P
        bad = session.post(
            f"{base}/contacts/upload/vcard", files={"file": ("c.txt", b"x")}, data={"fileName": "c.txt"}
        )
        assert bad.status_code == 400 and ".vcf" in bad.json()["message"]
        ok = session.post(f"{base}/contacts/upload/vcard", files={"file": ("c.vcf", b"BEGIN:VCARD")},
                          data={"fileName": "c.vcf"})  # fmt: skip
        assert ok.status_code == 200 and ok.text == '""'
        assert session.post(f"{base}/exports/delivery-reports", json={}).status_code == 400
        assert session.post(f"{base}/exports/contacts", json={"exportFormat": "CSV"}).status_code == 202
        listing = session.get(f"{base}/exports").json()
        assert listing["totalCount"] == 1 and listing["data"][0]["isAvailableForDownload"] is True
        assert session.get(f"{base}/exports/1").json()["url"].endswith(".csv?token=t")
        assert session.post(f"{base}/exports/1").status_code == 400  # not expired yet
        chat = fake.seed_conversation(texts=("Ciao", "Ci sei?"))
        thread = session.get(f"{base}/inbox/conversations/{chat}/messages").json()["messages"]
        assert (
            session.post(
                f"{base}/inbox/conversations/reply", json={"chatId": chat, "message": "Sì!"}
            ).status_code
            == 202
        )
        newer = session.get(
            f"{base}/inbox/conversations/{chat}/messages", params={"idFrom": thread[-1]["id"] + 1}
        )
        assert [msg["text"] for msg in newer.json()["messages"]] == ["Sì!"]
        assert session.patch(f"{base}/inbox/conversations/{chat}/archive").status_code == 204
        assert session.get(f"{base}/inbox/conversations").json() == []
        assert (
            session.post(f"{base}/inbox/conversations/{chat}/assignee", json={"userId": 1}).status_code == 404
        )
        media = session.post(
            f"{base}/media", files={"file": ("banner.png", b"\x89PNG")}, data={"name": "banner"}
        )
        assert media.status_code == 201 and media.json()["name"] == "banner"
        assert [item["id"] for item in session.get(f"{base}/media").json()] == [media.json()["id"]]
        assert session.delete(f"{base}/media/{media.json()['id']}").status_code == 204
        socials = session.get(f"{server.url}/api/v1/partner-gateway/socials").json()
        assert socials["platform"] == "facebook"  # PM: a single object

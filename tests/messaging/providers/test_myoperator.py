"""MyOperator: contract tests on the vendor's saved examples, every hook against the fake over
real HTTP, fault injection, and webhooks."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest

from messaging.models import ProviderAccount
from messaging.providers.base import (
    CampaignStatus,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    RemoteContact,
    RemoteTemplate,
)
from messaging.providers.errors import (
    AuthError,
    NotFound,
    NotSupported,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from messaging.providers.myoperator import MyOperatorProvider, mapping
from tests.fakes.myoperator import COMPANY_PHONE_NUMBER_ID, MyOperatorFake

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "myoperator"
WEBHOOKS = FIXTURES / "webhooks"
COMPANY = "66c595699b31d875"
SECRET = "hook-secret-123"


def examples(filename: str) -> list[dict]:
    return json.loads((FIXTURES / filename).read_text())["examples"]


def example(filename: str, name: str) -> dict:
    return next(e for e in examples(filename) if e["name"] == name)


def webhook(name: str) -> bytes:
    return (WEBHOOKS / name).read_bytes()


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def fake():
    return MyOperatorFake(api_key="test-key", company_id=COMPANY)


@pytest.fixture
def server(serve_fake, fake):
    return serve_fake(fake)


def make_account(server, **credentials):
    return ProviderAccount.objects.create(
        provider="myoperator",
        name=f"mo-{len(credentials)}-{ProviderAccount.objects.count()}",
        base_url=server.url,
        credentials={"api_key": "test-key", "company_id": COMPANY, **credentials},
        settings={"phone_number_id": COMPANY_PHONE_NUMBER_ID, "waba_id": "178661612007157"},
    )


def quiet(provider):
    """Record sleeps instead of waiting, so retries and throttling cost no time."""
    provider.sleeps = []
    provider.http.sleep = provider.sleeps.append
    return provider


@pytest.fixture
def provider(db, server):
    return quiet(make_account(server).get_provider())


# --- (a) contract tests: the vendor's own examples parse -----------------------------------------


def test_contact_examples_parse():
    for filename in (
        "contact_apis_fetch_contacts.json",
        "contact_apis_fetch_contacts_with_custom_fields.json",
        "contact_apis_filter_contact_by_phone_number.json",
        "contact_apis_search_contacts.json",
    ):
        for ex in examples(filename):
            rows, _ = mapping.page_results(ex["body"])
            contacts = [mapping.contact_from_api(r) for r in rows]
            assert contacts and all(c.remote_id and c.phone.startswith("+91") for c in contacts), filename
            assert all(c.raw for c in contacts)
    listed = mapping.contact_from_api(
        mapping.page_results(examples("contact_apis_fetch_contacts.json")[0]["body"])[0][0]
    )
    assert listed.first_name == "Kuldeep" and listed.last_name == "Malhotra"
    assert listed.opted_out is False and listed.updated_at == dt.datetime(
        2025, 2, 4, 11, 10, 19, 390000, tzinfo=dt.UTC
    )
    # filter-by-phone passes the cc-prefixed number but answers the national one
    _, has_next = mapping.page_results(
        example("contact_apis_filter_contact_by_phone_number.json", "Success")["body"]
    )
    assert has_next is False
    for filename, name in (
        ("contact_apis_fetch_contact_by_id.json", "Success"),
        ("contact_apis_create_contact.json", "Success"),
        ("contact_apis_create_contact_with_custom_fields.json", "Success"),
        ("contact_apis_update_contact_by_id.json", "Success"),
        ("contact_apis_update_contact_by_phone_number.json", "Success"),
    ):
        contact = mapping.contact_from_api(mapping.envelope_data(example(filename, name)["body"]))
        assert contact.remote_id and contact.phone.startswith("+91") and contact.created_at, filename
    custom = mapping.contact_from_api(
        mapping.envelope_data(
            example("contact_apis_create_contact_with_custom_fields.json", "Success")["body"]
        )
    )
    assert (
        custom.custom_fields["multi_select"] == ["python", "php", "mysql"]
        and custom.email == "john.doe@example.com"
    )


def test_error_examples_read_in_the_vendors_words():
    assert "range of [7,15]" in mapping.error_message(
        example("contact_apis_create_contact.json", "Validation Error")["body"]
    )
    assert mapping.error_message(
        example("contact_apis_delete_contact_by_id.json", "Invalid Contact ID")["body"]
    ) == ("Invalid Contact ID")
    assert "Phone Number cannot be updated." in mapping.error_message(
        example("contact_apis_update_contact_by_id.json", "Phone Number Update - Error")["body"]
    )
    send = {e["name"]: e["body"] for e in examples("whatsapp_business_apis_send_message.json")}
    assert "[CHAT_4001]" in mapping.error_message(send["Insufficient Balance"])
    assert "phone_number_id is required" in mapping.error_message(
        send["Validation Error"]
    )  # `error`, not `errors`
    assert mapping.error_message(send["Internal Server Error"]) == "Internal Server Error"  # plain text
    assert "Campaign 9359 does not exist!" in mapping.error_message(
        example("whatsapp_business_apis_campaigns_fetch_campaign_by_id.json", "Invalid Campaign ID")["body"]
    )


def test_template_examples_parse():
    rows, has_next = mapping.page_results(
        examples("whatsapp_business_apis_templates_list_templates.json")[0]["body"]
    )
    templates = [mapping.template_from_api(r) for r in rows]
    assert has_next and len(templates) == 3
    assert all(
        t.remote_id and t.name and t.status == "approved" and t.category == "MARKETING" for t in templates
    )
    assert templates[0].header["type"] == "media" and templates[0].variables == ["2", "3"]
    by_id = mapping.template_from_api(
        mapping.envelope_data(
            example("whatsapp_business_apis_templates_fetch_template_by_id.json", "Success")["body"]
        )
    )
    assert by_id.remote_id == "4c091d8f-07d6-474b-9e64-5d5545c0d4c3" and "ABC Store" in by_id.body
    assert by_id.raw["waba_template_id"] == "2772786999579839"
    rows, _ = mapping.page_results(
        examples("whatsapp_business_apis_templates_fetch_template_by_name.json")[0]["body"]
    )
    assert mapping.template_from_api(rows[0]).name == "testing_template_36784"
    for ex in examples("whatsapp_business_apis_templates_create_template.json"):
        assert mapping.envelope_data(ex["body"])["id"]  # int code 201 in these
    # the create requests in the seed round-trip through our parser too
    request = json.loads((FIXTURES / "whatsapp_business_apis_templates_create_template.json").read_text())
    parsed = mapping.template_from_api(request["request_body"])
    assert parsed.header["text"] == "{{month}} Sale Offer" and "name" in parsed.variables and parsed.footer


def test_campaign_examples_parse_both_stats_shapes():
    rows, _ = mapping.page_results(examples("whatsapp_business_apis_campaigns_list_campaign.json")[0]["body"])
    listed = mapping.campaign_from_api(rows[0])
    assert listed.remote_id == "1009" and listed.status == CampaignStatus.COMPLETED
    list_stats = mapping.campaign_stats_from_api(rows[0])  # count / reply / billable_count
    assert (list_stats.recipients, list_stats.sent, list_stats.replied) == (3, 2, 1)
    details = {
        e["name"]: e["body"] for e in examples("whatsapp_business_apis_campaigns_fetch_campaign_by_id.json")
    }
    done = mapping.envelope_data(details["Completed"])  # total / replied / billable + link_stats
    stats = mapping.campaign_stats_from_api(done)
    assert (stats.recipients, stats.sent, stats.delivered, stats.read, stats.failed, stats.clicked) == (
        10,
        8,
        8,
        5,
        2,
        2,
    )
    scheduled = mapping.campaign_from_api(mapping.envelope_data(details["Scheduled"]))
    assert scheduled.status == CampaignStatus.SCHEDULED and scheduled.template_id
    assert (
        mapping.campaign_stats_from_api(mapping.envelope_data(details["Scheduled"])).sent == 0
    )  # no stats at all
    failed = mapping.campaign_from_api(mapping.envelope_data(details["Failed"]))
    assert failed.status == CampaignStatus.FAILED and failed.template_id == ""  # template: {}


def test_send_and_media_examples_parse():
    for ex in examples("whatsapp_business_apis_send_message.json"):
        body = ex["body"]
        if not (isinstance(body, dict) and body.get("status") == "success"):
            continue
        result = mapping.send_result_from_api(body, to="+919876543210", reference="r1")
        # text/media/template say conversaton_id [sic]; interactive ones say conversation_id (and HTTP 500)
        assert result.accepted and result.remote_id == "d7d9d9fd-478f-40e6-b651-49b7f19878a2", ex["name"]
    refused = mapping.send_result_from_api(
        example("whatsapp_business_apis_send_message.json", "Waba disabled")["body"], to="+91", reference=""
    )
    assert not refused.accepted and "Waba is Disabled" in refused.error
    created = example("whatsapp_business_apis_upload_media.json", "Created")["body"]
    assert mapping.envelope_data(created)["media_id"] == "c3941c26-6c76-4e7b-a711-852f901401a6"
    numbers = example(
        "whatsapp_business_apis_list_phone_numbers.json", "with WABA details, Profile and Setting information"
    )
    rows, has_next = mapping.page_results(numbers["body"])
    assert has_next and rows[0]["phone_number_id"] == "204983902706432"


def test_phone_helpers():
    assert mapping.split_phone("+919876543210") == ("91", "9876543210")
    assert mapping.split_phone("+393331234567") == ("39", "3331234567")
    assert mapping.join_phone("+91", "9876543210") == "+919876543210"
    assert mapping.join_phone("91", "919876543210") == "+919876543210"  # cc-prefixed
    assert mapping.parse_dt("2026-04-21T07:35:45.118532415Z") == dt.datetime(
        2026, 4, 21, 7, 35, 45, 118532, tzinfo=dt.UTC
    )
    assert mapping.parse_dt("2025-02-02 20:11:11").tzinfo is not None


# --- (b) every hook against the fake ---------------------------------------------------------


def test_capabilities_and_fields():
    caps = MyOperatorProvider.capabilities
    assert caps.supports("contacts", "push") and caps.supports("templates", "delete")
    assert caps.supports("campaigns", "stats") and not caps.supports("campaigns", "push")
    assert not caps.supports("lists", "pull") and caps.can_send("whatsapp") and not caps.can_send("sms")
    assert all(f.secret for f in MyOperatorProvider.credential_fields)
    assert MyOperatorProvider.default_base_url == "https://publicapi.myoperator.co"


def test_check_connection_sends_both_auth_headers(provider, fake):
    info = provider.check_connection()
    assert info.ok and info.detail.startswith("Connected — 1 WhatsApp number")
    sent = fake.journal[-1]
    assert sent.header("authorization") == "Bearer test-key" and sent.header("x-myop-company-id") == COMPANY
    with pytest.raises(NotSupported):
        provider.get_balance()


def test_contacts_create_get_update_delete(provider, fake):
    created = provider.create_contact(
        RemoteContact(phone="+919876543210", first_name="Asha", last_name="Rao", email="a@example.com",
                      opted_out=False, custom_fields={"city": "Pune"})
    )  # fmt: skip
    stored = fake.contacts[created.remote_id]
    assert (stored["country_code"], stored["phone_number"], stored["name"]) == (
        "91",
        "9876543210",
        "Asha Rao",
    )
    assert stored["marketing_opt_in"] is True and created.phone == "+919876543210"

    got = provider.get_contact(created.remote_id)
    assert got.custom_fields == {"city": "Pune"} and got.email == "a@example.com"

    got.first_name, got.custom_fields = "Asha K", {"tier": "gold"}
    updated = provider.update_contact(got)
    assert fake.contacts[created.remote_id]["custom_fields"] == {"city": "Pune", "tier": "gold"}  # merged
    assert updated.first_name == "Asha" and updated.last_name == "K Rao"
    assert "phone_number" not in fake.requests_to("PATCH", "/contacts/")[-1].json  # phone is immutable

    by_phone = provider.update_contact_by_phone(
        "+919876543210", RemoteContact(first_name="Asha", opted_out=True)
    )
    assert by_phone.opted_out is True and fake.contacts[created.remote_id]["marketing_opt_in"] is False
    assert provider.find_contact_by_phone("+919876543210").remote_id == created.remote_id

    provider.delete_contacts([created.remote_id, "000000000000000000000000"])  # a missing one is not an error
    assert created.remote_id not in fake.contacts
    with pytest.raises(NotFound, match="Invalid Contact ID"):
        provider.get_contact(created.remote_id)


def test_create_contact_validation_error_is_the_vendors(provider):
    with pytest.raises(Rejected, match=r"range of \[7,15\]"):
        provider.create_contact(RemoteContact(phone="+9112", first_name="X"))


def test_contacts_stream_across_pages_and_resume(provider, fake):
    ids = fake.seed_contacts(250)
    pages = list(provider.iter_contact_pages())
    assert [len(p.items) for p in pages] == [100, 100, 50]
    assert [c.remote_id for p in pages for c in p.items] == ids
    assert pages[0].cursor == "100" and pages[-1].cursor is None
    resumed = list(provider.iter_contact_pages(pages[0].cursor))
    assert resumed[0].items[0].remote_id == ids[100]
    assert all(r.arg("include") == "custom_fields" for r in fake.requests_to("GET", "^/contacts$"))


def test_contact_search_pages_with_the_after_token(provider, fake):
    fake.seed_contacts(23)
    today = dt.datetime.now(dt.UTC).date()
    found = [c for p in provider.iter_contact_pages_modified_since(today) for c in p.items]
    assert len(found) == 23 and len({c.remote_id for c in found}) == 23
    searches = fake.requests_to("POST", "^/contacts$")
    assert searches[0].json == {"and": {"modified__gte": today.isoformat()}}
    assert searches[0].arg("after") is None and searches[1].arg("after")  # cursor from pagination_token
    tomorrow = today + dt.timedelta(days=1)
    assert list(provider.iter_contact_pages_modified_since(tomorrow)) == []


def test_templates_create_list_get_by_id_and_name_delete(provider, fake):
    fake.seed_templates(3)
    created = provider.create_template(
        RemoteTemplate(name="june_sale", language="en", category="MARKETING", body="Hi {{name}}, sale!",
                       footer="Team", header={"type": "text", "text": "{{month}} offer"})
    )  # fmt: skip
    stored = fake.templates[created.remote_id]
    assert stored["category"] == "marketing" and stored["waba_id"] == "178661612007157"
    body = next(c for c in stored["components"] if c["type"] == "BODY")
    assert body["example"] == {"name": "name"} and created.status == "pending"

    all_templates = list(provider.iter_templates())
    assert len(all_templates) == 4
    fetched = provider.get_template(created.remote_id)
    assert (
        fetched.name == "june_sale"
        and fetched.header["text"] == "{{month}} offer"
        and fetched.variables == ["month", "name"]
    )
    assert provider.get_template("june_sale").remote_id == created.remote_id  # by name
    with pytest.raises(NotFound):
        provider.get_template_by_name("nope")
    with pytest.raises(NotSupported):
        provider.update_template(fetched)
    provider.delete_template(created.remote_id)
    assert created.remote_id not in fake.templates
    with pytest.raises(NotFound, match="Invalid Template ID"):
        provider.delete_template(created.remote_id)


def test_template_pages_with_filters(provider, fake):
    fake.seed_templates(120, status="approved")
    fake.seed_templates(5, status="rejected")
    pages = list(provider.iter_template_pages(waba_template_status="approved"))
    assert [len(p.items) for p in pages] == [100, 20]
    assert {t.status for p in pages for t in p.items} == {"approved"}


def test_a_server_capping_the_page_size_is_paged_to_the_end(provider, fake):
    fake.template_page_cap = 20  # we ask for 100; a shorter page must not end the listing
    fake.seed_templates(45)
    assert len(list(provider.iter_templates())) == 45
    assert [r.arg("offset") for r in fake.requests_to("GET", "/chat/templates")] == ["0", "20", "40"]


def test_campaigns_list_get_and_stats(provider, fake):
    ids = fake.seed_campaigns(3)
    fake.seed_campaigns(1, status="running")
    campaigns = list(provider.iter_campaigns())
    assert len(campaigns) == 4 and {c.status for c in campaigns} == {"completed", "sending"}
    assert all(
        r.header("x-waba-phonenumber-id") == COMPANY_PHONE_NUMBER_ID
        for r in fake.requests_to("GET", "campaign")
    )
    one = provider.get_campaign(str(ids[0]))
    assert one.remote_id == str(ids[0]) and one.name == "campaign_0"
    stats = provider.get_campaign_stats(str(ids[0]))
    assert (stats.recipients, stats.sent, stats.replied, stats.clicked) == (10, 8, 1, 3)
    with pytest.raises(NotFound, match="does not exist"):
        provider.get_campaign("9359")


def test_send_template_text_and_media(provider, fake):
    fake.seed_templates(1)
    result = provider.send(
        OutboundMessage(to="+919876543210", channel="whatsapp", template_name="template_0", template_language="en",
                        variables={"name": "Asha"}, reference="ref-1")
    )  # fmt: skip
    assert result.accepted and result.remote_id == fake.messages[-1]["id"] and result.reference == "ref-1"
    sent = fake.messages[-1]
    assert (sent["customer_country_code"], sent["customer_number"], sent["myop_ref_id"]) == (
        "91",
        "9876543210",
        "ref-1",
    )
    assert sent["data"]["context"] == {
        "template_name": "template_0",
        "language": "en",
        "body": {"name": "Asha"},
    }
    assert sent["phone_number_id"] == COMPANY_PHONE_NUMBER_ID

    provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", text="Hello"))
    assert fake.messages[-1]["data"] == {"type": "text", "context": {"body": "Hello", "preview_url": False}}
    provider.send(
        OutboundMessage(to="+919876543210", channel="whatsapp", media_url="https://x.test/a.pdf", text="Doc")
    )
    assert fake.messages[-1]["data"]["type"] == "document"
    assert fake.messages[-1]["data"]["context"]["filename"] == "a.pdf"
    with pytest.raises(NotSupported):
        provider.send(OutboundMessage(to="+919876543210", channel="sms", text="x"))


def test_send_refusals_come_back_as_not_accepted(provider, fake):
    fake.balance_ok = False
    result = provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", text="Hi"))
    assert not result.accepted and "Insufficient Balance" in result.error and "CHAT_4001" in result.error
    fake.balance_ok = True
    result = provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", template_name="nope"))
    assert not result.accepted and "Template not associated" in result.error


def test_upload_media_is_multipart(provider, fake):
    media_id = provider.upload_media(b"\x89PNG fake", "logo.png", application="template")
    assert media_id in fake.media
    request = fake.requests_to("POST", "/chat/media/upload")[-1]
    assert request.header("content-type").startswith("multipart/form-data")


def test_phone_numbers(provider):
    numbers = list(provider.iter_phone_numbers())
    assert numbers[0]["phone_number_id"] == COMPANY_PHONE_NUMBER_ID and numbers[0]["waba_account"]["waba_id"]


# --- (c) fault injection ------------------------------------------------------------------------


def test_429_is_retried_honouring_retry_after(provider, fake):
    fake.seed_contacts(3)
    fake.fail_next(429, times=2, retry_after=7)
    contacts = list(provider.iter_contacts())
    assert len(contacts) == 3 and len(fake.journal) == 3
    assert [s for s in provider.sleeps if s >= 7] and all(7 <= s < 7.5 for s in provider.sleeps if s >= 1)


def test_fake_enforces_its_rate_limit_with_the_retry_hint(provider, fake):
    fake.rate_limit = (2, 60)
    fake.seed_contacts(1)
    provider.get_contact(next(iter(fake.contacts)))
    provider.get_contact(next(iter(fake.contacts)))
    provider.http.max_retries = 1
    from messaging.providers.errors import RateLimited

    with pytest.raises(RateLimited) as err:
        provider.get_contact(next(iter(fake.contacts)))
    assert err.value.retry_after == 1 and fake.rate_limited_count == 2


def test_5xx_on_a_send_is_not_retried(provider, fake):
    fake.fail_next(503)
    with pytest.raises(Unavailable):
        provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", text="Hi"))
    assert len(fake.requests_to("POST", "/chat/messages")) == 1 and fake.messages == []
    fake.fail_next(500)  # the vendor's plain-text 500
    with pytest.raises(Unavailable, match="Internal Server Error"):
        provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", text="Hi"))
    assert len(fake.requests_to("POST", "/chat/messages")) == 2


def test_5xx_on_create_contact_is_not_retried(provider, fake):
    fake.fail_next(502)
    with pytest.raises(Unavailable):
        provider.create_contact(RemoteContact(phone="+919876543210", first_name="A"))
    assert len(fake.requests_to("POST", "^/contacts$")) == 1


def test_5xx_on_a_get_is_retried(provider, fake):
    fake.seed_templates(2)
    fake.fail_next(503, times=2)
    assert len(list(provider.iter_templates())) == 2
    assert len(fake.requests_to("GET", "/chat/templates")) == 3


def test_wrong_key_is_an_auth_error_with_the_vendors_text(db, server):
    provider = quiet(make_account(server, api_key="wrong").get_provider())
    with pytest.raises(AuthError, match="Authentication credentials were not provided or are invalid") as err:
        provider.check_connection()
    assert err.value.status == 401 and len(server.fake.journal) == 1  # never retried
    other = quiet(make_account(server, company_id="0000000000000000").get_provider())
    with pytest.raises(AuthError):
        other.get_contact("x")


def test_truncated_json_is_retried_on_a_get_and_reported_on_a_send(provider, fake):
    fake.seed_contacts(2)
    fake.fail_next("truncate")
    assert len(list(provider.iter_contacts())) == 2
    fake.fail_next("truncate")
    with pytest.raises(Unavailable, match="not valid JSON"):
        provider.send(OutboundMessage(to="+919876543210", channel="whatsapp", text="Hi"))
    assert len(fake.requests_to("POST", "/chat/messages")) == 1


def test_paging_stops_on_a_repeated_page(provider, fake, monkeypatch):
    fake.seed_contacts(150)
    original = fake.list_contacts

    def ignore_offset(request):  # a server that ignores `offset` but keeps saying there is more
        request.query.pop("offset", None)
        response = original(request)
        response.body["data"]["next"] = "https://microapi.myoperator.dev/contacts?limit=100&offset=100"
        return response

    monkeypatch.setattr(fake, "list_contacts", ignore_offset)
    fake._routes = [(m, r, ignore_offset if h == original else h) for m, r, h in fake._routes]
    contacts = list(provider.iter_contacts())
    assert len(contacts) == 100 and len(fake.requests_to("GET", "^/contacts$")) == 2


def test_paging_stops_on_next_null_and_on_an_empty_page(provider, fake):
    fake.seed_contacts(100)
    pages = list(provider.iter_contact_pages())
    assert [len(p.items) for p in pages] == [100] and len(fake.requests_to("GET", "^/contacts$")) == 1
    original = fake.list_contacts

    def always_next(request):
        response = original(request)
        response.body["data"]["next"] = "https://microapi.myoperator.dev/contacts?limit=100&offset=100"
        return response

    fake._routes = [(m, r, always_next if h == original else h) for m, r, h in fake._routes]
    pages = list(provider.iter_contact_pages())
    assert [len(p.items) for p in pages] == [100] and len(fake.requests_to("GET", "^/contacts$")) == 3


def test_lying_count_cannot_loop_forever(provider, fake, monkeypatch):
    fake.seed_contacts(3)
    original = fake.list_contacts

    def lying(request):
        response = original(request)
        response.body["data"]["count"] = 10_000
        response.body["data"]["next"] = "https://publicapi.myoperator.co/contacts?limit=100&offset=100"
        return response

    fake._routes = [(m, r, lying if h == original else h) for m, r, h in fake._routes]
    assert len(list(provider.iter_contacts())) == 3  # short page ends it despite `next`


# --- (d) webhooks ---------------------------------------------------------------------------------


@pytest.fixture
def hooks():
    # Webhook checks need no HTTP: a bare provider instance, no account row, no server.
    return MyOperatorProvider(credentials={"api_key": "k", "company_id": COMPANY}, settings={})


def test_webhook_secret_header_is_required(hooks):
    body = webhook("webhooks_new_message_delivered_1.json")
    hooks.verify_webhook({"X-Webhook-Token": SECRET}, body, SECRET)
    hooks.verify_webhook({"x-api-key": SECRET}, body, SECRET)
    basic = base64.b64encode(f"myoperator:{SECRET}".encode()).decode()
    hooks.verify_webhook({"Authorization": f"Basic {basic}"}, body, SECRET)
    with pytest.raises(WebhookRejected):
        hooks.verify_webhook({"X-Webhook-Token": "wrong"}, body, SECRET)
    with pytest.raises(WebhookRejected):
        hooks.verify_webhook({}, body, SECRET)
    with pytest.raises(WebhookRejected, match="No webhook secret"):
        hooks.verify_webhook({"X-Webhook-Token": ""}, body, "")


def test_webhook_custom_header_from_settings():
    provider = MyOperatorProvider(credentials={}, settings={"webhook_header": "X-Shared"})
    provider.verify_webhook({"X-Shared": SECRET}, b"{}", SECRET)
    with pytest.raises(WebhookRejected):
        provider.verify_webhook({"X-Webhook-Token": SECRET}, b"{}", SECRET)


def test_new_envelope_delivery_events_parse(hooks):
    (delivered,) = hooks.parse_webhook({}, webhook("webhooks_new_message_delivered_1.json"))
    assert isinstance(delivered, DeliveryUpdate)
    assert (
        delivered.status == MessageStatus.DELIVERED
        and delivered.remote_message_id == "25f8502f-d2e9-48dd-a0e7-e1878f05cdec"
    )
    assert delivered.reference == "12cd282a-6a50-54f5-803b-4fd1d9aaee24" and delivered.to == "+917779812955"
    assert delivered.occurred_at == dt.datetime(2026, 4, 21, 7, 35, 41, tzinfo=dt.UTC)  # from events[]
    assert delivered.event_id.startswith("event-6576745f")
    (failed,) = hooks.parse_webhook({}, webhook("webhooks_new_message_failed_1.json"))
    assert (
        failed.status == MessageStatus.FAILED
        and failed.error_code == "130472"
        and "experiment" in failed.error_message
    )
    assert failed.occurred_at is not None  # events carry no timestamp; the envelope's is used
    for name in ("webhooks_new_message_sent_1.json", "webhooks_new_message_read_1.json"):
        (update,) = hooks.parse_webhook({}, webhook(name))
        assert update.status in (MessageStatus.SENT, MessageStatus.READ) and update.raw


def test_every_documented_webhook_parses_without_error(hooks):
    kinds = {}
    for path in sorted(WEBHOOKS.glob("*.json")):
        events = hooks.parse_webhook({}, path.read_bytes())
        kinds[path.name] = [type(e).__name__ for e in events]
    assert kinds["webhooks_new_message_received_1.json"] == ["InboundMessage"]
    assert (
        kinds["webhooks_new_call_end_1.json"] == [] and kinds["webhooks_new_conversation_assign_1.json"] == []
    )
    assert kinds["webhooks_deprecated_aftercall_webhook_1.json"] == []
    assert kinds["webhooks_new_message_link_tracking_1.json"] == []
    assert sum(1 for v in kinds.values() if v == ["DeliveryUpdate"]) >= 15


def test_inbound_message_parses(hooks):
    (inbound,) = hooks.parse_webhook({}, webhook("webhooks_new_message_received_1.json"))
    assert isinstance(inbound, InboundMessage)
    assert (inbound.from_phone, inbound.text, inbound.to) == ("+917779812955", "Offer", "1196177000238423")
    assert inbound.received_at.tzinfo is not None


def test_legacy_format_trusts_event_over_status(hooks):
    body = webhook("whatsapp_webhook_responses_send_text_message_delivered_1.json")
    assert json.loads(body)["data"]["status"] == "sent"
    (update,) = hooks.parse_webhook({}, body)
    assert update.status == MessageStatus.DELIVERED and update.reference == "test123"
    assert update.to == "+917900766070"
    (failed,) = hooks.parse_webhook(
        {}, webhook("whatsapp_webhook_responses_send_template_message_failed_1.json")
    )
    assert failed.status == MessageStatus.FAILED and failed.error_code == "131053"


def test_form_encoded_webhook_and_garbage(hooks):
    from urllib.parse import urlencode

    payload = json.loads(webhook("webhooks_new_message_read_1.json"))
    form = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in payload.items()}
    (update,) = hooks.parse_webhook(
        {"Content-Type": "application/x-www-form-urlencoded"}, urlencode(form).encode()
    )
    assert update.status == MessageStatus.READ
    with pytest.raises(WebhookRejected):
        hooks.parse_webhook({}, b'{"event_type": "message.sent", "payload": {')


def test_connection_service_records_health(db, server):
    from messaging.services import test_connection

    account = make_account(server)
    result = test_connection(account)
    account.refresh_from_db()
    assert result.ok and result.detail.startswith("Connected — 1 WhatsApp number")
    assert account.last_success_at is not None and account.consecutive_failures == 0
    bad = make_account(server, api_key="wrong")
    result = test_connection(bad)
    bad.refresh_from_db()
    assert not result.ok and "invalid" in result.detail and bad.consecutive_failures == 1
    from messaging.models import HttpLog

    rows = list(HttpLog.objects.filter(account=account).values())
    assert rows and rows[0]["correlation"] == f"check:{account.pk}"
    assert not any("test-key" in str(row) for row in HttpLog.objects.values())  # secrets never logged


# Other hosts (obd-api, developers) and the webhook folders ("/") are not the publicapi the client uses.
OTHER_HOSTS = ("/obd-api-v1", "/search/")


def test_the_fake_serves_every_documented_publicapi_route(fake):
    import re

    index = json.loads((FIXTURES / "index.json").read_text())
    routes = [
        (e["method"], e["path"]) for e in index if e["path"] != "/" and not e["path"].startswith(OTHER_HOSTS)
    ]
    assert len(routes) >= 17
    missing = []
    for method, path in routes:
        sample = re.sub(r":\w+", "x1", path)
        if not any(m == method and regex.match(sample) for m, regex, _ in fake._routes):
            missing.append((method, path))
    assert missing == []

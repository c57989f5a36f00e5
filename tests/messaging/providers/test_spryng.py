"""Spryng: contract tests on the vendor's saved examples, every hook against the fake over real
HTTP, fault injection, and the DLR/MO callbacks."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlencode

import pytest

from messaging.models import ProviderAccount
from messaging.providers.base import MessageStatus, OutboundMessage, RemoteTemplate
from messaging.providers.errors import (
    AuthError,
    NotFound,
    NotSupported,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from messaging.providers.spryng import SpryngProvider, mapping
from tests.fakes.spryng import SpryngFake

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "spryng"
WABA = "102290129340398"
PHONE_ID = "106540352242922"
SECRET = "dlr-secret-42"


def examples(filename: str) -> list[dict]:
    return json.loads((FIXTURES / filename).read_text())["examples"]


def example(filename: str, name: str) -> dict:
    return next(e for e in examples(filename) if e["name"] == name)


@pytest.fixture
def fake():
    return SpryngFake(api_key="test-key")


@pytest.fixture
def server(serve_fake, fake):
    return serve_fake(fake)


def make_account(server, api_key="test-key", **settings):
    return ProviderAccount.objects.create(
        provider="spryng",
        name=f"spryng-{ProviderAccount.objects.count()}",
        base_url=server.url,
        credentials={"api_key": api_key},
        settings={"originator": "Switchboard", "waba_id": WABA, "phone_number_id": PHONE_ID, **settings},
    )


def quiet(provider):
    provider.sleeps = []
    provider.http.sleep = provider.sleeps.append
    return provider


@pytest.fixture
def provider(db, server):
    return quiet(make_account(server).get_provider())


# --- (a) contract tests ---------------------------------------------------------------------------


def test_message_examples_parse():
    created = example("messages_create_message.json", "200 OK")["body"]
    (result,) = mapping.sms_results(created, ["+31612345678"], "ref")
    assert result.accepted and result.remote_id == "91646b0b-b425-4e98-bb53-8c545873eec0"
    assert result.price == Decimal("1.2") and result.currency == "credits"
    listed = examples("messages_list_messages.json")[0]["body"]
    rows, has_next = mapping.laravel_page(listed)
    assert len(rows) == 1 and has_next is False  # next_page_url is "" on the last page
    assert mapping.recipient_status(rows[0]["recipients"][0]["status"]) == MessageStatus.DELIVERED
    assert mapping.parse_dt(rows[0]["created_at"]) == dt.datetime(2019, 2, 14, 10, 58, 41, tzinfo=dt.UTC)
    shown = examples("messages_show_message.json")[0]["body"]
    assert shown["id"] and mapping.parse_dt(shown["updated_at"]).tzinfo is not None
    assert examples("messages_cancel_message.json")[0]["body"] == ""  # empty text/html
    assert mapping.decimal(examples("balance_get_balance.json")[0]["body"]["amount"]) == Decimal("10.5")


def test_error_examples_read_in_the_vendors_words():
    bodies = {e["name"]: e["body"] for e in examples("messages_create_message.json")}
    assert mapping.error_message(bodies["401 - Unauthorized"]) == "Unauthenticated."
    assert mapping.error_message(bodies["404 - Not Found"]) == "The requested resource is not found."
    assert mapping.error_message(bodies["429 - Too Many Requests"]) == "Too Many Attempts."
    text = mapping.error_message(bodies["422 - Unprocessable Entity (Invalid recipients)"])
    assert (
        text.startswith("The given data was invalid.")
        and "recipients.1: Recipient 9999999 is invalid" in text
    )
    assert "Subaccount not found" in mapping.error_message(
        example("subaccounts_update_subaccount.json", "404 - Not Found")["body"]
    )
    assert (
        mapping.error_message({"error": {"message": "Invalid parameter", "code": 100}})
        == "Invalid parameter (code 100)"
    )


def test_whatsapp_examples_parse():
    raw = examples("meta_whatsapp_api_templates_get_template.json")[0]["body"]
    assert isinstance(raw, str)  # the seed's example is truncated JSON: its closing brace is missing
    rows, after = mapping.meta_page(json.loads(raw + "}"))
    templates = [mapping.template_from_api(r) for r in rows]
    assert [t.name for t in templates] == ["hello_world", "case_opened", "case_opened"]
    assert (
        templates[0].status == "approved" and templates[0].category == "TRANSACTIONAL"
    )  # legacy category kept
    assert templates[0].variables == ["1"] and templates[1].language == "pt_BR"
    assert after is None  # cursors without `next`: the last page
    created = examples("meta_whatsapp_api_templates_create_template.json")[0]["body"]
    assert mapping.template_from_api(created).status == "pending" and created["id"] == "594425479261596"
    request = json.loads((FIXTURES / "meta_whatsapp_api_templates_update_template.json").read_text())[
        "request_body"
    ]
    parsed = mapping.template_from_api({"components": request["components"]})
    assert parsed.variables == ["1", "2", "3"] and len(parsed.buttons) >= 1
    sent = mapping.whatsapp_result(
        examples("meta_whatsapp_api_send_message.json")[0]["body"], "+12015553931", "r"
    )
    assert sent.accepted and sent.remote_id.startswith("wamid.")


def test_voice_stats_and_analytics_examples_parse():
    for filename in (
        "voice_messages_create_voice_message.json",
        "voice_messages_create_voice_otp.json",
        "voice_messages_show_voice_message.json",
    ):
        body = examples(filename)[0]["body"]
        assert body["id"] and mapping.decimal(body["credits"]) == 1
    stats = example("subaccounts_stats_subaccounts.json", "200 - OK")["body"]
    assert len(stats["subaccounts"][0]["results"]) == 12
    points = examples("meta_whatsapp_api_list_conversation_statistics.json")[0]["body"][
        "conversation_analytics"
    ]
    assert points["data"][0]["data_points"][0]["cost"] == 55.0204


def test_phone_helpers():
    assert mapping.msisdn("+31612345678") == "31612345678"
    assert mapping.msisdn("0031612345678") == "31612345678"
    assert mapping.plus("31612345678") == "+31612345678"
    assert mapping.parse_dt("20240102030405").utcoffset() == dt.timedelta(hours=1)  # Amsterdam winter time


# --- (b) hooks against the fake ---------------------------------------------------------------------


def test_capabilities_and_fields():
    caps = SpryngProvider.capabilities
    assert caps.can_send("sms") and caps.can_send("whatsapp") and caps.can_send("voice") and caps.balance
    assert caps.supports("templates", "push") and not caps.supports("contacts", "pull")
    assert SpryngProvider.bulk_limit == 50 and SpryngProvider.default_base_url == "https://rest.spryngsms.com"
    assert SpryngProvider.rate_limits[0].calls == 1200 and SpryngProvider.rate_limits[0].per_seconds == 60


def test_check_connection_and_balance(provider, fake):
    info = provider.check_connection()
    assert info.ok and info.detail == "Connected — credit 150.50" and info.balance == Decimal("150.5")
    assert fake.journal[-1].header("authorization") == "Bearer test-key"
    assert provider.get_balance().currency == "credits"
    with pytest.raises(NotSupported):
        list(provider.iter_contact_pages())


def test_send_one_sms(provider, fake):
    result = provider.send(OutboundMessage(to="+31612345678", channel="sms", text="Hello", reference="ref-1"))
    assert result.accepted and result.remote_id in fake.messages and result.to == "+31612345678"
    stored = fake.messages[result.remote_id]
    assert stored["recipients"][0]["number"] == "31612345678" and stored["reference"] == "ref-1"
    assert stored["originator"] == "Switchboard" and fake.journal[-1].json["route"] == "business"


def test_sms_batches_of_at_most_50_with_our_reference_on_each(provider, fake):
    numbers = [f"+3161{i:07d}" for i in range(120)]
    results = provider.send_sms(numbers, "Sale today", reference="campaign-7")
    calls = fake.requests_to("POST", "^/v1/messages$")
    assert [len(c.json["recipients"]) for c in calls] == [50, 50, 20]
    assert all(c.json["reference"] == "campaign-7" for c in calls)
    assert len(results) == 120 and all(r.accepted and r.reference == "campaign-7" for r in results)
    assert len({r.remote_id for r in results}) == 3 and [r.to for r in results] == numbers


def test_refused_batch_reports_the_vendors_reason(provider, fake):
    results = provider.send_sms(["+31612345678", "+32470123456"], "Hi")
    assert not any(r.accepted for r in results)
    assert "You can't send to recipients in the country BE" in results[0].error
    results = provider.send_sms(["+31612345678"], "Hi", sender="TooLongOriginator")
    assert "The originator must be a valid format." in results[0].error and fake.messages == {}


def test_cancel_a_scheduled_message(provider, fake):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
    (result,) = provider.send_sms(["+31612345678"], "Later", scheduled_at=later)
    assert fake.messages[result.remote_id]["recipients"][0]["status"] == "pending"
    provider.cancel_message(result.remote_id)  # 200 with an empty text/html body
    assert fake.messages[result.remote_id]["canceled_at"]
    with pytest.raises(Rejected):
        provider.cancel_message(result.remote_id)
    with pytest.raises(NotFound, match=r"The requested resource is not found\."):
        provider.cancel_message("00000000-0000-0000-0000-000000000000")


def test_message_statuses_by_polling(provider, fake):
    (result,) = provider.send_sms(["+31612345678"], "Hi", reference="r9")
    (update,) = provider.message_statuses(result.remote_id)
    assert (
        update.status == MessageStatus.DELIVERED and update.to == "+31612345678" and update.reference == "r9"
    )


def test_messages_stream_across_pages_newest_first(provider, fake):
    ids = fake.seed_messages(230)
    pages = list(provider.iter_message_pages())
    assert [len(p.items) for p in pages] == [100, 100, 30]
    assert [m["id"] for p in pages for m in p.items] == ids[::-1]
    assert pages[0].cursor == "2" and pages[-1].cursor is None
    assert next(iter(provider.iter_message_pages(pages[1].cursor))).items[0]["id"] == ids[::-1][200]
    assert sum(1 for _ in provider.iter_delivery_updates(reference="")) == 230


def test_voice_and_voice_otp(provider, fake):
    voice = provider.send(OutboundMessage(to="+31612345678", channel="voice", text="Hallo", reference="v1"))
    assert voice.accepted and fake.voice[voice.remote_id]["_recipients"] == ["31612345678"]
    otp = provider.send_voice_otp("+31612345678", "Jouw inlogcode is", "321321")
    assert fake.voice[otp.remote_id]["body"] == "Jouw inlogcode is 321321"
    assert provider.get_voice_message(otp.remote_id)["id"] == otp.remote_id
    refused = provider.send_voice("+31612345678", "x" * 501)
    assert not refused.accepted and "500 characters" in refused.error


def test_subaccount_stats_and_forbidden(provider, fake):
    (row,) = provider.subaccount_stats(2021)
    assert row["id"] == "60838" and row["months"]["2021-01"]["messages"] == 12730 and len(row["months"]) == 12
    fake.subaccounts_enabled = False
    with pytest.raises(AuthError, match="enable this subaccount feature"):
        provider.subaccount_stats(2021)


def test_conversation_analytics(provider, fake):
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    points = provider.conversation_analytics(start, start + dt.timedelta(days=30), granularity="MONTHLY")
    assert points[0]["start"] == start and points[0]["cost"] == Decimal("55.0204")
    assert points[1]["direction"] == "user_initiated" and points[0]["phone_number"] == "+19195552584"
    assert "granularity(MONTHLY)" in fake.journal[-1].arg("fields")


def test_templates_create_list_update_delete(provider, fake):
    fake.seed_templates(130)
    created = provider.create_template(
        RemoteTemplate(
            name="seasonal_promotion", language="en_US", category="marketing", body="Hi {{1}}, code {{2}}"
        )
    )
    stored = fake.templates[created.remote_id]
    assert created.status == "pending" and stored["category"] == "MARKETING"
    assert stored["components"][0]["example"] == {"body_text": [["sample 1", "sample 2"]]}
    pages = list(provider.iter_template_pages())
    assert [len(p.items) for p in pages] == [100, 31]
    assert provider.get_template("seasonal_promotion").remote_id == created.remote_id
    created.body = "Hello {{1}}"
    created.components = []
    provider.update_template(created)
    assert stored["components"] == [
        {"type": "BODY", "text": "Hello {{1}}", "example": {"body_text": [["sample 1"]]}}
    ]
    provider.delete_template(created.remote_id)  # by id: looked up, then deleted by name
    assert created.remote_id not in fake.templates
    assert fake.requests_to("DELETE", "message_templates")[-1].arg("name") == "seasonal_promotion"
    with pytest.raises(NotFound):
        provider.delete_template("seasonal_promotion")


def test_whatsapp_template_send(provider, fake):
    fake.seed_templates(1)
    result = provider.send(
        OutboundMessage(
            to="+12015553931", channel="whatsapp", template_name="template_0", variables=["2"], reference="w1"
        )
    )
    assert result.accepted and result.remote_id.startswith("wamid.")
    sent = fake.wa_messages[-1]
    assert sent["to"] == "12015553931" and sent["template"]["language"] == {
        "code": "en_US",
        "policy": "deterministic",
    }
    assert sent["template"]["components"] == [{"type": "body", "parameters": [{"type": "text", "text": "2"}]}]
    refused = provider.send(OutboundMessage(to="+12015553931", channel="whatsapp", template_name="missing"))
    assert not refused.accepted and "132001" in refused.error
    with pytest.raises(NotSupported):
        provider.send(OutboundMessage(to="+12015553931", channel="rcs", text="x"))


# --- (c) fault injection ------------------------------------------------------------------------------


def test_429_is_retried_honouring_retry_after(provider, fake):
    fake.fail_next(429, times=2, retry_after=25)
    assert provider.get_balance().balance == Decimal("150.5")
    assert len(fake.journal) == 3 and [s for s in provider.sleeps if s >= 25] and max(provider.sleeps) < 25.5


def test_429_on_a_send_is_retried_once_and_sends_once(provider, fake):
    fake.fail_next(429)
    provider.send(OutboundMessage(to="+31612345678", channel="sms", text="Hi"))
    assert len(fake.requests_to("POST", "^/v1/messages$")) == 2 and len(fake.messages) == 1


def test_documented_limit_enforced_by_the_fake(provider, fake):
    fake.rate_limit = (3, 60)
    for _ in range(3):
        provider.get_balance()
    provider.http.max_retries = 0
    with pytest.raises(RateLimited, match=r"Too Many Attempts\.") as err:
        provider.get_balance()
    assert err.value.retry_after == 1 and SpryngFake.DOCUMENTED_LIMIT == (1200, 60.0)


def test_5xx_on_a_send_is_not_retried(provider, fake):
    fake.fail_next(503)
    with pytest.raises(Unavailable):
        provider.send(OutboundMessage(to="+31612345678", channel="sms", text="Hi"))
    assert len(fake.requests_to("POST", "^/v1/messages$")) == 1 and fake.messages == {}
    fake.fail_next(500)
    with pytest.raises(Unavailable):
        provider.send(OutboundMessage(to="+12015553931", channel="whatsapp", text="Hi"))
    assert len(fake.requests_to("POST", "/messages$")) == 2 and fake.wa_messages == []


def test_5xx_on_a_get_is_retried(provider, fake):
    fake.fail_next(502, times=2)
    assert provider.get_balance().ok and len(fake.journal) == 3


def test_wrong_key_is_an_auth_error_with_the_vendors_text(db, server):
    provider = quiet(make_account(server, api_key="nope").get_provider())
    with pytest.raises(AuthError, match=r"Unauthenticated\.") as err:
        provider.check_connection()
    assert err.value.status == 401 and len(server.fake.journal) == 1


def test_truncated_json(provider, fake):
    fake.fail_next("truncate")
    assert provider.get_balance().ok  # a GET is retried
    fake.fail_next("truncate")
    with pytest.raises(Unavailable, match="not valid JSON"):
        provider.send(OutboundMessage(to="+31612345678", channel="sms", text="Hi"))
    assert len(fake.requests_to("POST", "^/v1/messages$")) == 1


def test_paging_stops_on_repeated_and_empty_pages(provider, fake):
    fake.seed_messages(150)
    original = fake.list_messages

    def ignores_page(request):  # keeps answering page 1 and claiming more
        request.query.pop("page", None)
        response = original(request)
        response.body["next_page_url"] = "http://x/v1/messages?page=2"
        return response

    fake._routes = [(m, r, ignores_page if h == original else h) for m, r, h in fake._routes]
    assert sum(len(p.items) for p in provider.iter_message_pages()) == 100
    assert len(fake.requests_to("GET", "^/v1/messages$")) == 2


def test_lying_last_page_cannot_loop_forever(provider, fake):
    fake.seed_messages(100)
    original = fake.list_messages

    def lying(request):
        response = original(request)
        response.body["last_page"] = 99
        response.body["next_page_url"] = "http://x/v1/messages?page=9"
        return response

    fake._routes = [(m, r, lying if h == original else h) for m, r, h in fake._routes]
    assert sum(len(p.items) for p in provider.iter_message_pages()) == 100
    assert len(fake.requests_to("GET", "^/v1/messages$")) == 2  # the empty second page ends it


# --- (d) callbacks --------------------------------------------------------------------------------------


@pytest.fixture
def hooks():
    return SpryngProvider(credentials={"api_key": "k"}, settings={})


DLR = {
    "ID": "91646b0b-b425-4e98-bb53-8c545873eec0", "RECIPIENT": "31612345678", "STATUS": "10", "REASONCODE": "0",
    "REFERENCE": "ref-1", "ADDED": "20240102030400", "RESULTDATE": "20240102030405",
    "OPERATOR_STATUS_AT": "20240102030409", "OPERATOR": "20408",
}  # fmt: skip


def test_dlr_with_the_token_is_accepted_and_parsed(hooks):
    query = urlencode({**DLR, "token": SECRET})
    hooks.verify_webhook({"QUERY_STRING": query}, b"", SECRET)  # request.META style
    hooks.verify_webhook({}, query.encode(), SECRET)  # raw query string as the body
    (update,) = hooks.parse_webhook({"QUERY_STRING": query}, b"")
    assert update.status == MessageStatus.DELIVERED and update.remote_message_id == DLR["ID"]
    assert update.to == "+31612345678" and update.reference == "ref-1" and update.error_code == ""
    assert update.occurred_at == dt.datetime(2024, 1, 2, 2, 4, 9, tzinfo=dt.UTC)
    assert update.event_id == f"{DLR['ID']}:+31612345678:10"


def test_failed_dlr_carries_the_reason(hooks):
    (update,) = hooks.parse_webhook({}, urlencode({**DLR, "STATUS": "20", "REASONCODE": "31"}).encode())
    assert (
        update.status == MessageStatus.FAILED and update.error_code == "31" and "STOP" in update.error_message
    )


def test_callbacks_without_the_right_token_are_refused(hooks):
    with pytest.raises(WebhookRejected):
        hooks.verify_webhook({}, urlencode(DLR).encode(), SECRET)
    with pytest.raises(WebhookRejected):
        hooks.verify_webhook({}, urlencode({**DLR, "token": "guess"}).encode(), SECRET)
    with pytest.raises(WebhookRejected, match="No webhook secret"):
        hooks.verify_webhook({}, urlencode({**DLR, "token": ""}).encode(), "")
    hooks.verify_webhook({"X-Webhook-Token": SECRET}, urlencode(DLR).encode(), SECRET)


def test_inbound_sms_parses(hooks):
    body = urlencode(
        {"MSISDN": "31612345678", "SHORTCODE": "3010", "KEYWORD": "STOP", "PARM": "all messages",
         "OPERATOR": "20408", "TIMESTAMP": "20240102030405", "COUNTRY": "NL", "REFERENCE": ""}
    ).encode()  # fmt: skip
    (inbound,) = hooks.parse_webhook({}, body)
    assert (
        inbound.from_phone == "+31612345678" and inbound.text == "STOP all messages" and inbound.to == "3010"
    )
    assert inbound.received_at is not None and hooks.parse_webhook({}, b"foo=bar") == []


def test_connection_service_records_health_and_credit(db, server):
    from messaging.services import test_connection

    account = make_account(server)
    result = test_connection(account)
    account.refresh_from_db()
    assert result.ok and account.balance_text == "150.50 credits" and account.consecutive_failures == 0
    bad = make_account(server, api_key="nope")
    result = test_connection(bad)
    bad.refresh_from_db()
    assert not result.ok and "Unauthenticated." in result.detail and bad.consecutive_failures == 1
    from messaging.models import HttpLog

    rows = list(HttpLog.objects.filter(account=account).values())
    assert rows and rows[0]["correlation"] == f"check:{account.pk}"
    assert not any("test-key" in str(row) for row in HttpLog.objects.values())  # secrets never logged


def test_whatsapp_numbers_and_media_upload(provider, fake):
    (number,) = provider.iter_whatsapp_numbers()
    assert number["id"] == PHONE_ID
    media_id = provider.upload_whatsapp_media(b"\x89PNG", "logo.png", "image/png")
    assert media_id in fake.media
    assert fake.requests_to("POST", "/media$")[-1].header("content-type").startswith("multipart/form-data")


def _fake_serves(fake, method: str, path: str) -> bool:
    sample = re.sub(r"\{\{\w+\}\}|<\w+>|:\w+", "x1", path)
    return any(m == method and regex.match(sample) for m, regex, _ in fake._routes)


def test_the_fake_serves_every_documented_route(fake):
    index = json.loads((FIXTURES / "index.json").read_text())
    missing = [(e["method"], e["path"]) for e in index if not _fake_serves(fake, e["method"], e["path"])]
    assert missing == []

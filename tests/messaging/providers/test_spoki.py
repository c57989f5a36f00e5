"""The Spoki client: the vendor's own examples, every hook against the fake, faults, webhooks."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from messaging.models import HttpLog, ProviderAccount
from messaging.providers.base import (
    CampaignStatus,
    DeliveryUpdate,
    InboundMessage,
    MessageStatus,
    OutboundMessage,
    RemoteCampaign,
    RemoteContact,
    RemoteCustomField,
    RemoteList,
    RemoteTemplate,
    TemplateStatus,
)
from messaging.providers.errors import (
    AuthError,
    NotFound,
    NotSupported,
    RateLimited,
    Rejected,
    Unavailable,
    WebhookRejected,
)
from messaging.providers.http import transit_margin
from messaging.providers.spoki import SpokiProvider
from messaging.providers.spoki.mapping import (
    campaign_from_api,
    campaign_stats_from_api,
    contact_from_api,
    credit_amount,
    custom_field_from_api,
    delivery_from_message,
    events_from_webhook,
    list_from_api,
    money_thousandths,
    templates_from_api,
)
from messaging.providers.spoki.provider import error_text, unpage
from tests.fakes.spoki import SpokiFake

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "spoki"
KEY = "test-key"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def example(name: str, index: int = 0):
    return fixture(name)["examples"][index]["body"]


def described(name: str) -> list:
    """JSON examples from a request's description (scripts/extract_spoki_description_examples.py)."""
    return json.loads((FIXTURES / "descriptions" / name).read_text(encoding="utf-8"))["blocks"]


def webhook_example(name: str) -> dict:
    """The webhook bodies are saved as the request body of a 'VIEW' item."""
    return fixture(name)["request_body"]


# --- (a) contract: the vendor's saved examples parse -------------------------------------------------


def test_contact_examples_parse_into_contacts():
    listing, next_query, count = unpage(example("contacts_list_search_and_filter_contacts.json"))
    assert (next_query, count) == (None, 1)
    contact = contact_from_api(listing[0])
    assert contact.remote_id == "1091234"
    assert contact.phone == "+39333123456789"
    assert (contact.first_name, contact.last_name, contact.email) == (
        "Mario",
        "Rossi",
        "mario.rossi@domain.com",
    )
    assert contact.custom_fields == {"WEBSITE": "https://mywebsite.com"}
    assert contact.tags == ["To Reply"]
    assert contact.list_ids == ["1234"]
    assert contact.created_at == dt.datetime(2021, 4, 19, 14, 24, 2, 567450, tzinfo=dt.UTC)
    assert contact.raw["chat_link"].startswith("https://spoki.app/chats/")

    detail = contact_from_api(example("contacts_retrieve_contact.json"))
    assert detail.list_ids == ["1809"] and detail.phone == "+393337981329"
    short = contact_from_api(example("contacts_create_or_update_contact.json"))
    assert short.remote_id == "1091234" and short.custom_fields == {}
    patched = contact_from_api(example("contacts_update_contact.json"))
    assert patched.custom_fields == {"WEBSITE": "https://mywebsite.com"} and patched.tags == []
    bulk = example("contacts_sync_contacts.json")
    assert bulk["errors"] == [] and contact_from_api(bulk["contacts"][0]).remote_id == "1091234"


def test_contact_custom_fields_by_id_and_by_code_are_both_read():
    # The sync_all request example writes custom fields by id; V1 webhooks carry `code`.
    by_id = contact_from_api(
        {"id": 1, "phone": "39333", "contactfield_set": [{"field": 14, "value": "Milano"}]}
    )
    assert by_id.custom_fields == {"14": "Milano"}
    hook = webhook_example("webhooks_webhooks_body_content_message_sent.json")["data"]["contact"]
    assert contact_from_api(hook).custom_fields == {"ACCOUNT_NAME": "MyShop"}


def test_account_examples_give_the_credit_in_euros():
    accounts, _, _ = unpage(example("accounts_list_search_and_filter_accounts.json"))
    assert accounts[0]["name"] == "MyShop"
    assert money_thousandths(accounts[0]["current_credit"]) == Decimal("8556.30")
    detail = example("accounts_retrieve_account.json")
    assert detail["channels"][0]["platform"] == "WhatsApp"  # the 7-field example shape
    assert credit_amount(detail["current_credit"]) == Decimal("8556.30")
    # The description's example gives the credit as a float in euros.
    (described_account,) = described("accounts_retrieve_account.json")
    assert credit_amount(described_account["current_credit"]) == Decimal("100.00")
    assert described_account["channels"][0]["id"] == 17  # the 10-field documented shape


def test_template_examples_in_all_three_shapes():
    listing, _, count = unpage(example("templates_list_search_and_filter_templates.json"))
    assert count == 3
    records = [r for row in listing for r in templates_from_api(row)]
    promo = records[0]
    assert (promo.remote_id, promo.name, promo.language) == ("260", "promo_costumi", "it")
    assert promo.status == TemplateStatus.APPROVED and promo.category == "ACCOUNT_UPDATE"
    assert promo.buttons == [{"type": "quick_reply", "text": "Guarda il Catalogo", "order": 0}]
    assert promo.body.startswith("Ciao, abbiamo")
    tracking = [r for r in records if r.name == "ordine_tracking_official_sf"]
    statuses = {r.language: r.status for r in tracking}
    assert (statuses["en"], statuses["es"], statuses["pt_PT"]) == ("approved", "pending", "pending")
    assert "WOO_ORDER_ID" in tracking[0].variables

    for name in (
        "templates_create_template.json",
        "templates_update_template.json",
        "templates_clone_template.json",
    ):
        (created,) = templates_from_api(example(name))
        assert created.status == TemplateStatus.DRAFT
        assert created.header == {"type": "text", "text": "Black Friday Special Offer!"}
        assert created.footer == "MyCompany" and created.variables == ["FIRST_NAME"]
        assert [b["type"] for b in created.buttons] == ["url", "unsubscribe"]
        assert created.buttons[0]["url"].startswith("https://myshop.com/")
    (retrieved,) = templates_from_api(example("templates_retrieve_template.json"))
    assert retrieved.remote_id == "260"

    # Shape 1, only in the create and list descriptions: Meta-style components.
    request, response = described("templates_create_template.json")
    (meta,) = templates_from_api(response)
    assert (meta.remote_id, meta.status, meta.language) == ("101", "pending", "it")
    assert meta.body == request["components"][0]["text"]
    (listed,) = [t for row in unpage(described("templates_list_search_and_filter_templates.json")[0])[0]
                 for t in templates_from_api(row)]  # fmt: skip
    assert listed.status == TemplateStatus.APPROVED
    (numbered,) = templates_from_api({**response, "components": [{"type": "BODY", "text": "Ciao {{1}}"}]})
    assert numbered.variables == ["1"]
    # Requests use integers; responses names: both read.
    (coded,) = templates_from_api(
        {"id": 1, "name": "x", "templatelocalization_set": [{"language": "en", "status": 4}]}
    )
    assert coded.status == TemplateStatus.REJECTED


def test_campaign_examples_with_string_and_integer_statuses():
    listing, _, _ = unpage(example("campaigns_list_search_and_filter_campaigns.json"))
    campaign = campaign_from_api(listing[0])
    assert (campaign.remote_id, campaign.status, campaign.list_ids) == (
        "35122",
        CampaignStatus.SCHEDULED,
        ["4238"],
    )
    assert campaign.scheduled_at.utcoffset() == dt.timedelta(hours=2)
    finished = campaign_from_api(example("campaigns_retrieve_campaign.json"))
    assert finished.status == CampaignStatus.COMPLETED  # the integer 4
    stats = campaign_stats_from_api(example("campaigns_retrieve_campaign.json"))
    assert (stats.recipients, stats.replied, stats.clicked) == (3, 3, 2)
    short = campaign_from_api(example("campaigns_create_campaign.json"))
    assert short.list_ids == ["48"] and short.raw["automation"] == 2524
    assert campaign_from_api(example("campaigns_update_campaign.json")).name == "MyCampaign Updated"


def test_automation_and_custom_field_examples():
    automations, _, count = unpage(example("automations_list_search_and_filter_automations.json"))
    assert count == 7 and automations[0]["webhook_set"][0]["secret"] == "2dced9e911c247dcbeca6bbbaa26e0a4"
    used = example("automations_custom_fields_used.json")
    field = custom_field_from_api(used["custom_fields"][0])
    assert (field.key, field.label, field.type) == (
        "DATA_E_ORA_APPUNTAMENTO",
        "Data e ora appuntamento",
        "date",
    )
    assert custom_field_from_api(
        {"id": 3, "label": "Qty", "code": "QTY", "field_type": 3, "example": "4"}
    ).type == ("number")
    nested = contact_from_api(example("contacts_retrieve_contact.json"))
    assert list_from_api({"id": 1809, **nested.raw["list_set"][0]}).member_count == 3


def test_messages_listing_from_the_description_parses_to_delivery_updates():
    (body,) = described("messages_list_search_and_filter_messages.json")
    rows, next_query, _ = unpage(body)
    assert next_query == {"page": "2"}  # the foreign host is dropped, only the query is kept
    update = delivery_from_message(rows[0])
    assert (update.remote_message_id, update.status, update.to) == ("98001", "delivered", "+391234567890")
    assert update.occurred_at == dt.datetime(2025, 5, 10, 8, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in FIXTURES.glob("webhooks_webhooks_body_content_message_received_*.json")),
)
def test_inbound_message_webhook_examples(name):
    (event,) = events_from_webhook(webhook_example(name))
    assert isinstance(event, InboundMessage)
    assert event.remote_id == "b78213e075564866807dbd1780eaa09d"
    assert event.text == "Thanks"
    assert event.received_at == dt.datetime.fromtimestamp(1683889161.466, tz=dt.UTC)
    if "text_received" not in name:
        # The second media link (real MIME type) is the one to download.
        assert event.media_url.startswith("https://app.spoki.it/md/")


def test_outbound_webhook_example_is_a_delivery_update_and_other_events_are_ignored():
    (update,) = events_from_webhook(webhook_example("webhooks_webhooks_body_content_message_sent.json"))
    assert isinstance(update, DeliveryUpdate)
    assert (update.remote_message_id, update.status) == (
        "8992ce1214744cbfbc0bc1dbf79b3a7e",
        MessageStatus.DELIVERED,
    )
    assert update.occurred_at is not None
    for name in ("contact_created", "template_updated", "campaign_status_changed", "note_added"):
        assert events_from_webhook(webhook_example(f"webhooks_webhooks_body_content_{name}.json")) == []


@pytest.mark.parametrize(
    "name", sorted(p.name for p in (FIXTURES / "descriptions").glob("webhooks_webhooks_body_content_*.json"))
)
def test_v2_webhook_examples_from_the_descriptions_are_read_and_signed_ones_accepted(name):
    envelopes = [b for b in described(name) if isinstance(b, dict) and b.get("version") == 2]
    assert envelopes
    for envelope in envelopes:
        # Contact, tag, list, field and form events are reconciled by sync pulls, not turned into messages.
        assert events_from_webhook(envelope) == []
        headers, body = SpokiFake.signed(envelope, "whsec_example")
        SpokiProvider().verify_webhook(headers, body, "whsec_example")


def test_every_documented_error_body_reads_as_a_sentence():
    assert error_text(400, {"platform": ["This field is required."]}) == "platform: This field is required."
    problem = {"type": "https://app.spoki.it/errors/spoki::3004", "title": "The request body is not correct",
               "code": "spoki::3004", "status": 400, "datail": "Invalid automation_id specified."}  # fmt: skip
    assert error_text(400, problem) == "Invalid automation_id specified. [spoki::3004]"
    assert (
        error_text(404, {"code": "spoki::404", "detail": "Channel not found"})
        == "Channel not found [spoki::404]"
    )
    nested = {"error_code": "INVALID_REQUEST_BODY",
              "detail": {"template": ["Template with id 999 does not belong to your account."]}}  # fmt: skip
    assert "template: Template with id 999" in error_text(400, nested)
    submit = {"code": "PREREQUISITE_NOT_MET", "message": "Prerequisites not met",
              "detail": "WhatsApp API Provider is not set for the account"}  # fmt: skip
    assert error_text(400, submit).startswith("Prerequisites not met: WhatsApp API Provider")
    assert error_text(400, {"error": "Template name already exists"}) == "Template name already exists"


def _ids(records) -> list[str]:
    return [r.remote_id for r in records]


def _credit(account: dict) -> list[str]:
    return [str(money_thousandths(account["current_credit"]))]


# Every (method, path) the client calls, with how its saved examples are read. `None`: the client
# ignores the body (204s, {}), so any example will do.
CLIENT_ROUTES = {
    ("GET", "/api/1/accounts/"): lambda b: [c for row in unpage(b)[0] for c in _credit(row)],
    ("GET", "/api/1/accounts/{{id}}/"): _credit,
    ("GET", "/api/1/accounts/phone/{{phone}}/"): _credit,
    ("GET", "/api/1/accounts/{{id}}/current_report/"): lambda b: [b["period_start"]],
    ("GET", "/api/1/reports/"): lambda b: [row["period_start"] for row in unpage(b)[0]],
    ("GET", "/api/1/contacts/"): lambda b: _ids(contact_from_api(r) for r in unpage(b)[0]),
    ("GET", "/api/1/contacts/{{id}}/"): lambda b: _ids([contact_from_api(b)]),
    ("POST", "/api/1/contacts/sync/"): lambda b: _ids([contact_from_api(b)]),
    ("POST", "/api/1/contacts/sync_all/"): lambda b: _ids(contact_from_api(r) for r in b["contacts"]),
    ("PATCH", "/api/1/contacts/{{id}}/"): lambda b: _ids([contact_from_api(b)]),
    ("DELETE", "/api/1/contacts/{{id}}/"): None,
    ("POST", "/api/1/contacts/{{id}}/add_operator/"): None,
    ("POST", "/api/1/contacts/{{id}}/remove_operator/"): None,
    ("GET", "/api/1/custom-fields/"): lambda b: _ids(custom_field_from_api(r) for r in unpage(b)[0]),
    ("GET", "/api/1/custom-fields/{{id}}/"): lambda b: _ids([custom_field_from_api(b)]),
    ("POST", "/api/1/custom-fields/"): lambda b: _ids([custom_field_from_api(b)]),
    ("PATCH", "/api/1/custom-fields/{{id}}/"): lambda b: _ids([custom_field_from_api(b)]),
    ("DELETE", "/api/1/custom-fields/{{id}}/"): None,
    ("GET", "/api/1/lists/"): lambda b: _ids(list_from_api(r) for r in unpage(b)[0]),
    ("GET", "/api/1/lists/{{id}}/"): lambda b: _ids([list_from_api(b)]),
    ("POST", "/api/1/lists/"): lambda b: _ids([list_from_api(b)]),
    ("DELETE", "/api/1/lists/{{id}}/"): None,
    ("POST", "/api/1/lists/{{id}}/sync_contacts/"): None,
    ("POST", "/api/1/lists/{{id}}/remove_contacts/"): None,
    ("POST", "/api/1/lists/{{id}}/remove_all_contacts/"): None,
    ("GET", "/api/1/templates/"): lambda b: _ids(t for r in unpage(b)[0] for t in templates_from_api(r)),
    ("GET", "/api/1/templates/{{id}}/"): lambda b: _ids(templates_from_api(b)),
    ("POST", "/api/1/templates/"): lambda b: _ids(templates_from_api(b)),
    ("PATCH", "/api/1/templates/{{id}}/"): lambda b: _ids(templates_from_api(b)),
    ("GET", "/api/1/templates/{{id}}/clone/"): lambda b: _ids(templates_from_api(b)),
    ("POST", "/api/1/templates/{{id}}/submit/"): None,
    ("POST", "/api/1/templates/{{id}}/back_to_draft/"): lambda b: [b["status"]],
    ("DELETE", "/api/1/templates/{{id}}/"): None,
    ("GET", "/api/1/campaigns/"): lambda b: _ids(campaign_from_api(r) for r in unpage(b)[0]),
    ("GET", "/api/1/campaigns/{{id}}/"): lambda b: _ids([campaign_from_api(b)]),
    ("POST", "/api/1/campaigns/"): lambda b: _ids([campaign_from_api(b)]),
    ("PATCH", "/api/1/campaigns/{{id}}/"): lambda b: _ids([campaign_from_api(b)]),
    ("DELETE", "/api/1/campaigns/{{id}}/"): None,
    ("GET", "/api/1/automations/"): lambda b: [h["uuid"] for r in unpage(b)[0] for h in r["webhook_set"]],
    ("GET", "/api/1/automations/{{id}}/"): lambda b: [h["secret"] for h in b["webhook_set"]],
    ("POST", "/api/1/automations/"): lambda b: [b["id"]],
    ("GET", "/api/1/automations/{{id}}/custom-fields-used/"): lambda b: _ids(
        custom_field_from_api(f) for f in b["custom_fields"]
    ),
    ("POST", "/wh/ap/{{uuid}}/"): None,
    ("POST", "/wh/ap/{{uuid}}/bulk/"): None,
    ("POST", "/api/1/messages/send/"): None,
    ("GET", "/api/1/messages/"): lambda b: [
        u.remote_message_id for u in map(delivery_from_message, unpage(b)[0])
    ],
    ("GET", "/api/1/tags/"): lambda b: [r["name"] for r in unpage(b)[0]],
    ("GET", "/api/1/media/"): lambda b: [r["id"] for r in unpage(b)[0]],
    ("POST", "/api/1/media/"): lambda b: [b["id"]],
    ("DELETE", "/api/1/media/{{id}}/"): None,
    ("GET", "/api/1/channel/"): lambda b: [r["id"] for r in unpage(b)[0]],
    ("GET", "/api/1/channel/{{id_channel}}/"): lambda b: [b["id"]],
    ("GET", "/api/1/external-webhooks/"): lambda b: [r["secret"] for r in unpage(b)[0]],
    ("POST", "/api/1/external-webhooks/"): lambda b: [b["secret"]],
}
INDEX = json.loads((FIXTURES / "index.json").read_text(encoding="utf-8"))


def test_every_route_the_client_uses_is_documented_and_served_by_the_fake():
    documented = {(entry["method"], entry["path"]) for entry in INDEX}
    assert set(CLIENT_ROUTES) <= documented, set(CLIENT_ROUTES) - documented
    fake = SpokiFake()
    for method, path in CLIENT_ROUTES:
        concrete = re.sub(r"\{\{[^}]+\}\}", "1", path)
        assert any(m == method and regex.match(concrete) for m, regex, _ in fake._routes), (method, path)


@pytest.mark.parametrize(
    "entry",
    [e for e in INDEX if (e["method"], e["path"]) in CLIENT_ROUTES and e["examples"]],
    ids=lambda e: e["file"].removesuffix(".json"),
)
def test_every_saved_example_of_a_route_the_client_uses_parses(entry):
    parse = CLIENT_ROUTES[(entry["method"], entry["path"])]
    for saved in fixture(entry["file"])["examples"]:
        if saved["code"] >= 300 or parse is None:
            continue
        keys = parse(saved["body"])
        assert keys and all(keys), (entry["file"], saved["name"])


DOCUMENTED_ERRORS = [
    body
    for path in sorted((FIXTURES / "descriptions").glob("*.json"))
    for body in described(path.name)
    if isinstance(body, dict) and any(k in body for k in ("datail", "detail", "error", "error_code"))
]


@pytest.mark.parametrize("body", DOCUMENTED_ERRORS, ids=lambda b: json.dumps(b)[:60])
def test_every_error_body_in_the_descriptions_reads_as_a_sentence(body):
    sentence = error_text(400, body)
    detail = body.get("datail", body.get("detail"))
    if isinstance(detail, str):
        assert detail in sentence
    else:  # nested field errors name the field and keep the message
        assert (
            "This field is required." in sentence
            or "belong to your account" in sentence
            or "step_type" in sentence
        )
    if str(body.get("code", "")).startswith("spoki::"):
        assert sentence.endswith(f"[{body['code']}]")


# --- (b) every hook against the fake over real HTTP ---------------------------------------------------


@pytest.fixture
def spoki(db, serve_fake):
    server = serve_fake(SpokiFake(api_key=KEY))
    return connect(server)


def connect(server, key=KEY, settings=None, name="Spoki test"):
    account = ProviderAccount.objects.create(
        provider="spoki",
        name=name,
        base_url=server.url,
        credentials={"api_key": key},
        settings=settings or {},
    )
    provider = account.get_provider()
    sleeps: list[float] = []
    provider.http.sleep = sleeps.append  # retries and rate limits never really wait in tests
    return SimpleNamespace(fake=server.fake, provider=provider, sleeps=sleeps, server=server, account=account)


def test_registry_and_capabilities():
    assert ProviderAccount(provider="spoki").provider_class is SpokiProvider
    caps = SpokiProvider.capabilities
    assert caps.supports("contacts", "bulk") and caps.supports("lists", "membership")
    assert caps.can_send("whatsapp") and not caps.can_send("sms")
    assert caps.webhooks and caps.balance
    assert SpokiProvider.bulk_limit == 500
    assert all(f.secret for f in SpokiProvider.credential_fields)
    assert "tags" not in SpokiProvider.contact_fields  # read-only over the API
    assert "blocked" not in SpokiProvider.contact_fields  # writable, but never returned by REST


def test_check_connection_reports_the_account_and_credit(spoki):
    info = spoki.provider.check_connection()
    assert info.ok and info.detail == "Connected to MyShop — credit €150.50"
    assert info.balance == Decimal("150.50") and info.currency == "EUR" and info.subscription == "Standard"
    assert spoki.fake.journal[-1].headers["x-spoki-api-key"] == KEY
    assert spoki.provider.get_balance().balance == Decimal("150.50")


def test_contacts_page_across_several_pages_and_resume_from_a_cursor(spoki):
    spoki.fake.MAX_PAGE_SIZE = 20
    ids = spoki.fake.seed_contacts(45)
    pages = list(spoki.provider.iter_contact_pages())
    assert [len(p.items) for p in pages] == [20, 20, 5]
    assert [c.remote_id for p in pages for c in p.items] == [str(i) for i in ids]
    assert pages[-1].cursor is None
    assert len(spoki.fake.requests_to("GET", r"/api/1/contacts/$")) == 3
    resumed = list(spoki.provider.iter_contact_pages(pages[0].cursor))
    assert [c.remote_id for p in resumed for c in p.items] == [str(i) for i in ids[20:]]
    assert spoki.fake.journal[-1].query["page"] == ["3"]
    # A cursor saved as a bare query string or page number resumes too.
    assert len([c for p in spoki.provider.iter_contact_pages("page=3") for c in p.items]) == 5
    assert len([c for p in spoki.provider.iter_contact_pages("2") for c in p.items]) == 25


def test_contact_create_get_update_block_and_delete(spoki):
    spoki.fake.seed_custom_field("WEBSITE")
    created = spoki.provider.create_contact(
        RemoteContact(phone="+393331112222", first_name="Anna", email="anna@example.com",
                      custom_fields={"WEBSITE": "https://anna.it"})
    )  # fmt: skip
    stored = spoki.fake.contacts[int(created.remote_id)]
    assert stored["first_name"] == "Anna" and stored["contactfield_set"][0]["value"] == "https://anna.it"
    again = spoki.provider.create_contact(RemoteContact(phone="+393331112222", first_name="Anna"))
    assert again.remote_id == created.remote_id and len(spoki.fake.contacts) == 1  # upsert by phone

    fetched = spoki.provider.get_contact(created.remote_id)
    assert fetched.custom_fields == {"WEBSITE": "https://anna.it"} and fetched.email == "anna@example.com"
    fetched.last_name = "Bianchi"
    fetched.blocked = True
    updated = spoki.provider.update_contact(fetched)
    assert updated.last_name == "Bianchi" and stored["is_blocked"] is True
    spoki.provider.set_contact_blocked(created.remote_id, False)
    assert stored["is_blocked"] is False
    assert spoki.provider.find_contact_by_phone("393331112222").remote_id == created.remote_id
    spoki.provider.add_contact_operator(created.remote_id, "op@example.com")
    assert stored["_operators"] == {"op@example.com"}
    spoki.provider.remove_contact_operator(created.remote_id, "op@example.com")
    with pytest.raises(Rejected, match="No operator found with this email"):
        spoki.provider.remove_contact_operator(created.remote_id, "op@example.com")

    spoki.provider.delete_contacts([created.remote_id, "999"])  # an already-gone id is fine
    assert spoki.fake.contacts == {}
    with pytest.raises(NotFound):
        spoki.provider.get_contact(created.remote_id)


def test_bulk_upsert_returns_remote_ids_and_respects_the_one_per_minute_bucket(spoki):
    batch = [RemoteContact(phone=f"+39333000{i:04d}", first_name=f"N{i}") for i in range(3)]
    result = spoki.provider.upsert_contacts(batch)
    assert [r.phone for r in result] == [c.phone for c in batch]
    assert all(r.remote_id and int(r.remote_id) in spoki.fake.contacts for r in result)
    assert spoki.sleeps == []
    spoki.provider.upsert_contacts(batch)  # a second call inside the minute waits for its token
    assert len(spoki.fake.contacts) == 3
    assert spoki.sleeps and 55 < spoki.sleeps[0] <= 60 + transit_margin(60)
    with pytest.raises(Rejected, match="at most 500"):
        spoki.provider.upsert_contacts([RemoteContact(phone=f"+39{i:09d}") for i in range(501)])
    assert len(spoki.fake.requests_to("POST", "sync_all")) == 2


def test_custom_fields_crud_and_the_in_use_refusal(spoki):
    created = spoki.provider.create_custom_field(
        RemoteCustomField(key="order id", label="Order id", type="number")
    )
    assert created.key == "ORDER_ID" and spoki.fake.custom_fields[int(created.remote_id)]["field_type"] == 3
    assert [f.key for f in spoki.provider.iter_custom_fields()] == ["ORDER_ID"]
    created.label = "Order number"
    assert spoki.provider.update_custom_field(created).label == "Order number"
    spoki.provider.delete_custom_field(created.remote_id)
    assert spoki.fake.custom_fields == {}
    used = spoki.fake.seed_custom_field("CITY", used=True)
    with pytest.raises(Rejected, match="present in one or more automations"):
        spoki.provider.delete_custom_field(str(used))


def test_lists_and_membership(spoki):
    spoki.fake.MAX_PAGE_SIZE = 2
    spoki.fake.seed_lists("A", "B", "C")
    created = spoki.provider.create_list(RemoteList(name="Newsletter"))
    assert [lst.name for lst in spoki.provider.iter_lists()] == ["A", "B", "C", "Newsletter"]
    ids = spoki.fake.seed_contacts(5)
    spoki.provider.add_list_members(created.remote_id, [str(i) for i in ids[:3]])
    assert spoki.fake.memberships[int(created.remote_id)] == set(ids[:3])
    assert spoki.provider.get_list(created.remote_id).member_count == 3
    assert sorted(spoki.provider.iter_list_members(created.remote_id)) == sorted(str(i) for i in ids[:3])
    spoki.provider.remove_list_members(created.remote_id, [str(ids[0])])
    assert spoki.fake.memberships[int(created.remote_id)] == set(ids[1:3])
    spoki.provider.remove_all_list_members(created.remote_id)
    assert spoki.fake.memberships[int(created.remote_id)] == set()
    with pytest.raises(NotSupported):
        spoki.provider.update_list(created)
    spoki.provider.delete_list(created.remote_id)
    assert int(created.remote_id) not in spoki.fake.lists and len(spoki.fake.contacts) == 5


def test_one_contact_scan_answers_membership_for_every_list(spoki):
    spoki.fake.MAX_PAGE_SIZE = 10
    first, second, empty = spoki.fake.seed_lists("First", "Second", "Empty")
    in_first = spoki.fake.seed_contacts(12, list_id=first)
    in_second = spoki.fake.seed_contacts(3, list_id=second, prefix="+39334")
    spoki.fake.memberships[second].add(in_first[0])
    assert sorted(spoki.provider.iter_list_members(str(first))) == sorted(map(str, in_first))
    scans = len(spoki.fake.requests_to("GET", r"/api/1/contacts/$"))
    assert scans == 2
    assert sorted(spoki.provider.iter_list_members(str(second))) == sorted(
        map(str, [in_first[0], *in_second])
    )
    assert list(spoki.provider.iter_list_members(str(empty))) == []
    assert len(spoki.fake.requests_to("GET", r"/api/1/contacts/$")) == scans  # served from the index
    spoki.provider.remove_list_members(str(second), [str(in_first[0])])
    spoki.provider.delete_contacts([str(in_second[0])])
    assert sorted(spoki.provider.iter_list_members(str(second))) == sorted(map(str, in_second[1:]))
    assert spoki.fake.memberships[second] == set(in_second[1:])


def test_template_lifecycle(spoki):
    draft = spoki.provider.create_template(RemoteTemplate(
        name="black_friday", language="en", category="marketing", header={"type": "text", "text": "Sale!"},
        body="Hi %%FIRST_NAME%%, 50% off", footer="MyShop",
        buttons=[{"type": "url", "text": "Shop", "url": "https://shop.example"}],
    ))  # fmt: skip
    assert draft.status == TemplateStatus.DRAFT and draft.variables == ["FIRST_NAME"]
    stored = spoki.fake.templates[int(draft.remote_id)]
    assert stored["category"] == "MARKETING" and stored["customfield_set"] == ["%%FIRST_NAME%%"]
    with pytest.raises(Rejected, match="Template name already exists"):
        spoki.provider.create_template(RemoteTemplate(name="black_friday", body="x"))

    spoki.provider.submit_template(draft.remote_id)
    assert spoki.provider.get_template(draft.remote_id).status == TemplateStatus.PENDING
    spoki.fake.approve(int(draft.remote_id))
    approved = spoki.provider.get_template(f"{draft.remote_id}:en")
    assert approved.status == TemplateStatus.APPROVED and approved.buttons[0]["url"] == "https://shop.example"

    approved.body = "Hi %%FIRST_NAME%%, 60% off"
    edited = spoki.provider.update_template(approved)
    assert edited.body.endswith("60% off") and edited.status == TemplateStatus.DRAFT
    assert len(stored["templatelocalization_set"]) == 1  # the same localization edited in place

    clone = spoki.provider.clone_template(draft.remote_id)
    assert clone.name == "black_friday_1" and clone.remote_id != draft.remote_id
    assert spoki.provider.template_back_to_draft(draft.remote_id) == {"status": "ok"}
    assert {t.name for t in spoki.provider.iter_templates()} == {"black_friday", "black_friday_1"}

    stored["_used"] = True
    with pytest.raises(Rejected, match="used in one or more automations"):
        spoki.provider.delete_template(draft.remote_id)
    spoki.provider.delete_template(draft.remote_id, force=True)
    assert int(draft.remote_id) not in spoki.fake.templates


def test_campaigns_create_update_stats_and_delete(spoki):
    template = spoki.fake.seed_template("promo")
    (list_id,) = spoki.fake.seed_lists("VIP")
    when = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    created = spoki.provider.create_campaign(RemoteCampaign(
        name="Spring", status="scheduled", template_id=str(template), list_ids=[str(list_id)], scheduled_at=when,
    ))  # fmt: skip
    assert created.status == CampaignStatus.SCHEDULED and created.list_ids == [str(list_id)]
    assert spoki.fake.campaigns[int(created.remote_id)]["automation"] in spoki.fake.automations

    created.name = "Spring sale"
    created.template_id = ""
    assert spoki.provider.update_campaign(created).name == "Spring sale"
    fetched = spoki.provider.get_campaign(created.remote_id)
    assert fetched.name == "Spring sale" and fetched.list_ids == [str(list_id)]
    assert [c.remote_id for c in spoki.provider.iter_campaigns()] == [created.remote_id]

    spoki.fake.campaigns[int(created.remote_id)].update(contacts_count=10, messages_sent=9, messages_read=7,
                                                        messages_failed=1, messages_received=2)  # fmt: skip
    stats = spoki.provider.get_campaign_stats(created.remote_id)
    assert (stats.recipients, stats.sent, stats.read, stats.failed, stats.replied) == (10, 9, 7, 1, 2)

    with pytest.raises(Rejected, match="not after now"):
        spoki.provider.create_campaign(RemoteCampaign(
            name="Past", status="scheduled", template_id=str(template),
            scheduled_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
        ))  # fmt: skip
    spoki.fake.campaigns[int(created.remote_id)]["status"] = "Processing"
    with pytest.raises(Rejected, match="while it's processing"):
        spoki.provider.delete_campaign(created.remote_id)
    spoki.fake.campaigns[int(created.remote_id)]["status"] = "Completed"
    spoki.provider.delete_campaign(created.remote_id)
    assert spoki.fake.campaigns == {}


def test_automations_list_create_and_start_without_the_api_key(spoki):
    automation = spoki.fake.seed_automation("Welcome")
    assert [a["name"] for a in spoki.provider.iter_automations()] == ["Welcome"]
    made = spoki.provider.create_automation({"name": "Follow-up", "is_active": True})
    assert made["id"] in spoki.fake.automations
    assert "raw_codes" in spoki.provider.automation_custom_fields_used(str(automation["id"]))

    spoki.provider.start_automation(
        str(automation["id"]), RemoteContact(phone="+393330000001", first_name="Gio"), {"order": 7}
    )
    trigger = spoki.fake.requests_to("POST", r"^/wh/ap/")[-1]
    assert "x-spoki-api-key" not in trigger.headers  # the per-automation secret authenticates
    assert spoki.fake.automation_runs[-1]["metadata"] == {"order": 7}
    # Every exchange is logged for staff, with the trigger secret redacted.
    logged = HttpLog.objects.filter(account=spoki.account, path__startswith="/wh/ap/").get()
    assert logged.status == 200 and automation["webhook_set"][0]["secret"] not in logged.request_body
    assert '"secret": "***"' in logged.request_body
    assert not HttpLog.objects.filter(response_body__contains=KEY).exists()
    contacts = [RemoteContact(phone=f"+39333000{i:04d}") for i in range(2, 5)]
    spoki.provider.start_automation_bulk(automation, contacts)
    assert len(spoki.fake.automation_runs) == 4 and len(spoki.fake.contacts) == 4


def test_sends_text_buttons_list_and_template(spoki):
    text = spoki.provider.send(
        OutboundMessage(to="393330000001", channel="whatsapp", text="Ciao", reference="m-1")
    )
    assert (
        text.accepted
        and text.status == MessageStatus.QUEUED
        and text.remote_id == spoki.fake.messages[0]["uuid"]
    )
    sent = spoki.fake.messages[0]["request"]
    assert sent == {"type": "Message", "content_type": "Text", "phone": "+393330000001", "text": "Ciao",
                    "metadata": {"reference": "m-1"}}  # fmt: skip

    spoki.provider.send(OutboundMessage(
        to="+393330000001", channel="whatsapp", text="Pick",
        buttons=[{"text": "Yes", "payload": "y"}, {"text": "No", "payload": "n"}],
    ))  # fmt: skip
    assert spoki.fake.messages[1]["request"]["content_type"] == "Interactive"
    assert spoki.fake.messages[1]["request"]["buttons"][1] == {
        "button_type": "quick_reply", "text": "No", "order": 1, "payload": "n",
    }  # fmt: skip
    spoki.provider.send(OutboundMessage(
        to="+393330000001", channel="whatsapp", text="Menu",
        buttons=[{"title": "Menu", "sections": [{"title": "Vegan", "rows": [{"title": "Bowl", "payload": "b"}]}]}],
    ))  # fmt: skip
    assert spoki.fake.messages[2]["request"]["list"]["sections"][0]["rows"][0]["payload"] == "b"

    template = spoki.fake.seed_template("appointment", "Ciao %%FIRST_NAME%%, alle %%TIME%%")
    spoki.provider.send(OutboundMessage(
        to="+393330000001", channel="whatsapp", template_name="appointment", template_language="it",
        variables=["Anna", "10:00"], media_url="https://cdn.example/x.png",
    ))  # fmt: skip
    request = spoki.fake.messages[3]["request"]
    assert request["template"] == template and request["language"] == "it"
    assert request["custom_fields"] == {"FIRST_NAME": "Anna", "TIME": "10:00"}
    assert request["header_media"] == {"url": "https://cdn.example/x.png", "filename": "x.png"}
    spoki.provider.add_note("+393330000001", "called back")
    assert spoki.fake.messages[4]["request"]["type"] == "Note"
    # A carousel: one header media per card, optionally per language; named custom fields; button payloads.
    cards = [{"url": "https://cdn.example/a.png", "filename": "a.png"},
             {"url": "https://cdn.example/b-en.png", "filename": "b.png", "language": "en"}]  # fmt: skip
    spoki.provider.send_template(
        "+393330000001", str(template), variables={"FIRST_NAME": "Anna"}, header_media_set=cards,
        buttons=[{"payload": "yes"}], reference="m-9",
    )  # fmt: skip
    carousel = spoki.fake.messages[5]["request"]
    assert carousel["header_media_set"] == cards and carousel["custom_fields"] == {"FIRST_NAME": "Anna"}
    assert carousel["buttons"] == [{"order": 0, "payload": "yes"}] and carousel["metadata"] == {
        "reference": "m-9"
    }

    with pytest.raises(NotSupported):
        spoki.provider.send(OutboundMessage(to="+393330000001", channel="sms", text="x"))
    with pytest.raises(NotFound):
        spoki.provider.send(OutboundMessage(to="+393330000001", channel="whatsapp", template_name="nope"))
    updates = list(spoki.provider.iter_messages())
    assert len(updates) == 6 and {u.status for u in updates} == {"queued"}


def test_sends_go_through_the_configured_channel(db, serve_fake):
    server = serve_fake(SpokiFake(api_key=KEY))
    server.fake.channels[17] = {"id": 17, "name": "Main WhatsApp", "platform": 1, "status": 3}
    env = connect(server, settings={"channel_id": "17", "template_language": "it"})
    env.provider.send_text("+393330000001", "via 17")
    assert server.fake.messages[0]["request"]["channel_id"] == 17
    assert [u.remote_message_id for u in env.provider.iter_messages(channel_id="17")] == [
        str(server.fake.messages[0]["id"])
    ]
    with pytest.raises(NotFound, match="Channel not found"):
        env.provider.send_text("+393330000001", "via 99", channel_id="99")
    template = server.fake.seed_template("hello")
    env.provider.send_template("+393330000001", "hello")
    assert server.fake.messages[-1]["request"]["language"] == "it"
    assert server.fake.messages[-1]["request"]["template"] == template


def test_send_with_an_empty_answer_is_still_accepted(spoki):
    spoki.fake.send_response = ""
    result = spoki.provider.send_text("+393330000001", "hello")
    assert result.accepted and result.remote_id == "" and len(spoki.fake.messages) == 1


def test_other_operations_accounts_reports_channels_tags_and_webhook_subscriptions(spoki):
    assert spoki.provider.list_accounts()[0]["name"] == "MyShop"
    assert spoki.provider.get_account_by_phone("+3933312345678")["id"] == 13128334
    with pytest.raises(NotFound, match="Channel not found"):
        spoki.provider.get_account_by_phone("+390000000")
    media = spoki.provider.create_media(
        title="Logo",
        external_url="https://cdn.example/logo.png",
        format_type="image",
        content_type="image/png",
    )
    assert [m["title"] for m in spoki.provider.iter_media()] == ["Logo"]
    spoki.provider.delete_media(str(media["id"]))
    assert spoki.fake.media[media["id"]]["is_deleted"] and list(spoki.provider.iter_media()) == []
    assert spoki.provider.get_current_report("13128334")["account"] == 13128334
    assert next(spoki.provider.iter_reports(granularity="Month"))["account"] == 13128334
    spoki.fake.channels[17] = {"id": 17, "name": "Main", "platform": 1, "status": 3}
    assert [c["id"] for c in spoki.provider.iter_channels()] == [17]
    assert spoki.provider.get_channel("17")["name"] == "Main"
    spoki.fake.tags[62] = {"id": 62, "name": "To Reply", "color": "#16d46d", "order": 2}
    assert [t["name"] for t in spoki.provider.iter_tags()] == ["To Reply"]
    hook = spoki.provider.subscribe_webhook("message.outbound", "https://sb.example/hooks/spoki/")
    assert hook["secret"].startswith("whsec_")
    assert spoki.provider.iter_webhook_subscriptions()[0]["event"] == "message.outbound"


# --- (c) fault injection -----------------------------------------------------------------------------


def test_429_is_retried_honouring_the_retry_after_hint(spoki):
    (cid,) = spoki.fake.seed_contacts(1)
    spoki.fake.fail_next(429, times=2, retry_after=7)
    assert spoki.provider.get_contact(str(cid)).remote_id == str(cid)
    assert len(spoki.fake.requests_to("GET", "/contacts/")) == 3
    assert len(spoki.sleeps) == 2 and all(7 <= s < 7.5 for s in spoki.sleeps)


def test_a_5xx_on_a_send_is_never_retried(spoki):
    spoki.fake.fail_next(503)
    with pytest.raises(Unavailable, match=r"503: 503 Server Error$"):
        spoki.provider.send_text("+393330000001", "hello")
    assert len(spoki.fake.requests_to("POST", "/messages/send/")) == 1
    assert spoki.sleeps == []


def test_a_read_timeout_on_a_send_is_not_retried_because_the_message_went_out(spoki):
    spoki.provider.http.timeout = 0.3
    spoki.fake.fail_next("timeout", delay=0.8)
    with pytest.raises(Unavailable, match="unreachable"):
        spoki.provider.send_text("+393330000001", "hello")
    time.sleep(0.7)  # let the fake finish answering the request we gave up on
    assert len(spoki.fake.requests_to("POST", "/messages/send/")) == 1
    assert len(spoki.fake.messages) == 1  # it did go out: a retry would have sent it twice


def test_a_5xx_on_a_get_is_retried(spoki):
    spoki.fake.seed_contacts(2)
    spoki.fake.fail_next(502)
    assert len(list(spoki.provider.iter_contacts())) == 2
    assert len(spoki.fake.requests_to("GET", "/contacts/")) == 2 and len(spoki.sleeps) == 1


def test_a_wrong_key_is_an_auth_error_with_spokis_words(db, serve_fake):
    server = serve_fake(SpokiFake(api_key=KEY))
    wrong = connect(server, key="nope")
    with pytest.raises(AuthError, match="Invalid or missing API key") as caught:
        wrong.provider.check_connection()
    assert caught.value.status == 401 and len(server.fake.journal) == 1  # never retried
    missing = connect(server, key="", name="Spoki no key")
    with pytest.raises(AuthError, match="Authentication credentials were not provided"):
        missing.provider.get_balance()


def test_truncated_json_is_retried_on_a_read_and_accepted_once_on_a_send(spoki):
    spoki.fake.seed_contacts(3)
    spoki.fake.fail_next("truncate")
    assert len(list(spoki.provider.iter_contacts())) == 3
    spoki.fake.fail_next("truncate")
    result = spoki.provider.send_text("+393330000001", "hello")
    assert result.accepted and len(spoki.fake.messages) == 1
    assert len(spoki.fake.requests_to("POST", "/messages/send/")) == 1


def test_rate_limit_enforced_by_the_fake_ends_in_rate_limited(spoki):
    assert SpokiFake.DOCUMENTED_LIMIT == (120, 60.0)
    spoki.fake.rate_limit = (1, 60)
    spoki.provider.http.max_retries = 2
    spoki.provider.get_balance()
    with pytest.raises(RateLimited) as caught:
        spoki.provider.get_balance()
    # The fake's 429 carries DRF's real wait (the window is 60 s), and the client honours it.
    assert 55 <= caught.value.retry_after <= 60 and spoki.fake.rate_limited_count == 3
    assert all(55 <= s <= 61 for s in spoki.sleeps)


def test_the_fake_enforces_spokis_per_endpoint_limits_and_the_client_stays_inside_them(spoki):
    spoki.fake.enforce_endpoint_limits = True
    spoki.fake.seed_contacts(3)
    batch = [RemoteContact(phone="+393990000001")]
    spoki.provider.upsert_contacts(batch)
    assert len(list(spoki.provider.iter_contacts())) == 4  # another endpoint has its own window
    # Without the client's own bucket, a second sync_all inside the minute is refused by Spoki...
    raw = spoki.provider.http.request("POST", "/api/1/contacts/sync_all/", json_body=[], ok_statuses=(429,))
    assert raw.status_code == 429 and 55 <= int(raw.headers["Retry-After"]) <= 60
    # ...and the client's bucket knows it must wait a minute before the next one.
    before = len(spoki.sleeps)
    spoki.provider.http.max_retries = 0
    with pytest.raises(RateLimited):
        spoki.provider.upsert_contacts(batch)
    assert 55 < spoki.sleeps[before] <= 60 + transit_margin(60)


def test_paging_stops_on_a_short_page_even_when_next_lies(spoki):
    spoki.fake.MAX_PAGE_SIZE = 10
    spoki.fake.seed_contacts(40)
    spoki.fake.lie_about_next = True
    spoki.fake.short_pages_at = 4
    pages = list(spoki.provider.iter_contact_pages())
    assert [len(p.items) for p in pages] == [10, 4]
    assert len(spoki.fake.requests_to("GET", "/contacts/")) == 2


def test_paging_stops_on_an_empty_page(spoki):
    spoki.fake.MAX_PAGE_SIZE = 10
    spoki.fake.seed_contacts(20)
    spoki.fake.lie_about_next = True
    # `count` would stop us after 20; resume from a cursor so only the empty page can.
    pages = list(spoki.provider.iter_contact_pages('{"page": "2"}'))
    assert [len(p.items) for p in pages] == [10]
    assert [r.query["page"] for r in spoki.fake.requests_to("GET", "/contacts/")] == [["2"], ["3"]]


def test_paging_stops_on_a_repeated_page(spoki):
    spoki.fake.MAX_PAGE_SIZE = 10
    spoki.fake.seed_contacts(30)
    spoki.fake.ignore_paging = True
    contacts = list(spoki.provider.iter_contact_pages('{"page": "1"}'))
    assert [len(p.items) for p in contacts] == [10]
    assert len(spoki.fake.requests_to("GET", "/contacts/")) == 2


def test_paging_stops_past_the_end_on_drfs_invalid_page(spoki):
    spoki.fake.MAX_PAGE_SIZE = 10
    spoki.fake.seed_contacts(10)
    assert list(spoki.provider.iter_contact_pages('{"page": "5"}')) == []


# --- (d) webhooks --------------------------------------------------------------------------------------

SECRET = "whsec_a1b2c3d4e5f60718293a4b5c6d7e8f90"


def test_a_signed_v2_vendor_example_is_accepted_and_parsed():
    data = webhook_example("webhooks_webhooks_body_content_message_received_message_text_received.json")[
        "data"
    ]
    envelope = {"version": 2, "event": "message.inbound", "event_uuid": "6490641b-a9a0-49f4-9f95-f1561c9bbe3c",
                "timestamp": time.time(), "data": data}  # fmt: skip
    headers, body = SpokiFake.signed(envelope, SECRET)
    provider = SpokiProvider(credentials={"api_key": KEY})
    provider.verify_webhook(headers, body, SECRET)
    (event,) = provider.parse_webhook(headers, body)
    assert isinstance(event, InboundMessage) and event.text == "Thanks"
    # Header names arrive in any case (Django's request.headers, WSGI's HTTP_ keys).
    provider.verify_webhook({k.lower(): v for k, v in headers.items()}, body, SECRET)
    provider.verify_webhook({"HTTP_X_SPOKI_SIGNATURE": headers["X-Spoki-Signature"]}, body, SECRET)


def test_a_signed_v1_vendor_example_is_accepted_and_parsed():
    headers, body = SpokiFake.signed(
        webhook_example("webhooks_webhooks_body_content_message_sent.json"), SECRET, version=1
    )
    provider = SpokiProvider(credentials={"api_key": KEY})
    provider.verify_webhook(headers, body, SECRET)
    (update,) = provider.parse_webhook(headers, body)
    assert update.status == MessageStatus.DELIVERED
    with pytest.raises(WebhookRejected, match="X-SPOKI-HASH"):
        provider.verify_webhook(headers, body, "another-secret")


@pytest.mark.parametrize(
    "tamper",
    ["body", "signature", "missing_header", "missing_secret", "stale", "malformed"],
)
def test_bad_or_missing_signatures_are_rejected(tamper):
    envelope = SpokiFake().webhook("message.outbound", {"uuid": "ab" * 16, "send_status": "Read"})
    headers, body = SpokiFake.signed(envelope, SECRET)
    secret = SECRET
    if tamper == "body":
        body = body.replace(b"Read", b"Sent")
    elif tamper == "signature":
        headers["X-Spoki-Signature"] = headers["X-Spoki-Signature"][:-4] + "0000"
    elif tamper == "missing_header":
        del headers["X-Spoki-Signature"]
    elif tamper == "missing_secret":
        secret = ""
    elif tamper == "stale":
        headers, body = SpokiFake.signed(envelope, SECRET, timestamp=int(time.time()) - 3600)
    elif tamper == "malformed":
        headers["X-Spoki-Signature"] = "v2=abc"
    with pytest.raises(WebhookRejected):
        SpokiProvider().verify_webhook(headers, body, secret)


def test_a_delivery_webhook_for_our_send_carries_our_reference(spoki):
    spoki.provider.send_text("+393330000001", "hello", reference="msg-42")
    envelope = spoki.fake.outbound_event(spoki.fake.messages[0], "Read", version=2)
    headers, body = SpokiFake.signed(envelope, SECRET)
    spoki.provider.verify_webhook(headers, body, SECRET)
    (update,) = spoki.provider.parse_webhook(headers, body)
    assert (update.reference, update.status, update.event_id) == ("msg-42", "read", envelope["event_uuid"])
    assert update.remote_message_id == spoki.fake.messages[0]["uuid"]

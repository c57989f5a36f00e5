"""The sandbox provider: every capability works, outcomes are deterministic, paging resumes."""

import inspect
from collections import Counter
from decimal import Decimal

import pytest

from messaging.models import ProviderAccount, SandboxObject
from messaging.providers.base import (
    Channel,
    DeliveryUpdate,
    InboundMessage,
    Op,
    OutboundMessage,
    Provider,
    RemoteCampaign,
    RemoteContact,
    RemoteCustomField,
    RemoteList,
    RemoteTemplate,
    Resource,
)
from messaging.providers.errors import NotFound, Rejected, WebhookRejected
from messaging.providers.sandbox import SandboxProvider, outcome_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def account():
    return ProviderAccount.objects.create(provider="sandbox", name="Sandbox", settings={"seed": "s1"})


@pytest.fixture
def sandbox(account):
    return account.get_provider()


def phone(n: int) -> str:
    return f"+39333{n:07d}"


def test_capability_table_claims_every_hook_of_the_base_class():
    table = SandboxProvider.capabilities
    for resource in (Resource.CONTACTS, Resource.LISTS, Resource.CUSTOM_FIELDS, Resource.TEMPLATES):
        assert table.supports(resource, Op.PULL) and table.supports(resource, Op.PUSH)
        assert table.supports(resource, Op.DELETE)
    assert table.supports("contacts", "bulk") and table.supports("lists", "membership")
    assert table.supports("campaigns", "stats") and table.supports("campaigns", "start")
    assert all(table.can_send(c) for c in Channel)
    assert table.webhooks and table.balance
    # Every hook the base class leaves unsupported is implemented: nothing raises NotSupported.
    hooks = [
        name
        for name, value in vars(Provider).items()
        if callable(value) and "self.unsupported(" in inspect.getsource(value) and name != "unsupported"
    ]
    hooks += ["verify_webhook"]
    assert len(hooks) > 30
    missing = [h for h in hooks if getattr(SandboxProvider, h) is getattr(Provider, h)]
    assert missing == []


def test_connection_and_balance(sandbox):
    info = sandbox.check_connection()
    assert info.ok
    assert info.detail == "Connected — sandbox (no real messages are sent)"
    assert info.balance == Decimal("100.00") and info.currency == "EUR"
    sandbox.send(OutboundMessage(to=phone(1), text="hi", reference="r1"))
    assert sandbox.get_balance().balance == Decimal("99.95")


def test_contacts_crud_bulk_block_and_delete(sandbox):
    created = sandbox.create_contact(
        RemoteContact(phone=phone(1), first_name="Ada", custom_fields={"vip": True})
    )
    assert created.remote_id and created.version == "1"
    with pytest.raises(Rejected, match="already exists"):
        sandbox.create_contact(RemoteContact(phone=phone(1)))
    with pytest.raises(Rejected, match=r"E\.164"):
        sandbox.create_contact(RemoteContact(phone="333 123"))

    created.last_name = "Lovelace"
    updated = sandbox.update_contact(created)
    assert updated.last_name == "Lovelace" and updated.version == "2"
    assert sandbox.get_contact(created.remote_id).custom_fields == {"vip": True}

    # Bulk upsert matches the existing one by phone and creates the new one.
    result = sandbox.upsert_contacts(
        [RemoteContact(phone=phone(1), first_name="Ada B"), RemoteContact(phone=phone(2))]
    )
    assert result[0].remote_id == created.remote_id and result[0].first_name == "Ada B"
    assert result[1].remote_id != created.remote_id
    with pytest.raises(Rejected, match="at most 500"):
        sandbox.upsert_contacts([RemoteContact(phone=phone(i)) for i in range(501)])

    sandbox.set_contact_blocked(created.remote_id, True)
    assert sandbox.get_contact(created.remote_id).blocked is True

    sandbox.delete_contacts([created.remote_id, "nope"])
    with pytest.raises(NotFound):
        sandbox.get_contact(created.remote_id)
    assert [c.phone for c in sandbox.iter_contacts()] == [phone(2)]


def test_lists_and_membership(sandbox):
    a = sandbox.create_contact(RemoteContact(phone=phone(1)))
    b = sandbox.create_contact(RemoteContact(phone=phone(2)))
    vip = sandbox.create_list(RemoteList(name="VIP", description="best"))
    sandbox.add_list_members(vip.remote_id, [a.remote_id, b.remote_id, a.remote_id])
    sandbox.add_list_members(vip.remote_id, [a.remote_id])  # twice is harmless
    assert sandbox.get_list(vip.remote_id).member_count == 2
    assert list(sandbox.iter_list_members(vip.remote_id)) == [a.remote_id, b.remote_id]
    assert sandbox.get_contact(a.remote_id).list_ids == [vip.remote_id]
    with pytest.raises(NotFound, match="no contact ghost"):
        sandbox.add_list_members(vip.remote_id, ["ghost"])

    sandbox.remove_list_members(vip.remote_id, [a.remote_id])
    assert list(sandbox.iter_list_members(vip.remote_id)) == [b.remote_id]

    vip.name = "Very VIP"
    assert sandbox.update_list(vip).name == "Very VIP"
    assert [lst.name for lst in sandbox.iter_lists()] == ["Very VIP"]
    sandbox.delete_list(vip.remote_id)
    assert list(sandbox.iter_lists()) == []
    assert sandbox.get_contact(b.remote_id).list_ids == []  # memberships went, the contact stayed


def test_custom_fields(sandbox):
    field = sandbox.create_custom_field(
        RemoteCustomField(key="plan", label="Plan", type="choice", choices=["a", "b"])
    )
    assert [f.key for f in sandbox.iter_custom_fields()] == ["plan"]
    with pytest.raises(Rejected, match="exists"):
        sandbox.create_custom_field(RemoteCustomField(key="plan"))
    sandbox.delete_custom_field(field.remote_id)
    assert list(sandbox.iter_custom_fields()) == []


def test_templates(sandbox):
    tpl = sandbox.create_template(
        RemoteTemplate(name="welcome", language="it", category="MARKETING", body="Ciao {{1}}, codice {{2}}")
    )
    assert tpl.status == "pending" and tpl.variables == ["1", "2"]
    assert sandbox.get_template("welcome").remote_id == tpl.remote_id  # by name too
    tpl.body = "Ciao {{1}}"
    tpl.variables = []
    assert sandbox.update_template(tpl).variables == ["1"]
    with pytest.raises(Rejected, match="exists"):
        sandbox.create_template(RemoteTemplate(name="welcome", language="it", body="x"))
    with pytest.raises(Rejected, match="name and a body"):
        sandbox.create_template(RemoteTemplate(name="empty"))
    assert [t.name for t in sandbox.iter_templates()] == ["welcome"]
    assert sandbox.get_template(tpl.remote_id).status == "pending"
    sandbox.delete_template(tpl.remote_id)
    with pytest.raises(NotFound):
        sandbox.get_template(tpl.remote_id)


def test_campaigns_start_once_with_deterministic_stats(sandbox):
    members = [sandbox.create_contact(RemoteContact(phone=phone(i))).remote_id for i in range(40)]
    lst = sandbox.create_list(RemoteList(name="All"))
    sandbox.add_list_members(lst.remote_id, members)
    campaign = sandbox.create_campaign(
        RemoteCampaign(name="Spring", channel="sms", text="Hi", list_ids=[lst.remote_id])
    )
    assert campaign.status == "draft"
    assert sandbox.get_campaign_stats(campaign.remote_id).sent == 0
    campaign.text = "Hello"
    assert sandbox.update_campaign(campaign).text == "Hello"

    started = sandbox.start_campaign(campaign.remote_id)
    assert started.status == "completed"
    stats = sandbox.get_campaign_stats(campaign.remote_id)
    assert stats.recipients == stats.sent == 40
    assert stats.delivered + stats.failed == 40 and stats.read <= stats.delivered
    assert stats.cost == Decimal("2.00")
    sandbox.start_campaign(campaign.remote_id)  # a second start does not send again
    assert sandbox.get_campaign_stats(campaign.remote_id) == stats
    with pytest.raises(Rejected, match="started"):
        sandbox.update_campaign(started)
    assert [c.name for c in sandbox.iter_campaigns()] == ["Spring"]
    sandbox.delete_campaign(campaign.remote_id)
    with pytest.raises(NotFound):
        sandbox.get_campaign(campaign.remote_id)


@pytest.mark.parametrize("channel", list(Channel))
def test_send_on_every_channel(sandbox, channel):
    result = sandbox.send(
        OutboundMessage(to=phone(7), channel=channel.value, text="hi", reference=f"ref-{channel}")
    )
    assert result.accepted and result.channel == channel.value and result.status == "sent"
    assert result.price == Decimal("0.05")


def test_send_is_idempotent_per_reference_and_validates(sandbox):
    first = sandbox.send(OutboundMessage(to=phone(1), text="hi", reference="order-1"))
    again = sandbox.send(OutboundMessage(to=phone(1), text="hi", reference="order-1"))
    assert first.remote_id == again.remote_id
    assert SandboxObject.objects.filter(kind="message").count() == 1
    with pytest.raises(Rejected):
        sandbox.send(OutboundMessage(to="12345", text="hi"))
    with pytest.raises(Rejected, match="needs text"):
        sandbox.send(OutboundMessage(to=phone(1)))


def test_outcomes_are_deterministic_per_seed_and_mostly_delivered(sandbox, account):
    outcomes = [outcome_for("s1", phone(i), f"r{i}") for i in range(1000)]
    assert outcomes == [outcome_for("s1", phone(i), f"r{i}") for i in range(1000)]
    assert outcomes != [outcome_for("other", phone(i), f"r{i}") for i in range(1000)]
    share = Counter(outcomes)
    assert share["delivered"] > 600 and 150 < share["read"] < 350 and 10 < share["failed"] < 100

    # The provider's reported updates follow the outcome: delivered → read, or failed.
    for i in range(30):
        result = sandbox.send(OutboundMessage(to=phone(i), text="x", reference=f"r{i}"))
        statuses = [u.status for u in sandbox.delivery_updates(result.remote_id)]
        expected = {"delivered": ["delivered"], "read": ["delivered", "read"], "failed": ["failed"]}
        assert statuses == expected[outcome_for("s1", phone(i), f"r{i}")]


def test_webhooks_are_signed_verified_and_parsed(sandbox):
    result = sandbox.send(OutboundMessage(to=phone(3), text="x", reference="w1"))
    updates = sandbox.delivery_updates(result.remote_id)
    inbound = InboundMessage(remote_id="in-1", from_phone=phone(3), text="STOP", channel="sms")
    headers, body = sandbox.webhook_request([*updates, inbound], secret="s3cret")
    sandbox.verify_webhook(headers, body, "s3cret")
    with pytest.raises(WebhookRejected, match="does not match"):
        sandbox.verify_webhook(headers, body + b" ", "s3cret")
    with pytest.raises(WebhookRejected, match="no webhook secret"):
        sandbox.verify_webhook(headers, body, "")
    events = sandbox.parse_webhook(headers, body)
    assert [type(e) for e in events] == [DeliveryUpdate] * len(updates) + [InboundMessage]
    assert events[0].remote_message_id == result.remote_id and events[0].reference == "w1"
    assert events[-1].text == "STOP"


def test_paging_with_resumable_cursors(account):
    sandbox = SandboxProvider(account, settings={"page_size": 3})
    ids = [sandbox.create_contact(RemoteContact(phone=phone(i))).remote_id for i in range(8)]
    pages = list(sandbox.iter_contact_pages())
    assert [len(p.items) for p in pages] == [3, 3, 2]
    assert pages[-1].cursor is None and all(p.cursor for p in pages[:-1])
    assert [c.remote_id for p in pages for c in p.items] == ids

    # A crash after page 1 resumes from its cursor, in a new provider instance (a new process).
    resumed = list(SandboxProvider(account, settings={"page_size": 3}).iter_contact_pages(pages[0].cursor))
    assert [c.remote_id for p in resumed for c in p.items] == ids[3:]
    # Exactly a multiple of the page size: the listing still ends without an empty loop.
    sandbox.create_contact(RemoteContact(phone=phone(99)))
    assert [len(p.items) for p in sandbox.iter_contact_pages()] == [3, 3, 3]


def test_state_is_per_account_and_survives_new_instances(account):
    other = ProviderAccount.objects.create(provider="sandbox", name="Sandbox 2")
    account.get_provider().create_contact(RemoteContact(phone=phone(1)))
    assert len(list(account.get_provider().iter_contacts())) == 1  # a fresh instance sees it
    assert list(other.get_provider().iter_contacts()) == []


def test_template_review_is_simulated(sandbox, monkeypatch):
    """Pending for review_seconds, then approved; a body with REJECT is rejected with a reason."""
    import datetime as dt

    from django.utils import timezone

    good = sandbox.create_template(RemoteTemplate(name="ok", language="it", body="Ciao {{name}}"))
    bad = sandbox.create_template(RemoteTemplate(name="ko", language="it", body="Please REJECT me"))
    assert (good.status, bad.status) == ("pending", "pending")
    later = timezone.now() + dt.timedelta(seconds=sandbox.review_seconds + 1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert sandbox.get_template(good.remote_id).status == "approved"
    rejected = sandbox.get_template(bad.remote_id)
    assert rejected.status == "rejected" and "REJECT" in rejected.status_reason

"""Sync against the real provider clients and their stateful fakes, over real HTTP on 127.0.0.1.

Spoki: contacts and lists, bulk sync_all (≤ 500). Qlara: contacts one by one, lists and
membership. MyOperator: contacts one by one, a phone that cannot change. Remote records are
read and changed through the clients themselves, so these tests know no vendor field names.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from contacts.models import Contact, ContactList, Membership
from messaging.models import HttpLog, ProviderAccount
from messaging.providers.base import RemoteContact
from messaging.sync.models import RemoteLink, SyncRun
from messaging.sync.services import sync_account
from tests.fakes.myoperator import MyOperatorFake
from tests.fakes.qlara import QlaraFake
from tests.fakes.spoki import SpokiFake

pytestmark = pytest.mark.django_db

MO_COMPANY = "66c595699b31d875"
SETUPS = {
    "spoki": (SpokiFake, {"api_key": "test-key"}, {}),
    "qlara": (QlaraFake, {"api_key": "test-key"}, {"sender": "MYCOMPANY"}),
    "myoperator": (
        lambda: MyOperatorFake(api_key="test-key", company_id=MO_COMPANY),
        {"api_key": "test-key", "company_id": MO_COMPANY},
        {"phone_number_id": "1", "waba_id": "178661612007157"},
    ),
}
WRITES = "POST|PUT|PATCH|DELETE"


@pytest.fixture
def connect(serve_fake):
    def make(slug, **account_fields):
        factory, credentials, settings = SETUPS[slug]
        server = serve_fake(factory())
        account = ProviderAccount.objects.create(
            provider=slug, name=account_fields.pop("name", f"{slug} test"), base_url=server.url,
            credentials=credentials, settings=settings, **account_fields,
        )  # fmt: skip
        return SimpleNamespace(account=account, fake=server.fake, sleeps=[], slug=slug)

    return make


def provider_for(env):
    """A fresh client whose waits are recorded, not slept (rate limits and Retry-After)."""
    provider = env.account.get_provider()
    provider.http.sleep = env.sleeps.append
    return provider


def run(env, resource="contacts", direction="both") -> SyncRun:
    return sync_account(env.account, resource, direction, trigger="cli", provider=provider_for(env))


def counts(sync_run):
    return {n: getattr(sync_run, n) for n in SyncRun.COUNTS if getattr(sync_run, n)}


def writes(env) -> list:
    """Requests that change something (MyOperator's search is a POST but reads)."""
    return [r for r in env.fake.journal if r.method in ("POST", "PUT", "PATCH", "DELETE")]


def add_local(n, first="Local"):
    return [
        Contact.objects.create(
            phone=f"+3933312{i:05d}", first_name=f"{first}{i}", last_name="Rossi", email=f"l{i}@example.com"
        )
        for i in range(n)
    ]


def remote(env, contact) -> RemoteContact:
    link = RemoteLink.objects.get(account=env.account, contact=contact)
    return provider_for(env).get_contact(link.remote_id)


@pytest.mark.parametrize("slug", ["spoki", "qlara", "myoperator"])
def test_first_push_then_idempotent_then_round_trip(connect, slug):
    env = connect(slug)
    local = add_local(7)

    first = run(env)
    assert first.status == "succeeded", (first.error, list(first.problems.values_list("message", flat=True)))
    assert counts(first) == {"pushed": 7}
    assert HttpLog.objects.filter(correlation=f"syncrun:{first.pk}").count() == len(env.fake.journal)
    assert RemoteLink.objects.filter(account=env.account).count() == 7
    assert remote(env, local[3]).first_name == "Local3"
    if slug == "spoki":
        assert len(env.fake.requests_to("POST", r"/contacts/sync_all")) == 1  # one bulk call for 7

    # Idempotent: a second run reads, changes nothing and writes nothing.
    before = len(writes(env))
    second = run(env)
    assert counts(second) == {"pulled": 7, "unchanged": 7}
    assert len(writes(env)) == before

    # Edited here → pushed.
    contact = Contact.objects.get(pk=local[1].pk)
    contact.first_name = "Edited"
    contact.save()
    third = run(env)
    assert counts(third) == {"pulled": 7, "unchanged": 6, "pushed": 1}
    assert remote(env, contact).first_name == "Edited"

    # Edited there → pulled.
    twin = remote(env, local[2])
    twin.first_name = "Remote"
    provider_for(env).update_contact(twin)
    fourth = run(env)
    assert counts(fourth) == {"pulled": 7, "unchanged": 6, "updated": 1}
    assert Contact.objects.get(pk=local[2].pk).first_name == "Remote"
    assert counts(run(env)) == {"pulled": 7, "unchanged": 7}


@pytest.mark.parametrize("slug", ["spoki", "qlara", "myoperator"])
def test_first_pull_into_an_empty_book(connect, slug):
    env = connect(slug)
    env.fake.seed_contacts(12)
    result = run(env, direction="pull")
    assert result.status == "succeeded", list(result.problems.values_list("message", flat=True))
    assert counts(result) == {"pulled": 12, "created": 12}
    assert Contact.objects.count() == 12
    assert not writes(env)
    assert counts(run(env)) == {"pulled": 12, "unchanged": 12}


@pytest.mark.parametrize("slug", ["spoki", "qlara", "myoperator"])
def test_a_429_storm_is_ridden_out(connect, slug):
    env = connect(slug)
    env.fake.seed_contacts(30)
    env.fake.fail_next(429, times=3)
    stormy = run(env, direction="pull")
    assert stormy.status == "succeeded"
    assert counts(stormy) == {"pulled": 30, "created": 30}
    assert len(env.sleeps) >= 3  # honoured the retry hints (recorded, not slept)


@pytest.mark.parametrize("slug", ["spoki", "qlara", "myoperator"])
def test_a_run_failing_on_5xx_mid_way_resumes_from_its_cursor(connect, slug):
    env = connect(slug)
    env.fake.seed_contacts(250)
    provider = provider_for(env)
    provider.page_size = 100  # Qlara would take all 250 in one page of 1,000
    original = provider.iter_contact_pages

    def first_page_then_outage(cursor=None):
        for page in original(cursor):
            yield page
            # After the first page the provider answers 503 to every retry of the next one.
            env.fake.fail_next(503, times=provider.http.max_retries + 1)

    provider.iter_contact_pages = first_page_then_outage
    failed = sync_account(env.account, "contacts", "pull", trigger="cli", provider=provider)
    assert failed.status == "failed"
    assert "503" in failed.error
    assert failed.cursor["phase"] == "contacts:pull" and failed.cursor["cursor"]
    done = failed.pulled
    assert 0 < done < 250 and counts(failed) == {"pulled": done, "created": done}

    resumed = run(env, direction="pull")
    assert resumed.pk == failed.pk and resumed.status == "succeeded" and resumed.attempts == 2
    assert counts(resumed) == {"pulled": 250, "created": 250}
    assert Contact.objects.count() == 250 == RemoteLink.objects.count()


def test_spoki_lists_and_membership(connect):
    env = connect("spoki")
    local = add_local(3)
    vip = ContactList.objects.create(name="VIP")
    Membership.objects.create(contact=local[0], contact_list=vip)
    Membership.objects.create(contact=local[1], contact_list=vip)
    [remote_list] = env.fake.seed_lists("Newsletter")

    result = run(env, "all")
    assert result.status in ("succeeded", "partial"), result.error
    assert counts(result) == {"pushed": 3 + 1 + 2, "pulled": 1, "created": 1}
    vip_link = RemoteLink.objects.get(account=env.account, contact_list=vip)
    members = set(provider_for(env).iter_list_members(vip_link.remote_id))
    assert members == {RemoteLink.objects.get(account=env.account, contact=c).remote_id for c in local[:2]}
    assert ContactList.objects.filter(name="Newsletter").exists()
    assert remote_list

    again = run(env, "all")
    assert counts(again) == {"pulled": 3 + 2, "unchanged": 3 + 2}


def test_qlara_lists_membership_both_ways(connect):
    env = connect("qlara")
    local = add_local(4)
    team = ContactList.objects.create(name="Team")
    Membership.objects.create(contact=local[0], contact_list=team)
    result = run(env, "all")
    assert result.status == "succeeded", (
        result.error,
        list(result.problems.values_list("message", flat=True)),
    )
    assert counts(result) == {"pushed": 4 + 1 + 1}
    link = RemoteLink.objects.get(account=env.account, contact_list=team)
    ids = {c.pk: RemoteLink.objects.get(account=env.account, contact=c).remote_id for c in local}

    # They add #2 there; we add #3 here and drop #0.
    provider_for(env).add_list_members(link.remote_id, [ids[local[2].pk]])
    Membership.objects.create(contact=local[3], contact_list=team)
    Membership.objects.filter(contact=local[0], contact_list=team).delete()

    result = run(env, "all")
    assert counts(result) == {"pulled": 4 + 1, "unchanged": 4 + 1, "updated": 1, "pushed": 2}
    assert set(team.contacts.values_list("pk", flat=True)) == {local[2].pk, local[3].pk}
    assert set(provider_for(env).iter_list_members(link.remote_id)) == {ids[local[2].pk], ids[local[3].pk]}
    assert counts(run(env, "all")) == {"pulled": 5, "unchanged": 5}


def test_myoperator_phone_change_creates_a_new_contact(connect):
    from messaging.providers.myoperator.provider import MyOperatorProvider

    assert MyOperatorProvider.contact_phone_immutable  # declared by the provider, not patched here
    env = connect("myoperator")
    [contact] = add_local(1)
    run(env)
    old_id = RemoteLink.objects.get(account=env.account, contact=contact).remote_id

    contact.phone = "+393339998877"
    contact.save()
    result = run(env)
    assert counts(result) == {"pulled": 1, "pushed": 1, "unlinked": 1}
    new_link = RemoteLink.objects.get(account=env.account, contact=contact)
    assert new_link.remote_id != old_id
    assert provider_for(env).get_contact(new_link.remote_id).phone == "+393339998877"
    assert "cannot change a phone" in result.problems.get(level="note").message
    assert counts(run(env)) == {"pulled": 2, "unchanged": 1}
    assert Contact.objects.count() == 1


def test_two_accounts_of_different_providers_share_contacts(connect):
    spoki, qlara = connect("spoki"), connect("qlara")
    local = add_local(3)
    [only_there] = qlara.fake.seed_contacts(1)
    assert only_there

    assert counts(run(spoki)) == {"pushed": 3}
    assert counts(run(qlara)) == {"pulled": 1, "created": 1, "pushed": 3}
    assert counts(run(spoki)) == {"pulled": 3, "unchanged": 3, "pushed": 1}
    assert all(RemoteLink.objects.filter(contact=c).count() == 2 for c in Contact.objects.all())

    contact = Contact.objects.get(pk=local[0].pk)
    contact.last_name = "Everywhere"
    contact.save()
    assert counts(run(spoki)) == {"pulled": 4, "unchanged": 3, "pushed": 1}
    assert counts(run(qlara)) == {"pulled": 4, "unchanged": 3, "pushed": 1}
    assert remote(spoki, contact).last_name == remote(qlara, contact).last_name == "Everywhere"


def test_custom_fields_by_key_and_a_provider_that_lacks_one(connect):
    from contacts.models import CustomField

    CustomField.objects.create(key="tier", label="Tier")
    spoki, qlara = connect("spoki"), connect("qlara")
    spoki.fake.seed_custom_field("tier")  # defined at Spoki (by code); Qlara has no such field
    contact = Contact.objects.create(phone="+393331200000", first_name="A", fields={"tier": "gold"})
    run(spoki), run(qlara)
    assert remote(spoki, contact).custom_fields == {"tier": "gold"}

    # A change made at Qlara comes back without the field Qlara lacks: ours is kept.
    twin = remote(qlara, contact)
    twin.first_name = "Changed at Qlara"
    provider_for(qlara).update_contact(twin)
    assert counts(run(qlara)) == {"pulled": 1, "updated": 1}
    contact.refresh_from_db()
    assert (contact.first_name, contact.fields) == ("Changed at Qlara", {"tier": "gold"})
    assert counts(run(qlara)) == {"pulled": 1, "unchanged": 1}

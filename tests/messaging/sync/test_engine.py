"""The sync engine against the in-process provider: counts asserted exactly."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, ContactList, CustomField, Membership
from messaging.sync.models import RemoteLink, SyncConflict, SyncRun
from messaging.sync.services import SyncBusy, acquire_lock, release_lock, resolve_conflict, sync_account
from tests.messaging.sync.memory import MemoryProvider

pytestmark = pytest.mark.django_db


def counts(run, *names):
    return {n: getattr(run, n) for n in names or SyncRun.COUNTS}


def zero(**overrides):
    return {**dict.fromkeys(SyncRun.COUNTS, 0), **overrides}


def add_local(n, start=0, **extra):
    return [
        Contact.objects.create(phone=f"+3933312{start + i:05d}", first_name=f"Local{start + i}", **extra)
        for i in range(n)
    ]


def test_first_pull_into_an_empty_book(account, store):
    CustomField.objects.create(key="tier", label="Tier")
    store.add_contact(
        phone="+393331200001", first_name="Anna", email="ANNA@example.com", custom_fields={"tier": "gold"}
    )
    store.add_contact(phone="393331200002", first_name="Bruno", opted_out=True)  # no plus: normalised
    store.add_contact(phone="+393331200003", last_name="Conti", custom_fields={"unknown": "x"})
    store.add_contact(phone="not a phone", first_name="Broken")
    store.add_contact(phone="+393331200005", first_name="Eva", blocked=True)

    run = sync_account(account, "contacts", "pull", trigger="cli")

    assert run.status == "partial"
    assert counts(run) == zero(pulled=5, created=4, errors=1)
    anna = Contact.objects.get(phone="+393331200001")
    assert (anna.first_name, anna.email, anna.fields) == ("Anna", "anna@example.com", {"tier": "gold"})
    assert Contact.objects.get(phone="+393331200002").opted_out is True
    assert Contact.objects.get(phone="+393331200005").blocked is True
    assert RemoteLink.objects.filter(account=account, kind="contact").count() == 4
    problems = list(run.problems.values_list("level", "message"))
    assert any(level == "error" and "not a phone" in msg for level, msg in problems)
    assert any(level == "note" and "unknown" in msg for level, msg in problems)

    again = sync_account(account, "contacts", "pull", trigger="cli")
    assert counts(again) == zero(pulled=5, unchanged=4, errors=1)


def test_first_push_of_an_existing_book_uses_bulk_and_is_idempotent(account, store):
    add_local(10)
    run = sync_account(account, "contacts", "both")
    assert run.status == "succeeded", run.error
    assert counts(run) == zero(pushed=10)
    assert store.calls["upsert_contacts"] == 3  # bulk_limit 4: 4 + 4 + 2
    assert sorted(c.phone for c in store.contacts.values()) == sorted(
        Contact.objects.values_list("phone", flat=True)
    )

    store.calls.clear()
    second = sync_account(account, "contacts", "both")
    assert counts(second) == zero(pulled=10, unchanged=10)
    assert set(store.calls) == {"list_contacts"}  # read only: nothing pushed


def test_round_trip_both_ways(account, store):
    local = add_local(3)
    sync_account(account, "contacts", "both")
    remote = store.by_phone(local[0].phone)

    # Edited here → pushed.
    contact = Contact.objects.get(pk=local[1].pk)
    contact.last_name = "Rossi"
    contact.save()
    run = sync_account(account, "contacts", "both")
    assert counts(run) == zero(pulled=3, unchanged=3 - 1, pushed=1)
    assert store.by_phone(local[1].phone).last_name == "Rossi"

    # Edited there → pulled.
    remote.first_name = "Changed remotely"
    run = sync_account(account, "contacts", "both")
    assert counts(run) == zero(pulled=3, updated=1, unchanged=2)
    assert Contact.objects.get(pk=local[0].pk).first_name == "Changed remotely"

    assert counts(sync_account(account, "contacts", "both")) == zero(pulled=3, unchanged=3)


def test_field_gaps_are_left_alone(make_account):
    account = make_account("onebyone")
    store = MemoryProvider.store_for(account)
    contact = Contact.objects.create(
        phone="+393331299999", first_name="Gia", email="gia@example.com", opted_out=True
    )
    store.add_contact(phone="+393331299999", first_name="Gia", email="other@example.com")
    run = sync_account(account, "contacts", "both")
    assert counts(run) == zero(pulled=1, unchanged=1)
    contact.refresh_from_db()
    assert (contact.email, contact.opted_out) == ("gia@example.com", True)  # not kept there: not touched


@pytest.mark.parametrize(
    ("policy", "expected_local", "expected_remote", "status"),
    [
        ("provider_wins", "Theirs", "Theirs", "succeeded"),
        ("local_wins", "Ours", "Ours", "succeeded"),
        ("hold", "Ours", "Theirs", "partial"),
    ],
)
def test_conflicts_follow_the_account_policy(make_account, policy, expected_local, expected_remote, status):
    account = make_account(conflict_policy=policy)
    store = MemoryProvider.store_for(account)
    [contact] = add_local(1)
    sync_account(account, "contacts", "both")
    contact.first_name = "Ours"
    contact.save()
    store.by_phone(contact.phone).first_name = "Theirs"

    run = sync_account(account, "contacts", "both")

    assert run.status == status
    contact.refresh_from_db()
    assert contact.first_name == expected_local
    assert store.by_phone(contact.phone).first_name == expected_remote
    expected = {
        "provider_wins": zero(pulled=1, conflicts=1, updated=1),
        "local_wins": zero(pulled=1, conflicts=1, pushed=1),
        "hold": zero(pulled=1, conflicts=1),
    }[policy]
    assert counts(run) == expected
    if policy == "hold":
        conflict = SyncConflict.objects.get(status="open")
        assert conflict.local_snapshot["first_name"] == "Ours"
        assert conflict.remote_snapshot["first_name"] == "Theirs"
        assert conflict.differences() == [("first_name", "Ours", "Theirs")]
        # Held: a second run touches neither side and does not duplicate the conflict.
        again = sync_account(account, "contacts", "both")
        assert counts(again) == zero(pulled=1)
        assert SyncConflict.objects.count() == 1


@pytest.mark.parametrize("keep", ["ours", "theirs"])
def test_a_held_conflict_is_resolved(make_account, keep):
    account = make_account(conflict_policy="hold")
    store = MemoryProvider.store_for(account)
    [contact] = add_local(1)
    sync_account(account, "contacts", "both")
    contact.first_name = "Ours"
    contact.save()
    store.by_phone(contact.phone).first_name = "Theirs"
    sync_account(account, "contacts", "both")
    conflict = SyncConflict.objects.get()

    resolve_conflict(conflict, keep)
    run = sync_account(account, "contacts", "both")

    winner = "Ours" if keep == "ours" else "Theirs"
    contact.refresh_from_db()
    assert contact.first_name == winner
    assert store.by_phone(contact.phone).first_name == winner
    assert counts(run) == (zero(pulled=1, pushed=1) if keep == "ours" else zero(pulled=1, unchanged=1))
    conflict.refresh_from_db()
    assert conflict.status == f"kept_{keep}"
    assert counts(sync_account(account, "contacts", "both")) == zero(pulled=1, unchanged=1)


def test_first_meeting_by_phone_merges_gaps_and_holds_real_differences(make_account):
    account = make_account(conflict_policy="hold")
    store = MemoryProvider.store_for(account)
    Contact.objects.create(phone="+393331200001", first_name="Anna")  # remote adds the email
    Contact.objects.create(
        phone="+393331200002", first_name="Bea", email="bea@example.com"
    )  # we add the email
    Contact.objects.create(phone="+393331200003", first_name="Carla")  # they say "Carola"
    store.add_contact(phone="+393331200001", first_name="Anna", email="anna@example.com")
    store.add_contact(phone="+393331200002", first_name="Bea")
    store.add_contact(phone="+393331200003", first_name="Carola")

    run = sync_account(account, "contacts", "both")

    assert counts(run) == zero(pulled=3, updated=1, unchanged=1, pushed=1, conflicts=1)
    assert Contact.objects.get(phone="+393331200001").email == "anna@example.com"
    assert store.by_phone("+393331200002").email == "bea@example.com"
    assert Contact.objects.get(phone="+393331200003").first_name == "Carla"
    assert store.by_phone("+393331200003").first_name == "Carola"
    assert SyncConflict.objects.filter(status="open").count() == 1


@pytest.mark.parametrize("policy", ["unlink", "delete"])
def test_records_gone_remotely_are_unlinked_or_deleted(make_account, policy):
    account = make_account(delete_policy=policy)
    store = MemoryProvider.store_for(account)
    local = add_local(4)
    sync_account(account, "contacts", "both")
    gone = store.by_phone(local[0].phone).remote_id
    del store.contacts[gone]

    run = sync_account(account, "contacts", "both")

    if policy == "unlink":
        assert counts(run) == zero(pulled=3, unchanged=3, unlinked=1, pushed=1)  # still here, so sent again
        assert Contact.objects.filter(pk=local[0].pk).exists()
        assert store.by_phone(local[0].phone) is not None
    else:
        assert counts(run) == zero(pulled=3, unchanged=3, deleted=1)
        assert not Contact.objects.filter(pk=local[0].pk).exists()
        assert Contact.all_objects.get(pk=local[0].pk).deleted_at is not None
        assert store.by_phone(local[0].phone) is None


def test_pull_only_unlinks_without_pushing_back(make_account):
    account = make_account()
    store = MemoryProvider.store_for(account)
    local = add_local(2)
    sync_account(account, "contacts", "both")
    del store.contacts[store.by_phone(local[0].phone).remote_id]
    run = sync_account(account, "contacts", "pull")
    assert counts(run) == zero(pulled=1, unchanged=1, unlinked=1)
    assert len(store.contacts) == 1


def test_local_soft_delete_is_pushed_as_a_delete(account, store):
    local = add_local(3)
    sync_account(account, "contacts", "both")
    from contacts.services import delete_contacts

    delete_contacts(Contact.objects.filter(pk=local[2].pk))
    run = sync_account(account, "contacts", "both")
    assert counts(run) == zero(pulled=3, unchanged=2, deleted=1)
    assert store.by_phone(local[2].phone) is None
    assert counts(sync_account(account, "contacts", "both")) == zero(pulled=2, unchanged=2)


def test_an_empty_listing_does_not_unlink_everything(account, store):
    add_local(2)
    sync_account(account, "contacts", "both")
    store.contacts.clear()
    run = sync_account(account, "contacts", "pull")
    assert counts(run) == zero()
    assert RemoteLink.objects.count() == 2
    assert "no contacts at all" in run.problems.get().message


def test_a_killed_pull_resumes_from_its_cursor(account, store):
    for i in range(10):
        store.add_contact(phone=f"+39333120{i:04d}", first_name=f"R{i}")
    store.fail_after_items = 7  # dies while fetching the third page (items 7..9)

    first = sync_account(account, "contacts", "pull")
    assert first.status == "failed"
    assert "worker killed" in first.error
    assert counts(first) == zero(pulled=6, created=6)
    assert first.cursor["phase"] == "contacts:pull"

    second = sync_account(account, "contacts", "pull")
    assert second.pk == first.pk and second.attempts == 2
    assert second.status == "succeeded"
    assert counts(second) == zero(pulled=10, created=10)
    assert Contact.objects.count() == 10
    assert RemoteLink.objects.count() == 10


def test_a_killed_push_resumes_without_doubling(account, store):
    add_local(10)
    store.fail_on_push_after = 5  # the second bulk call dies after one record

    first = sync_account(account, "contacts", "push")
    assert first.status == "failed"
    assert counts(first) == zero(pushed=4)

    second = sync_account(account, "contacts", "push")
    assert second.pk == first.pk
    assert counts(second) == zero(pushed=10)
    assert len(store.contacts) == 10
    assert RemoteLink.objects.count() == 10
    assert counts(sync_account(account, "contacts", "both")) == zero(pulled=10, unchanged=10)


def test_5xx_mid_run_fails_the_run_and_the_next_one_resumes(account, store):
    from messaging.providers.errors import Unavailable

    for i in range(9):
        store.add_contact(phone=f"+39333120{i:04d}")
    original = MemoryProvider.iter_contact_pages

    def flaky(self, cursor=None):
        for n, page in enumerate(original(self, cursor)):
            if cursor is None and n == 1:
                raise Unavailable("Memory error 503: try later", status=503)
            yield page

    MemoryProvider.iter_contact_pages = flaky
    try:
        first = sync_account(account, "contacts", "pull")
    finally:
        MemoryProvider.iter_contact_pages = original
    assert (first.status, first.error) == ("failed", "Memory error 503: try later")
    assert counts(first) == zero(pulled=3, created=3)
    second = sync_account(account, "contacts", "pull")
    assert counts(second) == zero(pulled=9, created=9)


def test_phone_change_on_a_provider_that_cannot_change_phones(make_account):
    account = make_account("onebyone")
    store = MemoryProvider.store_for(account)
    [contact] = add_local(1)
    sync_account(account, "contacts", "both")
    old_remote = store.by_phone(contact.phone).remote_id
    assert store.calls["create_contact"] == 1

    contact.phone = "+393339998877"
    contact.save()
    run = sync_account(account, "contacts", "both")

    assert counts(run) == zero(pulled=1, pushed=1, unlinked=1)
    assert store.by_phone("+393339998877").remote_id != old_remote
    assert old_remote in store.contacts  # left alone there
    link = RemoteLink.objects.get(account=account, contact=contact)
    assert link.remote_id != old_remote
    assert RemoteLink.objects.get(remote_id=old_remote).detached
    assert "cannot change a phone" in run.problems.get(level="note").message
    # The old twin is not imported again, nothing is pushed twice.
    assert counts(sync_account(account, "contacts", "both")) == zero(pulled=2, unchanged=1)
    assert Contact.objects.count() == 1


def test_two_accounts_of_different_providers_share_contacts(make_account):
    bulk = make_account("memory", "Bulk")
    single = make_account("onebyone", "Single")
    local = add_local(3)
    MemoryProvider.store_for(single).add_contact(phone="+393331277777", first_name="Only on single")

    assert counts(sync_account(bulk, "contacts", "both")) == zero(pushed=3)
    run = sync_account(single, "contacts", "both")
    assert counts(run) == zero(pulled=1, created=1, pushed=3)
    run = sync_account(bulk, "contacts", "both")
    assert counts(run) == zero(pulled=3, unchanged=3, pushed=1)
    assert RemoteLink.objects.filter(contact=local[0]).count() == 2
    # A change here reaches both.
    contact = Contact.objects.get(pk=local[0].pk)
    contact.first_name = "Everywhere"
    contact.save()
    assert counts(sync_account(bulk, "contacts", "both")) == zero(pulled=4, unchanged=3, pushed=1)
    assert counts(sync_account(single, "contacts", "both")) == zero(pulled=4, unchanged=3, pushed=1)
    for acc in (bulk, single):
        assert MemoryProvider.store_for(acc).by_phone(contact.phone).first_name == "Everywhere"


def test_one_sync_per_account_and_resource(account):
    token = acquire_lock(account, "contacts")
    with pytest.raises(SyncBusy):
        sync_account(account, "contacts", "both")
    with pytest.raises(SyncBusy):
        sync_account(account, "all", "both")
    release_lock(account, "contacts", token)
    assert sync_account(account, "contacts", "both").status == "succeeded"


def test_lists_and_membership_three_way(account, store):
    contacts = add_local(4)
    vip = ContactList.objects.create(name="VIP")
    Membership.objects.create(contact=contacts[0], contact_list=vip)
    Membership.objects.create(contact=contacts[1], contact_list=vip)
    remote_list = store.add_list("Newsletter")

    run = sync_account(account, "all", "both")
    assert run.status == "succeeded", run.error
    # contacts: 4 pushed; lists: Newsletter pulled+created, VIP pushed; 2 members pushed.
    assert counts(run) == zero(pulled=1, created=1, pushed=4 + 1 + 2)
    vip_remote = next(x for x in store.lists.values() if x.name == "VIP")
    ids = {c.pk: store.by_phone(c.phone).remote_id for c in contacts}
    assert sorted(store.members[vip_remote.remote_id]) == sorted([ids[contacts[0].pk], ids[contacts[1].pk]])

    # Both sides change membership: they add #2 to Newsletter and drop #1 from VIP; we add #3 to VIP.
    store.members[remote_list.remote_id].append(ids[contacts[2].pk])
    store.members[vip_remote.remote_id].remove(ids[contacts[1].pk])
    Membership.objects.create(contact=contacts[3], contact_list=vip)

    run = sync_account(account, "all", "both")
    assert counts(run) == zero(pulled=4 + 2, unchanged=4 + 2, updated=2, pushed=1)
    newsletter = ContactList.objects.get(name="Newsletter")
    assert list(newsletter.contacts.values_list("pk", flat=True)) == [contacts[2].pk]
    assert sorted(vip.contacts.values_list("pk", flat=True)) == [contacts[0].pk, contacts[3].pk]
    assert sorted(store.members[vip_remote.remote_id]) == sorted([ids[contacts[0].pk], ids[contacts[3].pk]])

    again = sync_account(account, "all", "both")
    assert counts(again) == zero(pulled=6, unchanged=6)


def test_list_renamed_remotely_and_deleted_locally(account, store):
    ContactList.objects.create(name="Old name")
    sync_account(account, "lists", "both")
    remote = next(iter(store.lists.values()))
    remote.name = "New name"
    run = sync_account(account, "lists", "both")
    assert counts(run) == zero(pulled=1, updated=1)
    assert ContactList.objects.get().name == "New name"
    ContactList.objects.all().delete()
    run = sync_account(account, "lists", "both")
    assert counts(run) == zero(pulled=1, deleted=1)
    assert store.lists == {}


def test_pull_queries_are_constant_per_page(account, store, settings):
    MemoryProvider.page_size = 50
    try:
        for i in range(100):
            store.add_contact(phone=f"+39333130{i:04d}", first_name=f"A{i}")
        with CaptureQueriesContext(connection) as small:
            sync_account(account, "contacts", "pull")
        for i in range(100, 400):
            store.add_contact(phone=f"+39333130{i:04d}", first_name=f"A{i}")
        for c in list(store.contacts.values())[:100]:
            c.first_name += " changed"
        with CaptureQueriesContext(connection) as large:
            run = sync_account(account, "contacts", "pull")
    finally:
        MemoryProvider.page_size = 3
    assert counts(run) == zero(pulled=400, created=300, updated=100)
    pages_small, pages_large = 2, 8
    per_page_small = len(small.captured_queries) / pages_small
    per_page_large = len(large.captured_queries) / pages_large
    assert per_page_large <= 15, per_page_large
    assert per_page_small <= 21, per_page_small  # +1: the contact_created events insert


def test_an_empty_list_listing_keeps_list_links_even_when_contacts_were_seen(account, store):
    add_local(2)
    ContactList.objects.create(name="Kept")
    sync_account(account, "all", "both")
    store.lists.clear()
    run = sync_account(account, "all", "pull")
    assert counts(run) == zero(pulled=2, unchanged=2)
    assert RemoteLink.objects.filter(kind="list").count() == 1
    assert "no lists at all" in run.problems.get(kind="list").message


def test_contacts_created_by_a_pull_are_not_push_candidates(account, store):
    for i in range(5):
        store.add_contact(phone=f"+39333140{i:04d}", first_name=f"P{i}")
    sync_account(account, "contacts", "pull")
    from django.db.models import F

    assert not RemoteLink.objects.filter(contact__updated_at__gt=F("last_synced_at")).exists()


@pytest.mark.parametrize("keep", ["ours", "theirs"])
def test_a_list_renamed_on_both_sides_is_held_and_resolved(make_account, keep):
    account = make_account(conflict_policy="hold")
    store = MemoryProvider.store_for(account)
    local = ContactList.objects.create(name="Team")
    sync_account(account, "lists", "both")
    local.name = "Team here"
    local.save()
    next(iter(store.lists.values())).name = "Team there"

    run = sync_account(account, "lists", "both")
    assert (run.status, counts(run)) == ("partial", zero(pulled=1, conflicts=1))
    conflict = SyncConflict.objects.get(kind="list")
    assert conflict.differences() == [("name", "Team here", "Team there")]

    resolve_conflict(conflict, keep)
    after = sync_account(account, "lists", "both")
    winner = "Team here" if keep == "ours" else "Team there"
    local.refresh_from_db()
    assert local.name == next(iter(store.lists.values())).name == winner
    assert counts(after) == (zero(pulled=1, pushed=1) if keep == "ours" else zero(pulled=1, unchanged=1))

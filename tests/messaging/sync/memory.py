"""An in-process provider for sync tests: a dict per account, every hook, counters, a kill switch.

The sync engine only speaks the Provider interface, so this exercises it exactly as the
real clients do (the tests against the HTTP fakes cover the clients themselves).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from collections import Counter

from messaging.providers.base import (
    Capabilities,
    Page,
    Provider,
    RemoteContact,
    RemoteList,
    caps,
)
from messaging.providers.errors import NotFound, Unavailable


class WorkerKilled(Exception):
    """Stands in for a worker dying mid-run."""


class Store:
    def __init__(self):
        self.contacts: dict[str, RemoteContact] = {}
        self.lists: dict[str, RemoteList] = {}
        self.members: dict[str, list[str]] = {}
        self.ids = itertools.count(1)
        self.calls: Counter = Counter()
        self.fail_after_items: int | None = None  # raise WorkerKilled once this many were listed
        self.fail_on_push_after: int | None = None
        self.errors_next: list[Exception] = []
        self.listed = 0
        self.pushed = 0

    def new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self.ids)}"

    def add_contact(self, **data) -> RemoteContact:
        contact = RemoteContact(remote_id=data.pop("remote_id", "") or self.new_id("c"), **data)
        self.contacts[contact.remote_id] = contact
        return contact

    def add_list(self, name: str, members: list[str] = ()) -> RemoteList:
        remote = RemoteList(remote_id=self.new_id("l"), name=name)
        self.lists[remote.remote_id] = remote
        self.members[remote.remote_id] = list(members)
        return remote

    def by_phone(self, phone: str) -> RemoteContact | None:
        return next((c for c in self.contacts.values() if c.phone == phone), None)


class MemoryProvider(Provider):
    slug = "memory"
    display_name = "Memory"
    capabilities = Capabilities(
        resources=caps(
            contacts=["pull", "push", "delete", "bulk"],
            lists=["pull", "push", "delete", "membership", "bulk"],
        )
    )
    contact_fields = frozenset(
        {"phone", "first_name", "last_name", "email", "language", "custom_fields", "opted_out", "blocked"}
    )
    bulk_limit = 4
    page_size = 3
    stores: dict = {}

    @classmethod
    def store_for(cls, account) -> Store:
        return cls.stores.setdefault(account.pk, Store())

    @property
    def store(self) -> Store:
        return self.store_for(self.account)

    def _tick(self, name: str):
        self.store.calls[name] += 1
        if self.store.errors_next:
            raise self.store.errors_next.pop(0)

    # contacts
    def iter_contact_pages(self, cursor=None):
        start = int(cursor or 0)
        while True:
            self._tick("list_contacts")
            items = list(self.store.contacts.values())[start : start + self.page_size]
            if not items:
                return
            store = self.store
            if store.fail_after_items is not None and store.listed + len(items) > store.fail_after_items:
                store.fail_after_items = None
                raise WorkerKilled("worker killed")
            store.listed += len(items)
            start += len(items)
            more = start < len(self.store.contacts)
            yield Page([copy.deepcopy(c) for c in items], str(start) if more else None)
            if not more:
                return

    def _store_contact(self, contact: RemoteContact) -> RemoteContact:
        store = self.store
        if store.fail_on_push_after is not None and store.pushed >= store.fail_on_push_after:
            store.fail_on_push_after = None
            raise WorkerKilled("worker killed while pushing")
        store.pushed += 1
        data = dataclasses.replace(contact)
        kept = set(self.contact_fields)
        for f in dataclasses.fields(RemoteContact):
            if f.name not in kept and f.name not in ("remote_id", "raw", "list_ids", "version"):
                setattr(
                    data, f.name, f.default if f.default is not dataclasses.MISSING else f.default_factory()
                )
        if not data.remote_id:
            existing = store.by_phone(data.phone)
            data.remote_id = existing.remote_id if existing else store.new_id("c")
        elif data.remote_id not in store.contacts:
            raise NotFound("no such contact", status=404)
        store.contacts[data.remote_id] = data
        return copy.deepcopy(data)

    def create_contact(self, contact):
        self._tick("create_contact")
        return self._store_contact(contact)

    def update_contact(self, contact):
        self._tick("update_contact")
        return self._store_contact(contact)

    def upsert_contacts(self, contacts):
        self._tick("upsert_contacts")
        assert len(contacts) <= self.bulk_limit
        return [self._store_contact(c) for c in contacts]

    def delete_contacts(self, remote_ids):
        self._tick("delete_contacts")
        for rid in remote_ids:
            self.store.contacts.pop(rid, None)
            for members in self.store.members.values():
                if rid in members:
                    members.remove(rid)

    # lists
    def iter_list_pages(self, cursor=None):
        self._tick("list_lists")
        yield Page([copy.deepcopy(x) for x in self.store.lists.values()], None)

    def create_list(self, remote_list):
        self._tick("create_list")
        return copy.deepcopy(self.store.add_list(remote_list.name))

    def update_list(self, remote_list):
        self._tick("update_list")
        self.store.lists[remote_list.remote_id].name = remote_list.name
        return remote_list

    def delete_list(self, remote_id):
        self._tick("delete_list")
        self.store.lists.pop(remote_id, None)
        self.store.members.pop(remote_id, None)

    def iter_list_member_pages(self, list_id, cursor=None):
        self._tick("list_members")
        yield Page(list(self.store.members.get(list_id, [])), None)

    def add_list_members(self, list_id, contact_ids):
        self._tick("add_members")
        members = self.store.members.setdefault(list_id, [])
        members.extend(c for c in contact_ids if c not in members)

    def remove_list_members(self, list_id, contact_ids):
        self._tick("remove_members")
        self.store.members[list_id] = [c for c in self.store.members.get(list_id, []) if c not in contact_ids]


class OneByOneProvider(MemoryProvider):
    """Like MyOperator: contacts one by one, no lists, a phone cannot change, fewer fields."""

    slug = "onebyone"
    display_name = "One by one"
    capabilities = Capabilities(resources=caps(contacts=["pull", "push", "delete"]))
    contact_fields = frozenset({"phone", "first_name", "last_name", "custom_fields"})
    contact_phone_immutable = True
    bulk_limit = 1

    def upsert_contacts(self, contacts):  # not offered
        raise AssertionError("bulk must not be used without the BULK capability")

    def _store_contact(self, contact):
        if contact.remote_id and contact.remote_id in self.store.contacts:
            old = self.store.contacts[contact.remote_id]
            if old.phone != contact.phone:
                raise AssertionError("this provider cannot change a phone")
        if not contact.remote_id and self.store.by_phone(contact.phone):
            from messaging.providers.errors import Rejected

            raise Rejected("A contact with this phone exists", status=409)
        return super()._store_contact(contact)


__all__ = ["MemoryProvider", "OneByOneProvider", "Store", "Unavailable", "WorkerKilled"]

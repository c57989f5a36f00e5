"""The sync engine: pull, push, matching, conflicts and deletions for one account.

One `SyncEngine` runs one `SyncRun` through its phases. Every batch (a page
pulled, a bulk call pushed) is written in one transaction together with the
run's counts and the cursor of the next batch, so a run killed at any point
resumes exactly where the last committed batch ended: nothing lost, nothing
counted twice.

Which side changed is decided three-way: each RemoteLink keeps a fingerprint
of the local state and of the remote state at the last sync. Only the fields
the provider keeps (Provider.contact_fields) take part, so a field a provider
cannot store is never blanked.

Queries stay O(1) per batch: every lookup for a page is one `__in` query and
every write one bulk statement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from contacts.events import record_events, record_sync_membership
from contacts.models import Contact, ContactList, CustomField, Membership, Tag
from messaging.providers.base import CONTACT_FIELDS, Op, Provider, RemoteContact, RemoteList, Resource
from messaging.providers.errors import NotSupported, Rejected

from .fingerprints import (
    blank,
    contact_state,
    differing_fields,
    fingerprint,
    list_state,
    normalise_remote_phone,
    remote_contact_state,
    remote_list_state,
    same,
)
from .models import RemoteLink, SyncConflict, SyncError, SyncMembership, SyncRun

logger = logging.getLogger("switchboard.sync")

CONTACT = RemoteLink.Kind.CONTACT
LIST = RemoteLink.Kind.LIST
TEXT_ATTRS = (
    "first_name", "last_name", "email", "language", "gender", "company", "address", "city",
    "province", "postal_code", "country", "notes",
)  # fmt: skip
PUSH_BATCH = 100  # records per checkpoint when the provider takes them one by one
MEMBER_CHUNK = 500


class SyncEngine:
    """Runs one SyncRun's phases for one account. Call run() inside correlate() and the lock."""

    def __init__(self, run: SyncRun, provider: Provider, *, heartbeat: Callable[[], None] | None = None):
        self.run = run
        self.account = run.account
        self.provider = provider
        self.caps = provider.capabilities
        self.heartbeat = heartbeat or (lambda: None)
        self.pull = run.direction in (SyncRun.Direction.PULL, SyncRun.Direction.BOTH)
        self.push = run.direction in (SyncRun.Direction.PUSH, SyncRun.Direction.BOTH)
        self.fields = frozenset(provider.contact_fields or ()) & CONTACT_FIELDS | {"phone"}
        self.custom_defs = {f.key: f for f in CustomField.objects.all()}
        self.custom_keys = sorted(self.custom_defs)
        self.phone_immutable = bool(getattr(provider, "contact_phone_immutable", False))
        self.policy = self.account.conflict_policy
        self._problems: list[SyncError] = []
        self._unknown_custom: set[str] = set()

    # -- driver --------------------------------------------------------------------------------

    def phases(self) -> list[tuple[str, Callable[[Any], None]]]:
        resources = (
            ["contacts", "lists"] if self.run.resource == SyncRun.Resource.ALL else [self.run.resource]
        )
        phases: list[tuple[str, Callable[[Any], None]]] = []
        if "contacts" in resources and self.caps.resources.get(Resource.CONTACTS):
            if self.pull and self.caps.supports("contacts", Op.PULL):
                phases += [
                    ("contacts:pull", self.pull_contacts),
                    ("contacts:reconcile", self.reconcile_contacts),
                ]
            if self.push and self.caps.supports("contacts", Op.PUSH):
                phases += [
                    ("contacts:push_deleted", self.push_deleted_contacts),
                    ("contacts:push_new", self.push_new_contacts),
                    ("contacts:push_changed", self.push_changed_contacts),
                ]
        if "lists" in resources and self.caps.resources.get(Resource.LISTS):
            if self.pull and self.caps.supports("lists", Op.PULL):
                phases += [("lists:pull", self.pull_lists), ("lists:reconcile", self.reconcile_lists)]
            if self.push and self.caps.supports("lists", Op.PUSH):
                phases += [("lists:push_deleted", self.push_deleted_lists), ("lists:push", self.push_lists)]
            if self.caps.supports("lists", Op.MEMBERSHIP):
                phases += [("lists:members", self.sync_members)]
        return phases

    def execute(self) -> None:
        """Run every phase from the run's stored cursor (a fresh run starts at the first)."""
        state = self.run.cursor or {}
        resume_phase, resume_cursor, resume_done = state.get("phase"), state.get("cursor"), state.get("done")
        names = [name for name, _ in self.phases()]
        skipping = resume_phase in names
        for name, method in self.phases():
            if skipping:
                if name != resume_phase:
                    continue
                skipping = False
                if resume_done:
                    continue
                cursor = resume_cursor
            else:
                cursor = None
            method(cursor)
            self.checkpoint(name, None, done=True)
        if not self.phases():
            self.note(
                "", f"{self.provider.display_name} has nothing this run could sync ({self.run.resource})."
            )
            self.flush()

    def checkpoint(self, phase: str, cursor: Any, *, done: bool = False) -> None:
        """Save counts, problems and where to resume; call inside the batch's transaction."""
        self.run.cursor = {"phase": phase, "cursor": cursor, "done": done}
        self.flush()
        self.heartbeat()

    def flush(self) -> None:
        if self._problems:
            SyncError.objects.bulk_create(self._problems)
            self._problems = []
        self.run.save(update_fields=[*SyncRun.COUNTS, "cursor"])

    def error(self, kind: str, message: str, *, remote_id: str = "", local_id=None) -> None:
        self.run.errors += 1
        self._problems.append(
            SyncError(run=self.run, kind=kind, remote_id=remote_id[:200], local_id=local_id, message=message)
        )

    def note(self, kind: str, message: str, *, remote_id: str = "", local_id=None) -> None:
        self._problems.append(
            SyncError(
                run=self.run, level=SyncError.Level.NOTE, kind=kind, remote_id=remote_id[:200],
                local_id=local_id, message=message,
            )
        )  # fmt: skip

    # -- contacts: states -------------------------------------------------------------------------

    def local_state(self, contact: Contact, tags: dict[int, list[str]] | None = None) -> dict:
        return contact_state(
            contact,
            self.fields,
            self.custom_keys,
            (tags or {}).get(contact.pk) if "tags" in self.fields else None,
        )

    def remote_state(self, remote: RemoteContact) -> dict:
        if remote.custom_fields and "custom_fields" in self.fields:
            self._unknown_custom.update(k for k in remote.custom_fields if k not in self.custom_defs)
        return remote_contact_state(remote, self.fields, self.custom_keys)

    def to_remote(
        self, contact: Contact, tags: dict[int, list[str]] | None = None, remote_id: str = ""
    ) -> RemoteContact:
        """The normalised record we send: only the fields this provider keeps."""
        data: dict[str, Any] = {"remote_id": remote_id, "phone": contact.phone}
        for name in TEXT_ATTRS:
            if name in self.fields:
                data[name] = getattr(contact, name) or ""
        if "birth_date" in self.fields:
            data["birth_date"] = contact.birth_date
        if "custom_fields" in self.fields:
            data["custom_fields"] = {
                k: v for k, v in (contact.fields or {}).items() if k in self.custom_defs and v is not None
            }
        if "tags" in self.fields:
            data["tags"] = sorted((tags or {}).get(contact.pk, []))
        if "opted_out" in self.fields:
            data["opted_out"] = contact.opted_out
        if "blocked" in self.fields:
            data["blocked"] = contact.blocked
        return RemoteContact(**data)

    def _tags_for(self, contact_ids: Iterable[int]) -> dict[int, list[str]]:
        if "tags" not in self.fields:
            return {}
        out: dict[int, list[str]] = {}
        through = Contact.tags.through
        for cid, name in through.objects.filter(contact_id__in=list(contact_ids)).values_list(
            "contact_id", "tag__name"
        ):
            out.setdefault(cid, []).append(name)
        return out

    def _apply_remote(
        self, contact: Contact, state: dict, remote: RemoteContact, only: Iterable[str] | None = None
    ):
        """Copy the remote's values for the given (or all stated) fields onto the contact, unsaved.

        Returns the tag names to set, or None when tags are not touched.
        """
        keys = set(state) if only is None else set(only)
        tags = None
        for key in keys:
            value = state.get(key)
            if value is None:
                continue  # the provider did not say: leave ours
            if key == "phone":
                contact.phone = value
            elif key in TEXT_ATTRS:
                raw = getattr(remote, key) or ""
                raw = str(raw).strip()
                if key == "country":
                    raw = raw.upper()
                elif key == "email":
                    raw = raw.lower()
                limit = Contact._meta.get_field(key).max_length
                setattr(contact, key, raw[:limit] if limit else raw)
            elif key == "birth_date":
                contact.birth_date = remote.birth_date
            elif key == "custom_fields":
                # Only the keys the provider holds: a key it lacks (not defined there, say) must
                # not erase ours.
                merged = dict(contact.fields or {})
                for cf_key in self.custom_keys:
                    if cf_key in value:
                        merged[cf_key] = self.custom_defs[cf_key].clean_value(value[cf_key])
                contact.fields = {k: v for k, v in merged.items() if v is not None}
            elif key == "opted_out":
                if value and not contact.opted_out:
                    contact.opted_out, contact.opted_out_at = True, timezone.now()
                    contact.opted_out_reason = contact.opted_out_reason or f"At {self.account.name}"
                elif not value and contact.opted_out:
                    contact.opted_out, contact.opted_out_at, contact.opted_out_reason = False, None, ""
            elif key == "blocked":
                contact.blocked = bool(value)
            elif key == "tags":
                tags = list(value)
        return tags

    # -- contacts: pull -----------------------------------------------------------------------------

    def pull_contacts(self, cursor) -> None:
        for page in self.provider.iter_contact_pages(cursor):
            with transaction.atomic():
                self._pull_contact_page(page.items)
                if page.cursor is None:
                    self.checkpoint("contacts:pull", None, done=True)
                else:
                    self.checkpoint("contacts:pull", page.cursor)
        if self._unknown_custom:
            keys = ", ".join(sorted(self._unknown_custom))
            self.note(
                "contact",
                f"{self.provider.display_name} has custom fields Switchboard does not define: {keys}. Add them under Custom fields to sync them.",
            )
            self.flush()

    def _pull_contact_page(self, items: list[RemoteContact]) -> None:
        now = timezone.now()
        run = self.run
        run.pulled += len(items)
        rows = []
        for remote in items:
            if not remote.remote_id:
                self.error("contact", f"A contact without an id was skipped (phone {remote.phone!r}).")
                continue
            rows.append((remote, self.remote_state(remote)))
        ids = [r.remote_id for r, _ in rows]
        links = {
            link.remote_id: link
            for link in RemoteLink.objects.filter(
                account=self.account, kind=CONTACT, remote_id__in=ids
            ).select_related("contact")
        }
        phones = {s["phone"] for r, s in rows if r.remote_id not in links and s.get("phone")}
        by_phone = {c.phone: c for c in Contact.objects.filter(phone__in=phones)} if phones else {}
        linked_elsewhere = set(
            RemoteLink.objects.filter(account=self.account, kind=CONTACT, contact__in=list(by_phone.values()))
            .values_list("contact_id", flat=True)
        ) if by_phone else set()  # fmt: skip
        held = set(
            SyncConflict.objects.filter(
                account=self.account, kind=CONTACT, status=SyncConflict.Status.OPEN, remote_id__in=ids
            ).values_list("remote_id", flat=True)
        )
        local_ids = [link.contact_id for link in links.values() if link.contact_id] + [
            c.pk for c in by_phone.values()
        ]
        tags = self._tags_for(local_ids)

        seen: list[int] = []
        touched_links: list[RemoteLink] = []
        changed: dict[int, Contact] = {}
        tag_updates: dict[int, list[str]] = {}
        new_rows: list[tuple[Contact, RemoteContact, dict, list[str] | None]] = []
        new_links: list[RemoteLink] = []
        page_phones: set[str] = set()
        conflicts: list[SyncConflict] = []

        for remote, rstate in rows:
            link = links.get(remote.remote_id)
            if link is not None:
                contact = link.contact
                if contact is None or contact.deleted_at is not None or remote.remote_id in held:
                    # Deleted here (push deletes or keeps the tombstone) or waiting for a person.
                    seen.append(link.pk)
                    continue
                page_phones.add(contact.phone)
                before = self._link_state(link)
                self._merge_linked(link, contact, remote, rstate, tags, now, changed, tag_updates, conflicts)
                # Only links that changed are rewritten; the rest are just marked seen, in one UPDATE.
                if self._link_state(link) != before:
                    touched_links.append(link)
                else:
                    seen.append(link.pk)
                continue

            phone = rstate.get("phone") or normalise_remote_phone(remote.phone)
            if not phone:
                self.error(
                    "contact",
                    f"No usable phone number ({remote.phone!r}); not imported.",
                    remote_id=remote.remote_id,
                )
                continue
            if phone in page_phones:
                self.error(
                    "contact",
                    f"Another contact at {self.provider.display_name} has the phone {phone}; this one was skipped.",
                    remote_id=remote.remote_id,
                )
                continue
            page_phones.add(phone)
            contact = by_phone.get(phone)
            if contact is not None and contact.pk in linked_elsewhere:
                self.error(
                    "contact",
                    f"{phone} is already linked to another contact at {self.provider.display_name}; this one was skipped.",
                    remote_id=remote.remote_id, local_id=contact.pk,
                )  # fmt: skip
                continue
            link = RemoteLink(
                account=self.account, kind=CONTACT, remote_id=remote.remote_id, last_seen_run=run.pk,
                remote_version=remote.version[:100], remote_updated_at=remote.updated_at, created_at=now,
            )  # fmt: skip
            if contact is None:
                contact = Contact(phone=phone, created_at=now)
                try:
                    new_tags = self._apply_remote(contact, rstate, remote)
                except Exception as exc:  # a custom field value we cannot store
                    self.error("contact", f"Not imported: {exc}", remote_id=remote.remote_id)
                    continue
                new_rows.append((contact, remote, rstate, new_tags))
                new_links.append(link)
                continue
            self._merge_first(link, contact, remote, rstate, tags, now, changed, tag_updates, conflicts)
            new_links.append(link)

        # Writes: one bulk statement each.
        if new_rows:
            contacts = [c for c, _, _, _ in new_rows]
            for c in contacts:
                c.updated_at = now
            Contact.objects.bulk_create(contacts)
            record_events("contact_created", [c.pk for c in contacts], source="sync")  # i12
            run.created += len(contacts)
            links_by_remote = {lk.remote_id: lk for lk in new_links}
            for contact, remote, rstate, new_tags in new_rows:
                link = links_by_remote[remote.remote_id]
                link.contact = contact
                state = self.local_state(contact, {contact.pk: new_tags or []})
                link.fingerprint = fingerprint(state) if same(state, rstate) else ""
                link.remote_fingerprint = fingerprint(rstate)
                # bulk_create stamped updated_at (auto_now) a moment after `now`: take its value,
                # or every new contact would look edited to the push phase.
                link.synced_key, link.last_synced_at = contact.phone, max(now, contact.updated_at)
                if new_tags:
                    tag_updates[contact.pk] = new_tags
        if changed:
            for c in changed.values():
                c.updated_at = now
            Contact.objects.bulk_update(
                list(changed.values()),
                ["phone", *TEXT_ATTRS, "birth_date", "fields", "opted_out", "opted_out_at", "opted_out_reason",
                 "blocked", "updated_at"],
            )  # fmt: skip
        if tag_updates:
            self._set_tags(tag_updates)
        if new_links:
            RemoteLink.objects.bulk_create(new_links)
        if touched_links:
            for link in touched_links:
                link.last_seen_run = run.pk
            RemoteLink.objects.bulk_update(
                touched_links,
                ["fingerprint", "remote_fingerprint", "synced_key", "last_synced_at", "last_seen_run",
                 "remote_version", "remote_updated_at"],
            )  # fmt: skip
        if seen:
            RemoteLink.objects.filter(pk__in=seen).update(last_seen_run=run.pk)
        if conflicts:
            for conflict in conflicts:
                if conflict.link is not None and conflict.link.pk is None:
                    conflict.link = next((lk for lk in new_links if lk.remote_id == conflict.remote_id), None)
            SyncConflict.objects.bulk_create(conflicts)

    @staticmethod
    def _link_state(link) -> tuple:
        return (link.fingerprint, link.remote_fingerprint, link.synced_key, link.last_synced_at,
                link.remote_version, link.remote_updated_at)  # fmt: skip

    def _merge_linked(self, link, contact, remote, rstate, tags, now, changed, tag_updates, conflicts):
        lstate = self.local_state(contact, tags)
        lfp, rfp = fingerprint(lstate), fingerprint(rstate)
        local_changed = lfp != link.fingerprint
        remote_changed = rfp != link.remote_fingerprint
        link.remote_version, link.remote_updated_at = remote.version[:100], remote.updated_at
        if same(lstate, rstate):
            self.run.unchanged += 1
            if local_changed or remote_changed:
                link.fingerprint, link.remote_fingerprint, link.synced_key = lfp, rfp, contact.phone
                link.last_synced_at = now
            return
        if not local_changed and not remote_changed:
            # A difference both sides already had at the last sync (a provider default or a
            # value it cannot hold): known and accepted, not a change.
            self.run.unchanged += 1
            return
        if not local_changed:
            self._take_remote(link, contact, remote, rstate, tags, now, changed, tag_updates)
            return
        if local_changed and not remote_changed:
            return  # ours is newer: the push phase sends it
        self._conflict(link, contact, remote, lstate, rstate, tags, now, changed, tag_updates, conflicts)

    def _merge_first(self, link, contact, remote, rstate, tags, now, changed, tag_updates, conflicts):
        """First meeting of a local contact and a remote one with the same phone."""
        link.contact = contact
        lstate = self.local_state(contact, tags)
        if same(lstate, rstate):
            self.run.unchanged += 1
            link.fingerprint, link.remote_fingerprint = fingerprint(lstate), fingerprint(rstate)
            link.synced_key, link.last_synced_at = contact.phone, now
            return
        diffs = differing_fields(lstate, rstate)
        # Theirs fills what we lack; ours fills what they lack (sent on push); only two
        # different non-empty values are a conflict.
        ours_blank = [k for k in diffs if blank(lstate.get(k))]
        clashing = [k for k in diffs if not blank(lstate.get(k)) and not blank(rstate.get(k))]
        if not clashing:
            self._take_remote(link, contact, remote, rstate, tags, now, changed, tag_updates, only=ours_blank)
            return
        self._conflict(
            link, contact, remote, lstate, rstate, tags, now, changed, tag_updates, conflicts, gaps=ours_blank
        )

    def _take_remote(self, link, contact, remote, rstate, tags, now, changed, tag_updates, only=None):
        """Apply theirs here. On a first meeting (no base yet) what only we hold is then pushed;
        on a known link it was pushed before and the provider did not keep it: a known gap."""
        lstate_before = self.local_state(contact, tags)
        if rstate.get("phone") and rstate["phone"] != contact.phone:
            clash = Contact.objects.filter(phone=rstate["phone"]).exclude(pk=contact.pk).first()
            if clash is not None:
                self.error(
                    "contact", f"{self.provider.display_name} changed the phone to {rstate['phone']}, which {clash.display_name} already has here; not applied.",
                    remote_id=remote.remote_id, local_id=contact.pk,
                )  # fmt: skip
                return
        try:
            new_tags = self._apply_remote(contact, rstate, remote, only=only)
        except Exception as exc:
            self.error("contact", f"Not updated: {exc}", remote_id=remote.remote_id, local_id=contact.pk)
            return
        if new_tags is not None:
            tags = {**(tags or {}), contact.pk: new_tags}
            tag_updates[contact.pk] = new_tags
        lstate = self.local_state(contact, tags)
        if lstate != lstate_before:
            changed[contact.pk] = contact
            self.run.updated += 1
        else:
            self.run.unchanged += 1
        first_meeting = not link.remote_fingerprint
        # When ours still holds something theirs lacks, an empty base makes push send it.
        link.fingerprint = fingerprint(lstate) if same(lstate, rstate) or not first_meeting else ""
        link.remote_fingerprint = fingerprint(rstate)
        link.synced_key, link.last_synced_at = contact.phone, now

    def _conflict(
        self, link, contact, remote, lstate, rstate, tags, now, changed, tag_updates, conflicts, gaps=None
    ):
        self.run.conflicts += 1
        if self.policy == "provider_wins":
            self._take_remote(link, contact, remote, rstate, tags, now, changed, tag_updates)
            return
        if self.policy == "local_wins":
            if gaps:
                self._take_remote(link, contact, remote, rstate, tags, now, changed, tag_updates, only=gaps)
            link.fingerprint, link.remote_fingerprint = "", fingerprint(rstate)
            link.synced_key, link.last_synced_at = contact.phone, now
            return
        # Hold: nothing changes on either side until a person decides.
        if link.pk is None:
            link.fingerprint = link.remote_fingerprint = ""
            link.synced_key = contact.phone
        conflicts.append(
            SyncConflict(
                account=self.account, run=self.run, link=link, kind=CONTACT, contact=contact,
                remote_id=remote.remote_id, local_snapshot=lstate, remote_snapshot=rstate,
            )
        )  # fmt: skip

    def _set_tags(self, tag_updates: dict[int, list[str]]) -> None:
        names = {n[:64] for names in tag_updates.values() for n in names}
        existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
        missing = [Tag(name=n) for n in names if n not in existing]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {t.name: t for t in Tag.objects.filter(name__in=names)}
        through = Contact.tags.through
        through.objects.filter(contact_id__in=list(tag_updates)).delete()
        through.objects.bulk_create(
            [
                through(contact_id=cid, tag_id=existing[n[:64]].pk)
                for cid, ns in tag_updates.items()
                for n in set(ns)
            ],
            ignore_conflicts=True,
        )

    # -- contacts: deletions found by the full scan ------------------------------------------------

    def reconcile_contacts(self, cursor) -> None:
        self._reconcile(CONTACT)

    def _reconcile(self, kind: str) -> None:
        missing = RemoteLink.objects.filter(account=self.account, kind=kind).exclude(
            last_seen_run=self.run.pk
        )
        if not missing.exists():
            return
        scanned_any = RemoteLink.objects.filter(
            account=self.account, kind=kind, last_seen_run=self.run.pk
        ).exists()
        if not scanned_any:
            # An empty listing while we hold links is more likely a wrong account than a wiped one.
            with transaction.atomic():
                self.note(
                    kind,
                    f"{self.provider.display_name} returned no {kind}s at all; links were kept. Check the account.",
                )
                self.flush()
            return
        delete_here = self.account.delete_policy == "delete"
        while True:
            batch = list(
                missing.order_by("pk")[:1000].values_list("pk", "contact_id", "contact_list_id", "remote_id")
            )
            if not batch:
                break
            with transaction.atomic():
                local_ids = [row[1] if kind == CONTACT else row[2] for row in batch if (row[1] or row[2])]
                if delete_here and local_ids:
                    if kind == CONTACT:
                        n = Contact.objects.filter(pk__in=local_ids).update(
                            deleted_at=timezone.now(), updated_at=timezone.now()
                        )
                    else:
                        n, _ = ContactList.objects.filter(pk__in=local_ids).delete()
                        n = len(local_ids)
                    self.run.deleted += n
                else:
                    self.run.unlinked += len(local_ids)
                RemoteLink.objects.filter(pk__in=[row[0] for row in batch]).delete()
                self.flush()
        what = "deleted here too" if delete_here else "unlinked (kept here)"
        with transaction.atomic():
            self.note(kind, f"Records gone from {self.provider.display_name} were {what}.")
            self.flush()

    # -- contacts: push ------------------------------------------------------------------------------

    def _held_remote_ids(self, kind: str):
        return SyncConflict.objects.filter(
            account=self.account, kind=kind, status=SyncConflict.Status.OPEN
        ).values("remote_id")

    def push_deleted_contacts(self, cursor) -> None:
        can_delete = self.caps.supports("contacts", Op.DELETE)
        tombstones = (
            RemoteLink.objects.filter(account=self.account, kind=CONTACT, detached=False)
            .filter(Q(contact__isnull=True) | Q(contact__deleted_at__isnull=False))
            .order_by("pk")
        )
        if cursor:
            tombstones = tombstones.filter(pk__gt=cursor)
        if not can_delete:
            count = tombstones.count()
            if count and not self.pull:
                with transaction.atomic():
                    self.note(
                        "contact",
                        f"{count} contacts deleted here stay at {self.provider.display_name}, which cannot delete contacts.",
                    )
                    self.flush()
            return
        size = max(1, min(self.provider.bulk_limit, 100))
        while True:
            batch = list(tombstones.filter(pk__gt=cursor or 0)[:size].values_list("pk", "remote_id"))
            if not batch:
                return
            self.provider.delete_contacts([rid for _, rid in batch])
            with transaction.atomic():
                RemoteLink.objects.filter(pk__in=[pk for pk, _ in batch]).delete()
                self.run.deleted += len(batch)
                cursor = batch[-1][0]
                self.checkpoint("contacts:push_deleted", cursor)

    def push_new_contacts(self, cursor) -> None:
        linked = RemoteLink.objects.filter(account=self.account, kind=CONTACT, contact__isnull=False).values(
            "contact_id"
        )
        queryset = Contact.objects.exclude(pk__in=linked).order_by("pk")
        bulk = self.caps.supports("contacts", Op.BULK) and self.provider.bulk_limit > 1
        size = self.provider.bulk_limit if bulk else PUSH_BATCH
        last = cursor or 0
        while True:
            batch = list(queryset.filter(pk__gt=last)[:size])
            if not batch:
                return
            tags = self._tags_for(c.pk for c in batch)
            self._push_batch([(c, None) for c in batch], tags, bulk)
            last = batch[-1].pk
            with transaction.atomic():
                self._save_push_results()
                self.checkpoint("contacts:push_new", last)

    def push_changed_contacts(self, cursor) -> None:
        queryset = (
            RemoteLink.objects.filter(
                account=self.account, kind=CONTACT, contact__isnull=False, contact__deleted_at__isnull=True
            )
            .filter(
                Q(contact__updated_at__gt=F("last_synced_at"))
                | Q(fingerprint="")
                | Q(last_synced_at__isnull=True)
            )
            .exclude(remote_id__in=self._held_remote_ids(CONTACT))
            .select_related("contact")
            .order_by("contact_id")
        )
        bulk = self.caps.supports("contacts", Op.BULK) and self.provider.bulk_limit > 1
        size = self.provider.bulk_limit if bulk else PUSH_BATCH
        last = cursor or 0
        while True:
            links = list(queryset.filter(contact_id__gt=last)[:size])
            if not links:
                return
            last = links[-1].contact_id
            tags = self._tags_for(lk.contact_id for lk in links)
            todo, quiet = [], []
            for link in links:
                if fingerprint(self.local_state(link.contact, tags)) == link.fingerprint:
                    quiet.append(link)  # saved without a change we keep (e.g. a field this provider lacks)
                else:
                    todo.append((link.contact, link))
            if todo:
                self._push_batch(todo, tags, bulk)
            with transaction.atomic():
                if quiet:
                    RemoteLink.objects.filter(pk__in=[lk.pk for lk in quiet]).update(
                        last_synced_at=timezone.now()
                    )
                self._save_push_results()
                self.checkpoint("contacts:push_changed", last)

    def _push_batch(self, items: list[tuple[Contact, RemoteLink | None]], tags, bulk: bool) -> None:
        """Send contacts (new when link is None) and keep what to record in self._pushed."""
        now = timezone.now()
        self._pushed: list[tuple[Contact, RemoteLink | None, str, dict]] = []
        self._detach: list[RemoteLink] = []
        outgoing: list[tuple[Contact, RemoteLink | None, RemoteContact]] = []
        for contact, link in items:
            remote_id = link.remote_id if link else ""
            if link and self.phone_immutable and link.synced_key and link.synced_key != contact.phone:
                # This provider cannot change a phone: a new twin for the new number, the old one let go.
                self.note(
                    "contact",
                    f"The phone changed from {link.synced_key} to {contact.phone}; {self.provider.display_name} cannot change a phone, so a new contact was created there and the old one ({link.remote_id}) was unlinked.",
                    remote_id=link.remote_id, local_id=contact.pk,
                )  # fmt: skip
                self._detach.append(link)
                remote_id = ""
                link = None
            outgoing.append((contact, link, self.to_remote(contact, tags, remote_id)))
        self._now = now
        if bulk:
            batch = [r for _, _, r in outgoing]
            try:
                results = self.provider.upsert_contacts(batch)
            except Rejected as exc:
                for contact, link, _ in outgoing:
                    self.error(
                        "contact",
                        f"Not sent: {exc}",
                        remote_id=link.remote_id if link else "",
                        local_id=contact.pk,
                    )
                return
            by_phone = {normalise_remote_phone(r.phone): r for r in results or [] if r.phone}
            for index, (contact, link, sent) in enumerate(outgoing):
                result = by_phone.get(contact.phone)
                if result is None and results and len(results) == len(outgoing):
                    result = results[index]
                self._record_pushed(contact, link, sent, result, tags)
            return
        for contact, link, sent in outgoing:
            try:
                result = (
                    self.provider.update_contact(sent)
                    if sent.remote_id
                    else self.provider.create_contact(sent)
                )
            except Rejected as exc:
                self.error("contact", f"Not sent: {exc}", remote_id=sent.remote_id, local_id=contact.pk)
                continue
            except NotSupported as exc:
                self.error("contact", str(exc), remote_id=sent.remote_id, local_id=contact.pk)
                continue
            self._record_pushed(contact, link, sent, result, tags)

    def _record_pushed(self, contact, link, sent: RemoteContact, result: RemoteContact | None, tags) -> None:
        """Remember a pushed contact with the id the provider gave it (an error when it gave none)."""
        remote_id = (result.remote_id if result else "") or sent.remote_id
        if not remote_id:
            self.error(
                "contact",
                f"{self.provider.display_name} did not return an id for {contact.phone}.",
                local_id=contact.pk,
            )
            return
        self._pushed.append((contact, link, remote_id, self._sent_state(sent, result), tags))

    def _sent_state(self, sent: RemoteContact, result: RemoteContact | None) -> dict:
        """What the provider now holds: its answer when it echoes the record (it may fill
        defaults, e.g. a language), else what we sent."""
        if (
            result is not None
            and result.phone
            and normalise_remote_phone(result.phone) == normalise_remote_phone(sent.phone)
        ):
            return remote_contact_state(result, self.fields, self.custom_keys)
        return remote_contact_state(sent, self.fields, self.custom_keys)

    def _save_push_results(self) -> None:
        now = timezone.now()
        if getattr(self, "_detach", None):
            for link in self._detach:
                link.contact, link.detached = None, True
            RemoteLink.objects.bulk_update(self._detach, ["contact", "detached"])
            self.run.unlinked += len(self._detach)
            self._detach = []
        updates, creates = [], []
        for contact, link, remote_id, sent_state, tags in getattr(self, "_pushed", []):
            state = self.local_state(contact, tags)
            if link is None:
                link = RemoteLink(
                    account=self.account, kind=CONTACT, contact=contact, remote_id=remote_id, created_at=now
                )
                creates.append(link)
            else:
                updates.append(link)
            link.fingerprint, link.remote_fingerprint = fingerprint(state), fingerprint(sent_state)
            link.synced_key, link.last_synced_at, link.last_seen_run = contact.phone, now, self.run.pk
        if creates:
            # An upsert may have matched a remote contact we already link (same phone): update that link.
            existing = {
                lk.remote_id: lk
                for lk in RemoteLink.objects.filter(
                    account=self.account, kind=CONTACT, remote_id__in=[c.remote_id for c in creates]
                )
            }
            fresh = []
            for link in creates:
                old = existing.get(link.remote_id)
                if old is None:
                    fresh.append(link)
                    continue
                old.contact, old.detached = link.contact, False
                old.fingerprint, old.remote_fingerprint = link.fingerprint, link.remote_fingerprint
                old.synced_key, old.last_synced_at, old.last_seen_run = link.synced_key, now, self.run.pk
                updates.append(old)
            RemoteLink.objects.bulk_create(fresh)
        if updates:
            RemoteLink.objects.bulk_update(
                updates,
                [
                    "contact",
                    "detached",
                    "fingerprint",
                    "remote_fingerprint",
                    "synced_key",
                    "last_synced_at",
                    "last_seen_run",
                ],
            )
        self.run.pushed += len(getattr(self, "_pushed", []))
        self._pushed = []

    # -- lists ----------------------------------------------------------------------------------------

    def pull_lists(self, cursor) -> None:
        for page in self.provider.iter_list_pages(cursor):
            with transaction.atomic():
                self._pull_list_page(page.items)
                self.checkpoint("lists:pull", page.cursor, done=page.cursor is None)

    def _pull_list_page(self, items: list[RemoteList]) -> None:
        now = timezone.now()
        self.run.pulled += len(items)
        ids = [r.remote_id for r in items if r.remote_id]
        links = {
            lk.remote_id: lk
            for lk in RemoteLink.objects.filter(
                account=self.account, kind=LIST, remote_id__in=ids
            ).select_related("contact_list")
        }
        names = {r.name.strip().lower() for r in items if r.remote_id not in links}
        by_name = {
            cl.name.lower(): cl for cl in ContactList.objects.filter(name__in=[r.name.strip() for r in items])
        }
        del names
        linked_lists = set(
            RemoteLink.objects.filter(
                account=self.account, kind=LIST, contact_list__in=list(by_name.values())
            ).values_list("contact_list_id", flat=True)
        )
        held = set(self._held_remote_ids(LIST).filter(remote_id__in=ids).values_list("remote_id", flat=True))
        for remote in items:
            if not remote.remote_id or not remote.name.strip():
                self.error("list", f"A list without an id or name was skipped ({remote.remote_id!r}).")
                continue
            rstate = remote_list_state(remote)
            link = links.get(remote.remote_id)
            if link is not None:
                link.last_seen_run = self.run.pk
                local = link.contact_list
                if local is None or remote.remote_id in held:
                    link.save(update_fields=["last_seen_run"])
                    continue
                lstate = list_state(local)
                lfp, rfp = fingerprint(lstate), fingerprint(rstate)
                if same(lstate, rstate):
                    self.run.unchanged += 1
                    link.fingerprint, link.remote_fingerprint, link.last_synced_at = lfp, rfp, now
                elif lfp != link.fingerprint and rfp != link.remote_fingerprint:
                    self.run.conflicts += 1
                    self._list_conflict(link, local, lstate, rstate, remote, now)
                elif lfp != link.fingerprint:
                    pass  # ours changed: push sends it
                else:
                    self._take_remote_list(link, local, remote, rstate, now)
                link.save()
                continue
            local = by_name.get(remote.name.strip().lower())
            if local is not None and local.pk in linked_lists:
                self.error(
                    "list",
                    f"A list called '{remote.name}' is already linked to another list there; skipped.",
                    remote_id=remote.remote_id,
                )
                continue
            link = RemoteLink(
                account=self.account,
                kind=LIST,
                remote_id=remote.remote_id,
                last_seen_run=self.run.pk,
                created_at=now,
            )
            if local is None:
                local = ContactList.objects.create(
                    name=remote.name.strip()[:150], description=remote.description or ""
                )
                self.run.created += 1
                link.contact_list = local
                link.fingerprint, link.remote_fingerprint = (
                    fingerprint(list_state(local)),
                    fingerprint(rstate),
                )
                link.last_synced_at = now
            else:
                link.contact_list = local
                lstate = list_state(local)
                if same(lstate, rstate):
                    self.run.unchanged += 1
                    link.fingerprint, link.remote_fingerprint = fingerprint(lstate), fingerprint(rstate)
                    link.last_synced_at = now
                elif not local.description and rstate["description"]:
                    self._take_remote_list(link, local, remote, rstate, now)
                else:
                    # Same name, different description: ours goes out on push (names match, nothing to lose).
                    self.run.unchanged += 1
                    link.fingerprint, link.remote_fingerprint = "", fingerprint(rstate)
                    link.last_synced_at = now
            link.save()
            linked_lists.add(local.pk)

    def _take_remote_list(self, link, local, remote, rstate, now):
        name = rstate["name"][:150]
        if (
            name.lower() != local.name.lower()
            and ContactList.objects.filter(name__iexact=name).exclude(pk=local.pk).exists()
        ):
            self.error(
                "list",
                f"{self.provider.display_name} renamed a list to '{name}', which another list here already uses.",
                remote_id=remote.remote_id,
                local_id=local.pk,
            )
            return
        local.name = name
        if rstate["description"] or local.description:
            local.description = (
                rstate["description"] if rstate["description"] is not None else local.description
            )
        local.updated_at = now
        local.save(update_fields=["name", "description", "updated_at"])
        self.run.updated += 1
        link.fingerprint, link.remote_fingerprint = fingerprint(list_state(local)), fingerprint(rstate)
        link.last_synced_at = now

    def _list_conflict(self, link, local, lstate, rstate, remote, now):
        if self.policy == "provider_wins":
            self._take_remote_list(link, local, remote, rstate, now)
        elif self.policy == "local_wins":
            link.fingerprint, link.remote_fingerprint = "", fingerprint(rstate)
        else:
            SyncConflict.objects.create(
                account=self.account, run=self.run, link=link, kind=LIST, contact_list=local,
                remote_id=remote.remote_id, local_snapshot=lstate, remote_snapshot=rstate,
            )  # fmt: skip

    def reconcile_lists(self, cursor) -> None:
        self._reconcile(LIST)

    def push_deleted_lists(self, cursor) -> None:
        tombstones = list(
            RemoteLink.objects.filter(
                account=self.account, kind=LIST, contact_list__isnull=True, detached=False
            )
        )
        if not tombstones:
            return
        if not self.caps.supports("lists", Op.DELETE):
            return
        for link in tombstones:
            self.provider.delete_list(link.remote_id)
            with transaction.atomic():
                link.delete()
                self.run.deleted += 1
                self.flush()

    def push_lists(self, cursor) -> None:
        linked = RemoteLink.objects.filter(account=self.account, kind=LIST, contact_list__isnull=False)
        new = ContactList.objects.exclude(pk__in=linked.values("contact_list_id")).order_by("pk")
        for local in new:
            try:
                result = self.provider.create_list(RemoteList(name=local.name, description=local.description))
            except Rejected as exc:
                with transaction.atomic():
                    self.error("list", f"Not created: {exc}", local_id=local.pk)
                    self.flush()
                continue
            with transaction.atomic():
                RemoteLink.objects.create(
                    account=self.account, kind=LIST, contact_list=local, remote_id=result.remote_id,
                    fingerprint=fingerprint(list_state(local)),
                    remote_fingerprint=fingerprint(remote_list_state(RemoteList(name=local.name, description=local.description))),
                    last_synced_at=timezone.now(), last_seen_run=self.run.pk, synced_key=local.name,
                )  # fmt: skip
                self.run.pushed += 1
                self.flush()
        held = self._held_remote_ids(LIST)
        for link in linked.exclude(remote_id__in=held).select_related("contact_list"):
            state = list_state(link.contact_list)
            if fingerprint(state) == link.fingerprint:
                continue
            sent = RemoteList(
                remote_id=link.remote_id,
                name=link.contact_list.name,
                description=link.contact_list.description,
            )
            try:
                self.provider.update_list(sent)
            except NotSupported:
                with transaction.atomic():
                    self.note(
                        "list",
                        f"{self.provider.display_name} cannot rename lists; '{link.contact_list.name}' keeps its old name there.",
                        remote_id=link.remote_id,
                        local_id=link.contact_list_id,
                    )
                    link.fingerprint = fingerprint(state)
                    link.save(update_fields=["fingerprint"])
                    self.flush()
                continue
            except Rejected as exc:
                with transaction.atomic():
                    self.error(
                        "list", f"Not updated: {exc}", remote_id=link.remote_id, local_id=link.contact_list_id
                    )
                    self.flush()
                continue
            with transaction.atomic():
                link.fingerprint, link.remote_fingerprint = (
                    fingerprint(state),
                    fingerprint(remote_list_state(sent)),
                )
                link.last_synced_at = timezone.now()
                link.save(update_fields=["fingerprint", "remote_fingerprint", "last_synced_at"])
                self.run.pushed += 1
                self.flush()

    # -- membership ------------------------------------------------------------------------------------

    def sync_members(self, cursor) -> None:
        """Three-way merge of each linked list's members, with the last synced set as the base."""
        links = (
            RemoteLink.objects.filter(account=self.account, kind=LIST, contact_list__isnull=False)
            .exclude(remote_id__in=self._held_remote_ids(LIST))
            .order_by("pk")
        )
        if cursor:
            links = links.filter(pk__gt=cursor)
        size = (
            max(1, min(self.provider.bulk_limit, MEMBER_CHUNK))
            if self.caps.supports("lists", Op.BULK)
            else MEMBER_CHUNK
        )
        for link in links:
            base = set(
                SyncMembership.objects.filter(list_link=link).values_list("contact_remote_id", flat=True)
            )
            remote = set(self.provider.iter_list_members(link.remote_id)) if self.pull else set(base)
            # Local members that have a twin on this account, as remote ids.
            local_map = dict(
                RemoteLink.objects.filter(
                    account=self.account, kind=CONTACT, contact__memberships__contact_list_id=link.contact_list_id,
                    contact__deleted_at__isnull=True,
                ).values_list("remote_id", "contact_id")
            )  # fmt: skip
            local = set(local_map)
            remote_added, remote_removed = remote - base, base - remote
            local_added, local_removed = local - base, base - local
            if self.pull and self.push:
                final = (base | remote_added | local_added) - remote_removed - local_removed
            elif self.pull:
                final = remote
            else:
                final = (base | local_added) - local_removed
            to_add_remote = sorted(final - remote) if self.push else []
            to_remove_remote = sorted(remote - final) if self.push else []
            for start in range(0, len(to_add_remote), size):
                self.provider.add_list_members(link.remote_id, to_add_remote[start : start + size])
            for start in range(0, len(to_remove_remote), size):
                self.provider.remove_list_members(link.remote_id, to_remove_remote[start : start + size])
            with transaction.atomic():
                if self.pull:
                    add_here = (final - local) & remote_added if self.push else remote_added - local
                    remove_here = (local - final) & remote_removed if self.push else (remote_removed & local)
                    contact_ids = dict(
                        RemoteLink.objects.filter(
                            account=self.account, kind=CONTACT, remote_id__in=list(add_here),
                            contact__isnull=False, contact__deleted_at__isnull=True,
                        ).values_list("remote_id", "contact_id")
                    )  # fmt: skip
                    Membership.objects.bulk_create(
                        [
                            Membership(contact_id=cid, contact_list_id=link.contact_list_id)
                            for cid in contact_ids.values()
                        ],
                        ignore_conflicts=True,
                    )
                    removed, _ = Membership.objects.filter(
                        contact_list_id=link.contact_list_id,
                        contact_id__in=[local_map[r] for r in remove_here],
                    ).delete()
                    record_sync_membership(
                        link.contact_list_id, contact_ids.values(), [local_map[r] for r in remove_here]
                    )  # i12
                    self.run.updated += len(contact_ids) + removed
                    # Remote members we have no twin for cannot be members here; keep them in the base.
                self.run.pushed += len(to_add_remote) + len(to_remove_remote)
                SyncMembership.objects.filter(list_link=link).exclude(
                    contact_remote_id__in=list(final)
                ).delete() if len(final) < 50_000 else SyncMembership.objects.filter(list_link=link).delete()
                have = set(
                    SyncMembership.objects.filter(list_link=link).values_list("contact_remote_id", flat=True)
                )
                SyncMembership.objects.bulk_create(
                    [SyncMembership(list_link=link, contact_remote_id=r) for r in final - have],
                    batch_size=5000,
                )
                self.checkpoint("lists:members", link.pk)

"""Contacts sync: states, pull with matching by E.164 phone, three-way merge, push, deletions.

Which side changed is decided three-way: each RemoteLink keeps a fingerprint of the local
state and of the remote state at the last sync. Only the fields the provider keeps
(Provider.contact_fields) take part, so a field a provider cannot store is never blanked.
Queries stay O(1) per page: every lookup is one `__in` query and every write one bulk statement.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from contacts.events import record_events
from contacts.models import Contact, CustomField, Tag
from messaging.providers.base import CONTACT_FIELDS, Op, RemoteContact, Resource
from messaging.providers.errors import NotSupported, Rejected

from .core import ResourceSync, register_resource
from .fingerprints import (
    blank,
    contact_state,
    differing_fields,
    fingerprint,
    normalise_remote_phone,
    remote_contact_state,
    same,
)
from .models import RemoteLink, SyncConflict

CONTACT = RemoteLink.Kind.CONTACT
TEXT_ATTRS = (
    "first_name", "last_name", "email", "language", "gender", "company", "address", "city",
    "province", "postal_code", "country", "notes",
)  # fmt: skip
PUSH_BATCH = 100  # records per checkpoint when the provider takes them one by one


@register_resource
class ContactSync(ResourceSync):
    """contacts:pull → contacts:reconcile → contacts:push_deleted → contacts:push_new → contacts:push_changed"""

    name = "contacts"
    kind = CONTACT
    link_field = "contact"
    in_all = True
    order = 10

    def __init__(self, engine):
        super().__init__(engine)
        provider = engine.provider
        self.fields = frozenset(provider.contact_fields or ()) & CONTACT_FIELDS | {"phone"}
        self.custom_defs = {f.key: f for f in CustomField.objects.all()}
        self.custom_keys = sorted(self.custom_defs)
        self.phone_immutable = bool(getattr(provider, "contact_phone_immutable", False))
        self._unknown_custom: set[str] = set()

    def phases(self):
        phases = []
        if not self.caps.resources.get(Resource.CONTACTS):
            return phases
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
        return phases

    def delete_local(self, local_ids):
        return Contact.objects.filter(pk__in=local_ids).update(
            deleted_at=timezone.now(), updated_at=timezone.now()
        )

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
                gettext("%(provider)s has custom fields Switchboard does not define: %(keys)s. Add them under Custom fields to sync them.") % {"provider": self.provider.display_name, "keys": keys},
            )
            self.flush()

    def _pull_contact_page(self, items: list[RemoteContact]) -> None:
        now = timezone.now()
        run = self.run
        run.pulled += len(items)
        rows = []
        for remote in items:
            if not remote.remote_id:
                self.error("contact", gettext("A contact without an id was skipped (phone %(phone)r).") % {"phone": remote.phone})
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
                    gettext("No usable phone number (%(phone)r); not imported.") % {"phone": remote.phone},
                    remote_id=remote.remote_id,
                )
                continue
            if phone in page_phones:
                self.error(
                    "contact",
                    gettext("Another contact at %(provider)s has the phone %(phone)s; this one was skipped.") % {"provider": self.provider.display_name, "phone": phone},
                    remote_id=remote.remote_id,
                )
                continue
            page_phones.add(phone)
            contact = by_phone.get(phone)
            if contact is not None and contact.pk in linked_elsewhere:
                self.error(
                    "contact",
                    gettext("%(phone)s is already linked to another contact at %(provider)s; this one was skipped.") % {"phone": phone, "provider": self.provider.display_name},
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
                    self.error("contact", gettext("Not imported: %(error)s") % {"error": exc}, remote_id=remote.remote_id)
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
                    "contact", gettext("%(provider)s changed the phone to %(phone)s, which %(contact)s already has here; not applied.") % {"provider": self.provider.display_name, "phone": rstate['phone'], "contact": clash.display_name},
                    remote_id=remote.remote_id, local_id=contact.pk,
                )  # fmt: skip
                return
        try:
            new_tags = self._apply_remote(contact, rstate, remote, only=only)
        except Exception as exc:
            self.error("contact", gettext("Not updated: %(error)s") % {"error": exc}, remote_id=remote.remote_id, local_id=contact.pk)
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
                        gettext("%(count)s contacts deleted here stay at %(provider)s, which cannot delete contacts.") % {"count": count, "provider": self.provider.display_name},
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
                    gettext("The phone changed from %(synced_key)s to %(phone)s; %(provider)s cannot change a phone, so a new contact was created there and the old one (%(remote_id)s) was unlinked.") % {"synced_key": link.synced_key, "phone": contact.phone, "provider": self.provider.display_name, "remote_id": link.remote_id},
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
                        gettext("Not sent: %(error)s") % {"error": exc},
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
                self.error("contact", gettext("Not sent: %(error)s") % {"error": exc}, remote_id=sent.remote_id, local_id=contact.pk)
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
                gettext("%(provider)s did not return an id for %(phone)s.") % {"provider": self.provider.display_name, "phone": contact.phone},
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

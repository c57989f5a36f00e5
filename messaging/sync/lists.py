"""Lists sync: pull matched by name, push, deletions, and a three-way merge of members."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from contacts.events import record_sync_membership
from contacts.models import ContactList, Membership
from messaging.providers.base import Op, RemoteList, Resource
from messaging.providers.errors import NotSupported, Rejected

from .core import ResourceSync, register_resource
from .fingerprints import fingerprint, list_state, remote_list_state, same
from .models import RemoteLink, SyncConflict, SyncMembership

CONTACT = RemoteLink.Kind.CONTACT
LIST = RemoteLink.Kind.LIST
MEMBER_CHUNK = 500


@register_resource
class ListSync(ResourceSync):
    """lists:pull → lists:reconcile → lists:push_deleted → lists:push → lists:members"""

    name = "lists"
    kind = LIST
    link_field = "contact_list"
    in_all = True
    order = 20

    def phases(self):
        phases = []
        if not self.caps.resources.get(Resource.LISTS):
            return phases
        if self.pull and self.caps.supports("lists", Op.PULL):
            phases += [("lists:pull", self.pull_lists), ("lists:reconcile", self.reconcile_lists)]
        if self.push and self.caps.supports("lists", Op.PUSH):
            phases += [("lists:push_deleted", self.push_deleted_lists), ("lists:push", self.push_lists)]
        if self.caps.supports("lists", Op.MEMBERSHIP):
            phases += [("lists:members", self.sync_members)]
        return phases

    def delete_local(self, local_ids):
        ContactList.objects.filter(pk__in=local_ids).delete()
        return len(local_ids)

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
                self.error("list", gettext("A list without an id or name was skipped (%(remote_id)r).") % {"remote_id": remote.remote_id})
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
                    gettext("A list called '%(name)s' is already linked to another list there; skipped.") % {"name": remote.name},
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
                gettext("%(provider)s renamed a list to '%(name)s', which another list here already uses.") % {"provider": self.provider.display_name, "name": name},
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
                    self.error("list", gettext("Not created: %(error)s") % {"error": exc}, local_id=local.pk)
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
                        gettext("%(provider)s cannot rename lists; '%(list)s' keeps its old name there.") % {"provider": self.provider.display_name, "list": link.contact_list.name},
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
                        "list", gettext("Not updated: %(error)s") % {"error": exc}, remote_id=link.remote_id, local_id=link.contact_list_id
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

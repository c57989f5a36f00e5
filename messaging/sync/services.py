"""Sync services: start, run and resume syncs, resolve held conflicts, schedule accounts.

The admin, the API, the management command and the Celery tasks call these;
none of them holds a rule of its own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import uuid
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from messaging.providers.http import correlate

from .core import SyncEngine, registered_resources, resources_of
from .fingerprints import fingerprint, list_state
from .models import RemoteLink, SyncConflict, SyncLock, SyncRun

logger = logging.getLogger("switchboard.sync")

LOCK_TTL = dt.timedelta(minutes=10)  # renewed at every checkpoint; a dead worker's lease runs out
RESUME_WINDOW = dt.timedelta(hours=24)
ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


class SyncBusy(Exception):
    """Another sync of the same account and resource holds the lock."""


def lock_keys(resource: str) -> list[str]:
    """One lease per resource a run covers ("all" = contacts and lists)."""
    return resources_of(resource)


# --- the lock --------------------------------------------------------------------------------


def acquire_lock(account, resource: str, *, ttl: dt.timedelta = LOCK_TTL) -> str | None:
    """Take the lease for (account, resource) with one conditional UPDATE; the token, or None if held."""
    # IntegrityError: a concurrent caller created the row between our SELECT and INSERT.
    with contextlib.suppress(IntegrityError), transaction.atomic():
        SyncLock.objects.get_or_create(account=account, resource=resource)
    token = uuid.uuid4().hex
    now = timezone.now()
    taken = (
        SyncLock.objects.filter(account=account, resource=resource)
        .filter(Q(holder="") | Q(expires_at__lt=now) | Q(expires_at__isnull=True))
        .update(holder=token, expires_at=now + ttl)
    )
    return token if taken else None


def renew_lock(account, resource: str, token: str, *, ttl: dt.timedelta = LOCK_TTL) -> None:
    SyncLock.objects.filter(account=account, resource=resource, holder=token).update(
        expires_at=timezone.now() + ttl
    )


def release_lock(account, resource: str, token: str) -> None:
    SyncLock.objects.filter(account=account, resource=resource, holder=token).update(
        holder="", expires_at=None
    )


@contextmanager
def sync_lock(account, resource: str):
    """Hold every lock `resource` needs ("all" = contacts and lists); SyncBusy when one is taken."""
    held: list[tuple[str, str]] = []
    try:
        for key in lock_keys(resource):
            token = acquire_lock(account, key)
            if token is None:
                raise SyncBusy(gettext("A sync of %(account)s (%(key)s) is already running.") % {"account": account, "key": key})
            held.append((key, token))

        def heartbeat():
            for key, token in held:
                renew_lock(account, key, token)

        yield heartbeat
    finally:
        for key, token in held:
            release_lock(account, key, token)


# --- runs ----------------------------------------------------------------------------------------


def _overlapping(resource: str) -> list[str]:
    in_all = resources_of(SyncRun.Resource.ALL)
    if resource == SyncRun.Resource.ALL:
        return [SyncRun.Resource.ALL, *in_all]
    return [resource, SyncRun.Resource.ALL] if resource in in_all else [resource]


def scheduled_resources(account) -> list[str]:
    """Resources outside "all" that also run on the account's schedule and that its provider has."""
    caps = account.provider_class.capabilities
    return [
        name
        for name, cls in registered_resources().items()
        if cls.scheduled and not cls.in_all and caps.resources.get(name)
    ]


def find_resumable(account, resource: str, direction: str) -> SyncRun | None:
    """The newest interrupted run of the same kind, if no later run of it finished since."""
    latest = (
        SyncRun.objects.filter(account=account, resource=resource, direction=direction)
        .exclude(status=SyncRun.Status.QUEUED)
        .order_by("-created_at", "-pk")
        .first()
    )
    if (
        latest is not None
        and latest.status in (SyncRun.Status.FAILED, SyncRun.Status.RUNNING)
        and latest.cursor
        and latest.created_at >= timezone.now() - RESUME_WINDOW
    ):
        return latest
    return None


def prepare_run(account, resource="all", direction="both", trigger="api", user=None) -> tuple[SyncRun, bool]:
    """The run to do next: an interrupted one to resume, or a new queued one. (run, resumed)"""
    run = find_resumable(account, resource, direction)
    if run is not None:
        return run, True
    run = SyncRun.objects.create(
        account=account, resource=resource, direction=direction, trigger=trigger, requested_by=user
    )
    return run, False


def describe_sync_failure(exc: Exception, account=None) -> str:
    """What staff read on a failed run: our words plus the provider's message, with every stored
    secret of the account blanked out (a library's message can quote a header holding one)."""
    from messaging.crypto import SecretUnreadable
    from messaging.providers.errors import ProviderError
    from messaging.services import redact_secrets

    if isinstance(exc, SecretUnreadable):
        from django.utils.translation import gettext

        return gettext(
            "The account's credentials need re-entering (saved with an encryption key this server no longer has)."
        )
    text = str(exc.message) if isinstance(exc, ProviderError) else (str(exc) or type(exc).__name__)
    return redact_secrets(text, account)[:2000]


def start_sync(account, resource="all", direction="both", trigger="api", user=None) -> tuple[SyncRun, bool]:
    """Queue a sync on the "sync" Celery queue; returns (run, started).

    When a sync of the same account and resource is already queued or running, that run is
    returned with started=False instead of queueing a second one.
    """
    from .tasks import sync_account as sync_task

    active = (
        SyncRun.objects.filter(account=account, resource__in=_overlapping(resource), status__in=ACTIVE)
        .order_by("-created_at")
        .first()
    )
    if active is not None and not _stale(active):
        return active, False
    run, _ = prepare_run(account, resource, direction, trigger, user)
    if run.status != SyncRun.Status.QUEUED:
        SyncRun.objects.filter(pk=run.pk).update(status=SyncRun.Status.QUEUED)
        run.status = SyncRun.Status.QUEUED
    transaction.on_commit(lambda: sync_task.delay(run.pk))
    return run, True


def _stale(run: SyncRun) -> bool:
    """A queued/running run nobody works on (its worker died): the lock is free."""
    if run.status == SyncRun.Status.QUEUED:
        return run.created_at < timezone.now() - dt.timedelta(hours=1)
    return not SyncLock.objects.filter(
        account=run.account,
        resource__in=lock_keys(run.resource),
        holder__gt="",
        expires_at__gt=timezone.now(),
    ).exists()


def sync_account(
    account, resource="all", direction="both", trigger="api", *, user=None, provider=None
) -> SyncRun:
    """Sync one account now, in this process; resumes an interrupted run of the same kind.

    Returns the SyncRun (status succeeded, partial or failed). Raises SyncBusy when another
    sync of the same account and resource holds the lock.
    """
    run, resumed = prepare_run(account, resource, direction, trigger, user)
    try:
        return execute_run(run, provider=provider, raise_busy=True)
    except SyncBusy:
        if not resumed:
            run.delete()  # it never started: leave no trace of a run that did not happen
        raise


def execute_run(run: SyncRun, *, provider=None, raise_busy: bool = False) -> SyncRun:
    """Run (or resume) a SyncRun under the account's lock, every HTTP call tagged with the run.

    A failure stops the run with status failed and keeps its cursor, so the next sync of the
    same kind resumes it. Per-record problems do not stop it (status partial).
    """
    account = run.account
    try:
        with sync_lock(account, run.resource) as heartbeat:
            run.status = SyncRun.Status.RUNNING
            run.started_at = run.started_at or timezone.now()
            run.finished_at = None
            run.error = ""
            run.attempts += 1
            run.save(update_fields=["status", "started_at", "finished_at", "error", "attempts"])
            try:
                provider = provider or account.get_provider()
                with correlate(run.correlation):
                    SyncEngine(run, provider, heartbeat=heartbeat).execute()
            except Exception as exc:
                logger.exception("sync run %s failed", run.pk)
                # Counts of a batch whose transaction rolled back must not be kept.
                run.refresh_from_db(fields=[*SyncRun.COUNTS, "cursor"])
                run.status = SyncRun.Status.FAILED
                run.error = describe_sync_failure(exc, account)
                run.finished_at = timezone.now()
                run.save(update_fields=["status", "error", "finished_at"])
                return run
            held = run.held_conflicts.filter(status=SyncConflict.Status.OPEN).exists()
            run.status = SyncRun.Status.PARTIAL if (run.errors or held) else SyncRun.Status.SUCCEEDED
            run.cursor = {}
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "cursor", "finished_at"])
            return run
    except SyncBusy as exc:
        if not raise_busy and run.status == SyncRun.Status.QUEUED and not run.attempts:
            run.status = SyncRun.Status.FAILED
            run.error = gettext("Skipped: %(reason)s") % {"reason": exc}
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
            return run
        raise


# --- conflicts -----------------------------------------------------------------------------------


@transaction.atomic
def resolve_conflict(conflict: SyncConflict, keep: str, *, user=None) -> SyncConflict:
    """Settle a held conflict: keep "ours" (sent on the next push) or "theirs" (applied here now)."""
    from messaging.providers.base import RemoteContact, RemoteList

    from .contacts import ContactSync

    if keep not in ("ours", "theirs"):
        raise ValueError('keep must be "ours" or "theirs"')
    conflict = SyncConflict.objects.select_for_update().get(pk=conflict.pk)
    if conflict.status != SyncConflict.Status.OPEN:
        return conflict
    link = conflict.link
    remote_fp = fingerprint(conflict.remote_snapshot)
    now = timezone.now()
    if keep == "theirs" and link is not None:
        if conflict.kind == RemoteLink.Kind.CONTACT and conflict.contact_id:
            provider = conflict.account.get_provider()
            run = SyncRun(
                account=conflict.account
            )  # an unsaved scratch run: the engine's helpers count on it
            engine = ContactSync(SyncEngine(run, provider))
            contact = conflict.contact
            snapshot = dict(conflict.remote_snapshot)
            remote = RemoteContact(
                **{
                    k: v
                    for k, v in snapshot.items()
                    if k in RemoteContact.__dataclass_fields__ and v is not None
                }
            )
            if snapshot.get("birth_date"):
                remote.birth_date = dt.date.fromisoformat(snapshot["birth_date"])
            elif "birth_date" in snapshot:
                remote.birth_date = None
            tags = engine._tags_for([contact.pk])
            new_tags = engine._apply_remote(contact, snapshot, remote)
            contact.save()
            if new_tags is not None:
                engine._set_tags({contact.pk: new_tags})
                tags = {contact.pk: new_tags}
            link.fingerprint = fingerprint(engine.local_state(contact, tags))
        elif conflict.kind == RemoteLink.Kind.LIST and conflict.contact_list_id:
            local = conflict.contact_list
            local.name = conflict.remote_snapshot.get("name") or local.name
            local.description = conflict.remote_snapshot.get("description") or ""
            local.save()
            link.fingerprint = fingerprint(list_state(local))
            del RemoteList
        link.remote_fingerprint = remote_fp
        link.last_synced_at = now
        link.save(update_fields=["fingerprint", "remote_fingerprint", "last_synced_at"])
        conflict.status = SyncConflict.Status.KEPT_THEIRS
    else:
        if link is not None:
            # An empty base: the next push sends ours whatever the fingerprints say.
            link.fingerprint, link.remote_fingerprint = "", remote_fp
            link.save(update_fields=["fingerprint", "remote_fingerprint"])
        conflict.status = SyncConflict.Status.KEPT_OURS if keep == "ours" else SyncConflict.Status.KEPT_THEIRS
    conflict.resolved_at, conflict.resolved_by = now, user
    conflict.save(update_fields=["status", "resolved_at", "resolved_by"])
    return conflict


# --- schedule ------------------------------------------------------------------------------------


def periodic_task_name(account) -> str:
    return f"Sync account #{account.pk}"


def schedule_account_sync(account) -> None:
    """Create, update or disable the account's django-celery-beat schedule (sync_interval_minutes)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    name = periodic_task_name(account)
    minutes = account.sync_interval_minutes or 0
    if not minutes or not account.is_active:
        PeriodicTask.objects.filter(name=name).update(enabled=False)
        return
    interval, _ = IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)
    task, created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={
            "task": "messaging.tasks.sync_scheduled",
            "interval": interval,
            "args": json.dumps([account.pk]),
            "queue": "sync",
            "enabled": True,
        },
    )
    if not created and (task.interval_id != interval.pk or not task.enabled):
        task.interval, task.enabled = interval, True
        task.save(update_fields=["interval", "enabled"])


def unschedule_account_sync(account) -> None:
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.filter(name=periodic_task_name(account)).delete()

"""The sync engine's shared core: the run driver, checkpoints, problems, links and the registry.

One `SyncEngine` runs one `SyncRun` through the phases of the resources it covers. Each
resource (contacts, lists, templates, and later campaigns and automations) is a
`ResourceSync` subclass in its own module, registered with `register_resource`; the core
knows none of their rules. Every batch a phase writes is committed in one transaction with
the run's counts and the cursor of the next batch (`checkpoint`), so a run killed at any
point resumes exactly where the last committed batch ended: nothing lost, nothing counted
twice.

Adding a resource (see messaging/sync/README.md):

    from messaging.sync.core import ResourceSync, register_resource

    @register_resource
    class AutomationSync(ResourceSync):
        name = "automations"            # the SyncRun.resource value and `--resource` choice
        kind = "automation"             # SyncError.kind for its problems
        def phases(self):
            if self.pull and self.caps.supports("automations", "pull"):
                return [("automations:pull", self.pull_automations)]
            return []
        def pull_automations(self, cursor): ...

and import that module once at start-up (the app's AppConfig.ready()).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from django.db import transaction

from messaging.providers.base import Provider

from .models import RemoteLink, SyncConflict, SyncError, SyncRun

logger = logging.getLogger("switchboard.sync")

Phase = tuple[str, Callable[[Any], None]]

_REGISTRY: dict[str, type[ResourceSync]] = {}


def register_resource(cls: type[ResourceSync]) -> type[ResourceSync]:
    """Register a ResourceSync class under its `name` (a decorator; re-registering replaces)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a name")
    _REGISTRY[cls.name] = cls
    return cls


def registered_resources() -> dict[str, type[ResourceSync]]:
    """name → class, in order (contacts, lists, … as registered)."""
    from . import resources  # noqa: F401  (the built-in resources register themselves)

    return dict(sorted(_REGISTRY.items(), key=lambda item: item[1].order))


def resource_names() -> list[str]:
    """Every value `--resource` accepts: "all" and each registered resource."""
    return [SyncRun.Resource.ALL, *registered_resources()]


def resources_of(resource: str) -> list[str]:
    """The resources a run of `resource` covers ("all" = the ones with in_all, i.e. contacts and lists)."""
    if resource == SyncRun.Resource.ALL:
        return [name for name, cls in registered_resources().items() if cls.in_all]
    return [resource]


class ResourceSync:
    """One resource's pull/push/match rules, run by a SyncEngine. Subclass, name, register."""

    name: ClassVar[str] = ""  # SyncRun.resource value, lock key, `--resource` choice
    kind: ClassVar[str] = ""  # RemoteLink.kind / SyncError.kind of its records
    link_field: ClassVar[str] = ""  # the RemoteLink foreign key to its local record, if it uses links
    in_all: ClassVar[bool] = False  # part of a run of resource "all"
    scheduled: ClassVar[bool] = False  # also run on the account's schedule when not in "all"
    order: ClassVar[int] = 100

    def __init__(self, engine: SyncEngine):
        self.engine = engine

    def phases(self) -> list[Phase]:
        """(phase name, method(cursor)) in order, for what this run's direction and provider allow."""
        return []

    # -- the engine's state, as every resource module reads it -------------------------------

    @property
    def run(self) -> SyncRun:
        return self.engine.run

    @property
    def account(self):
        return self.engine.account

    @property
    def provider(self) -> Provider:
        return self.engine.provider

    @property
    def caps(self):
        return self.engine.caps

    @property
    def pull(self) -> bool:
        return self.engine.pull

    @property
    def push(self) -> bool:
        return self.engine.push

    @property
    def policy(self) -> str:
        return self.engine.policy

    def checkpoint(self, phase: str, cursor: Any, *, done: bool = False) -> None:
        self.engine.checkpoint(phase, cursor, done=done)

    def flush(self) -> None:
        self.engine.flush()

    def error(self, kind: str, message: str, *, remote_id: str = "", local_id=None) -> None:
        self.engine.error(kind, message, remote_id=remote_id, local_id=local_id)

    def note(self, kind: str, message: str, *, remote_id: str = "", local_id=None) -> None:
        self.engine.note(kind, message, remote_id=remote_id, local_id=local_id)

    # -- shared rules ---------------------------------------------------------------------------

    def _held_remote_ids(self, kind: str):
        """Remote ids of this account's records held for a person's decision (a subquery)."""
        return SyncConflict.objects.filter(
            account=self.account, kind=kind, status=SyncConflict.Status.OPEN
        ).values("remote_id")

    def delete_local(self, local_ids: list[int]) -> int:
        """Delete these local records because their twins are gone (delete_policy "delete")."""
        raise NotImplementedError

    def _reconcile(self, kind: str) -> None:
        """After a full pull: links the scan did not see are gone remotely → unlinked or deleted here."""
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
        local_column = f"{self.link_field}_id"
        while True:
            batch = list(missing.order_by("pk")[:1000].values_list("pk", local_column, "remote_id"))
            if not batch:
                break
            with transaction.atomic():
                local_ids = [row[1] for row in batch if row[1]]
                if delete_here and local_ids:
                    self.run.deleted += self.delete_local(local_ids)
                else:
                    self.run.unlinked += len(local_ids)
                RemoteLink.objects.filter(pk__in=[row[0] for row in batch]).delete()
                self.flush()
        what = "deleted here too" if delete_here else "unlinked (kept here)"
        with transaction.atomic():
            self.note(kind, f"Records gone from {self.provider.display_name} were {what}.")
            self.flush()


class SyncEngine:
    """Runs one SyncRun's phases for one account. Call execute() inside correlate() and the lock."""

    def __init__(self, run: SyncRun, provider: Provider, *, heartbeat: Callable[[], None] | None = None):
        self.run = run
        self.account = run.account
        self.provider = provider
        self.caps = provider.capabilities
        self.heartbeat = heartbeat or (lambda: None)
        self.pull = run.direction in (SyncRun.Direction.PULL, SyncRun.Direction.BOTH)
        self.push = run.direction in (SyncRun.Direction.PUSH, SyncRun.Direction.BOTH)
        self.policy = self.account.conflict_policy
        self._problems: list[SyncError] = []
        registry = registered_resources()
        self.handlers: dict[str, ResourceSync] = {
            name: registry[name](self) for name in resources_of(run.resource) if name in registry
        }

    def handler(self, name: str) -> ResourceSync:
        return self.handlers[name]

    # -- driver --------------------------------------------------------------------------------

    def phases(self) -> list[Phase]:
        phases: list[Phase] = []
        for handler in self.handlers.values():
            phases += handler.phases()
        return phases

    def execute(self) -> None:
        """Run every phase from the run's stored cursor (a fresh run starts at the first)."""
        state = self.run.cursor or {}
        resume_phase, resume_cursor, resume_done = state.get("phase"), state.get("cursor"), state.get("done")
        phases = self.phases()
        names = [name for name, _ in phases]
        skipping = resume_phase in names
        for name, method in phases:
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
        if not phases:
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

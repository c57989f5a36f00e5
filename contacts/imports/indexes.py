"""Search indexes deferred during a large import (PostgreSQL), rebuilt in one pass afterwards.

A GIN (trigram / jsonb) index maintained row by row costs an import more than building it once
over the loaded table: when the rows still to load are many relative to the book (an empty
table, or at least half its size), the import drops these indexes after its first batch, loads,
and builds them again at its end with `CREATE INDEX IF NOT EXISTS` and a raised
`maintenance_work_mem`. Searches stay correct meanwhile (sequential scans, slower).

Crash safety rests on PostgreSQL session advisory locks, which die with their session:
- an import that defers holds the lock *shared* while it loads;
- it rebuilds at its end — success or failure — if it can then take the lock exclusively
  (no other import is still deferring; the last one to finish rebuilds);
- every import, resumed or new, and the periodic stale-import check first restore any missing
  index if they can take the lock exclusively: nobody is deferring, so a missing index is the
  leftover of a worker that died mid-load.
The definitions below are the single source (migration 0002 created the same indexes).
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import OperationalError, connection, transaction

logger = logging.getLogger(__name__)

TABLE = "contacts_contact"
# name → definition; built again from here after a deferred load (keep in step with the migrations).
DEFERRED = {
    "contact_phone_trgm": "USING gin (phone gin_trgm_ops)",
    "contact_first_trgm": "USING gin (UPPER(first_name) gin_trgm_ops)",
    "contact_last_trgm": "USING gin (UPPER(last_name) gin_trgm_ops)",
    "contact_company_trgm": "USING gin (UPPER(company) gin_trgm_ops)",
    "contact_email_trgm": "USING gin (UPPER(email) gin_trgm_ops)",
    "contact_fields_gin": "USING gin (fields jsonb_path_ops)",
}
LOCK = (7301, 0)  # (namespace of contact imports' advisory locks, 0 = "search indexes deferred")
MIN_ROWS = 100_000  # below this many rows still to load, maintaining the indexes is cheap enough
MAINTENANCE_WORK_MEM = "256MB"
LOCK_TIMEOUT = "2s"  # dropping waits at most this long for the table


def min_rows() -> int:
    return int(getattr(settings, "IMPORT_DEFER_INDEXES_MIN_ROWS", MIN_ROWS))


def missing(cursor) -> list[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = %s",
        [TABLE],
    )
    present = {name for (name,) in cursor.fetchall()}
    return [name for name in DEFERRED if name not in present]


def _try_lock(cursor, shared: bool = False) -> bool:
    fn = "pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock"
    cursor.execute(f"SELECT {fn}(%s, %s)", list(LOCK))
    return cursor.fetchone()[0]


def _unlock(cursor, shared: bool = False) -> None:
    fn = "pg_advisory_unlock_shared" if shared else "pg_advisory_unlock"
    cursor.execute(f"SELECT {fn}(%s, %s)", list(LOCK))


def _build(cursor, names: list[str]) -> float:
    """CREATE INDEX IF NOT EXISTS for `names` (autocommit: outside any transaction); returns seconds."""
    start = time.monotonic()
    cursor.execute("SHOW maintenance_work_mem")
    before = cursor.fetchone()[0]
    cursor.execute(f"SET maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    try:
        for name in names:
            cursor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {TABLE} {DEFERRED[name]}")
    finally:
        cursor.execute("SELECT set_config('maintenance_work_mem', %s, false)", [before])
    return time.monotonic() - start


def restore_if_idle() -> list[str]:
    """Build any missing deferred index when no import is deferring them; returns what was built."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return []
    with connection.cursor() as cursor:
        if not missing(cursor) or not _try_lock(cursor):
            return []
        try:
            names = missing(cursor)
            if names:
                took = _build(cursor, names)
                logger.warning(
                    "rebuilt search indexes left out by an interrupted import: %s (%.1f s)", names, took
                )
            return names
        finally:
            _unlock(cursor)


class Deferral:
    """One import's side of the deferral: `start()` after its first batch, `finish()` always."""

    def __init__(self):
        self.active = False
        self.rebuild_seconds = 0.0

    def worth_it(self, rows_left: int) -> bool:
        """Rows still to load ≥ MIN_ROWS and ≥ half the table (the table's row estimate)."""
        if rows_left < min_rows():
            return False
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [TABLE]
            )
            row = cursor.fetchone()
        table_rows = row[0] if row else 0
        return rows_left >= table_rows / 2

    def start(self, rows_left: int) -> bool:
        """Drop the deferred indexes if the load is large enough and no other import holds the lock."""
        if connection.vendor != "postgresql" or connection.in_atomic_block or not self.worth_it(rows_left):
            return False
        with connection.cursor() as cursor:
            if not _try_lock(cursor):  # another import is restoring or rebuilding: keep the indexes
                return False
            try:
                if not _try_lock(cursor, shared=True):
                    return False
                try:
                    # All or none, and never queue behind a long query on the table for long:
                    # a waiting ACCESS EXCLUSIVE lock would hold up every reader behind it.
                    with transaction.atomic():
                        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
                        for name in DEFERRED:
                            cursor.execute(f"DROP INDEX IF EXISTS {name}")
                except OperationalError as exc:
                    _unlock(cursor, shared=True)
                    logger.info("import: search indexes kept (the table is busy: %s)", exc)
                    return False
                self.active = True
            finally:
                _unlock(cursor)
        logger.info("import: %d rows to load; search indexes dropped, to be rebuilt at the end", rows_left)
        return True

    def finish(self) -> None:
        """Rebuild (success or failure) unless another import is still deferring; it will rebuild."""
        if not self.active:
            return
        self.active = False
        if connection.in_atomic_block:  # never expected; the next import or stale check restores
            return
        with connection.cursor() as cursor:
            _unlock(cursor, shared=True)
            if not _try_lock(cursor):
                logger.info("import: another import is loading; it rebuilds the search indexes")
                return
            try:
                self.rebuild_seconds = _build(cursor, missing(cursor))
            finally:
                _unlock(cursor)
        logger.info("import: search indexes rebuilt in %.1f s", self.rebuild_seconds)

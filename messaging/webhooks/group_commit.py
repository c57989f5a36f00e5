"""Group commit for /hooks/: one writer thread per process shares each durable commit among requests.

Why: a durable commit (synchronous_commit on) costs ≈ 3.5 ms of disk flush here, so one connection
committing one row per request tops out near 160 rows/s, and dozens of connections each
committing alone still leave most of two cores waiting on the flush. Here every request thread hands
its prepared row to the process's writer and waits; the writer takes everything queued, writes it
with ONE statement (a multi-row INSERT … ON CONFLICT on the dedupe key that also records the
duplicates and re-checks each row's token and secret), commits once, and only then wakes the
waiters. While it flushes, the next batch queues up, so the batch grows with the load by itself:
no timer, no added latency when idle.

Durability is unchanged: nothing is answered 2xx before the transaction holding its row has
committed, so a crash loses nothing that was acknowledged; a request whose row did not commit gets
503 with Retry-After (never 500) and the provider sends it again. A row that committed but whose
answer was lost (the writer died between COMMIT and the wake-up, or the waiter timed out) comes
back as a retry and is stored as a counted duplicate: nothing lost, nothing applied twice.

PostgreSQL only (it needs `INSERT … SELECT FROM unnest()` with ON CONFLICT and RETURNING in
CTEs, and concurrent writers); receive.py keeps the one-statement-per-request path for SQLite, for
callers already inside a transaction (the writer's own connection could not see their rows, and
their transaction, not ours, decides when they are durable), and when WEBHOOK_GROUP_COMMIT is off.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from typing import Any

from django.db import connections

log = logging.getLogger(__name__)

TABLE = "messaging_webhookevent"
ACCOUNTS = "messaging_provideraccount"
MAX_BATCH = 1000
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock, serialization: rolled back, safe to run again

_COLUMNS = (
    "id, account_id, provider, event_type, event_id, dedupe_key, is_original, status, http_status, "
    "method, headers, body, error, outcome, attempts, received_at"
)

# One statement for a whole batch. The columns travel as arrays in binary (%b): psycopg's text
# format would escape every quote of every JSON body in Python, the writer's largest cost. Ids are drawn up front (nextval in a materialised CTE) so each
# input row maps back to the row it became; originals go in ordered by their key, so two writers
# (two gunicorn workers) take the unique index's locks in the same order and cannot deadlock.
# A row whose token or stored secret no longer matches joins no account and is written nowhere
# ("gone": the caller reloads the account and judges the request again).
GROUP_INSERT = f"""
WITH src AS MATERIALIZED (
    SELECT s.*, nextval(%s::regclass) AS new_id
    FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                %b::text[], %b::text[], %b::timestamptz[])
         WITH ORDINALITY AS s(token, secret, provider, event_type, event_id, dedupe_key, method,
                              headers, body, received_at, ord)
), acc AS MATERIALIZED (
    SELECT src.*, a.id AS account_id
    FROM src JOIN {ACCOUNTS} a ON a.webhook_token = src.token AND a.webhook_secret = src.secret
), ins AS (
    INSERT INTO {TABLE} ({_COLUMNS})
    SELECT new_id, account_id, provider, event_type, event_id, dedupe_key, true, 'received', 200,
           method, headers::jsonb, body, '', '{{}}'::jsonb, 0, received_at
    FROM acc ORDER BY account_id, dedupe_key, ord
    ON CONFLICT (account_id, dedupe_key) WHERE is_original DO NOTHING
    RETURNING id
), dup AS (
    INSERT INTO {TABLE} ({_COLUMNS})
    SELECT new_id, account_id, provider, event_type, event_id, dedupe_key, false, 'duplicate', 200,
           method, headers::jsonb, body, '', '{{}}'::jsonb, 0, received_at
    FROM acc WHERE new_id NOT IN (SELECT id FROM ins)
    RETURNING id
)
SELECT src.ord, ins.id IS NOT NULL, dup.id IS NOT NULL, src.new_id
FROM src LEFT JOIN ins ON ins.id = src.new_id LEFT JOIN dup ON dup.id = src.new_id
"""  # noqa: S608  (names are constants; every value is a parameter)

REFUSAL_INSERT = f"""
INSERT INTO {TABLE} ({_COLUMNS.removeprefix("id, ")})
SELECT account_id, provider, event_type, event_id, dedupe_key, false, 'failed', http_status, method,
       headers::jsonb, body, error, '{{}}'::jsonb, 0, received_at
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::int[], %b::text[],
            %b::text[], %b::text[], %b::text[], %b::timestamptz[])
     AS s(account_id, provider, event_type, event_id, dedupe_key, http_status, method, headers, body,
          error, received_at)
"""  # noqa: S608


class WriterUnavailable(Exception):
    """The row was not committed (writer failed or too slow): answer 503, the provider retries."""


class Pending:
    """One request's row waiting for the commit that holds it.

    The wait is a bare lock, taken at birth and released by the writer: the cheapest hand-off
    CPython has (threading.Event builds a Condition and a lock per waiter), which matters when
    every request pays it.
    """

    __slots__ = ("_waiter", "cancelled", "error", "finished", "kind", "result", "row")

    def __init__(self, kind: str, row: tuple):
        self.kind = kind  # "event" | "refusal"
        self.row = row
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False
        self.finished = False
        self._waiter = threading.Lock()
        self._waiter.acquire()

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True
        self._waiter.release()

    def wait(self, timeout: float) -> bool:
        return self._waiter.acquire(timeout=timeout)


class GroupWriter:
    """The process's single writer: a thread owning one database connection (its thread's own)."""

    def __init__(self, alias: str = "default", max_batch: int = MAX_BATCH):
        self.alias = alias
        self.max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[Pending] = []
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stopping = False
        self._sequence: str | None = None
        self.batches = 0  # commits made, for tests and the bench's figures
        self.rows = 0

    # --- the request threads' side ------------------------------------------------------------------

    def submit(self, kind: str, row: tuple, timeout: float) -> Any:
        """Queue a row and wait until it is committed. → the writer's result for it.

        Raises WriterUnavailable when its transaction failed or did not commit within `timeout`.
        """
        pending = Pending(kind, row)
        with self._cond:
            self._ensure_thread()
            self._queue.append(pending)
            self._cond.notify()
        if not pending.wait(timeout):
            pending.cancelled = True  # skipped if the writer has not taken it yet
            raise WriterUnavailable(f"not committed within {timeout:g} s")
        if pending.error is not None:
            raise WriterUnavailable(str(pending.error)) from pending.error
        return pending.result

    def _ensure_thread(self) -> None:
        # A forked child (gunicorn --preload) inherits no running thread: start its own.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._stopping = False
            self._queue = [p for p in self._queue if not p.finished]
            self._thread = threading.Thread(target=self._run, name="webhook-group-commit", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, close the connection and end the thread (tests, process exit)."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify()
        if thread is not None and thread.is_alive() and self._pid == os.getpid():
            thread.join(timeout)
        self._thread = None

    # --- the writer thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue and not self._stopping:
                        self._cond.wait()
                    if not self._queue:
                        return
                    batch = self._queue[: self.max_batch]
                    del self._queue[: self.max_batch]
                for kind in ("event", "refusal"):  # refusals (rare) in a statement of their own
                    part = [p for p in batch if p.kind == kind and not p.cancelled]
                    if part:
                        self._write(part)
        finally:
            connections[self.alias].close()

    def _write(self, batch: list[Pending]) -> None:
        for attempt in (1, 2, 3):
            try:
                results = self._statement(batch)
            except Exception as exc:  # every waiter must hear about it, whatever it is
                connection = connections[self.alias]
                retry = (
                    getattr(getattr(exc, "__cause__", None) or exc, "sqlstate", None) in RETRYABLE_SQLSTATES
                )
                if retry and attempt < 3:
                    continue
                if len(batch) > 1 and _usable(connection):
                    # One bad row (a value PostgreSQL refuses) must not cost its batch-mates their
                    # answer: halve until it is alone, so only its own request gets the 503.
                    middle = len(batch) // 2
                    self._write(batch[:middle])
                    self._write(batch[middle:])
                    return
                log.error("Webhook group commit failed for %d rows: %s", len(batch), exc)
                with contextlib.suppress(Exception):  # already broken: nothing more to release
                    connection.close()  # the next batch starts on a fresh connection
                for pending in batch:
                    pending.finish(error=exc)
                return
            self.batches += 1
            self.rows += len(batch)
            for pending, result in zip(batch, results, strict=True):
                pending.finish(result)
            return

    def _statement(self, batch: list[Pending]) -> list[Any]:
        """Write rows of one kind with ONE statement in autocommit: one statement, one
        transaction, one durable commit (no BEGIN/COMMIT round trips), all or nothing."""
        import psycopg

        connection = connections[self.alias]
        connection.ensure_connection()
        raw = connection.connection
        columns = [list(c) for c in zip(*(p.row for p in batch), strict=True)]
        with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
            if batch[0].kind == "refusal":
                cursor.execute(REFUSAL_INSERT, columns, prepare=True)
                return [None] * len(batch)
            cursor.execute(GROUP_INSERT, [self._id_sequence(cursor), *columns], prepare=True)
            outcome: dict[int, tuple[str, int | None]] = {}
            for ord_, inserted, duplicate, new_id in cursor.fetchall():
                state = "received" if inserted else "duplicate" if duplicate else "gone"
                outcome[ord_ - 1] = (state, new_id if state != "gone" else None)
        return [outcome[i] for i in range(len(batch))]

    def _id_sequence(self, cursor) -> str:
        if self._sequence is None:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])
            self._sequence = cursor.fetchone()[0]
        return self._sequence


def _usable(connection) -> bool:
    try:
        return connection.connection is not None and connection.is_usable()
    except Exception:
        return False


_writer = GroupWriter()


def writer() -> GroupWriter:
    return _writer


def stop_writer() -> None:
    """End this process's writer (it restarts on the next row): tests and interpreter exit."""
    _writer.stop()


atexit.register(stop_writer)

"""The import pipeline: read → map → validate/normalise → dedupe → batched upsert.

It streams: one batch of rows is in memory at a time (plus the set of phones already
seen, to merge duplicates across batches). Each batch is written in one transaction
together with the caller's progress record (`on_batch`), so a crash resumes from the
last committed batch and neither loses nor doubles rows.

On PostgreSQL a batch is COPYed into a temporary table and upserted with one
INSERT … ON CONFLICT (phone) WHERE deleted_at IS NULL; elsewhere (SQLite) it goes through
bulk_create/bulk_update. Both follow the same rules:

- update modes: "fill" fills a matched contact's empty fields, "overwrite" replaces them
  with the file's non-empty values, "skip" leaves matched contacts alone;
- opted-out and blocked flags are never touched by an import;
- a phone seen earlier in the same file is merged into that contact (counted "merged");
- list membership and tags are added in bulk, for matched contacts too.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from django.db import transaction
from django.utils import translation

from contacts.models import Contact, CustomField

from . import indexes
from .reports import RejectedFile, WarningsFile
from .rows import (  # noqa: F401 - the pipeline's public names, imported from here by services and tests
    KINDS,
    TEXT_ATTRS,
    UPDATE_MODES,
    Options,
    Preparer,
    Rejection,
    Row,
    Source,
    detect_kind,
    max_lengths,
    merge_rows,
    open_source,
)
from .writers import PostgresWriter, Writer, contact_changes, copy_text, make_writer  # noqa: F401

logger = logging.getLogger(__name__)
BATCH_SIZE = 20_000  # rows per transaction: measured 12 % faster than 5,000 at 300k rows, still ~1 s between progress updates


@dataclass
class Counts:
    total_rows: int = 0
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    merged: int = 0
    rejected: int = 0
    warned: int = 0  # imported rows (created/updated/unchanged/merged) with a value left out

    def as_dict(self) -> dict:
        return asdict(self)


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Progress:
    counts: Counts
    cursor: int  # rows (data rows, in file order) fully committed
    position: int
    size: int
    rejected_offset: int
    rate: float
    errors: dict  # reason → count (first reasons only)
    warnings_offset: int = 0
    warning_examples: list = field(default_factory=list)  # the first WARNING_EXAMPLES, as dicts


def run(
    path,
    options: Options,
    *,
    rejected_path=None,
    start_index: int = 0,
    counts: Counts | None = None,
    rejected_offset: int = 0,
    on_batch: Callable[[Progress], None] | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    limit: int | None = None,
    rejected_sink=None,
    warnings_path=None,
    warnings_offset: int = 0,
    warnings_sink=None,
    warning_examples: list | None = None,
    reader_process: bool = True,
) -> Counts:
    """Import `path`; resumes after `start_index` rows with `counts` so far. Returns final counts.

    Each batch and `on_batch(progress)` run in one transaction. With dry_run nothing is
    written: counts say what would happen (for previews).
    """
    if options.update_mode not in UPDATE_MODES:
        raise ValueError(f"update mode must be one of {', '.join(UPDATE_MODES)}")
    custom_fields = {f.key: f for f in CustomField.objects.all()}
    source = open_source(path, options, custom_fields)
    prepare = Preparer(options, custom_fields, source.columns)
    writer = make_writer(options) if not dry_run else None
    counts = Counts(**asdict(counts)) if counts else Counts()
    rejected = rejected_sink
    if rejected is None and rejected_path:
        rejected = RejectedFile(rejected_path, source.headers, rejected_offset)
    warned = warnings_sink
    if warned is None and warnings_path:
        warned = WarningsFile(warnings_path, warnings_offset)
    reports = Reports(rejected, warned, warning_examples if warning_examples is not None else [])
    started = time.monotonic()
    encode = copy_text if isinstance(writer, PostgresWriter) else None
    # The writer thread mostly waits on the database and needs the GIL only briefly between
    # statements; with Python's default 5 ms switch interval it queues behind the reader
    # thread each time. 0.5 ms measured 12-20 % faster on 300k rows. Restored afterwards.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(min(switch_interval, 0.0005))
    deferral = None
    if isinstance(writer, PostgresWriter):
        # Search indexes an interrupted import left out are built again first (indexes.py).
        indexes.restore_if_idle()
        deferral = indexes.Deferral()
    batches = _BatchProducer(source, prepare, start_index, batch_size, limit, encode, process=reader_process)
    done_this_run = parses = 0
    waited = wrote = 0.0
    try:
        mark = time.monotonic()
        for batch in batches:
            now = time.monotonic()
            waited += now - mark
            done_this_run += batch.rows
            parses = batch.full_parses or prepare.normalise.full_parses
            counts.merged += batch.merged
            created_before = counts.created
            _commit(writer, options, batch, reports, counts, on_batch, source, started, done_this_run)
            first = done_this_run == batch.rows
            if deferral is not None and first and not batch.final and batch.position:
                # After the first batch: the file's rows still to load, estimated from its bytes —
                # if that batch was mostly new contacts (a re-import of a known file is not a load).
                rows_left = int((source.size - batch.position) * batch.cursor / batch.position)
                if 2 * (counts.created - created_before) >= len(batch.primary):
                    deferral.start(rows_left)
            mark = time.monotonic()
            wrote += mark - now
    finally:
        batches.stop()
        sys.setswitchinterval(switch_interval)
        reports.close()
        if deferral is not None:
            try:
                deferral.finish()
            except Exception:  # e.g. the connection is gone: the next import or stale check restores
                logger.exception(
                    "import: rebuilding the search indexes failed; the next import rebuilds them"
                )
    # Where the time went, for whoever tunes this next: reading/normalising vs writing.
    rebuilt = deferral.rebuild_seconds if deferral is not None else 0.0
    logger.info(
        "import of %s: %d rows in %.1f s (%.1f s waiting for the reader, %.1f s writing, %.1f s rebuilding "
        "search indexes; %d full phone parses)",
        os.path.basename(str(path)), done_this_run, time.monotonic() - started, waited, wrote, rebuilt,
        parses,
    )  # fmt: skip
    return counts


@dataclass
class Batch:
    primary: dict[str, Row]
    dups: dict[str, Row]  # phones an earlier batch already wrote
    rejections: list[Rejection]
    rows: int
    merged: int
    cursor: int  # rows of the file done once this batch commits
    position: int
    final: bool = False
    primary_copy: bytes | None = None
    dups_copy: bytes | None = None
    warnings: list = field(default_factory=list)  # (phone, FieldWarning) in file order
    warned: int = 0  # rows of this batch with at least one warning
    full_parses: int = 0  # final batch: phones the reader parsed in full (the rest by shape)


class SlimRow(NamedTuple):
    """What the writer still needs of a row whose COPY data is already built: phone and tags."""

    phone: str
    tags: list


class _BatchProducer:
    """Reads, normalises and dedupes rows into batches beside the caller, which writes them.

    Parsing is Python work and writing is mostly database work: overlapping them keeps both
    of a small machine's cores busy. When the batches go to PostgreSQL as COPY data the reader
    is its own process (forked: nothing to re-import, and it never touches the database), so
    it does not share the GIL with the writer; it sends each batch's COPY bytes, its phones and
    the few rows' own tags, not the rows. Otherwise (SQLite, previews) it is a thread. The
    queue holds at most two batches (bounded memory).
    """

    def __init__(self, source, prepare, start_index, batch_size, limit, encode=None, process=False):
        self.encode = encode  # copy_text when writing to PostgreSQL: done here, off the main thread
        self.source, self.prepare = source, prepare
        self.start_index, self.batch_size, self.limit = start_index, batch_size, limit
        self.slim = False
        self.proc = self.thread = None
        self.language = (
            translation.get_language()
        )  # reasons in the rejected rows speak the importer's language
        if process and encode is not None:
            try:
                ctx = multiprocessing.get_context("fork")
                self.queue = ctx.Queue(maxsize=2)
                self.stopping = ctx.Event()
                self.slim = True
                self.proc = ctx.Process(target=self._produce, name="import-reader", daemon=True)
                self.proc.start()
                return
            except (AssertionError, OSError, ValueError) as exc:  # e.g. a daemonic worker may not fork
                logger.info("import reader runs as a thread (%s)", exc)
                self.proc, self.slim = None, False
        self.queue = queue.Queue(maxsize=2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._produce, name="import-reader", daemon=True)
        self.thread.start()

    def __iter__(self):
        while True:
            try:
                kind, value = self.queue.get(timeout=5)
            except queue.Empty:
                if self.proc is not None and not self.proc.is_alive():
                    raise RuntimeError(
                        f"the import's reader process ended (exit code {self.proc.exitcode})"
                    ) from None
                continue
            if kind == "error":
                raise value
            if self.slim:
                _unslim(value)
            yield value
            if value.final:
                return

    def stop(self):
        self.stopping.set()
        worker = self.proc or self.thread
        deadline = time.monotonic() + 10
        while worker.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.queue.get(timeout=0.05)  # unblock a producer waiting on a full queue
        if self.proc is not None:
            if self.proc.is_alive():
                self.proc.terminate()
            self.proc.join(5)
            self.queue.close()
        else:
            self.thread.join()

    def _put(self, item) -> bool:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self):
        try:
            with translation.override(self.language):
                self._batches()
        except BaseException as exc:  # handed to the consumer, which raises it in its own thread
            if self.proc is not None and not _picklable(exc):
                exc = RuntimeError(f"{type(exc).__name__}: {exc}")
            self._put(("error", exc))
        finally:
            items = self.source.items
            if hasattr(items, "close"):
                items.close()

    def _batches(self):
        seen: set[str] = set()
        prepare, start_index, limit = self.prepare, self.start_index, self.limit
        primary: dict[str, Row] = {}
        dups: dict[str, Row] = {}
        rejections: list[Rejection] = []
        warnings: list = []
        rows = merged = warned = 0
        index = -1
        for index, (line, raw, vals, phones, error) in enumerate(self.source.items):
            if self.stopping.is_set():
                return
            if limit is not None and index >= limit:
                index -= 1
                break
            item = prepare(index, line, raw, vals, phones, error)
            if index < start_index:
                # Already committed by an earlier attempt: only remember its phone for dedupe.
                if type(item) is Row:
                    seen.add(item.phone)
                continue
            rows += 1
            if type(item) is Rejection:
                rejections.append(item)
            else:
                phone = item.phone
                if item.warnings:
                    warned += 1
                    warnings.extend((phone, w) for w in item.warnings)
                if phone in primary:
                    merge_rows(primary[phone], item)
                    merged += 1
                elif phone in seen:
                    if phone in dups:
                        merge_rows(dups[phone], item)
                    else:
                        dups[phone] = item
                    merged += 1
                else:
                    primary[phone] = item
            if rows >= self.batch_size:
                seen.update(primary)
                batch = Batch(primary, dups, rejections, rows, merged, index + 1, self.source.position())
                batch.warnings, batch.warned = warnings, warned
                self._encode(batch)
                if not self._put(("batch", batch)):
                    return
                primary, dups, rejections, warnings, rows, merged, warned = {}, {}, [], [], 0, 0, 0
        seen.update(primary)
        batch = Batch(primary, dups, rejections, rows, merged, index + 1, self.source.size, True)
        batch.warnings, batch.warned = warnings, warned
        batch.full_parses = prepare.normalise.full_parses  # counted where the reader ran
        self._encode(batch)
        self._put(("batch", batch))

    def _encode(self, batch: Batch) -> None:
        # Phone order: two imports upserting overlapping phones take their row locks in the same
        # order, so they wait for each other instead of deadlocking.
        batch.primary = dict(sorted(batch.primary.items()))
        batch.dups = dict(sorted(batch.dups.items()))
        if self.encode is not None:
            batch.primary_copy = self.encode(list(batch.primary.values()))
            if batch.dups:
                batch.dups_copy = self.encode(list(batch.dups.values()))
            if self.slim:
                # What crosses to the writer process: bytes and a few lists, cheap to unpickle.
                batch.primary = _slim(batch.primary)
                batch.dups = _slim(batch.dups)


def _slim(rows: dict) -> tuple[str, dict]:
    return "\n".join(rows), {p: r.tags for p, r in rows.items() if r.tags}


def _unslim(batch) -> None:
    for name in ("primary", "dups"):
        phones, tags = getattr(batch, name)
        setattr(batch, name, {p: SlimRow(p, tags.get(p, ())) for p in phones.split("\n")} if phones else {})


def _picklable(exc) -> bool:
    import pickle

    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own object, round-tripped
        return True
    except Exception:
        return False


class Reports:
    """The rejected-rows and warnings sinks of a run (files, or in-memory for previews)."""

    def __init__(self, rejected, warnings, examples: list):
        self.rejected, self.warnings, self.examples = rejected, warnings, examples

    def offsets(self) -> tuple[int, int]:
        return (
            self.rejected.tell() if hasattr(self.rejected, "tell") else 0,
            self.warnings.tell() if hasattr(self.warnings, "tell") else 0,
        )

    def rewind(self, offsets, examples: int) -> None:
        for sink, offset in zip((self.rejected, self.warnings), offsets, strict=True):
            if hasattr(sink, "rewind"):
                sink.rewind(offset)
        del self.examples[examples:]

    def add(self, batch: Batch) -> tuple[int, int]:
        """Write the batch's rejections and warnings; returns the files' lengths (resume points)."""
        rejected_offset = warnings_offset = 0
        if self.rejected is not None:
            for rej in batch.rejections:
                self.rejected.add(rej)
            rejected_offset = self.rejected.flush()
        for phone, w in batch.warnings:
            if len(self.examples) >= WARNING_EXAMPLES:
                break
            self.examples.append({**w.as_dict(), "phone": phone})
        if self.warnings is not None:
            for item in batch.warnings:
                self.warnings.add(item)
            warnings_offset = self.warnings.flush()
        return rejected_offset, warnings_offset

    def close(self) -> None:
        for sink in (self.rejected, self.warnings):
            if sink is not None:
                sink.close()


WARNING_EXAMPLES = 20  # warnings kept with the import's record (all of them are in the warnings file)
DEADLOCK_RETRIES = 5


def _is_deadlock(exc: BaseException) -> bool:
    cause = exc
    while cause is not None:
        if type(cause).__name__ in ("DeadlockDetected", "SerializationFailure"):
            return True
        cause = cause.__cause__ or cause.__context__
        if cause is exc:
            break
    return False


def _commit(
    writer, options, batch: Batch, reports: Reports, counts, on_batch, source, started, done_this_run
):
    """Write one batch and its progress in one transaction.

    A batch that loses a deadlock against another import (both upserting the same phones)
    is rolled back by PostgreSQL; it is simply run again, with its reports rewound, so staff
    never see the failure. Rows are written in phone order, which makes deadlocks rare.
    """
    before = asdict(counts)
    offsets, examples = reports.offsets(), len(reports.examples)
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            _commit_once(writer, options, batch, reports, counts, on_batch, source, started, done_this_run)
            return
        except Exception as exc:
            if attempt == DEADLOCK_RETRIES or not _is_deadlock(exc):
                raise
            logger.warning(
                "import batch ending at row %d deadlocked; retrying (%d)", batch.cursor, attempt + 1
            )
            for key, value in before.items():
                setattr(counts, key, value)
            reports.rewind(offsets, examples)
            if writer is not None:
                writer.forget_tags()
            time.sleep(0.05 * (attempt + 1))


def _commit_once(
    writer, options, batch: Batch, reports: Reports, counts, on_batch, source, started, done_this_run
):
    rows = list(batch.primary.values())
    with transaction.atomic():
        if writer is not None:
            created, updated, unchanged = writer.write(rows, options.update_mode, batch.primary_copy)
            # Rows whose phone an earlier batch already wrote: merge into that contact.
            writer.write(list(batch.dups.values()), "fill", batch.dups_copy, existing=True)
        else:
            created, updated, unchanged = _classify(rows, options.update_mode)
        counts.created += created
        counts.updated += updated
        counts.unchanged += unchanged
        counts.rejected += len(batch.rejections)
        counts.warned += batch.warned
        counts.processed = batch.cursor
        if batch.final:
            counts.total_rows = batch.cursor
        rejected_offset, warnings_offset = reports.add(batch)
        elapsed = max(time.monotonic() - started, 1e-6)
        if on_batch:
            on_batch(
                Progress(
                    counts=counts,
                    cursor=batch.cursor,
                    position=batch.position,
                    size=source.size,
                    rejected_offset=rejected_offset,
                    rate=done_this_run / elapsed,
                    errors={},
                    warnings_offset=warnings_offset,
                    warning_examples=list(reports.examples),
                )
            )


def _classify(rows: list[Row], mode: str) -> tuple[int, int, int]:
    """Dry run: how many rows would be created, updated, left unchanged."""
    existing = {
        c.phone: c
        for c in Contact.objects.filter(phone__in=[r.phone for r in rows]).only(
            "id", "phone", "secondary_phones", "fields", "birth_date", *TEXT_ATTRS
        )
    }
    created = updated = unchanged = 0
    for row in rows:
        contact = existing.get(row.phone)
        if contact is None:
            created += 1
        elif contact_changes(contact, row, mode):
            updated += 1
        else:
            unchanged += 1
    return created, updated, unchanged

"""Import and export services: what the admin wizard, the API, the CLI and the tasks call.

start_import → (map) → preview_import → queue_import → run_import (Celery, resumable).
export_contacts writes a CSV/XLSX/vCard file for a filter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import threading

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from contacts.models import ContactList, CustomField

from . import pipeline
from .errors import ImportFileError
from .mapping import auto_mapping, validate_mapping
from .models import ContactImport

logger = logging.getLogger(__name__)


def stale_after() -> dt.timedelta:
    """A running import whose heartbeat is older than this has lost its worker (IMPORT_STALE_SECONDS)."""
    return dt.timedelta(seconds=int(getattr(settings, "IMPORT_STALE_SECONDS", 60)))


PREVIEW_ROWS = 10
PREVIEW_SCAN = 20_000  # preview counts are exact up to this many rows


def max_upload_bytes() -> int:
    return int(getattr(settings, "IMPORT_MAX_UPLOAD_MB", 200)) * 1024 * 1024


def _options(imp: ContactImport) -> pipeline.Options:
    return pipeline.Options(
        kind=imp.kind,
        list_id=imp.contact_list_id,
        tags=list(imp.tags or []),
        country=imp.country,
        mapping=list(imp.mapping) if imp.mapping else None,
        phone_order=list(imp.phone_order) if imp.phone_order else None,
        update_mode=imp.update_mode,
        sheet=imp.sheet or None,
    )


def start_import(
    uploaded,
    *,
    user=None,
    original_name: str | None = None,
    contact_list: ContactList | int | None = None,
    new_list_name: str = "",
    tags=(),
    country: str = "",
    update_mode: str = "fill",
    sheet: str = "",
    mapping_spec=None,
) -> ContactImport:
    """Store an uploaded file and check it can be imported; ValidationError says why not.

    Checks, before any work: size limit, empty file, the file is what its name claims,
    and it has a phone column (CSV/Excel). Detects headers and an automatic mapping.
    """
    name = original_name or getattr(uploaded, "name", "") or "contacts.csv"
    size = getattr(uploaded, "size", None)
    if size is None:
        uploaded.seek(0, os.SEEK_END)
        size = uploaded.tell()
        uploaded.seek(0)
    if size > max_upload_bytes():
        raise ValidationError(
            {
                "file": gettext("The file is %(size)s MB; the limit is %(limit)s MB.")
                % {"size": f"{size / 1048576:.0f}", "limit": settings.IMPORT_MAX_UPLOAD_MB}
            }
        )
    if size == 0:
        raise ValidationError({"file": gettext("The file is empty.")})
    if update_mode not in pipeline.UPDATE_MODES:
        raise ValidationError(
            {"update_mode": gettext("must be one of %(values)s") % {"values": ", ".join(pipeline.UPDATE_MODES)}}
        )
    country = (country or "").strip().upper()
    if country and (len(country) != 2 or not country.isalpha()):
        raise ValidationError({"country": gettext("a two-letter country code, e.g. IT")})
    if isinstance(contact_list, int | str) and contact_list:
        contact_list = ContactList.objects.filter(pk=contact_list).first() or _missing_list(contact_list)
    new_list_name = (new_list_name or "").strip()
    if new_list_name and ContactList.objects.filter(name__iexact=new_list_name).exists():
        contact_list = ContactList.objects.get(name__iexact=new_list_name)
        new_list_name = ""
    imp = ContactImport(
        original_name=os.path.basename(name)[:255],
        size=size,
        contact_list=contact_list or None,
        new_list_name=new_list_name,
        tags=[t.strip() for t in (tags or []) if t and t.strip()],
        country=country,
        update_mode=update_mode,
        sheet=sheet or "",
        created_by=user if getattr(user, "pk", None) else None,
    )
    stored = _stored_name(imp.original_name)
    imp.file.save(stored, File(uploaded, name=stored), save=False)
    try:
        imp.kind = pipeline.detect_kind(imp.file.path, imp.original_name)
        _inspect(imp, mapping_spec)
    except ImportFileError as exc:
        imp.file.delete(save=False)
        raise ValidationError({"file": str(exc)}) from None
    imp.status = ContactImport.Status.UPLOADED if imp.kind != "vcard" else ContactImport.Status.MAPPING
    imp.save()
    return imp


def _stored_name(original: str) -> str:
    """The upload's name on disk: short and plain (a 254-character name, in UTF-8 bytes, is longer
    than file systems allow); the original name stays in original_name for people."""
    from django.utils.text import get_valid_filename

    base, ext = os.path.splitext(original)
    ext = ext[:10] if ext[1:].isalnum() else ""
    try:
        base = get_valid_filename(base)[:60]
    except Exception:  # SuspiciousFileOperation for names like ".."
        base = ""
    return (base or "contacts") + ext


def _missing_list(value):
    raise ValidationError({"contact_list": gettext("no list with id %(ids)s") % {"ids": value}})


def _inspect(imp: ContactImport, mapping_spec=None) -> None:
    """Read the headers and choose the mapping: automatic, or from a mapping spec (raises ImportFileError)."""
    source = pipeline.open_source(imp.file.path, _options(imp), require_phone=False)
    try:
        imp.headers = source.headers
        imp.mapping = source.mapping
        imp.phone_order = source.phone_order
        imp.detected = {**source.detected, "header_line": source.header_line}
        if imp.kind == "xlsx" and not imp.sheet:
            imp.sheet = source.detected.get("sheet", "")
        # A first look at the rows, so a mislabelled file fails now rather than in the worker.
        for _ in zip(range(3), source.items, strict=False):
            pass
    finally:
        if hasattr(source.items, "close"):
            source.items.close()
    if imp.kind == "vcard":
        return
    if mapping_spec is not None:
        try:
            targets, order = mapping_from_spec(mapping_spec, imp.headers)
        except ValidationError as exc:
            raise ImportFileError(" ".join(exc.messages)) from None
        order = [int(i) for i in order or []] + [
            i for i, t in enumerate(targets) if t == "phone" and i not in (order or [])
        ]
        problems = validate_mapping(targets, imp.headers, order, set(custom_field_labels()))
        if problems:
            raise ImportFileError(" ".join(problems))
        imp.mapping, imp.phone_order = targets, order
    elif "phone" not in imp.mapping:
        raise ImportFileError(
            gettext("No phone column found. Columns in this file: %(columns)s. Map one of them to the phone number.")
            % {"columns": ", ".join(repr(h) for h in imp.headers if h)[:300]}
        )


def custom_field_labels() -> dict[str, str]:
    return {f.key: f.label for f in CustomField.objects.all()}


def set_mapping(imp: ContactImport, targets: list[str], phone_order: list[int] | None = None, *, sheet=None):
    """Save the person's mapping; ValidationError when it cannot be used (e.g. no phone column)."""
    if sheet is not None and sheet != imp.sheet:
        imp.sheet = sheet
        imp.mapping, imp.phone_order = [], []  # another sheet, other columns: match them afresh
        try:
            _inspect(imp)
        except ImportFileError as exc:
            raise ValidationError({"sheet": str(exc)}) from None
        imp.save()
        return imp
    keys = set(custom_field_labels())
    phone_order = [int(i) for i in (phone_order or []) if str(i).lstrip("-").isdigit()]
    if not phone_order:
        phone_order = [i for i in auto_mapping(imp.headers)[1] if i < len(targets) and targets[i] == "phone"]
    phone_order += [i for i, t in enumerate(targets) if t == "phone" and i not in phone_order]
    problems = validate_mapping(targets, imp.headers, phone_order, keys)
    if problems:
        raise ValidationError({"mapping": problems})
    imp.mapping = list(targets)
    imp.phone_order = phone_order
    imp.status = ContactImport.Status.MAPPING
    imp.save(update_fields=["mapping", "phone_order", "status", "sheet"])
    return imp


def create_custom_field_from_column(imp: ContactImport, column: int, label: str = "", type: str = "text"):
    """A new text (or other type) custom field named after a column, mapped to it."""
    label = (label or imp.headers[column] or gettext("Column %(number)d") % {"number": column + 1}).strip()[:100]
    field, _ = CustomField.objects.get_or_create(
        key=CustomField(label=label).key or _slug(label), defaults={"label": label, "type": type}
    )
    mapping = list(imp.mapping)
    mapping[column] = f"field:{field.key}"
    imp.mapping = mapping
    imp.save(update_fields=["mapping"])
    return field


def _slug(label):
    from django.utils.text import slugify

    return slugify(label).replace("-", "_")[:64] or "field"


def preview_import(imp: ContactImport, rows: int = PREVIEW_ROWS) -> dict:
    """Counts of what the import would do and its first rows as they would be saved. Writes nothing."""
    options = _options(imp)
    options.list_id = None
    custom_fields = {f.key: f for f in CustomField.objects.all()}
    source = pipeline.open_source(imp.file.path, options, custom_fields)
    prepare = pipeline.Preparer(options, custom_fields, source.columns)
    first = []
    reasons: dict[str, int] = {}
    for index, (line, raw, vals, phones, error) in enumerate(source.items):
        if index >= rows:
            break
        item = prepare(index, line, raw, vals, phones, error)
        if isinstance(item, pipeline.Row):
            first.append({"line": line, "phone": item.phone, "secondary_phones": item.secondary[:5],
                          **{k: _short(v) for k, v in item.attrs.items() if v not in ("", None)},
                          "fields": {k: _short(v) for k, v in list(item.fields.items())[:20]},
                          "tags": [_short(t) for t in item.tags[:10]],
                          "warnings": [w.as_dict() for w in (item.warnings or [])[:10]]})  # fmt: skip
        else:
            first.append({"line": line, "error": _short(item.error)})
    if hasattr(source.items, "close"):
        source.items.close()
    collected = []
    warnings: list = []
    counts = _dry_run(imp, options, _Sink(reasons, collected), warnings)
    # Bounded: the preview is stored with the import and returned by the API.
    preview = {
        "rows": first,
        "counts": counts.as_dict(),
        "complete": counts.total_rows < PREVIEW_SCAN,
        "scanned": counts.total_rows,
        "reasons": [(_short(k), v) for k, v in sorted(reasons.items(), key=lambda kv: -kv[1])[:15]],
        "rejected_examples": collected,
        "warnings": warnings,
    }
    imp.preview = preview
    imp.status = ContactImport.Status.PREVIEWED
    imp.save(update_fields=["preview", "status"])
    return preview


def _reason_key(error: str) -> str:
    # "phone '12': too short" → "phone: too short" so reasons group (in the language of the messages).
    prefix = gettext("phone %(value)s: %(reason)s").split("%(value)s")[0]
    if error.startswith(prefix) and ": " in error:
        return gettext("phone: %(reason)s") % {"reason": error.rsplit(": ", 1)[1]}
    return error.split(":")[0] if error.count("'") >= 2 else error


def _short(value, limit: int = 200):
    """A preview value: text cut to `limit` characters (dates and numbers as they are)."""
    if isinstance(value, str):
        return value if len(value) <= limit else value[: limit - 1] + "…"
    return value if isinstance(value, int | float | bool) or value is None else _short(str(value), limit)


def _dry_run(imp, options, collector, warning_examples=None) -> pipeline.Counts:
    return pipeline.run(
        imp.file.path, options, dry_run=True, limit=PREVIEW_SCAN, batch_size=2000, rejected_sink=collector,
        warning_examples=warning_examples,
    )  # fmt: skip


class _Sink:
    """Rejected rows collected in memory (previews write nothing to disk)."""

    def __init__(self, reasons, examples):
        self.reasons, self.examples = reasons, examples

    def add(self, rej):
        key = _reason_key(rej.error)
        self.reasons[key] = self.reasons.get(key, 0) + 1
        if len(self.examples) < 20:
            self.examples.append({"line": rej.line, "error": _short(rej.error)})

    def flush(self):
        return 0

    def close(self):
        pass


def queue_import(imp: ContactImport) -> ContactImport:
    """Create the new list if one was asked for, mark queued and enqueue the task after commit."""
    from contacts import tasks

    with transaction.atomic():
        imp = ContactImport.objects.select_for_update().get(pk=imp.pk)
        if imp.is_active:
            return imp
        if imp.status == ContactImport.Status.SUCCEEDED:
            raise ValidationError(gettext("This import has already run."))
        _resolve_new_list(imp)
        imp.status = ContactImport.Status.QUEUED
        imp.error = ""
        imp.heartbeat_at = timezone.now()  # "queued at": a message lost for longer can be re-sent
        imp.save(update_fields=["status", "error", "contact_list", "heartbeat_at"])
        transaction.on_commit(lambda: tasks.run_import.delay(imp.pk))
    return imp


def _resolve_new_list(imp):
    """The list named at upload: the existing one of that name, else a new one.

    Two uploads naming the same new list at once both find none; the second create then
    loses on the unique name and simply uses the list the first created.
    """
    if imp.new_list_name and not imp.contact_list_id:
        from contacts.services import create_list

        existing = ContactList.objects.filter(name__iexact=imp.new_list_name).first()
        if existing is None:
            try:
                with transaction.atomic():
                    existing = create_list(imp.new_list_name, user=imp.created_by)
            except (IntegrityError, ValidationError):
                existing = ContactList.objects.filter(name__iexact=imp.new_list_name).first()
                if existing is None:
                    raise
        imp.contact_list = existing


def _report_base(imp: ContactImport) -> str:
    # Short and plain: a 254-character upload name must not make the report's path too long
    # for its column or for the file system.
    from django.utils.text import get_valid_filename

    try:
        base = get_valid_filename(os.path.splitext(imp.original_name)[0])[:40]
    except Exception:  # SuspiciousFileOperation for names like ".."
        base = ""
    return base or "import"


def _rejected_path(imp: ContactImport) -> str:
    if not imp.rejected_file:
        imp.rejected_file.name = (
            f"imports/rejected/{imp.created_at:%Y/%m}/import-{imp.pk}-{_report_base(imp)}-rejected.csv"
        )
    return imp.rejected_file.path


def _warnings_path(imp: ContactImport) -> str:
    if not imp.warnings_file:
        imp.warnings_file.name = (
            f"imports/warnings/{imp.created_at:%Y/%m}/import-{imp.pk}-{_report_base(imp)}-warnings.csv"
        )
    return imp.warnings_file.path


@contextlib.contextmanager
def _import_lock(import_id: int):
    """One runner per import across workers: a PostgreSQL session advisory lock.

    A worker that dies loses its session and so the lock, and the redelivered task (acks
    late) resumes at once; a duplicate delivery while the first still runs gets False and
    leaves. SQLite (a single machine, the embedded set-up) needs no lock.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, import_id])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_NAMESPACE, import_id])


_LOCK_NAMESPACE = 7301  # advisory lock keys (namespace, import id) of contact imports


def run_import(import_id: int) -> dict:
    """Run (or resume) an import; returns its counts. Safe to call again after a crash.

    Each batch commits the contacts and this import's counts and cursor together, so a
    re-run skips exactly the committed rows. A failure marks the import failed with the
    reason, then re-raises unexpected errors so the worker logs them.
    """
    with _import_lock(import_id) as got:
        if not got:
            return {"id": import_id, "status": "running", "skipped": "another worker is running this import"}
        return _run_import(import_id)


def _run_import(import_id: int) -> dict:
    try:
        with transaction.atomic():
            imp = ContactImport.objects.select_for_update().get(pk=import_id)
            if imp.status == ContactImport.Status.SUCCEEDED:
                return _counts(imp)
            _resolve_new_list(imp)
            imp.status = ContactImport.Status.RUNNING
            imp.attempts += 1
            imp.started_at = imp.started_at or timezone.now()
            imp.heartbeat_at = timezone.now()
            imp.error = ""
            path = _rejected_path(imp)
            warnings_path = _warnings_path(imp)
            imp.save()
    except ContactImport.DoesNotExist:
        return {"id": import_id, "status": "missing"}
    except Exception as exc:
        # Before the first batch (a bad list name, a file name its report path cannot hold …):
        # still end in a state staff can act on, never "queued" forever.
        _fail(import_id, _failure_text(exc))
        raise
    start_counts = pipeline.Counts(
        total_rows=0, processed=imp.cursor, created=imp.created, updated=imp.updated,
        unchanged=imp.unchanged, merged=imp.merged, rejected=imp.rejected, warned=imp.warned,
    )  # fmt: skip
    examples = [w for w in (imp.warning_examples or []) if imp.cursor and w.get("line") is not None]

    def on_batch(progress: pipeline.Progress):
        c = progress.counts
        eta = None
        if progress.position and progress.rate:
            rows_left = (progress.size - progress.position) * progress.cursor / progress.position
            eta = int(max(rows_left, 0) / progress.rate)
        ContactImport.objects.filter(pk=import_id).update(
            processed=c.processed, created=c.created, updated=c.updated, unchanged=c.unchanged,
            merged=c.merged, rejected=c.rejected, warned=c.warned, total_rows=c.total_rows, cursor=progress.cursor,
            rejected_offset=progress.rejected_offset, warnings_offset=progress.warnings_offset,
            warning_examples=progress.warning_examples, position=progress.position,
            rate=round(progress.rate, 1), eta_seconds=eta, heartbeat_at=timezone.now(),
        )  # fmt: skip

    heartbeat = _Heartbeat(import_id)
    try:
        counts = pipeline.run(
            imp.file.path,
            _options(imp),
            rejected_path=path,
            start_index=imp.cursor,
            counts=start_counts,
            rejected_offset=imp.rejected_offset if imp.cursor else 0,
            on_batch=on_batch,
            batch_size=getattr(settings, "IMPORT_BATCH_SIZE", pipeline.BATCH_SIZE),
            warnings_path=warnings_path,
            warnings_offset=imp.warnings_offset if imp.cursor else 0,
            warning_examples=examples,
        )
    except ImportFileError as exc:
        _fail(import_id, str(exc))
        return {"status": "failed", "error": str(exc)}
    except Exception as exc:
        _fail(import_id, _failure_text(exc))
        raise
    finally:
        heartbeat.stop()
    imp.refresh_from_db()
    imp.status = ContactImport.Status.SUCCEEDED
    imp.total_rows = counts.total_rows
    imp.finished_at = timezone.now()
    imp.position = imp.size
    imp.eta_seconds = 0
    if not counts.rejected:
        imp.rejected_file.delete(save=False)
        imp.rejected_file = ""
    if not counts.warned:
        imp.warnings_file.delete(save=False)
        imp.warnings_file = ""
    imp.save()
    return _counts(imp)


def _failure_text(exc: BaseException) -> str:
    detail = str(exc).splitlines()[0][:300] if str(exc) else ""
    return gettext("The import stopped because of an error (%(error)s: %(detail)s). Resume it to try again.") % {
        "error": type(exc).__name__, "detail": detail
    }


class _Heartbeat:
    """Marks a running import alive every few seconds from its own thread and connection.

    Batches beat too, but one batch can wait long on locks or index work; the thread keeps
    "running" true while the worker lives, and stops when it dies, so a stale heartbeat
    (IMPORT_STALE_SECONDS) reliably means the worker is gone and Resume is safe. PostgreSQL
    only: SQLite allows one writer, and there the batches' own beats are the heartbeat.
    """

    def __init__(self, import_id: int):
        self.import_id = import_id
        self.stopping = threading.Event()
        self.thread = None
        if connection.vendor == "postgresql":
            self.every = max(1.0, stale_after().total_seconds() / 4)
            self.thread = threading.Thread(target=self._beat, name=f"import-{import_id}-heartbeat", daemon=True)
            self.thread.start()

    def _beat(self):
        from django.db import connections

        try:
            while not self.stopping.wait(self.every):
                try:
                    ContactImport.objects.filter(pk=self.import_id, status=ContactImport.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except Exception:
                    logger.warning("import %s: heartbeat not recorded", self.import_id, exc_info=True)
        finally:
            connections.close_all()

    def stop(self):
        if self.thread is not None:
            self.stopping.set()
            self.thread.join(timeout=10)


def _fail(import_id: int, reason: str) -> None:
    ContactImport.objects.filter(pk=import_id).update(
        status=ContactImport.Status.FAILED, error=reason[:2000], finished_at=timezone.now()
    )


def _counts(imp: ContactImport) -> dict:
    return {
        "id": imp.pk, "status": imp.status, "total_rows": imp.total_rows, "processed": imp.processed,
        "created": imp.created, "updated": imp.updated, "unchanged": imp.unchanged, "merged": imp.merged,
        "rejected": imp.rejected, "warned": imp.warned,
        "rejected_report": imp.rejected_file.path if imp.rejected_file else None,
        "warnings_report": imp.warnings_file.path if imp.warnings_file else None,
    }  # fmt: skip


def import_status(imp: ContactImport) -> dict:
    """Status for the progress bar and the API; marks a stale running import failed first."""
    if imp.status == ContactImport.Status.RUNNING and _is_stale(imp):
        fail_stale_imports()
        imp.refresh_from_db()
    data = _counts(imp)
    data.pop("rejected_report")
    data.pop("warnings_report")
    done = imp.status == ContactImport.Status.SUCCEEDED
    data.update(
        {
            "percent": imp.percent, "rate": imp.rate, "eta_seconds": imp.eta_seconds, "error": imp.error,
            "original_name": imp.original_name, "kind": imp.kind, "finished": not imp.is_active,
            "has_rejected_file": bool(imp.rejected_file) and done,
            "has_warnings_file": bool(imp.warnings_file) and done,
            "warnings": list(imp.warning_examples or []),
            "can_resume": can_resume(imp),
        }
    )  # fmt: skip
    return data


def _is_stale(imp: ContactImport, now=None) -> bool:
    beat = imp.heartbeat_at or imp.started_at or imp.created_at
    return (now or timezone.now()) - beat > stale_after()


def fail_stale_imports(now=None) -> int:
    """Mark imports whose heartbeat stopped (worker gone) failed, with the reason.

    They keep their cursor, so `resume` (run_import again) continues where they stopped.
    """
    now = now or timezone.now()
    cutoff = now - stale_after()
    return ContactImport.objects.filter(status=ContactImport.Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=ContactImport.Status.FAILED,
        error=gettext("The import stopped (its worker was restarted or killed). Resume it to continue where it stopped."),
        finished_at=now,
    )


def can_resume(imp: ContactImport, now=None) -> bool:
    """Failed; running with a stale heartbeat (its worker died); or queued so long ago that its
    queue message was lost. Re-queueing is always safe: one runner per import (advisory lock),
    and a finished import is never run again."""
    if imp.status == ContactImport.Status.FAILED:
        return True
    if imp.status in (ContactImport.Status.RUNNING, ContactImport.Status.QUEUED):
        return _is_stale(imp, now)
    return False


def resume_import(imp: ContactImport) -> ContactImport:
    """Queue a failed or stuck import again; it continues from its last committed batch."""
    imp.refresh_from_db()
    if not can_resume(imp):
        if imp.is_active:
            raise ValidationError(
                gettext(
                    "This import is still running (its worker answered less than a minute ago); "
                    "it can be resumed if it stops."
                )
            )
        raise ValidationError(gettext("Only a failed or stopped import can be resumed."))
    ContactImport.objects.filter(pk=imp.pk, status=imp.status).update(status=ContactImport.Status.PREVIEWED)
    imp.refresh_from_db()
    return queue_import(imp)


def mapping_from_spec(spec, headers: list[str]) -> tuple[list[str] | None, list[int] | None]:
    """A mapping file's content → (targets, phone order).

    Accepts a list of targets aligned with the columns, or
    {"columns": {"Header": "target", …}, "phone_order": ["Header", …]}; headers not named keep
    their automatic target.
    """
    if spec is None:
        return None, None
    shape = "must be a list of targets or an object with 'columns' (header → target) and 'phone_order'"
    if isinstance(spec, list):
        if len(spec) > len(headers) or not all(isinstance(t, str) or t is None for t in spec):
            raise ValidationError(
                {"mapping": gettext("%(shape)s; a list needs one text target per column") % {"shape": shape}}
            )
        return [t or "" for t in spec], None
    if not isinstance(spec, dict) or set(spec) - {"columns", "phone_order"}:
        raise ValidationError({"mapping": shape})
    columns = spec.get("columns") or {}
    if not isinstance(columns, dict) or not all(isinstance(t, str) or t is None for t in columns.values()):
        raise ValidationError({"mapping": gettext("'columns' must be an object: {\"Header\": \"target\"}")})
    targets, _ = auto_mapping(headers, custom_field_labels())
    by_name = {h.strip().lower(): i for i, h in enumerate(headers)}
    for header, target in columns.items():
        index = by_name.get(str(header).strip().lower())
        if index is None:
            raise ValidationError({"mapping": gettext("the file has no column %(column)r") % {"column": str(header)[:100]}})
        targets[index] = target or ""
    phone_order = None
    order_spec = spec.get("phone_order")
    if order_spec not in (None, [], ""):
        if not isinstance(order_spec, list) or len(order_spec) > len(headers):
            raise ValidationError({"mapping": "'phone_order' must be a list of phone column headers"})
        phone_order = []
        for header in order_spec:
            if isinstance(header, bool) or not isinstance(header, str | int):
                raise ValidationError({"mapping": gettext("'phone_order' must be a list of phone column headers")})
            index = by_name.get(header.strip().lower()) if isinstance(header, str) else header
            if index is None or not 0 <= index < len(headers):
                raise ValidationError({"mapping": gettext("the file has no column %(column)r") % {"column": str(header)[:100]}})
            phone_order.append(index)
    return targets, phone_order


def import_file(path, *, user=None, mapping_spec=None, **kwargs) -> ContactImport:
    """Synchronous import of a file on disk (the CLI): same checks and pipeline as the wizard."""
    with open(path, "rb") as fh:
        imp = start_import(
            fh, user=user, original_name=os.path.basename(path), mapping_spec=mapping_spec, **kwargs
        )
    ContactImport.objects.filter(pk=imp.pk).update(status=ContactImport.Status.QUEUED)
    run_import(imp.pk)
    imp.refresh_from_db()
    return imp


def export_contacts(filters_or_queryset, fmt: str, path) -> int:
    """Write contacts to `path` as csv, xlsx or vcf (see exports.py); returns how many were written."""
    from .exports import export_contacts as write

    return write(filters_or_queryset, fmt, path)

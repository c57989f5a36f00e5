"""Import and export services: what the admin wizard, the API, the CLI and the tasks call.

start_import → (map) → preview_import → queue_import → run_import (Celery, resumable).
export_contacts writes a CSV/XLSX/vCard file for a filter.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext

from contacts.models import ContactList, CustomField

from . import pipeline
from .errors import ImportFileError
from .mapping import auto_mapping, validate_mapping
from .models import ContactImport

STALE_AFTER = dt.timedelta(minutes=15)  # a running import that has not committed a batch for this long
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
    imp.file.save(imp.original_name, File(uploaded, name=imp.original_name), save=False)
    try:
        imp.kind = pipeline.detect_kind(imp.file.path, imp.original_name)
        _inspect(imp, mapping_spec)
    except ImportFileError as exc:
        imp.file.delete(save=False)
        raise ValidationError({"file": str(exc)}) from None
    imp.status = ContactImport.Status.UPLOADED if imp.kind != "vcard" else ContactImport.Status.MAPPING
    imp.save()
    return imp


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
    prepare = pipeline.Preparer(options, custom_fields)
    first = []
    reasons: dict[str, int] = {}
    for index, (line, raw, vals, phones, error) in enumerate(source.items):
        if index >= rows:
            break
        item = prepare(index, line, raw, vals, phones, error)
        if isinstance(item, pipeline.Row):
            first.append({"line": line, "phone": item.phone, "secondary_phones": item.secondary,
                          **{k: str(v) for k, v in item.attrs.items() if v not in ("", None)},
                          "fields": item.fields, "tags": item.tags})  # fmt: skip
        else:
            first.append({"line": line, "error": item.error})
    if hasattr(source.items, "close"):
        source.items.close()
    collected = []
    counts = _dry_run(imp, options, _Sink(reasons, collected))
    preview = {
        "rows": first,
        "counts": counts.as_dict(),
        "complete": counts.total_rows < PREVIEW_SCAN,
        "scanned": counts.total_rows,
        "reasons": sorted(reasons.items(), key=lambda kv: -kv[1])[:15],
        "rejected_examples": collected,
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


def _dry_run(imp, options, collector) -> pipeline.Counts:
    return pipeline.run(
        imp.file.path, options, dry_run=True, limit=PREVIEW_SCAN, batch_size=2000, rejected_sink=collector
    )


class _Sink:
    """Rejected rows collected in memory (previews write nothing to disk)."""

    def __init__(self, reasons, examples):
        self.reasons, self.examples = reasons, examples

    def add(self, rej):
        key = _reason_key(rej.error)
        self.reasons[key] = self.reasons.get(key, 0) + 1
        if len(self.examples) < 20:
            self.examples.append({"line": rej.line, "error": rej.error})

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
        imp.save(update_fields=["status", "error", "contact_list"])
        transaction.on_commit(lambda: tasks.run_import.delay(imp.pk))
    return imp


def _resolve_new_list(imp):
    if imp.new_list_name and not imp.contact_list_id:
        from contacts.services import create_list

        existing = ContactList.objects.filter(name__iexact=imp.new_list_name).first()
        imp.contact_list = existing or create_list(imp.new_list_name, user=imp.created_by)


def _rejected_path(imp: ContactImport) -> str:
    if not imp.rejected_file:
        base = os.path.splitext(imp.original_name)[0][:80] or "import"
        imp.rejected_file.name = (
            f"imports/rejected/{imp.created_at:%Y/%m}/import-{imp.pk}-{base}-rejected.csv"
        )
    return imp.rejected_file.path


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
        imp.save()
    start_counts = pipeline.Counts(
        total_rows=0, processed=imp.cursor, created=imp.created, updated=imp.updated,
        unchanged=imp.unchanged, merged=imp.merged, rejected=imp.rejected,
    )  # fmt: skip

    def on_batch(progress: pipeline.Progress):
        c = progress.counts
        eta = None
        if progress.position and progress.rate:
            rows_left = (progress.size - progress.position) * progress.cursor / progress.position
            eta = int(max(rows_left, 0) / progress.rate)
        ContactImport.objects.filter(pk=import_id).update(
            processed=c.processed, created=c.created, updated=c.updated, unchanged=c.unchanged,
            merged=c.merged, rejected=c.rejected, total_rows=c.total_rows, cursor=progress.cursor,
            rejected_offset=progress.rejected_offset, position=progress.position, rate=round(progress.rate, 1),
            eta_seconds=eta, heartbeat_at=timezone.now(),
        )  # fmt: skip

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
        )
    except ImportFileError as exc:
        _fail(import_id, str(exc))
        return {"status": "failed", "error": str(exc)}
    except Exception as exc:
        _fail(import_id, f"{type(exc).__name__}: {exc}"[:2000])
        raise
    imp.refresh_from_db()
    imp.status = ContactImport.Status.SUCCEEDED
    imp.total_rows = counts.total_rows
    imp.finished_at = timezone.now()
    imp.position = imp.size
    imp.eta_seconds = 0
    if not counts.rejected:
        imp.rejected_file.delete(save=False)
        imp.rejected_file = ""
    imp.save()
    return _counts(imp)


def _fail(import_id: int, reason: str) -> None:
    ContactImport.objects.filter(pk=import_id).update(
        status=ContactImport.Status.FAILED, error=reason, finished_at=timezone.now()
    )


def _counts(imp: ContactImport) -> dict:
    return {
        "id": imp.pk, "status": imp.status, "total_rows": imp.total_rows, "processed": imp.processed,
        "created": imp.created, "updated": imp.updated, "unchanged": imp.unchanged, "merged": imp.merged,
        "rejected": imp.rejected,
        "rejected_report": imp.rejected_file.path if imp.rejected_file else None,
    }  # fmt: skip


def import_status(imp: ContactImport) -> dict:
    """Status for the progress bar and the API; marks a stale running import failed first."""
    if imp.status == ContactImport.Status.RUNNING and _is_stale(imp):
        fail_stale_imports()
        imp.refresh_from_db()
    data = _counts(imp)
    data.pop("rejected_report")
    data.update(
        {
            "percent": imp.percent, "rate": imp.rate, "eta_seconds": imp.eta_seconds, "error": imp.error,
            "original_name": imp.original_name, "kind": imp.kind, "finished": not imp.is_active,
            "has_rejected_file": bool(imp.rejected_file) and imp.status == ContactImport.Status.SUCCEEDED,
        }
    )  # fmt: skip
    return data


def _is_stale(imp: ContactImport, now=None) -> bool:
    beat = imp.heartbeat_at or imp.started_at or imp.created_at
    return (now or timezone.now()) - beat > STALE_AFTER


def fail_stale_imports(now=None) -> int:
    """Mark imports that stopped committing batches (worker gone) failed, with the reason.

    They keep their cursor, so `resume` (run_import again) continues where they stopped.
    """
    now = now or timezone.now()
    cutoff = now - STALE_AFTER
    return ContactImport.objects.filter(status=ContactImport.Status.RUNNING, heartbeat_at__lt=cutoff).update(
        status=ContactImport.Status.FAILED,
        error=gettext("The import stopped (its worker was restarted or killed). Resume it to continue where it stopped."),
        finished_at=now,
    )


def resume_import(imp: ContactImport) -> ContactImport:
    """Queue a failed import again; it continues from its last committed batch."""
    if imp.status != ContactImport.Status.FAILED:
        raise ValidationError(gettext("Only a failed import can be resumed."))
    ContactImport.objects.filter(pk=imp.pk).update(status=ContactImport.Status.PREVIEWED)
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
    if isinstance(spec, list):
        return [str(t or "") for t in spec], None
    if not isinstance(spec, dict):
        raise ValidationError({"mapping": gettext("must be a list of targets or an object with 'columns'")})
    targets, _ = auto_mapping(headers, custom_field_labels())
    by_name = {h.strip().lower(): i for i, h in enumerate(headers)}
    for header, target in (spec.get("columns") or {}).items():
        index = by_name.get(str(header).strip().lower())
        if index is None:
            raise ValidationError({"mapping": gettext("the file has no column %(column)r") % {"column": header}})
        targets[index] = str(target or "")
    phone_order = None
    if spec.get("phone_order"):
        phone_order = []
        for header in spec["phone_order"]:
            index = by_name.get(str(header).strip().lower()) if not isinstance(header, int) else header
            if index is None:
                raise ValidationError({"mapping": gettext("the file has no column %(column)r") % {"column": header}})
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

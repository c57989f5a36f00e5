"""Contact exports: CSV (with a BOM so Excel reads UTF-8), XLSX and vCard 3.0.

Cells that a spreadsheet would run as a formula (= + - @ …) are neutralised with a
leading apostrophe; phone numbers are data and stay as they are. Rows stream from
the database in chunks, so a million contacts never sit in memory.
"""

from __future__ import annotations

import csv
import os
import tempfile

from django.core.files import File
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact, CustomField

from .models import ContactExport
from .values import neutralise

SYNC_LIMIT = 5000  # exports up to this size are written during the request; larger ones in the background
CHUNK = 2000
BASE_COLUMNS = [
    ("phone", _("Phone")), ("first_name", _("First name")), ("last_name", _("Last name")), ("email", _("Email")),
    ("language", _("Language")), ("gender", _("Gender")), ("birth_date", _("Birth date")), ("company", _("Company")),
    ("address", _("Address")), ("city", _("City")), ("province", _("Province")), ("postal_code", _("Postal code")),
    ("country", _("Country")), ("notes", _("Notes")),
]  # fmt: skip


def contacts_for(filters: dict) -> QuerySet[Contact]:
    """The contacts a filter spec names: ids, list_id, tag, search, opted_out, blocked."""
    from contacts.services import search_contacts

    qs = Contact.objects.all()
    if filters.get("ids") is not None:
        ids = [_id(i) for i in filters["ids"]] if isinstance(filters["ids"], list | tuple) else []
        qs = qs.filter(pk__in=[i for i in ids if i is not None])
    if filters.get("list_id"):
        list_id = _id(filters["list_id"])  # from a URL: ?list_id=abc means no list, not a crash
        qs = qs.filter(memberships__contact_list_id=list_id) if list_id is not None else qs.none()
    if filters.get("tag"):
        qs = qs.filter(tags__name=filters["tag"])
    if filters.get("search"):
        qs = search_contacts(qs, filters["search"])
    for flag in ("opted_out", "blocked"):
        if filters.get(flag) in (True, False):
            qs = qs.filter(**{flag: filters[flag]})
    return qs.order_by("pk").distinct()


def _id(value) -> int | None:
    from config.hardening import MAX_ID

    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if 1 <= number <= MAX_ID else None


def _rows(qs: QuerySet[Contact], keys: list[str]):
    """(contact, tag names, list names) per contact, in chunks with their tags and lists prefetched."""
    for contact in qs.prefetch_related("tags", "lists").iterator(chunk_size=CHUNK):
        yield contact, [t.name for t in contact.tags.all()], [cl.name for cl in contact.lists.all()]


def _record(contact, tags, lists, keys) -> list:
    out = []
    for name, _label in BASE_COLUMNS:
        value = getattr(contact, name)
        out.append(value.isoformat() if hasattr(value, "isoformat") else (value or ""))
    out.append(", ".join(other_phones(contact)))
    out.append(", ".join(tags))
    out.append(", ".join(lists))
    yes = gettext("yes")
    out.append(yes if contact.opted_out else "")
    out.append(yes if contact.blocked else "")
    fields = contact.fields if isinstance(contact.fields, dict) else {}
    out.extend("" if fields.get(k) is None else str(fields.get(k)) for k in keys)
    return out


def other_phones(contact) -> list[str]:
    """The contact's other numbers as text, whatever was stored (readers never trust stored data)."""
    value = contact.secondary_phones
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple):
        return []
    return [_phone_text(v) for v in value if isinstance(v, str | int) and not isinstance(v, bool) and _phone_text(v)]


def _phone_text(value) -> str:
    """A phone as it may appear in a file: + and digits only (no CR/LF that would split a vCard)."""
    text = str(value)
    return ("+" if text.strip().startswith("+") else "") + "".join(ch for ch in text if ch.isdigit())


def headers(keys, labels) -> list[str]:
    """Column titles; custom-field labels may come from an uploaded file, so they are neutralised too."""
    return [
        neutralise(h)
        for h in (
            [str(h) for _key, h in BASE_COLUMNS]
            + [
                gettext("Other phones"), gettext("Tags"), gettext("Lists"),
                pgettext("contact status", "Opted out"), pgettext("contact status", "Blocked"),
            ]
            + [str(labels[k]) for k in keys]
        )
    ]


def write_export(qs: QuerySet[Contact], fmt: str, fh, progress=None) -> int:
    """Write contacts to a binary file object in `fmt` (csv, xlsx, vcf); returns how many."""
    definitions = list(CustomField.objects.order_by("label"))
    keys = [f.key for f in definitions]
    labels = {f.key: f.label for f in definitions}
    count = 0
    if fmt == "csv":
        import io

        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        writer = csv.writer(text)
        writer.writerow(headers(keys, labels))
        for contact, tags, lists in _rows(qs, keys):
            writer.writerow([neutralise(v) for v in _record(contact, tags, lists, keys)])
            count += 1
            if progress and count % CHUNK == 0:
                progress(count)
        text.flush()
        text.detach()
    elif fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("Contacts")
        header_cells = []
        for title in headers(keys, labels):
            cell = WriteOnlyCell(ws, value=title)
            cell.data_type = "s"  # a label like =HYPERLINK(…) stays text
            header_cells.append(cell)
        ws.append(header_cells)
        for contact, tags, lists in _rows(qs, keys):
            row = []
            for value in _record(contact, tags, lists, keys):
                cell = WriteOnlyCell(ws, value=neutralise(value))
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula, whatever the text
                row.append(cell)
            ws.append(row)
            count += 1
            if progress and count % CHUNK == 0:
                progress(count)
        wb.save(fh)
    elif fmt == "vcf":
        for contact, tags, _lists in _rows(qs, keys):
            fh.write(vcard(contact, tags).encode("utf-8"))
            count += 1
            if progress and count % CHUNK == 0:
                progress(count)
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return count


def _esc(value) -> str:
    return (
        str(value or "").replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n")
    ).replace("\n", "\\n").replace("\r", "\\n")


def _fold(line: str) -> str:
    """Fold at 75 octets as RFC 2426 asks, never inside a UTF-8 character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    parts, current = [], ""
    for ch in line:
        if len((current + ch).encode("utf-8")) > (75 if not parts else 74):
            parts.append(current)
            current = ch
        else:
            current += ch
    parts.append(current)
    return "\r\n ".join(parts) + "\r\n"


def vcard(contact: Contact, tags=()) -> str:
    """One contact as a vCard 3.0 card."""
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    lines.append(f"N:{_esc(contact.last_name)};{_esc(contact.first_name)};;;")
    full = f"{contact.first_name} {contact.last_name}".strip() or contact.company or contact.phone
    lines.append(f"FN:{_esc(full)}")
    if contact.company:
        lines.append(f"ORG:{_esc(contact.company)}")
    lines.append(f"TEL;TYPE=CELL,PREF:{_phone_text(contact.phone)}")
    for phone in other_phones(contact):
        lines.append(f"TEL;TYPE=VOICE:{phone}")
    if contact.email:
        lines.append(f"EMAIL;TYPE=INTERNET:{_esc(contact.email)}")
    if contact.birth_date and hasattr(contact.birth_date, "isoformat"):
        lines.append(f"BDAY:{contact.birth_date.isoformat()}")
    if any((contact.address, contact.city, contact.province, contact.postal_code, contact.country)):
        adr = ";".join(
            _esc(v)
            for v in (
                "",
                "",
                contact.address,
                contact.city,
                contact.province,
                contact.postal_code,
                contact.country,
            )
        )
        lines.append(f"ADR;TYPE=HOME:{adr}")
    if contact.notes:
        lines.append(f"NOTE:{_esc(contact.notes)}")
    if tags:
        lines.append("CATEGORIES:" + ",".join(_esc(t) for t in tags))
    lines.append("END:VCARD")
    return "".join(_fold(line) for line in lines)


EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "vcf": "vcf"}


def start_export(fmt: str, filters: dict, *, user=None) -> ContactExport:
    """Create an export; small ones are written now, large ones queued for the imports worker."""
    from contacts import tasks

    if fmt not in EXTENSIONS:
        raise ValueError(f"format must be one of {', '.join(EXTENSIONS)}")
    export = ContactExport.objects.create(
        format=fmt, filters=filters, created_by=user if getattr(user, "pk", None) else None
    )
    total = contacts_for(filters).count()
    ContactExport.objects.filter(pk=export.pk).update(total=total)
    if total <= SYNC_LIMIT:
        run_export(export.pk)
    else:
        transaction.on_commit(lambda: tasks.run_export.delay(export.pk))
    export.refresh_from_db()
    return export


def run_export(export_id: int) -> dict:
    """Write the export's file (streaming to a temporary file first) and mark it ready."""
    export = ContactExport.objects.get(pk=export_id)
    if export.status == ContactExport.Status.SUCCEEDED:
        return {"id": export.pk, "done": export.done}
    ContactExport.objects.filter(pk=export_id).update(status=ContactExport.Status.RUNNING)
    qs = contacts_for(export.filters)

    def progress(done):
        ContactExport.objects.filter(pk=export_id).update(done=done)

    try:
        with tempfile.TemporaryFile() as tmp:
            count = write_export(qs, export.format, tmp, progress)
            tmp.seek(0)
            name = f"contacts-{timezone.localtime():%Y%m%d-%H%M}-{export.pk}.{EXTENSIONS[export.format]}"
            export.file.save(name, File(tmp), save=False)
    except Exception as exc:
        ContactExport.objects.filter(pk=export_id).update(
            status=ContactExport.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    export.status = ContactExport.Status.SUCCEEDED
    export.done = export.total = count
    export.finished_at = timezone.now()
    export.save(update_fields=["file", "status", "done", "total", "finished_at"])
    return {"id": export.pk, "done": count}


def export_contacts(qs_or_filters, fmt: str, path) -> int:
    """Write contacts (a queryset or a filter spec) to a file path now; returns how many."""
    qs = qs_or_filters if isinstance(qs_or_filters, QuerySet) else contacts_for(qs_or_filters)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as fh:
        return write_export(qs, fmt, fh)

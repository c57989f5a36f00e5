"""A campaign's recipients as CSV or XLSX, formula-safe (a cell never starts a formula)."""

from __future__ import annotations

import csv
import io

from django.utils.translation import gettext as _

from contacts.imports.values import neutralise
from messaging.message_models import Message

CHUNK = 2000


def headers() -> list[str]:
    return [_("Phone"), _("First name"), _("Last name"), _("Status"), _("Error"), _("Sent at"), _("Delivered at"),
            _("Read at"), _("Replied at"), _("Price"), _("Currency"), _("Text")]  # fmt: skip


def _rows(qs):
    qs = qs.select_related("contact").order_by("id")
    for m in qs.iterator(chunk_size=CHUNK):
        contact = m.contact
        yield [
            m.phone, contact.first_name if contact else "", contact.last_name if contact else "",
            str(m.get_status_display()), m.error,
            *(t.isoformat(timespec="seconds") if t else "" for t in (m.sent_at, m.delivered_at, m.read_at, m.replied_at)),
            str(m.price) if m.price is not None else "", m.currency, m.text,
        ]  # fmt: skip


def write_recipients(qs, fmt: str) -> bytes:
    """The recipients of `qs` (Message rows) as a file's bytes."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers())
        for row in _rows(qs):
            writer.writerow([neutralise(v) for v in row])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens accents right
    if fmt == "xlsx":
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(_("Recipients"))
        ws.append(headers())
        for values in _rows(qs):
            row = []
            for value in values:
                cell = WriteOnlyCell(ws, value=neutralise(value))
                cell.data_type = "s"  # never a formula, whatever the text
                row.append(cell)
            ws.append(row)
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")


def recipients_queryset(campaign, *, status: str = "", search: str = ""):
    qs = Message.objects.filter(campaign=campaign)
    if status:
        qs = qs.filter(status=status)
    if search:
        term = search.strip()[:100]
        digits = "".join(ch for ch in term if ch.isdigit())
        from django.db.models import Q

        q = Q(contact__first_name__icontains=term) | Q(contact__last_name__icontains=term)
        if digits:
            q |= Q(phone__contains=digits)
        qs = qs.filter(q)
    return qs

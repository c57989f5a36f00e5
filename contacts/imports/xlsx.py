"""Excel (.xlsx) reader: openpyxl in read-only streaming mode, so a big sheet is never in memory.

Cells keep their Python types (numbers stay numbers, dates stay dates); the mapping
step turns them into text, phone numbers stored as numbers or in scientific notation,
and Excel date serials included.
"""

from __future__ import annotations

import zipfile

from django.utils.translation import gettext

from .csv import HEADER_SCAN_ROWS, Table
from .errors import ImportFileError
from .limits import CellCounter, cell_too_long, check_zip, limits, too_many_columns


def sheet_names(path) -> list[str]:
    wb = _open(path)
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _open(path):
    import openpyxl

    if not zipfile.is_zipfile(path):
        raise ImportFileError(gettext("This file is not an Excel .xlsx workbook."))
    check_zip(path)  # before openpyxl reads the shared strings into memory
    try:
        # A file object, not the path: openpyxl refuses names not ending in .xlsx, and the
        # content decides what a file is (a workbook saved as "contacts.csv" is still one).
        return openpyxl.load_workbook(open(path, "rb"), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises KeyError, zip and XML errors for broken workbooks
        raise ImportFileError(
            gettext("This Excel workbook cannot be read (%(error)s).") % {"error": type(exc).__name__}
        ) from None


def read_xlsx(path, *, sheet: str | int | None = None) -> Table:
    """Stream the chosen sheet (the first by default) as a Table."""
    wb = _open(path)
    try:
        if sheet in (None, ""):
            ws = wb.worksheets[0]
        elif isinstance(sheet, int) or str(sheet).isdigit():
            ws = wb.worksheets[int(sheet)]
        else:
            ws = wb[sheet]
    except (IndexError, KeyError):
        wb.close()
        raise ImportFileError(gettext("The workbook has no sheet %(sheet)r.") % {"sheet": sheet}) from None
    try:
        stream = _rows(ws)
        head = []
        for item in stream:
            head.append(item)
            if len(head) >= HEADER_SCAN_ROWS:
                break
    except ImportFileError:
        wb.close()
        raise
    if not head:
        wb.close()
        raise ImportFileError(gettext("The sheet is empty."))
    from .mapping import find_header_row

    index = find_header_row([cells for _, cells in head])
    header_line, headers = head[index]
    headers = [_header_text(h) for h in headers]
    while headers and not headers[-1]:
        headers.pop()
    total = ws.max_row or 0
    state = {"row": 0}

    def rows():
        try:
            for line, cells in head[index + 1 :]:
                state["row"] = line
                yield line, cells
            for line, cells in stream:
                state["row"] = line
                yield line, cells
        finally:
            wb.close()

    def position():
        return state["row"]

    detected = {"sheet": ws.title, "sheets": list(wb.sheetnames), "max_row": total}
    return Table(headers, header_line, rows(), detected, position)


def _header_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:200]  # stored with the import and listed by the API: bounded


def _rows(ws):
    lim = limits()
    counter = CellCounter(lim)
    max_columns, max_chars = lim.columns, lim.cell_chars
    try:
        for number, row in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = list(row)
            while cells and cells[-1] in (None, ""):
                cells.pop()
            if len(cells) > max_columns:
                raise too_many_columns(number, len(cells), max_columns)
            counter.add(len(cells))
            for c in cells:
                if type(c) is str and len(c) > max_chars:
                    raise cell_too_long(number, max_chars)
            if not any(c not in (None, "") and str(c).strip() for c in cells):
                continue
            yield number, cells
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(
            gettext("This Excel workbook cannot be read (%(error)s).") % {"error": type(exc).__name__}
        ) from None

"""The files an import writes beside its counts: rejected rows and warnings (CSV)."""

from __future__ import annotations

import csv as _csv
import os

from django.utils.translation import gettext

from . import values as V
from .rows import Rejection


class RejectedFile:
    """The rejected-rows CSV: the original cells as uploaded, plus `line` and `error` columns.

    Appends as batches commit; `offset` (bytes) is stored with each batch so a resumed
    import truncates what a crashed attempt wrote after its last commit.
    """

    def __init__(self, path, headers, offset: int = 0):
        self.path = path
        self.headers = headers
        self.count = 0
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        if offset and os.path.exists(path):
            self.fh = open(path, "r+", encoding="utf-8", newline="")  # noqa: SIM115
            self.fh.truncate(offset)
            self.fh.seek(offset)
            self.writer = _csv.writer(self.fh)
        else:
            self.fh = open(path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115 - BOM: Excel reads UTF-8
            self.writer = _csv.writer(self.fh)
            self.writer.writerow(self.header_row())

    def header_row(self) -> list[str]:
        return [*self.headers, gettext("line"), gettext("error")]

    def rewind(self, offset: int) -> None:
        """Forget what was written after `offset` (a batch whose transaction was retried)."""
        self.fh.flush()
        self.fh.truncate(offset)
        self.fh.seek(offset)

    def add(self, rej: Rejection) -> None:
        width = len(self.headers)
        cells = [V.cell_text(c) for c in rej.raw]
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        self.writer.writerow([*cells, rej.line, rej.error])
        self.count += 1

    def flush(self) -> int:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        return self.fh.tell()

    def tell(self) -> int:
        self.fh.flush()
        return self.fh.tell()

    def close(self) -> None:
        self.fh.close()


class WarningsFile(RejectedFile):
    """The warnings CSV: one line per optional value left out of an imported contact.

    Columns: line, phone (the contact it belongs to), column, value, reason. Same append /
    truncate-on-resume rules as the rejected rows.
    """

    def __init__(self, path, offset: int = 0):
        super().__init__(path, [], offset)

    def header_row(self) -> list[str]:
        return [gettext("line"), gettext("phone"), gettext("column"), gettext("value"), gettext("reason")]

    def add(self, item) -> None:  # (phone, FieldWarning)
        phone, w = item
        self.writer.writerow([w.line, phone, V.neutralise(w.column), V.neutralise(w.value), w.reason])
        self.count += 1

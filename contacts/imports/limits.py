"""What an uploaded file may expand to: columns, cell length, cells, unzipped size (settings IMPORT_MAX_*).

A small file must not be able to take a process to gigabytes: a CSV row of five million
empty columns, a one-gigabyte cell, an .xlsx whose shared strings unzip to a gigabyte.
Every reader checks these while it streams and raises ImportFileError saying which limit
the file passed, so staff (or whoever sends the file) know what to change.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext

from localization.formatting import format_number

from .errors import ImportFileError


@dataclass(frozen=True)
class Limits:
    columns: int
    cell_chars: int
    cells: int
    uncompressed_bytes: int
    compression_ratio: int

    @property
    def line_chars(self) -> int:
        """Longest physical line of a text file: a full row of long cells, with room to spare."""
        return self.cell_chars * 2 + self.columns * 256


def limits() -> Limits:
    return Limits(
        columns=int(getattr(settings, "IMPORT_MAX_COLUMNS", 1000)),
        cell_chars=int(getattr(settings, "IMPORT_MAX_CELL_CHARS", 32767)),
        cells=int(getattr(settings, "IMPORT_MAX_CELLS", 100_000_000)),
        uncompressed_bytes=int(getattr(settings, "IMPORT_MAX_UNCOMPRESSED_MB", 1024)) * 1024 * 1024,
        compression_ratio=int(getattr(settings, "IMPORT_MAX_COMPRESSION_RATIO", 100)),
    )


def too_many_columns(line: int, count: int, limit: int) -> ImportFileError:
    return ImportFileError(
        gettext(
            "Line %(line)d has %(count)s columns; at most %(limit)s are allowed. "
            "Remove the empty columns (or check the separator) and upload it again."
        )
        % {"line": line, "count": format_number(count), "limit": format_number(limit)}
    )


def cell_too_long(line: int, limit: int) -> ImportFileError:
    return ImportFileError(
        gettext(
            "A cell on line %(line)d is longer than %(limit)s characters, the most a cell may hold. "
            "Shorten it and upload the file again."
        )
        % {"line": line, "limit": format_number(limit)}
    )


def too_many_cells(limit: int) -> ImportFileError:
    return ImportFileError(
        gettext("The file has more than %(limit)s cells; split it into smaller files.") % {"limit": format_number(limit)}
    )


class CellCounter:
    """Counts cells as rows stream and raises once the file passes the limit."""

    def __init__(self, lim: Limits):
        self.limit, self.total = lim.cells, 0

    def add(self, n: int) -> None:
        self.total += n
        if self.total > self.limit:
            raise too_many_cells(self.limit)


def check_zip(path, lim: Limits | None = None) -> None:
    """Refuse an .xlsx whose parts unzip beyond the limits, before anything is decompressed.

    Python's zipfile never inflates a member past the size its directory declares, so the
    declared sizes are an upper bound on what reading can allocate.
    """
    lim = lim or limits()
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
    except (zipfile.BadZipFile, OSError):
        raise ImportFileError(gettext("This file is not an Excel .xlsx workbook.")) from None
    total = sum(m.file_size for m in members)
    if total > lim.uncompressed_bytes:
        raise ImportFileError(
            gettext("This workbook unzips to %(size)s MB; at most %(limit)s MB are allowed. Save it as CSV or split it.")
            % {"size": format_number(round(total / 1048576)), "limit": format_number(round(lim.uncompressed_bytes / 1048576))}
        )
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > lim.compression_ratio * max(m.compress_size, 1):
            raise ImportFileError(
                gettext(
                    "This workbook's part %(part)r expands %(ratio)s times when unzipped (at most %(limit)s times "
                    "is allowed): it is not an ordinary spreadsheet. Save it again from Excel, or as CSV."
                )
                % {
                    "part": m.filename[:60], "ratio": format_number(m.file_size // max(m.compress_size, 1)),
                    "limit": lim.compression_ratio,
                }
            )

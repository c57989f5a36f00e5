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
        f"Line {line} has {count:,} columns; at most {limit:,} are allowed. "
        "Remove the empty columns (or check the separator) and upload it again."
    )


def cell_too_long(line: int, limit: int) -> ImportFileError:
    return ImportFileError(
        f"A cell on line {line} is longer than {limit:,} characters, the most a cell may hold. "
        "Shorten it and upload the file again."
    )


def too_many_cells(limit: int) -> ImportFileError:
    return ImportFileError(f"The file has more than {limit:,} cells; split it into smaller files.")


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
        raise ImportFileError("This file is not an Excel .xlsx workbook.") from None
    total = sum(m.file_size for m in members)
    if total > lim.uncompressed_bytes:
        raise ImportFileError(
            f"This workbook unzips to {total / 1048576:,.0f} MB; at most "
            f"{lim.uncompressed_bytes / 1048576:,.0f} MB are allowed. Save it as CSV or split it."
        )
    for m in members:
        if m.file_size > 1024 * 1024 and m.file_size > lim.compression_ratio * max(m.compress_size, 1):
            raise ImportFileError(
                f"This workbook's part {m.filename[:60]!r} expands {m.file_size // max(m.compress_size, 1):,} "
                f"times when unzipped (at most {lim.compression_ratio} times is allowed): it is not an ordinary "
                "spreadsheet. Save it again from Excel, or as CSV."
            )

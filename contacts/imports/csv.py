"""CSV / TXT reader: sniffs encoding and delimiter, finds the header row, streams rows.

Copes with what staff actually have: UTF-8 with or without BOM, UTF-16 from Excel's
"Unicode text" (tab separated), cp1252/latin-1 from Italian Excel with `;`, quoted fields
with embedded delimiters and newlines, blank lines, ragged rows, a title above the header.
"""

from __future__ import annotations

import codecs
import csv as _csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .errors import ImportFileError
from .limits import CellCounter, cell_too_long, limits, too_many_columns

SAMPLE_BYTES = 64 * 1024
HEADER_SCAN_ROWS = 20
DELIMITERS = (",", ";", "\t", "|")
# Magic numbers of files people upload by mistake under a .csv name.
_BINARY_MAGIC = {
    b"PK\x03\x04": _("an Excel (.xlsx) or zip file"),
    b"%PDF": _("a PDF document"),
    b"\xd0\xcf\x11\xe0": _("an old Excel (.xls) or Word file"),
    b"\x89PNG": _("a PNG image"),
    b"\xff\xd8\xff": _("a JPEG image"),
    b"GIF8": _("a GIF image"),
}


@dataclass
class Table:
    """What every tabular reader returns: headers, where they were, and a row stream."""

    headers: list[str]
    header_line: int
    rows: Iterator[tuple[int, list]]  # (1-based line in the file, cells as read)
    detected: dict = field(default_factory=dict)
    position: callable = None  # () -> bytes consumed so far, for progress


def detect_encoding(sample: bytes) -> str:
    """Name of the codec to read the file with (BOMs first, then UTF-8, then cp1252/latin-1)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without BOM: every other byte of ASCII text is NUL.
    if len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) > len(odd) * 0.4 and even.count(0) < len(even) * 0.1:
            return "utf-16-le"
        if even.count(0) > len(even) * 0.4 and odd.count(0) < len(odd) * 0.1:
            return "utf-16-be"
    try:
        # The sample may end in the middle of a multi-byte character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Bytes cp1252 leaves undefined are only latin-1.
    if any(b in sample for b in (0x81, 0x8D, 0x8F, 0x90, 0x9D)):
        return "latin-1"
    return "cp1252"


def check_text(sample: bytes, encoding: str) -> None:
    for magic, what in _BINARY_MAGIC.items():
        if sample.startswith(magic):
            raise ImportFileError(gettext("This file is %(what)s, not a CSV/text file.") % {"what": what})
    if encoding.startswith("utf-16"):
        return
    if b"\x00" in sample:
        raise ImportFileError(gettext("This file is not a text/CSV file (it contains binary data)."))
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if sample and controls > max(5, len(sample) // 100):
        raise ImportFileError(gettext("This file is not a text/CSV file (it contains binary data)."))


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the sample's lines into the most consistent number of columns."""
    best, best_score = ",", (-1, -1)
    lines = text.splitlines()
    if len(lines) > 1:
        lines = lines[:-1]  # the sample's last line may be cut
    sample = "\n".join(lines[:200])
    for delim in DELIMITERS:
        try:
            rows = [r for r in _csv.reader(io.StringIO(sample), delimiter=delim) if any(c.strip() for c in r)]
        except _csv.Error:
            continue
        widths = [len(r) for r in rows if len(r) > 1]
        if not widths:
            continue
        mode = max(set(widths), key=widths.count)
        score = (widths.count(mode), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def _lines(text, max_chars: int, where: list[int]):
    """Physical lines, none longer than max_chars (readline's limit: never a huge string)."""
    readline = text.readline
    while True:
        line = readline(max_chars + 1)
        if not line:
            return
        if len(line) > max_chars:
            raise ImportFileError(
                gettext(
                    "Line %(line)d is longer than %(limit)s characters: this is not a contact "
                    "list a spreadsheet would write (check the separator, or split the file)."
                )
                % {"line": where[0] + 1, "limit": f"{max_chars:,}"}
            )
        yield line


def _stream(raw, encoding: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    lim = limits()
    # Per cell; csv's default 128 KB would also do, but the limit is the setting's.
    _csv.field_size_limit(lim.cell_chars)
    text = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")
    where = [0]
    reader = _csv.reader(_lines(text, lim.line_chars, where), delimiter=delimiter)
    cells_seen = CellCounter(lim)
    max_columns = lim.columns
    last = 0
    try:
        for cells in reader:
            start, last = last + 1, reader.line_num
            where[0] = last
            n = len(cells)
            if n > max_columns:
                raise too_many_columns(start, n, max_columns)
            cells_seen.add(n)
            if not any(c.strip() for c in cells):
                continue
            yield start, cells
    except UnicodeDecodeError:
        raise ImportFileError(
            gettext("The file's text encoding changes after line %(line)d (read as %(encoding)s); save it as UTF-8 and retry.")
            % {"line": last, "encoding": encoding}
        ) from None
    except _csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise cell_too_long(last + 1, lim.cell_chars) from None
        raise ImportFileError(
            gettext("Line %(line)d cannot be read as CSV: %(error)s.") % {"line": last + 1, "error": exc}
        ) from None


def read_csv(path, *, header_hint=None) -> Table:
    """Open `path` and return a Table streaming its rows; raises ImportFileError on a bad file."""
    from .mapping import find_header_row

    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed when the stream is exhausted or dropped
    except OSError as exc:
        raise ImportFileError(gettext("The file cannot be opened: %(error)s.") % {"error": exc.strerror}) from None
    sample = raw.read(SAMPLE_BYTES)
    if not sample.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raw.close()
        raise ImportFileError(gettext("The file is empty."))
    encoding = detect_encoding(sample)
    check_text(sample, encoding)
    try:
        decoder = codecs.getincrementaldecoder(encoding)()
        text_sample = decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        raw.close()
        raise ImportFileError(gettext("The file is not readable text in any usual encoding.")) from None
    delimiter = sniff_delimiter(text_sample)
    raw.seek(0)
    stream = _stream(raw, encoding, delimiter)
    head = []
    for item in stream:
        head.append(item)
        if len(head) >= HEADER_SCAN_ROWS:
            break
    if not head:
        raw.close()
        raise ImportFileError(gettext("The file has no rows."))
    index = find_header_row([cells for _, cells in head])
    header_line, headers = head[index]
    headers = [h.strip()[:200] for h in headers]  # stored with the import and listed by the API: bounded

    def rows():
        try:
            yield from head[index + 1 :]
            yield from stream
        finally:
            raw.close()

    def position():
        try:
            return raw.tell()
        except (ValueError, OSError):
            return 0

    detected = {"encoding": encoding, "delimiter": delimiter}
    return Table(headers, header_line, rows(), detected, position)

"""Reading side of an import: sources (CSV, Excel, vCard) → mapped rows → validated Rows.

`open_source` streams a file as (line, raw cells, values by target, phones in winning
order, error); `Preparer` turns each into a Row ready to write, or a Rejection saying
why (only the phone can reject a row: an optional field that cannot be understood is
dropped with a FieldWarning). Nothing here touches the database except reading custom
field definitions before a run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from contacts.models import Contact, CustomField

from . import values as V
from .errors import ImportFileError
from .mapping import ATTRIBUTE_TARGETS, PHONE, auto_mapping, google_type_columns

logger = logging.getLogger(__name__)

TEXT_ATTRS = (
    "first_name", "last_name", "email", "language", "gender", "company", "address", "city", "province",
    "postal_code", "country", "notes",
)  # fmt: skip
UPDATE_MODES = ("fill", "overwrite", "skip")
KINDS = ("csv", "xlsx", "vcard")


def max_lengths() -> dict[str, int | None]:
    return {name: Contact._meta.get_field(name).max_length for name in TEXT_ATTRS}


@dataclass
class Options:
    """What the person chose: where rows go and how they are read."""

    kind: str = "csv"
    list_id: int | None = None
    tags: list[str] = field(default_factory=list)
    country: str = ""
    mapping: list[str] | None = None  # targets aligned with headers; None = automatic
    phone_order: list[int] | None = None
    update_mode: str = "fill"
    sheet: str | None = None


@dataclass
class Row:
    """One row ready to write: an E.164 phone and cleaned values."""

    index: int
    line: int
    phone: str
    secondary: list[str]
    attrs: dict
    fields: dict
    tags: list[str]


@dataclass
class Rejection:
    index: int
    line: int
    raw: list
    error: str


def detect_kind(path, original_name: str = "") -> str:
    """csv, xlsx or vcard from the name, checked against the first bytes."""
    name = (original_name or str(path)).lower()
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "xlsx"
    if b"BEGIN:VCARD" in head.upper():
        return "vcard"
    if name.endswith((".xlsx", ".xlsm")):
        raise ImportFileError("This file is named .xlsx but is not an Excel workbook.")
    if name.endswith((".vcf", ".vcard")):
        raise ImportFileError("This file is named .vcf but is not a vCard file (no BEGIN:VCARD found).")
    if name.endswith(".xls"):
        raise ImportFileError("Old Excel .xls files are not supported: save it as .xlsx or CSV.")
    return "csv"


# --- sources ---------------------------------------------------------------------------------


@dataclass
class Source:
    """A file opened for import: headers, mapping, and a stream of (line, raw cells, values, phones)."""

    kind: str
    headers: list[str]
    header_line: int
    mapping: list[str]
    phone_order: list[int]
    items: Iterator[tuple[int, list, dict, list, str | None]]
    position: Callable[[], int]
    detected: dict
    size: int  # units of position(): bytes, or rows for xlsx


def open_source(
    path, options: Options, custom_fields: dict[str, CustomField] | None = None, *, require_phone: bool = True
) -> Source:
    """Open `path` as options.kind; ImportFileError if it cannot be read or has no phone column."""
    if options.kind == "vcard":
        from .vcard import HEADERS, read_vcards

        cards, position = read_vcards(path)
        items = ((c.line, [c.raw], c.values, c.phones, c.error) for c in cards)
        return Source("vcard", list(HEADERS), 0, ["vcard"], [], items, position, {}, os.path.getsize(path))
    if options.kind == "xlsx":
        from .xlsx import read_xlsx

        table = read_xlsx(path, sheet=options.sheet)
        size = table.detected.get("max_row") or 0
    else:
        from .csv import read_csv

        table = read_csv(path)
        size = os.path.getsize(path)
    custom_fields = (
        custom_fields if custom_fields is not None else {f.key: f for f in CustomField.objects.all()}
    )
    labels = {k: f.label for k, f in custom_fields.items()}
    auto_targets, auto_order = auto_mapping(table.headers, labels)
    targets = list(options.mapping) if options.mapping else auto_targets
    if len(targets) < len(table.headers):
        targets += [""] * (len(table.headers) - len(targets))
    targets = targets[: len(table.headers)]
    if PHONE not in targets and require_phone:
        raise ImportFileError(
            "No phone column found. Columns in this file: "
            + ", ".join(repr(h) for h in table.headers if h)[:300]
            + ". Map one of them to the phone number."
        )
    phones = [i for i, t in enumerate(targets) if t == PHONE]
    order = [i for i in (options.phone_order or auto_order) if i in phones]
    order += [i for i in phones if i not in order]
    items = _map_rows(table.rows, table.headers, targets, order)
    return Source(
        options.kind,
        table.headers,
        table.header_line,
        targets,
        order,
        items,
        table.position,
        table.detected,
        size,
    )


def _map_rows(rows, headers, targets, order):
    """(line, raw cells, values by target, phone cells in winning order, None) per row."""
    plan = [(i, t) for i, t in enumerate(targets) if t and t != PHONE]
    type_cols = google_type_columns(headers)
    for line, cells in rows:
        n = len(cells)
        values = {}
        for i, target in plan:
            if i < n:
                v = cells[i]
                if v is not None and v != "":
                    values[target] = v
        phones = [cells[i] for i in order if i < n and cells[i] not in (None, "")]
        if type_cols and phones:
            phones = _order_by_type(cells, order, type_cols)
        yield line, cells, values, phones, None


def _order_by_type(cells, order, type_cols):
    """Google's export says per row which "Phone N" is Mobile or Fax: mobile first, fax never."""
    mobile, other = [], []
    n = len(cells)
    for i in order:
        value = cells[i] if i < n else None
        if value in (None, ""):
            continue
        kind = str(cells[type_cols[i]]).lower() if i in type_cols and type_cols[i] < n else ""
        if "fax" in kind:
            continue
        # Google joins several numbers of one type with " ::: ".
        parts = [p.strip() for p in str(value).split(":::")] if isinstance(value, str) else [value]
        (mobile if "mobile" in kind or "cell" in kind else other).extend(p for p in parts if p != "")
    return mobile + other


# --- validation ------------------------------------------------------------------------------


class Preparer:
    """Validates and normalises one mapped row into a Row, or a Rejection saying why."""

    def __init__(self, options: Options, custom_fields: dict[str, CustomField]):
        self.normalise = V.PhoneNormaliser(options.country or _default_country())
        self.custom_fields = custom_fields
        self.max_len = max_lengths()
        self._cf_cache: dict = {}

    def __call__(self, index, line, raw, values, phones, error) -> Row | Rejection:
        if error:
            return Rejection(index, line, raw, error)
        phone, secondary, first_error = None, [], None
        # A row's own country (an address column) is the better guess for its national numbers.
        region = None
        if "country" in values:
            region = V.clean_country(values["country"]) or None
            if region and not _known_region(region):
                region = None
        for candidate in phones:
            e164, reason = self.normalise(candidate, region)
            if e164 is None:
                if first_error is None and reason != "missing":
                    first_error = f"phone {V.cell_text(candidate).strip()[:40]!r}: {reason}"
                continue
            if phone is None:
                phone = e164
            elif e164 != phone and e164 not in secondary:
                secondary.append(e164)
        if phone is None:
            return Rejection(index, line, raw, first_error or "no phone number")
        attrs, fields, tags = {}, {}, []
        try:
            for target, value in values.items():
                if target.startswith("field:"):
                    fields[target[6:]] = self._custom(target[6:], value)
                elif target == "tags":
                    tags.extend(V.split_tags(value))
                else:
                    self._attr(attrs, target, value)
        except ValueError as exc:
            return Rejection(index, line, raw, str(exc))
        if "full_name" in attrs:
            full = attrs.pop("full_name")
            if not attrs.get("first_name") and not attrs.get("last_name"):
                first, _, last = full.rpartition(" ")
                attrs["first_name"], attrs["last_name"] = (first, last) if first else (full, "")
        max_len = self.max_len
        for name, value in attrs.items():
            limit = max_len.get(name)
            if limit and len(value) > limit:
                return Rejection(index, line, raw, f"{name.replace('_', ' ')} longer than {limit} characters")
        fields = {k: v for k, v in fields.items() if v is not None}
        return Row(index, line, phone, secondary, attrs, fields, tags)

    def _custom(self, key, value):
        # Files repeat their values (tiers, points, dates): clean each distinct one once.
        try:
            hit = self._cf_cache.get((key, value))
        except TypeError:  # unhashable
            return self._clean_custom(key, value)
        if hit is None:
            try:
                hit = (True, self._clean_custom(key, value))
            except ValueError as exc:
                hit = (False, str(exc))
            if len(self._cf_cache) > 100_000:
                self._cf_cache.clear()
            self._cf_cache[(key, value)] = hit
        if hit[0]:
            return hit[1]
        raise ValueError(hit[1])

    def _clean_custom(self, key, value):
        from django.core.exceptions import ValidationError

        definition = self.custom_fields.get(key)
        if definition is None:
            raise ValueError(f"unknown custom field '{key}'")
        if definition.type == CustomField.Type.DATE and not isinstance(value, str | bytes):
            value = V.parse_date(value)
        elif definition.type == CustomField.Type.DATE:
            text = value.strip()
            if text.replace(".", "", 1).isdigit() and len(text.split(".")[0]) <= 5:
                value = V.parse_date(text)  # an Excel serial exported as text
            elif V.DATE_FAST.match(text):
                value = V.parse_date(text)
        elif definition.type != CustomField.Type.NUMBER:
            value = V.cell_text(value).strip() if not isinstance(value, bool) else value
        try:
            return definition.clean_value(value)
        except ValidationError as exc:
            raise ValueError("; ".join(exc.messages)) from None

    def _attr(self, attrs, target, value):
        if target == "email":
            attrs["email"] = V.clean_email(value)
        elif target == "birth_date":
            attrs["birth_date"] = V.parse_date(value)
        elif target == "gender":
            attrs["gender"] = V.clean_gender(value)
        elif target == "language":
            attrs["language"] = V.clean_language(value)
        elif target == "country":
            attrs["country"] = V.clean_country(value)
        elif target in ATTRIBUTE_TARGETS:
            text = V.cell_text(value).strip()
            if target == "notes":
                text = V.cell_text(value).strip()
            attrs[target] = text


def _known_region(region: str) -> bool:
    import phonenumbers

    return region in phonenumbers.SUPPORTED_REGIONS


def _default_country() -> str:
    from contacts.phones import default_country

    return default_country()


def merge_rows(first: Row, later: Row) -> None:
    """Fold a later duplicate into the first row: its values fill what the first left empty."""
    for key, value in later.attrs.items():
        if value not in ("", None) and first.attrs.get(key) in ("", None):
            first.attrs[key] = value
    first.fields = {**later.fields, **first.fields}
    for p in [later.phone, *later.secondary]:
        if p != first.phone and p not in first.secondary:
            first.secondary.append(p)
    first.tags = list(dict.fromkeys(first.tags + later.tags))

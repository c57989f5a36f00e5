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

from django.utils.translation import gettext

from contacts.models import Contact, CustomField

from . import values as V
from .errors import ImportFileError
from .mapping import (
    ATTRIBUTE_TARGETS,
    PHONE,
    auto_mapping,
    google_email_columns,
    google_type_columns,
    label_kind,
)

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
    warnings: list | None = None  # [FieldWarning]: optional values that were dropped


@dataclass
class FieldWarning:
    """An optional value that could not be understood: the contact was imported without it."""

    line: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "column": self.column, "value": self.value, "reason": self.reason}


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
        raise ImportFileError(gettext("This file is named .xlsx but is not an Excel workbook."))
    if name.endswith((".vcf", ".vcard")):
        raise ImportFileError(gettext("This file is named .vcf but is not a vCard file (no BEGIN:VCARD found)."))
    if name.endswith(".xls"):
        raise ImportFileError(gettext("Old Excel .xls files are not supported: save it as .xlsx or CSV."))
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
    columns: dict = field(default_factory=dict)  # target → the column (header) it is read from


def open_source(
    path, options: Options, custom_fields: dict[str, CustomField] | None = None, *, require_phone: bool = True
) -> Source:
    """Open `path` as options.kind; ImportFileError if it cannot be read or has no phone column."""
    if options.kind == "vcard":
        from .vcard import COLUMNS, HEADERS, read_vcards

        cards, position = read_vcards(path)
        items = ((c.line, [c.raw], c.values, c.phones, c.error) for c in cards)
        return Source(
            "vcard",
            list(HEADERS),
            0,
            ["vcard"],
            [],
            items,
            position,
            {},
            os.path.getsize(path),
            dict(COLUMNS),
        )
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
            gettext("No phone column found. Columns in this file: %(columns)s. Map one of them to the phone number.")
            % {"columns": ", ".join(repr(h) for h in table.headers if h)[:300]}
        )
    phones = [i for i, t in enumerate(targets) if t == PHONE]
    order = [i for i in (options.phone_order or auto_order) if i in phones]
    order += [i for i in phones if i not in order]
    email_cols = google_email_columns(table.headers)
    if not any(targets[i] == "email" for i in email_cols):
        email_cols = {}  # staff mapped the e-mail elsewhere (or nowhere): their choice stands
    items = _map_rows(table.rows, table.headers, targets, order, email_cols)
    columns = {}
    for i, target in enumerate(targets):
        if target and target != PHONE:
            columns.setdefault(target, table.headers[i] or gettext("Column %(number)d") % {"number": i + 1})
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
        columns,
    )


def _map_rows(rows, headers, targets, order, email_cols=None):
    """(line, raw cells, values by target, phone cells in winning order, None) per row.

    Empty cells and the exporters' "empty" conventions (V.EMPTY_MARKERS) give no value.
    """
    plan = [(i, t) for i, t in enumerate(targets) if t and t != PHONE]
    type_cols = google_type_columns(headers)
    is_empty = V.is_empty
    for line, cells in rows:
        n = len(cells)
        values = {}
        for i, target in plan:
            if i < n:
                v = cells[i]
                if v is not None and v != "" and not is_empty(v):
                    values[target] = v
        if email_cols:
            email = _pick_email(cells, email_cols)
            if email is None:
                values.pop("email", None)
            else:
                values["email"] = email
        if type_cols:
            phones = _order_by_type(cells, order, type_cols)
        else:
            phones = [cells[i] for i in order if i < n and not is_empty(cells[i])]
        yield line, cells, values, phones, None


def _order_by_type(cells, order, type_cols):
    """Google's export says per row what each "Phone N" is ("Phone N - Label", "- Type" in the
    legacy export): mobile first, then the preferred ("* …"), then file order; fax never."""
    ranked = []
    n = len(cells)
    for position, i in enumerate(order):
        value = cells[i] if i < n else None
        if V.is_empty(value):
            continue
        label = cells[type_cols[i]] if i in type_cols and type_cols[i] < n else ""
        kind, preferred = label_kind(label)
        if kind == "fax":
            continue
        # Google joins several numbers of one label with " ::: ".
        parts = [p.strip() for p in str(value).split(":::")] if isinstance(value, str) else [value]
        for sub, part in enumerate(parts):
            if part != "":
                ranked.append(((kind != "mobile", not preferred, position, sub), part))
    ranked.sort(key=lambda item: item[0])
    return [part for _, part in ranked]


def _pick_email(cells, email_cols):
    """Google's "E-mail N - Value" columns: the preferred one ("* " label), else the first."""
    best = None
    n = len(cells)
    for position, (i, label_i) in enumerate(sorted(email_cols.items())):
        value = cells[i] if i < n else None
        if V.is_empty(value):
            continue
        label = cells[label_i] if label_i is not None and label_i < n else ""
        preferred = str(label or "").strip().startswith("*")
        first = str(value).split(":::")[0].strip()
        key = (not preferred, position)
        if first and (best is None or key < best[0]):
            best = (key, first)
    return best[1] if best else None


# --- validation ------------------------------------------------------------------------------


class Preparer:
    """Validates and normalises one mapped row into a Row, or a Rejection saying why."""

    def __init__(self, options: Options, custom_fields: dict[str, CustomField], columns: dict | None = None):
        self.normalise = V.PhoneNormaliser(options.country or _default_country())
        self.custom_fields = custom_fields
        self.columns = columns or {}
        self.max_len = max_lengths()
        self._cf_cache: dict = {}

    def _warn(self, warnings, line, target, value, reason):
        column = self.columns.get(target) or target.removeprefix("field:")
        warnings.append(FieldWarning(line, str(column)[:100], V.cell_text(value).strip()[:100], reason))

    def __call__(self, index, line, raw, values, phones, error) -> Row | Rejection:
        if error:
            return Rejection(index, line, raw, error)
        phone, secondary, first_error = None, [], None
        # A row's own country (an address column) is the better guess for its national numbers.
        region = None
        if "country" in values:
            try:
                region = V.clean_country(values["country"]) or None
            except ValueError:
                region = None
            if region and not _known_region(region):
                region = None
        for candidate in phones:
            e164, reason = self.normalise(candidate, region)
            if e164 is None:
                if first_error is None and reason != "missing":
                    first_error = gettext("phone %(value)s: %(reason)s") % {
                        "value": repr(V.cell_text(candidate).strip()[:40]), "reason": reason
                    }
                continue
            if phone is None:
                phone = e164
            elif e164 != phone and e164 not in secondary:
                secondary.append(e164)
        if phone is None:
            return Rejection(index, line, raw, first_error or gettext("no phone number"))
        # Everything but the phone is optional: a value that cannot be understood is left out
        # and reported as a warning; the contact is imported.
        attrs, fields, tags, warnings = {}, {}, [], None
        for target, value in values.items():
            try:
                if target.startswith("field:"):
                    fields[target[6:]] = self._custom(target[6:], value)
                elif target == "tags":
                    tags.extend(V.split_tags(value))
                else:
                    self._attr(attrs, target, value)
            except ValueError as exc:
                if warnings is None:
                    warnings = []
                self._warn(warnings, line, target, value, str(exc))
        if "full_name" in attrs:
            full = attrs.pop("full_name")
            if not attrs.get("first_name") and not attrs.get("last_name"):
                first, _, last = full.rpartition(" ")
                attrs["first_name"], attrs["last_name"] = (first, last) if first else (full, "")
        max_len = self.max_len
        for name, value in list(attrs.items()):
            limit = max_len.get(name)
            if limit and len(value) > limit:
                if warnings is None:
                    warnings = []
                self._warn(
                    warnings, line, name, value, gettext("longer than %(limit)d characters") % {"limit": limit}
                )
                del attrs[name]
        fields = {k: v for k, v in fields.items() if v is not None}
        return Row(index, line, phone, secondary, attrs, fields, tags, warnings)

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
            raise ValueError(gettext("unknown custom field '%(key)s'") % {"key": key})
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
    if later.warnings:
        first.warnings = (first.warnings or []) + later.warnings

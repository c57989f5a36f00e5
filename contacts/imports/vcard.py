"""vCard (.vcf) reader: 2.1, 3.0 and 4.0, one card at a time, each card's failure its own.

The file is split into cards by their BEGIN/END lines while streaming, so one broken
card is reported and the rest go on. Photos, logos and sounds are dropped before
parsing (a phone's export can carry megabytes of base64 per card). Each card is then
parsed with vobject.
"""

from __future__ import annotations

import quopri
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.utils.translation import gettext

from .errors import ImportFileError

MAX_CARD_BYTES = 1024 * 1024  # after dropping photos; a real contact is a few hundred bytes
_DROP = re.compile(rb"^(?:[\w-]+\.)?(PHOTO|LOGO|SOUND|KEY)[;:]", re.IGNORECASE)
_BEGIN = re.compile(rb"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(rb"^END:VCARD\s*$", re.IGNORECASE)
HEADERS = ["vcard"]
# The properties the reader uses; every other one (PROFILE:VCard of Lotus Notes, X-MS-…, UID, REV,
# LABEL, …) is dropped before parsing, so a property we do not understand can never make a card
# unreadable.
USED = frozenset({"BEGIN", "END", "VERSION", "N", "FN", "ORG", "NOTE", "BDAY", "EMAIL", "ADR", "TEL",
                  "X-ABLABEL", "KIND", "X-ADDRESSBOOKSERVER-KIND"})  # fmt: skip
_NAME = re.compile(r"^(?:[\w-]+\.)?([\w-]+)")
# Which vCard property a contact value came from (the "column" of a warning).
COLUMNS = {
    "first_name": "N", "last_name": "N", "email": "EMAIL", "birth_date": "BDAY", "company": "ORG",
    "notes": "NOTE", "address": "ADR", "city": "ADR", "province": "ADR", "postal_code": "ADR",
    "country": "ADR",
}  # fmt: skip


@dataclass
class Card:
    """One card, read: contact values by attribute, and phones in the order they should win."""

    line: int
    raw: str
    values: dict = field(default_factory=dict)
    phones: list[str] = field(default_factory=list)
    error: str | None = None


def split_cards(fh) -> Iterator[tuple[int, bytes, str | None]]:
    """(first line, card bytes without photos, error) for each card in a binary file."""
    card: list[bytes] | None = None
    start = size = 0
    dropping = joining = False
    for number, line in enumerate(fh, start=1):
        bare = line.rstrip(b"\r\n")
        if card is None:
            if _BEGIN.match(bare.lstrip(b"\xef\xbb\xbf")):
                card, start, size, dropping = [b"BEGIN:VCARD"], number, 0, False
            continue
        if dropping:
            # Folded continuation (3.0/4.0) or 2.1 base64 block lines, up to a blank line.
            if bare[:1] in (b" ", b"\t") or (bare and not re.match(rb"^[\w.-]+[;:]", bare)):
                continue
            dropping = False
            if not bare:
                continue
        if _END.match(bare):
            card.append(b"END:VCARD")
            if size > MAX_CARD_BYTES:
                yield start, b"", gettext("card is too large")
            else:
                yield start, b"\r\n".join(card) + b"\r\n", None
            card = None
            continue
        if _BEGIN.match(bare):  # a card that never ended: report it, start the next
            yield start, b"\r\n".join(card), gettext("card is not closed (no END:VCARD)")
            card, start, size, dropping = [b"BEGIN:VCARD"], number, 0, False
            continue
        if _DROP.match(bare):
            dropping = True
            continue
        size += len(bare)
        if size <= MAX_CARD_BYTES:
            if joining and card:
                # QUOTED-PRINTABLE soft line break: the previous line ended with "=".
                card[-1] = card[-1][:-1] + bare
            else:
                card.append(bare)
        joining = bare.endswith(b"=") and b"QUOTED-PRINTABLE" in (card[-1] if card else b"").upper()
    if card is not None:
        yield start, b"\r\n".join(card), gettext("card is truncated (the file ends before END:VCARD)")


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _from_21(raw: str) -> str:
    """vCard 2.1 → what vobject reads reliably: QUOTED-PRINTABLE decoded with its CHARSET,
    and commas (plain text in 2.1, list separators in 3.0) escaped."""
    out = []
    for line in raw.splitlines():
        name, sep, value = line.partition(":")
        if not sep or name.upper() in ("BEGIN", "END", "VERSION"):
            out.append(line)
            continue
        params = name.split(";")
        upper = [p.upper() for p in params]
        charset = next((p.split("=", 1)[1] for p in params if p.upper().startswith("CHARSET=")), "utf-8")
        if "ENCODING=QUOTED-PRINTABLE" in upper or "QUOTED-PRINTABLE" in upper:
            data = quopri.decodestring(value.encode("utf-8", "replace"))
            try:
                value = data.decode(charset)
            except (LookupError, UnicodeDecodeError):
                value = data.decode("cp1252", "replace")
        params = [
            p for p in params if p.upper() not in ("ENCODING=QUOTED-PRINTABLE", "QUOTED-PRINTABLE")
            and not p.upper().startswith("CHARSET=")
        ]  # fmt: skip
        value = value.replace("\\", "\\\\").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
        out.append(";".join(params) + ":" + value)
    return "\r\n".join(out) + "\r\n"


def _params(prop) -> set[str]:
    """Every TYPE value of a property, lower case, whatever the version's syntax."""
    found = set()
    for key, values in (prop.params or {}).items():
        if key.upper() == "TYPE":
            for v in values:
                found.update(p.strip().lower() for p in str(v).split(","))
        elif key.upper() == "PREF":
            found.add("pref")
    for v in getattr(prop, "singletonparams", []) or []:
        found.add(str(v).lower())
    return found


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if _text(v))
    return str(value).strip()


def _tel_value(value) -> str:
    text = _text(value)
    if text.lower().startswith("tel:"):
        text = text[4:]
        text = text.split(";", 1)[0]  # ;ext=…, ;phone-context=… are URI parameters
    return text


def used_lines(raw: str) -> str:
    """The card with only the properties the reader uses (folded continuation lines follow theirs)."""
    out, keep = [], False
    for text in raw.splitlines():
        if text[:1] in (" ", "\t"):
            if keep:
                out.append(text)
            continue
        m = _NAME.match(text)
        keep = bool(m) and m.group(1).upper() in USED
        if keep:
            out.append(text)
    return "\r\n".join(out) + "\r\n"


def parse_card(line: int, data: bytes) -> Card:
    """Turn one card's bytes into a Card; a card that cannot be read gets .error, never raises."""
    import vobject

    raw = _decode(data)
    card = Card(line=line, raw=raw)
    text = used_lines(raw)
    if re.search(r"^VERSION:\s*2\.1", text, re.IGNORECASE | re.MULTILINE):
        text = _from_21(text)
    try:
        vc = vobject.readOne(text, ignoreUnreadable=True)
    except Exception as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        card.error = gettext("this card cannot be read (its name or phone lines are malformed: %(detail)s)") % {
            "detail": detail
        }
        return card
    try:
        _fill(card, vc)
    except Exception as exc:  # vobject values have many shapes; one odd card must not stop the file
        card.error = gettext("this card cannot be read (its name or phone lines are malformed: %(detail)s)") % {
            "detail": type(exc).__name__
        }
    return card


def _fill(card: Card, vc) -> None:
    contents = vc.contents
    kinds = {
        _text(p.value).lower()
        for p in contents.get("kind", []) + contents.get("x-addressbookserver-kind", [])
    }
    if "group" in kinds:
        card.error = gettext("group card (a list of members, not a contact) skipped")
        return
    values = card.values
    if "n" in contents:
        n = contents["n"][0].value
        values["first_name"] = _text(getattr(n, "given", ""))
        values["last_name"] = _text(getattr(n, "family", ""))
    org_value = contents["org"][0].value if "org" in contents else ""
    org = _text(org_value[:1] if isinstance(org_value, list) else org_value)
    full = _text(contents["fn"][0].value) if "fn" in contents else ""
    if not values.get("first_name") and not values.get("last_name") and full and full != org:
        first, _, last = full.rpartition(" ")
        values["first_name"], values["last_name"] = (first, last) if first else (full, "")
    if org:
        values["company"] = org
    notes = [_text(p.value) for p in contents.get("note", [])]
    if "bday" in contents:
        bday = _text(contents["bday"][0].value)
        if bday.startswith("--"):  # a birthday without a year: no date to store, keep it readable
            notes.append(
                gettext("Birthday (no year): %(day)s") % {"day": f"{bday[2:4]}-{bday[4:6]}"}
                if len(bday) >= 6
                else gettext("Birthday: %(day)s") % {"day": bday}
            )
        else:
            values["birth_date"] = bday
    if notes:
        values["notes"] = "\n".join(n for n in notes if n)
    emails = contents.get("email", [])
    if emails:
        pref = [e for e in emails if "pref" in _params(e)]
        values["email"] = _text((pref or emails)[0].value)
    if "adr" in contents:
        adr = contents["adr"][0].value
        values["address"] = _text(getattr(adr, "street", ""))
        values["city"] = _text(getattr(adr, "city", ""))
        values["province"] = _text(getattr(adr, "region", ""))
        values["postal_code"] = _text(getattr(adr, "code", ""))
        values["country"] = _text(getattr(adr, "country", ""))
    # Apple writes item1.TEL + item1.X-ABLabel: the label sits beside the number in its group.
    labels = {}
    for prop in contents.get("x-ablabel", []):
        if prop.group:
            labels[prop.group.lower()] = _text(prop.value).lower()
    from .mapping import label_kind

    ranked = []
    for position, prop in enumerate(contents.get("tel", [])):
        types = _params(prop)
        label_text = labels.get((prop.group or "").lower(), "")
        number = _tel_value(prop.value)
        kind, preferred = label_kind(
            " ".join(sorted(types)) + " " + label_text.replace("_$!<", " ").replace(">!$_", " ")
        )
        if not number or kind == "fax":
            continue
        # Mobile first, then the preferred number, then the card's order (as for CSV label columns).
        ranked.append(((kind != "mobile", not (preferred or "pref" in types), position), number))
    card.phones = [number for _, number in sorted(ranked, key=lambda item: item[0])]
    card.values = {k: v for k, v in values.items() if v}


def read_vcards(path) -> tuple[Iterator[Card], callable]:
    """(stream of Cards, position function); raises ImportFileError when this is not a vCard file."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed when the stream ends
    except OSError as exc:
        raise ImportFileError(gettext("The file cannot be opened: %(error)s.") % {"error": exc.strerror}) from None
    head = fh.read(64 * 1024)
    if not head.strip():
        fh.close()
        raise ImportFileError(gettext("The file is empty."))
    if not re.search(rb"BEGIN:VCARD", head, re.IGNORECASE):
        fh.close()
        raise ImportFileError(gettext("This file is not a vCard file (no BEGIN:VCARD found)."))
    fh.seek(0)

    def cards():
        try:
            for line, data, error in split_cards(fh):
                if error:
                    yield Card(line=line, raw=_decode(data), error=error)
                else:
                    yield parse_card(line, data)
        finally:
            fh.close()

    def position():
        try:
            return fh.tell()
        except (ValueError, OSError):
            return 0

    return cards(), position

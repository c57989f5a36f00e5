"""Turning cells into contact values: text, phones, dates (Excel serials too), genders, countries.

Every function returns the cleaned value or raises ValueError with a reason a person
can act on. For the phone that rejects the row; for any other (optional) field the
contact is imported without that value and the reason is recorded as a warning.
"""

from __future__ import annotations

import datetime as dt
import re

from django.utils.translation import gettext

from contacts.phones import PhoneError, looks_e164, normalize_phone

EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year)
_SCIENTIFIC = re.compile(r"^\s*\+?(\d+)(?:[.,](\d+))?[eE]\+?(\d+)\s*$")
_DMY = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
DATE_FAST = re.compile(r"^(\d{1,2}[/.-]\d{1,2}[/.-]\d{4}|\d{4}-\d{1,2}-\d{1,2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Only a plain number or an E.164 phone starts with + or - and is still data: "-2-3" or "-(1)"
# would be computed by Excel, so they are neutralised like any formula.
_NUMBERISH = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")
_PHONE_PUNCT = str.maketrans("", "", " -.()/\u00a0")

# What exporters write in a cell that is empty: Outlook's "0/0/00" dates and "Unspecified"
# gender (Italian Outlook: "Non specificato"), "None", "N/A", Excel's "#N/A", a lone "-".
EMPTY_MARKERS = frozenset({
    "0/0/00", "0/0/0000", "00/00/00", "00/00/0000", "0000-00-00", "unspecified", "non specificato",
    "none", "n/a", "#n/a", "-", "--",
})  # fmt: skip
_EMPTY_MAX = max(len(m) for m in EMPTY_MARKERS)


def is_empty(value) -> bool:
    """True for None, blank text and the exporters' conventions for "no value" (EMPTY_MARKERS)."""
    if value is None:
        return True
    if type(value) is str:
        if len(value) > _EMPTY_MAX + 4:
            return False
        text = value.strip()
        return not text or text.lower() in EMPTY_MARKERS
    return False


GENDERS = {
    "m": "male", "male": "male", "maschio": "male", "maschile": "male", "uomo": "male", "man": "male",
    "mr": "male", "f": "female", "female": "female", "femmina": "female", "femminile": "female",
    "donna": "female", "woman": "female",
    "other": "other", "altro": "other", "x": "other", "non-binary": "other",
}  # fmt: skip
LANGUAGES = {
    "italiano": "it", "italian": "it", "english": "en", "inglese": "en", "francais": "fr", "french": "fr",
    "francese": "fr", "deutsch": "de", "german": "de", "tedesco": "de", "espanol": "es", "spanish": "es",
    "spagnolo": "es", "portuguese": "pt", "portoghese": "pt",
}  # fmt: skip
COUNTRIES = {
    "italy": "IT", "italia": "IT", "united kingdom": "GB", "uk": "GB", "regno unito": "GB",
    "great britain": "GB", "england": "GB", "united states": "US", "usa": "US", "stati uniti": "US",
    "united states of america": "US", "france": "FR", "francia": "FR", "germany": "DE", "germania": "DE",
    "spain": "ES", "spagna": "ES", "switzerland": "CH", "svizzera": "CH", "austria": "AT",
    "netherlands": "NL", "olanda": "NL", "paesi bassi": "NL", "belgium": "BE", "belgio": "BE",
    "portugal": "PT", "portogallo": "PT", "india": "IN", "san marino": "SM",
}  # fmt: skip


def cell_text(value) -> str:
    """A cell as text: numbers without '.0', dates in ISO form, None as ''."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def phone_text(value) -> str:
    """Phone cell as text; Excel numbers and scientific notation are expanded, lossy ones refused."""
    if isinstance(value, float):
        if not value.is_integer():
            raise PhoneError(gettext("not a phone number"))
        return str(int(value))
    text = cell_text(value).strip()
    m = _SCIENTIFIC.match(text)
    if m:
        whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
        if len(frac) < exp:
            # 3.93331E+11: Excel kept 6 digits and invented the rest.
            raise PhoneError(gettext("shortened by Excel's scientific notation (format the column as text)"))
        if frac[exp:].strip("0"):
            raise PhoneError(gettext("not a phone number"))
        text = whole + frac[:exp]
    return text


def _calling_code_length(digits: str) -> int:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    for n in (1, 2, 3):
        if int(digits[:n] or 0) in COUNTRY_CODE_TO_REGION_CODE:
            return n
    return 3


def _plus_shape(e164: str, prefix: int) -> tuple:
    cc = _CC_LENGTH.get(e164[1:4])
    if cc is None:
        cc = _CC_LENGTH[e164[1:4]] = _calling_code_length(e164[1:4])
    return ("+", e164[: 1 + cc + prefix], len(e164))


_CC_LENGTH: dict[str, int] = {}


class PhoneNormaliser:
    """normalize_phone, made cheap enough for a million rows a minute.

    Fully parsing a number with phonenumbers costs ~80 µs; most of a file's numbers share a
    few shapes. A number is reduced to digits and its *shape* — country (or calling code),
    its first digits and its length — and validity in libphonenumber's metadata is decided by
    exactly those (leading-digit patterns and lengths). The first number of each shape is
    parsed in full; what it taught (valid, how its E.164 form is built, or why it is not
    valid) is reused for the next numbers of that shape. Numbers with letters, extensions or
    odd punctuation are always parsed in full. Results are also cached per raw text.
    """

    PREFIX = 6  # leading national digits in a shape: deeper than the leading-digit patterns of the metadata

    def __init__(self, country: str, cache_size: int = 200_000):
        self.country = country
        self.cache: dict[tuple, tuple[str | None, str | None]] = {}
        self.shapes: dict[tuple, object] = {}
        self.cache_size = cache_size
        self.full_parses = 0

    def __call__(self, value, country: str | None = None) -> tuple[str | None, str | None]:
        """(E.164, None) or (None, reason); `country` overrides the default region for this number."""
        try:
            raw = value if type(value) is str else phone_text(value)
        except PhoneError as exc:
            return None, str(exc)
        raw = raw.strip()
        if not raw:
            return None, "missing"
        region = country or self.country
        compact = raw.translate(_PHONE_PUNCT) if "(" not in raw else None
        if compact and compact.isascii():
            if compact[0] == "+" and looks_e164(compact):
                return self._shaped(raw, compact, _plus_shape(compact, self.PREFIX), region, "+")
            if compact.isdigit():
                if compact.startswith("00") and len(compact) > 8:
                    plus = "+" + compact[2:]
                    return self._shaped(raw, plus, _plus_shape(plus, self.PREFIX), region, "+")
                return self._shaped(
                    raw, compact, (region, compact[: self.PREFIX], len(compact)), region, "national"
                )
        return self._full(raw, region)

    def _shaped(self, raw, digits, key, region, how):
        verdict = self.shapes.get(key)
        if verdict is None:
            e164, reason = self._full(raw, region)
            if e164 is None:
                self.shapes[key] = reason
            elif how == "+" and e164 == digits:
                self.shapes[key] = ("keep",)
            elif how == "national":
                for strip in (0, 1):  # the trunk "0" is dropped in most countries, kept in Italy
                    rest = digits[strip:]
                    if e164.endswith(rest) and len(e164) - len(rest) >= 2:
                        self.shapes[key] = ("prefix", e164[: len(e164) - len(rest)], strip)
                        break
                else:
                    self.shapes[key] = "full"
            else:
                self.shapes[key] = "full"
            return e164, reason
        if verdict == "full":
            return self._full(raw, region)
        if type(verdict) is str:
            return None, verdict
        if verdict[0] == "keep":
            return digits, None
        return verdict[1] + digits[verdict[2] :], None

    def _full(self, raw, region):
        key = (raw, region)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        self.full_parses += 1
        try:
            result = (normalize_phone(phone_text(raw), region), None)
        except PhoneError as exc:
            result = (None, str(exc))
        if len(self.cache) >= self.cache_size:
            self.cache.clear()
        self.cache[key] = result
        return result


def parse_date(value) -> dt.date | None:
    """A date from a date cell, an Excel serial, ISO, DD/MM/YYYY, YYYYMMDD (vCard) …; None when empty."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _serial(value)
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d{1,5}(\.\d+)?", text) and len(text.split(".")[0]) <= 5:
        return _serial(float(text))
    if text.startswith("--"):
        raise ValueError(gettext("birthday without a year cannot be stored"))
    m = _DMY.match(text)  # the common shapes without strptime's cost
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if month > 12 >= day:
            day, month = month, day  # 4/15/1980: only month/day/year (a US export) can mean this
        try:
            return dt.date(year, month, day)
        except ValueError:
            raise ValueError(gettext("date not understood: %(value)r") % {"value": text[:40]}) from None
    m = _YMD.match(text)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            raise ValueError(gettext("date not understood: %(value)r") % {"value": text[:40]}) from None
    text = text.split("T")[0].strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(gettext("date not understood: %(value)r") % {"value": str(value)[:40]})


def _serial(number: float) -> dt.date:
    if not 1 <= number < 2958466:
        raise ValueError(gettext("date not understood: %(value)r") % {"value": number})
    return EXCEL_EPOCH + dt.timedelta(days=int(number))


def clean_gender(value) -> str:
    text = cell_text(value).strip().lower()
    if not text:
        return ""
    if text in GENDERS:
        return GENDERS[text]
    raise ValueError(gettext("gender not understood: %(value)r") % {"value": text[:20]})


def clean_language(value) -> str:
    text = cell_text(value).strip().lower()
    if not text:
        return ""
    if re.fullmatch(r"[a-z]{2}([-_][a-z]{2})?", text):
        return text[:2]
    from .mapping import norm_header

    code = LANGUAGES.get(norm_header(text))
    if code is None:
        raise ValueError(gettext("language not understood: %(value)r") % {"value": text[:20]})
    return code


def clean_country(value) -> str:
    text = cell_text(value).strip()
    if not text:
        return ""
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper()
    from .mapping import norm_header

    code = COUNTRIES.get(norm_header(text))
    if code is None:
        raise ValueError(gettext("country not understood: %(value)r") % {"value": text[:30]})
    return code


def clean_email(value) -> str:
    text = cell_text(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text:
        return ""
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValueError(gettext("not a valid email address: %(value)r") % {"value": text[:60]})
    return text


def split_tags(value) -> list[str]:
    text = cell_text(value)
    if not text.strip():
        return []
    parts = re.split(r"\s*(?:,|;|:::)\s*", text)
    # Google adds its system groups ("* myContacts"); they are not the user's labels.
    return [p.strip()[:64] for p in parts if p.strip() and not p.strip().startswith("*")]


def neutralise(value):
    """Spreadsheet-safe cell for exports: a leading = + - @ makes Excel run a formula, so prefix '."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        # Phone numbers and plain numbers are data, not formulas.
        if value[0] in "+-" and _NUMBERISH.match(value):
            return value
        return "'" + value
    return value

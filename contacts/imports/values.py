"""Turning cells into contact values: text, phones, dates (Excel serials too), genders, countries.

Every function returns the cleaned value or raises ValueError with a reason a person
can act on; the pipeline turns those into rejected rows.
"""

from __future__ import annotations

import datetime as dt
import re

from contacts.phones import PhoneError, looks_e164, normalize_phone

EXCEL_EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (it counts 1900 as a leap year)
_SCIENTIFIC = re.compile(r"^\s*\+?(\d+)(?:[.,](\d+))?[eE]\+?(\d+)\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBERISH = re.compile(r"^[+-]?[\d\s().,/-]+$")
_PHONE_PUNCT = str.maketrans("", "", " -.()/\u00a0")

GENDERS = {
    "m": "male", "male": "male", "maschio": "male", "uomo": "male", "man": "male", "mr": "male",
    "f": "female", "female": "female", "femmina": "female", "donna": "female", "woman": "female",
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
            raise PhoneError("not a phone number")
        return str(int(value))
    text = cell_text(value).strip()
    m = _SCIENTIFIC.match(text)
    if m:
        whole, frac, exp = m.group(1), m.group(2) or "", int(m.group(3))
        if len(frac) < exp:
            # 3.93331E+11: Excel kept 6 digits and invented the rest.
            raise PhoneError("shortened by Excel's scientific notation (format the column as text)")
        if frac[exp:].strip("0"):
            raise PhoneError("not a phone number")
        text = whole + frac[:exp]
    return text


class PhoneNormaliser:
    """normalize_phone with the hot path cut short: E.164 input is not re-parsed, results cached."""

    def __init__(self, country: str, cache_size: int = 200_000):
        self.country = country
        self.cache: dict[tuple, tuple[str | None, str | None]] = {}
        self.cache_size = cache_size

    def __call__(self, value, country: str | None = None) -> tuple[str | None, str | None]:
        """(E.164, None) or (None, reason); `country` overrides the default region for this number."""
        try:
            raw = value if type(value) is str else phone_text(value)
        except PhoneError as exc:
            return None, str(exc)
        raw = raw.strip()
        if not raw:
            return None, "missing"
        if raw[0] == "+":
            compact = raw.translate(_PHONE_PUNCT) if "(" not in raw else raw
            if looks_e164(compact):
                return compact, None
        region = country or self.country
        key = (raw, region)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        try:
            raw_for_parse = phone_text(raw)
            result = (normalize_phone(raw_for_parse, region), None)
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
        raise ValueError("birthday without a year cannot be stored")
    text = text.split("T")[0].strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y", "%Y%m%d", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"date not understood: {str(value)[:40]!r}")


def _serial(number: float) -> dt.date:
    if not 1 <= number < 2958466:
        raise ValueError(f"date not understood: {number!r}")
    return EXCEL_EPOCH + dt.timedelta(days=int(number))


def clean_gender(value) -> str:
    text = cell_text(value).strip().lower()
    if not text:
        return ""
    if text in GENDERS:
        return GENDERS[text]
    raise ValueError(f"gender not understood: {text[:20]!r}")


def clean_language(value) -> str:
    text = cell_text(value).strip().lower()
    if not text:
        return ""
    if re.fullmatch(r"[a-z]{2}([-_][a-z]{2})?", text):
        return text[:2]
    from .mapping import norm_header

    return LANGUAGES.get(norm_header(text), "")


def clean_country(value) -> str:
    text = cell_text(value).strip()
    if not text:
        return ""
    if re.fullmatch(r"[A-Za-z]{2}", text):
        return text.upper()
    from .mapping import norm_header

    return COUNTRIES.get(norm_header(text), "")


def clean_email(value) -> str:
    text = cell_text(value).strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    if not text:
        return ""
    if len(text) > 254 or not _EMAIL.match(text):
        raise ValueError(f"not a valid email address: {text[:60]!r}")
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

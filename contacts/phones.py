"""Phone numbers: parse anything a person types into E.164, or say why not.

One place, so the admin, the API, imports and sync all agree on what a valid
number is. Uses Google's `phonenumbers`, never a regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_NON_DIGITS = re.compile(r"\D+")

_REASONS = {
    ValidationResult.TOO_SHORT: _("too short"),
    ValidationResult.TOO_LONG: _("too long"),
    ValidationResult.INVALID_COUNTRY_CODE: _("unknown country code"),
    ValidationResult.INVALID_LENGTH: _("wrong number of digits"),
}
_PARSE_REASONS = {
    NumberParseException.INVALID_COUNTRY_CODE: _("unknown country code"),
    NumberParseException.NOT_A_NUMBER: _("not a phone number"),
    NumberParseException.TOO_SHORT_AFTER_IDD: _("too short"),
    NumberParseException.TOO_SHORT_NSN: _("too short"),
    NumberParseException.TOO_LONG: _("too long"),
}


class PhoneError(ValueError):
    """A number that cannot be stored; str() is a reason a person can act on."""


@dataclass(frozen=True)
class ParsedPhone:
    e164: str
    is_mobile: bool | None


def default_country() -> str:
    return settings.SWITCHBOARD_DEFAULT_COUNTRY


def normalize_phone(raw, country: str | None = None) -> str:
    """Return the E.164 form of `raw` (any human format) or raise PhoneError with the reason."""
    return parse_phone(raw, country).e164


def parse_phone(raw, country: str | None = None) -> ParsedPhone:
    country = (country or default_country()).upper()
    if raw is None:
        raise PhoneError(gettext("missing"))
    text = str(raw).strip()
    if not text:
        raise PhoneError(gettext("missing"))
    if text.lower().startswith("tel:"):
        text = text[4:]
    text = text.replace("\u00a0", " ")
    # "0039…" / "00 44…": international prefix typed with zeros.
    compact = _NON_DIGITS.sub("", text)
    if text.startswith("00") and len(compact) > 8:
        text = "+" + compact[2:]
    try:
        number = phonenumbers.parse(text, country)
    except NumberParseException as exc:
        raise PhoneError(str(_PARSE_REASONS.get(exc.error_type, _("not a phone number")))) from None
    reason = _REASONS.get(phonenumbers.is_possible_number_with_reason(number))
    if reason:
        raise PhoneError(str(reason))
    if not phonenumbers.is_valid_number(number):
        # An invalid number has no region of its own; name the one its calling code belongs to.
        region = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
            number.country_code
        )
        region = country if region in (None, "", "ZZ") else region
        raise PhoneError(gettext("not a valid number for %(country)s") % {"country": region})
    kind = phonenumbers.number_type(number)
    is_mobile = None
    if kind in (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE):
        is_mobile = True
    elif kind == PhoneNumberType.FIXED_LINE:
        is_mobile = False
    return ParsedPhone(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), is_mobile)


def looks_e164(text: str) -> bool:
    """Cheap pre-check used on hot paths to skip re-parsing numbers already in E.164."""
    return bool(_E164.match(text))


def search_digits(query: str) -> list[str]:
    """Digit fragments to look for in stored E.164 numbers for what a user typed.

    "333 123" → ["333123"]; "0039 333" → ["39333"]; "020 7946" → ["0207946", "207946"]
    (the national trunk zero is not stored for most countries, but is for Italy).
    """
    digits = _NON_DIGITS.sub("", query)
    if not digits:
        return []
    candidates = [digits]
    if digits.startswith("00") and len(digits) > 3:
        candidates = [digits[2:]]
    elif digits.startswith("0") and len(digits) > 1:
        candidates.append(digits.lstrip("0"))
    return [c for c in dict.fromkeys(candidates) if c]

"""Numbers, money and dates as the active language writes them (1.234,56 € and 25/12/2026 in Italian).

Templates use the filters in localization.templatetags.localization; Python code (the dashboard,
reports, messages) calls these functions. USE_THOUSAND_SEPARATOR stays off globally so ids in
URLs are never grouped; grouping is asked for here, where a number is shown to a person.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.utils import formats, timezone
from django.utils.translation import get_language

CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "INR": "₹", "CHF": "CHF"}
# Where the symbol goes, per language: Italian writes "1.234,56 €", English "€1,234.56".
_MONEY_PATTERNS = {"it": "{amount} {symbol}", "en": "{symbol}{amount}"}


def _language() -> str:
    return (get_language() or "en").split("-")[0]


def format_number(value, decimals: int | None = None) -> str:
    """12345.6 → '12.345,6' (it) / '12,345.6' (en); None → ''."""
    if value is None or value == "":
        return ""
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


def format_money(amount, currency: str = "EUR") -> str:
    """1234.56, 'EUR' → '1.234,56 €' (it) / '€1,234.56' (en); a code without a symbol goes after."""
    if amount is None or amount == "":
        return ""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return str(amount)
    code = (currency or "").upper()
    text = format_number(value, 2)
    symbol = CURRENCY_SYMBOLS.get(code)
    if symbol is None or symbol == code:
        return f"{text} {code}".strip()
    pattern = _MONEY_PATTERNS.get(_language(), _MONEY_PATTERNS["en"])
    if text.startswith("-"):
        return "-" + pattern.format(amount=text[1:], symbol=symbol)
    return pattern.format(amount=text, symbol=symbol)


def format_date(value) -> str:
    """A date (or the local date of a datetime): 25/12/2026."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
        value = value.date()
    return formats.date_format(value, "SHORT_DATE_FORMAT")


def format_datetime(value) -> str:
    """25/12/2026 14:30 in local time."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, "SHORT_DATETIME_FORMAT")

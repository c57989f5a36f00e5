"""Request-level guards every endpoint gets without asking (issue 8).

- StrictJSONParser: a JSON body holding a NUL character or a lone surrogate anywhere (keys,
  values, nested) is a 400, not a 500 from the database driver or a stored value that breaks
  every export later.
- BadTextMiddleware: the same for the URL's query string and path (?search=%00 would otherwise
  reach PostgreSQL, which refuses NUL in text).
- clean_text(): the rule itself, for services that take text from elsewhere (imports, forms).
- bounded_number_text(): refuse a number's text before converting it when it has too many
  digits or too big an exponent ("1e4000000" must never become a 4-million-digit integer).
- config/routers.py: the project router (digits-only ids, an API root that needs a login).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


def bad_text_reason(text: str) -> str | None:
    """Why `text` cannot be stored (NUL or a lone surrogate), or None when it is fine."""
    match = _BAD_CHARS.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return _("Text may not contain NUL characters.")
    return _("Text holds an invalid character (a lone UTF-16 surrogate).")


def clean_text(value: Any, field: str = "") -> Any:
    """Raise ValidationError({field: reason}) when a string holds NUL or a lone surrogate."""
    if isinstance(value, str):
        reason = bad_text_reason(value)
        if reason:
            raise ValidationError({field: reason} if field else reason)
    return value


def find_bad_text(data: Any, path: str = "") -> tuple[str, str] | None:
    """(where, reason) for the first string in nested JSON data that cannot be stored."""
    if isinstance(data, str):
        reason = bad_text_reason(data)
        return (path or "body", reason) if reason else None
    if isinstance(data, dict):
        for key, value in data.items():
            where = f"{path}.{key}" if path else str(key)
            found = find_bad_text(str(key), where) or find_bad_text(value, where)
            if found:
                return found
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            found = find_bad_text(value, f"{path}[{index}]")
            if found:
                return found
    return None


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, plus: no NUL characters or lone surrogates anywhere in the document."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            found = find_bad_text(data)
        except RecursionError:  # [[[[…]]]] a million deep: Python's decoder gives up with a RecursionError
            raise ParseError(_("The JSON document is nested too deeply.")) from None
        if found:
            where, reason = found
            raise ParseError(f"{where}: {reason}")
        return data


class BadTextMiddleware:
    """A 400 for a path or query string holding NUL or undecodable text, before any view runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        texts = [request.path]
        for key, values in request.GET.lists():
            texts.append(key)
            texts.extend(values)
        for text in texts:
            reason = bad_text_reason(text)
            if reason:
                return JsonResponse({"detail": reason}, status=400)
        return self.get_response(request)


def bounded_number_text(text: str, what: str = "") -> str:
    """Return `text` stripped, or raise ValidationError if its digits or exponent are too big.

    Checked on the text, before Decimal/int/float see it: Decimal("1e4000000") is cheap, but
    int() of it builds a 4-million-digit number and hangs the worker.
    """
    text = str(text).strip()
    max_digits, max_exp = settings.NUMBER_MAX_DIGITS, settings.NUMBER_MAX_EXPONENT
    mantissa, _sep, exponent = text.lower().replace(",", ".").partition("e")
    digits = sum(ch.isdigit() for ch in mantissa)
    label = f"'{what}' " if what else ""
    if digits > max_digits:
        raise ValidationError(
            _("%(label)sis too long a number (at most %(max)d digits).") % {"label": label, "max": max_digits}
        )
    if exponent:
        exp_digits = exponent.lstrip("+-")
        if not exp_digits.isdigit() or len(exp_digits) > 6 or int(exp_digits) > max_exp:
            raise ValidationError(
                _("%(label)sis too big a number (exponent at most %(max)d).") % {"label": label, "max": max_exp}
            )
    return text


MAX_ID = 2**63 - 1  # PostgreSQL bigint; SQLite raises OverflowError past it


def id_field(**kwargs):
    """A DRF IntegerField for a row id: 1 … 2**63-1, so a huge number is a 400, not an OverflowError."""
    from rest_framework import serializers

    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def strict_char_field(**kwargs):
    """A DRF CharField that refuses numbers instead of turning 1 into "1" (choices, names)."""
    from rest_framework import serializers

    class StrictCharField(serializers.CharField):
        def to_internal_value(self, data):
            if not isinstance(data, str):
                self.fail("invalid")
            return super().to_internal_value(data)

    return StrictCharField(**kwargs)

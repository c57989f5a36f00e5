"""Numbers, money and dates are written the way the active language writes them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.template import Context, Template
from django.utils import translation

from localization.formatting import format_date, format_datetime, format_money, format_number


def test_italian():
    with translation.override("it"):
        assert format_money(Decimal("1234.56"), "EUR") == "1.234,56 €"
        assert format_money(-5, "eur") == "-5,00 €"
        assert format_number(1234567) == "1.234.567"
        assert format_number(1234.5, 1) == "1.234,5"
        assert format_date(dt.date(2026, 12, 25)) == "25/12/2026"
        assert format_datetime(dt.datetime(2026, 12, 25, 14, 30)) == "25/12/2026 14:30"


def test_english():
    with translation.override("en"):
        assert format_money(Decimal("1234.56"), "EUR") == "€1,234.56"
        assert format_money(10, "XYZ") == "10.00 XYZ"
        assert format_number(1234567) == "1,234,567"
        assert format_date(dt.date(2026, 12, 25)) == "25/12/2026"


def test_empty_values_are_blank():
    assert format_money(None) == "" and format_number(None) == "" and format_date(None) == ""


def test_template_filters_and_django_date_filter():
    template = Template('{% load localization %}{{ a|money:"EUR" }} | {{ n|number }} | {{ d|short_date }} | {{ d|date }}')
    context = Context({"a": Decimal("1234.56"), "n": 98765, "d": dt.date(2026, 12, 25)})
    with translation.override("it"):
        assert template.render(context) == "1.234,56 € | 98.765 | 25/12/2026 | 25/12/2026"
    with translation.override("en"):
        assert template.render(context) == "€1,234.56 | 98,765 | 25/12/2026 | 25 Dec 2026"


def test_provider_statuses_are_shown_in_our_words():
    """Statuses we normalise from every provider read as our vocabulary (the provider's text is not translated)."""
    from messaging.message_models import Message

    with translation.override("it"):
        words = {value: str(label) for value, label in Message.Status.choices}
    assert words["delivered"] == "Consegnato"
    assert words["failed"] == "Non consegnato"
    assert words["read"] == "Letto"
    assert words["unknown"] == "Esito sconosciuto"
    with translation.override("it"):
        assert Message(status="failed").get_status_display() == "Non consegnato"
    with translation.override("en"):
        assert Message(status="failed").get_status_display() == "Failed"

"""{% load localization %}: {{ amount|money:"EUR" }}, {{ count|number }}, {{ day|short_date }}."""

from django import template

from localization import formatting

register = template.Library()


@register.filter
def money(amount, currency="EUR"):
    return formatting.format_money(amount, currency)


@register.filter
def number(value, decimals=None):
    return formatting.format_number(value, None if decimals in (None, "") else int(decimals))


@register.filter
def short_date(value):
    return formatting.format_date(value)


@register.filter
def short_datetime(value):
    return formatting.format_datetime(value)

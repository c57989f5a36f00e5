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


@register.simple_tag
def time_zone_menu():
    """The user menu's time zone choices: {"current": name, "choices": [names]} (the active zone first)."""
    from django.utils import timezone

    from localization.timezones import menu_choices

    current = timezone.get_current_timezone_name()
    return {"current": current, "choices": menu_choices(current)}

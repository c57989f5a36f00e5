"""The overview on the admin home: messages per day, rates, last campaigns — from the counters only."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from localization.formatting import format_number

from . import stats

CHANNEL_COLOURS = {
    "sms": "#2563eb",
    "whatsapp": "#16a34a",
    "rcs": "#9333ea",
    "voice": "#f59e0b",
    "other": "#6b7280",
}
PALETTE = ["#2563eb", "#16a34a", "#9333ea", "#f59e0b", "#dc2626", "#0891b2", "#6b7280"]
MAX_DAYS = 366


def date_range(request) -> tuple[dt.date, dt.date]:
    """The picked range (default: the last 30 days), bounded to a year, never reversed."""
    today = timezone.localdate()
    end = parse_date(request.GET.get("to") or "") or today
    start = parse_date(request.GET.get("from") or "") or end - dt.timedelta(days=29)
    if start > end:
        start, end = end, start
    if (end - start).days >= MAX_DAYS:
        start = end - dt.timedelta(days=MAX_DAYS - 1)
    return start, end


def _stacked(days, series: dict, colours: dict | None = None) -> str:
    datasets = []
    for i, (name, values) in enumerate(series.items()):
        colour = (colours or {}).get(name) or PALETTE[i % len(PALETTE)]
        datasets.append({"label": str(name).upper() if colours else str(name), "data": values,
                         "backgroundColor": colour, "borderColor": colour})  # fmt: skip
    return json.dumps({"labels": [d[5:] for d in days], "datasets": datasets})


STACKED_OPTIONS = json.dumps({
    "responsive": True, "maintainAspectRatio": False,
    "plugins": {"legend": {"display": True, "position": "bottom"}},
    "scales": {"x": {"stacked": True, "grid": {"display": False}}, "y": {"stacked": True, "beginAtZero": True}},
})  # fmt: skip
RATE_OPTIONS = json.dumps({
    "responsive": True, "maintainAspectRatio": False,
    "plugins": {"legend": {"display": True, "position": "bottom"}},
    "scales": {"x": {"grid": {"display": False}}, "y": {"beginAtZero": True, "max": 100}},
})  # fmt: skip


def overview_context(request) -> dict:
    start, end = date_range(request)
    data = stats.overview(start, end)
    totals, change = data["totals"], data["change"]
    cards = [
        {"key": "messages", "title": _("Messages sent"), "value": f"{format_number(totals['messages'])}", "change": change["messages"], "unit": "%"},
        {"key": "delivery_rate", "title": _("Delivered"), "value": f"{totals['delivery_rate']}% ({format_number(totals['delivered'])})", "change": change["delivery_rate"], "unit": _(" pts")},
        {"key": "read_rate", "title": _("Read (of delivered)"), "value": f"{totals['read_rate']}% ({format_number(totals['read'])})", "change": change["read_rate"], "unit": _(" pts")},
        {"key": "failed", "title": _("Failed"), "value": f"{format_number(totals['failed'])}", "change": change["failed"], "unit": "%"},
        {"key": "replied", "title": _("Replies"), "value": f"{format_number(totals['replied'])}", "change": change["replied"], "unit": "%"},
        {"key": "cost", "title": _("Cost"), "value": format_number(totals["cost"], 2), "change": change["cost"], "unit": "%"},
    ]  # fmt: skip
    rates = json.dumps({
        "labels": [d[5:] for d in data["days"]],
        "datasets": [
            {"label": _("Delivered %"), "data": data["delivery_rate"], "borderColor": "#2563eb", "backgroundColor": "#2563eb"},
            {"label": _("Read %"), "data": data["read_rate"], "borderColor": "#16a34a", "backgroundColor": "#16a34a"},
        ],
    })  # fmt: skip
    return {
        "overview": data,
        "overview_cards": cards,
        "range_from": start.isoformat(),
        "range_to": end.isoformat(),
        "previous_from": data["previous"]["from"],
        "previous_to": data["previous"]["to"],
        "chart_by_channel": _stacked(data["days"], data["by_channel"], CHANNEL_COLOURS),
        "chart_by_account": _stacked(data["days"], data["by_account"]),
        "chart_rates": rates,
        "stacked_options": STACKED_OPTIONS,
        "rate_options": RATE_OPTIONS,
        "has_messages": bool(totals["messages"]),
        "last_campaigns": data["campaigns"],
    }

"""Read side of the statistics: every figure on every page comes from here, from MessageStat only.

Never a scan of the message table: a campaign's figures are a sum over its hour buckets,
the overview a grouped sum over the date range's buckets. The same functions feed the
API, the admin pages and `manage.py campaign_stats`, so the numbers agree everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from messaging.message_models import MessageStat
from messaging.stats import campaign_failure_reasons, campaign_totals

from .models import Campaign

STAT_KEYS = ("audience", "queued", "sent", "delivered", "read", "failed", "unknown", "skipped", "replied",
             "clicked", "cost", "currency")  # fmt: skip


def campaign_stats(campaign: Campaign) -> dict:
    """The interface's `stats` object. queued + sent + failed + unknown + skipped == audience."""
    if campaign.execution == Campaign.Execution.PROVIDER:
        from .services.provider_run import provider_stats_as_ours

        figures = provider_stats_as_ours(campaign)
        return {**figures, "cost": Decimal(figures["cost"]).quantize(Decimal("0.01"))}
    totals = campaign_totals(campaign.pk)
    stats = {key: totals.get(key, 0) for key in STAT_KEYS if key not in ("audience", "currency", "cost")}
    stats["audience"] = campaign.audience_count
    stats["cost"] = (totals["cost"] or Decimal(0)).quantize(Decimal("0.01"))
    stats["currency"] = totals["currency"]
    return {key: stats[key] for key in STAT_KEYS}


def status_counts(campaign: Campaign, totals: dict | None = None) -> dict[str, int]:
    """How many messages are in each status (exact, from the counters: delivered == delivered+read rows)."""
    t = totals or campaign_totals(campaign.pk)
    return {
        "queued": t["queued"],
        "sent": t["sent"] - t["delivered"],
        "delivered": t["delivered"] - t["read"],
        "read": t["read"],
        "failed": t["failed"],
        "unknown": t["unknown"],
        "skipped": t["skipped"],
    }


def funnel(campaign: Campaign, stats: dict | None = None) -> list[dict]:
    """audience → sent → delivered → read → replied / clicked, with percentages of the audience."""
    s = stats or campaign_stats(campaign)
    audience = s["audience"] or 0
    steps = [("audience", s["audience"]), ("sent", s["sent"]), ("delivered", s["delivered"]), ("read", s["read"]),
             ("replied", s["replied"]), ("clicked", s["clicked"])]  # fmt: skip
    return [
        {"step": k, "count": v, "percent": round(100 * v / audience, 1) if audience else 0.0}
        for k, v in steps
    ]


def failure_reasons(campaign: Campaign) -> list[dict]:
    return [{"reason": r, "count": n} for r, n in campaign_failure_reasons(campaign.pk)]


def campaign_hourly(campaign: Campaign, *, hours: int = 72) -> dict:
    """Delivered and read per hour, from the first bucket, for the line chart."""
    rows = (
        MessageStat.objects.filter(campaign_id=campaign.pk, metric__in=["delivered", "read", "created"])
        .values("hour", "metric")
        .annotate(n=Sum("count"))
        .order_by("hour")
    )
    series: dict[dt.datetime, dict[str, int]] = defaultdict(lambda: {"delivered": 0, "read": 0})
    start = None
    for row in rows:
        start = start or row["hour"]
        if row["metric"] == "created" or row["hour"] >= start + dt.timedelta(hours=hours):
            continue
        series[row["hour"]][row["metric"]] += row["n"]
    if start is None:
        return {"labels": [], "delivered": [], "read": []}
    last = max(series) if series else start
    labels, delivered, read = [], [], []
    hour = start
    tz = timezone.get_current_timezone()
    while hour <= last:
        labels.append(hour.astimezone(tz).strftime("%d/%m %H:00"))
        delivered.append(series.get(hour, {}).get("delivered", 0))
        read.append(series.get(hour, {}).get("read", 0))
        hour += dt.timedelta(hours=1)
    return {"labels": labels, "delivered": delivered, "read": read}


# --- the overview ------------------------------------------------------------------------------


def _day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    return (
        dt.datetime.combine(start, dt.time.min, tzinfo=tz),
        dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz),
    )


PERIOD_METRICS = [
    "created",
    "cohort_delivered",
    "cohort_read",
    "failed",
    "replied",
    "clicked",
    "cost",
    "inbound",
]


def _periods_totals(*periods: tuple[dt.date, dt.date]) -> list[dict]:
    """The totals of each (start, end) period, all read in one grouped query over their buckets."""
    ranges = [_day_range(start, end) for start, end in periods]
    sums = {}
    for i, (lo, hi) in enumerate(ranges):
        inside = Q(hour__gte=lo, hour__lt=hi)
        sums[f"n{i}"], sums[f"c{i}"] = Sum("count", filter=inside), Sum("cost", filter=inside)
    rows = list(
        MessageStat.objects.filter(
            hour__gte=min(lo for lo, _ in ranges),
            hour__lt=max(hi for _, hi in ranges),
            metric__in=PERIOD_METRICS,
        )
        .values("metric")
        .annotate(**sums)
        .order_by()
    )
    out = []
    for i in range(len(ranges)):
        totals = {"messages": 0, "delivered": 0, "read": 0, "failed": 0, "replied": 0, "clicked": 0, "inbound": 0,
                  "cost": Decimal(0)}  # fmt: skip
        for row in rows:
            if row[f"n{i}"] is None:  # no bucket of this metric in this period (a row for the other)
                continue
            if row["metric"] == "cost":
                totals["cost"] = (row[f"c{i}"] or Decimal(0)).quantize(Decimal("0.01"))
            else:
                key = {"created": "messages", "cohort_delivered": "delivered", "cohort_read": "read"}.get(
                    row["metric"]
                )
                totals[key or row["metric"]] = row[f"n{i}"] or 0
        totals["delivery_rate"] = _rate(totals["delivered"], totals["messages"])
        totals["read_rate"] = _rate(totals["read"], totals["delivered"])
        out.append(totals)
    return out


def _rate(part: int, whole: int) -> float:
    return round(100 * part / whole, 1) if whole else 0.0


def _change(now, before) -> float | None:
    if not before:
        return None  # nothing to compare with: "no earlier data", not "+100 %"
    return round(100 * (float(now) - float(before)) / float(before), 1)


def overview(start: dt.date, end: dt.date) -> dict:
    """Messages per day by channel and account, rates per day, totals vs the previous period."""
    from messaging.models import ProviderAccount

    lo, hi = _day_range(start, end)
    tz = timezone.get_current_timezone()
    rows = (
        MessageStat.objects.filter(
            hour__gte=lo, hour__lt=hi, metric__in=["created", "cohort_delivered", "cohort_read"]
        )
        # Grouped by local day in the database: one row per day, channel, account and metric.
        .annotate(day=TruncDate("hour", tzinfo=tz))
        .values("day", "channel", "account_id", "metric")
        .annotate(n=Sum("count"))
        .order_by()
    )
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}
    by_channel: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    by_account: dict[int, list[int]] = defaultdict(lambda: [0] * len(days))
    created, delivered, read = [0] * len(days), [0] * len(days), [0] * len(days)
    for row in rows:
        i = index.get(row["day"])
        if i is None:
            continue
        if row["metric"] == "created":
            by_channel[row["channel"] or "other"][i] += row["n"]
            by_account[row["account_id"]][i] += row["n"]
            created[i] += row["n"]
        elif row["metric"] == "cohort_delivered":
            delivered[i] += row["n"]
        else:
            read[i] += row["n"]
    names = dict(ProviderAccount.objects.filter(pk__in=list(by_account)).values_list("pk", "name"))
    length = (end - start).days + 1
    prev_end = start - dt.timedelta(days=1)
    prev_start = prev_end - dt.timedelta(days=length - 1)
    current, previous = _periods_totals((start, end), (prev_start, prev_end))
    change = {k: _change(current[k], previous[k]) for k in ("messages", "delivered", "read", "failed", "cost",
                                                             "replied")}  # fmt: skip
    for rate in ("delivery_rate", "read_rate"):
        change[rate] = round(current[rate] - previous[rate], 1) if previous["messages"] else None
    return {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "days": [d.isoformat() for d in days],
        "by_channel": dict(sorted(by_channel.items())),
        "by_account": {names.get(k, f"#{k}"): v for k, v in sorted(by_account.items())},
        # Of the messages sent that day, how many were delivered / read (None: nothing sent, a gap).
        "delivery_rate": [_rate(d, c) if c else None for d, c in zip(delivered, created, strict=True)],
        "read_rate": [_rate(r, d) if d else None for r, d in zip(read, delivered, strict=True)],
        "totals": current,
        "previous": {"from": prev_start.isoformat(), "to": prev_end.isoformat(), **previous},
        "change": change,
        "campaigns": last_campaigns(),
    }


def last_campaigns(limit: int = 8) -> list[dict]:
    """The latest campaigns with their rates, in one grouped query over their buckets."""
    campaigns = list(
        Campaign.objects.exclude(status=Campaign.Status.DRAFT).order_by("-created_at", "-id")[:limit]
    )
    ids = [c.pk for c in campaigns]
    sums: dict[int, dict[str, int]] = defaultdict(dict)
    for row in (
        MessageStat.objects.filter(campaign_id__in=ids, metric__in=["sent", "delivered", "read", "failed"])
        .values("campaign_id", "metric")
        .annotate(n=Sum("count"))
    ):
        sums[row["campaign_id"]][row["metric"]] = row["n"]
    out = []
    for c in campaigns:
        s = sums.get(c.pk, {})
        sent = s.get("sent", 0)
        out.append({
            "id": c.pk, "name": c.name, "status": c.status, "status_label": str(c.get_status_display()),
            "channel": c.channel, "audience": c.audience_count, "sent": sent, "delivered": s.get("delivered", 0),
            "read": s.get("read", 0), "failed": s.get("failed", 0),
            # Percentages of the audience, as the campaign page's funnel shows them.
            "delivery_rate": _rate(s.get("delivered", 0), c.audience_count),
            "read_rate": _rate(s.get("read", 0), c.audience_count),
            "started_at": c.started_at.isoformat() if c.started_at else None,
        })  # fmt: skip
    return out

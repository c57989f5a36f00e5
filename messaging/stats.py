"""Bucketed message counters: the only thing statistics pages read.

Every change to a message adds signed deltas to `MessageStat` rows in the same transaction
(`StatDeltas.flush`), keyed by (campaign, account, channel, hour, metric, reason). Metrics:

- funnel levels — `queued`, `sent`, `failed`, `unknown`, `skipped`: each outbound campaign
  message is in exactly one, so their sums add up to the audience at every moment;
- reached counters — `delivered` (reached delivered or read), `read`, `replied`, `clicked`;
- flow counters — `created` (outbound messages written), `inbound` (received);
- cohort counters — `cohort_delivered`, `cohort_read`: the same events, bucketed by the hour the
  message was written (rates per send day);
- `failed_reason` (a level per reason, in words) and `cost` (in the cost column).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection
from django.db.models import Sum

from .message_models import Message, MessageStat, hour_of

FUNNEL_METRICS = ("queued", "sent", "failed", "unknown", "skipped")
REACHED_METRICS = ("delivered", "read", "replied", "clicked")
ALL_TOTALS = (*FUNNEL_METRICS, *REACHED_METRICS, "created", "inbound")

# Which funnel level a message status belongs to.
FUNNEL_OF = {
    Message.Status.QUEUED: "queued",
    Message.Status.SENT: "sent",
    Message.Status.DELIVERED: "sent",
    Message.Status.READ: "sent",
    Message.Status.FAILED: "failed",
    Message.Status.UNKNOWN: "unknown",
    Message.Status.SKIPPED: "skipped",
}


def failure_reason(message: Message) -> str:
    """The words a failure is grouped under on the campaign page."""
    return (message.error_message or message.error_code or "No reason given by the provider")[:200]


class StatDeltas:
    """Collects counter changes and writes them in one upsert; call flush() inside the transaction."""

    def __init__(self):
        self._rows: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])

    def add(self, message: Message, metric: str, n: int = 1, *, at: dt.datetime | None = None,
            reason: str = "", cost: Decimal | None = None) -> None:  # fmt: skip
        key = (message.campaign_id or 0, message.account_id or 0, message.channel or "", hour_of(at),
               metric, reason)  # fmt: skip
        row = self._rows[key]
        row[0] += n
        if cost:
            row[1] += Decimal(cost)

    def move(self, message: Message, old_status: str | None, new_status: str, *, at=None,
             old_reason: str = "") -> None:  # fmt: skip
        """Move a message between funnel levels (and failure reasons) for a status change."""
        old_level = FUNNEL_OF.get(old_status) if old_status else None
        new_level = FUNNEL_OF.get(new_status)
        if old_level != new_level:
            if old_level:
                self.add(message, old_level, -1, at=at)
            if new_level:
                self.add(message, new_level, 1, at=at)
        if old_status == Message.Status.FAILED and new_status != Message.Status.FAILED:
            self.add(message, "failed_reason", -1, at=at, reason=old_reason)
        if new_status == Message.Status.FAILED and old_status != Message.Status.FAILED:
            self.add(message, "failed_reason", 1, at=at, reason=failure_reason(message))

    def __bool__(self):
        return bool(self._rows)

    def flush(self) -> None:
        """Write every collected delta in one multi-row upsert (per 500 buckets), keys sorted.

        The sort makes concurrent flushes take the counter rows' locks in the same order (no
        deadlock); the deltas are summed per key already, so no key appears twice in a statement.
        """
        rows = sorted(((k, v) for k, v in self._rows.items() if v[0] or v[1]), key=lambda item: item[0])
        self._rows.clear()
        if not rows:
            return
        ops = connection.ops
        table = MessageStat._meta.db_table
        pg = connection.vendor == "postgresql"
        # Literal parameters are untyped in a multi-row VALUES on PostgreSQL: type the first row.
        first = ("(%s::bigint, %s::bigint, %s::varchar, %s::timestamptz, %s::varchar, %s::varchar, "
                 "%s::bigint, %s::numeric)") if pg else "(%s, %s, %s, %s, %s, %s, %s, %s)"  # fmt: skip
        other = "(%s, %s, %s, %s, %s, %s, %s, %s)"
        with connection.cursor() as cursor:
            for start in range(0, len(rows), 500):
                chunk = rows[start : start + 500]
                params = []
                for (c, a, ch, h, m, r), (n, cost) in chunk:
                    params += [c, a, ch, ops.adapt_datetimefield_value(h), m, r, n,
                               ops.adapt_decimalfield_value(cost, 16, 5)]  # fmt: skip
                values = ", ".join([first] + [other] * (len(chunk) - 1))
                cursor.execute(
                    f"INSERT INTO {table} (campaign_id, account_id, channel, hour, metric, reason, count, cost) "  # noqa: S608
                    f"VALUES {values} "
                    "ON CONFLICT (campaign_id, account_id, channel, hour, metric, reason) DO UPDATE SET "
                    f"count = {table}.count + excluded.count, cost = {table}.cost + excluded.cost",
                    params,
                )


def campaign_totals(campaign_id: int) -> dict:
    """Every counter of one campaign, summed over its hour buckets (a few hundred rows at most)."""
    totals = dict.fromkeys(ALL_TOTALS, 0)
    cost = Decimal(0)
    currencies = []
    rows = (
        MessageStat.objects.filter(campaign_id=campaign_id)
        .values("metric", "reason")
        .annotate(n=Sum("count"), c=Sum("cost"))
    )
    for row in rows:
        if row["metric"] == "cost":
            cost += row["c"] or Decimal(0)
            if row["reason"] and row["reason"] not in currencies:
                currencies.append(row["reason"])
        elif row["metric"] in totals:
            totals[row["metric"]] += row["n"] or 0
    totals["cost"] = cost
    totals["currency"] = "/".join(currencies)
    return totals


def campaign_failure_reasons(campaign_id: int) -> list[tuple[str, int]]:
    rows = (
        MessageStat.objects.filter(campaign_id=campaign_id, metric="failed_reason")
        .values("reason")
        .annotate(n=Sum("count"))
        .order_by("-n", "reason")
    )
    return [(row["reason"], row["n"]) for row in rows if row["n"]]

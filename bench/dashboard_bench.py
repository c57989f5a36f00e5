"""Dashboard benchmark: the overview and a campaign page at 1,000,000 and 10,000,000 message rows.

Generates, in PostgreSQL (its own database), message rows over 500 campaigns and a year of
days with INSERT … SELECT generate_series, and their bucketed counters with one GROUP BY
(what the status service would have written row by row). Then times, server side (Django
test client, logged in), the admin home with the overview (30 days and a whole year) and a
campaign page, p50 and p95 over repeated requests. The goal: < 100 ms p50, the same at
1M and 10M rows (the pages read the counters, never the message table).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i10_dash .venv/bin/python bench/dashboard_bench.py
Options: --sizes 1000000,10000000 --repeat 15
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sb_i10_dash")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

CAMPAIGNS = 500  # one every 17 hours: 500 campaigns over a year of days
HOURS_APART = dt.timedelta(hours=17)
SPREAD = dt.timedelta(hours=10)


def setup() -> None:
    from campaigns.models import Campaign
    from messaging.models import ProviderAccount

    call_command("migrate", verbosity=0)
    settings.ALLOWED_HOSTS = ["*"]
    accounts = [ProviderAccount.objects.get_or_create(name=f"Dash {i}", defaults={"provider": "sandbox"})[0]
                for i in range(3)]  # fmt: skip
    if Campaign.objects.filter(name__startswith="Dash campaign ").count() < CAMPAIGNS:
        from django.utils import timezone

        now = timezone.now()
        Campaign.objects.bulk_create([
            Campaign(name=f"Dash campaign {g}", account=accounts[g % 3], channel=["sms", "whatsapp", "rcs"][g % 3],
                     text="x", status="completed", created_at=now - g * HOURS_APART,
                     started_at=now - g * HOURS_APART, finished_at=now - g * HOURS_APART + SPREAD)
            for g in range(1, CAMPAIGNS + 1)
        ])  # fmt: skip
    User = get_user_model()
    if not User.objects.filter(username="dash").exists():
        User.objects.create_superuser("dash", "dash@example.com", "dash-pw")


def generate(total: int) -> None:
    """Top the message table up to `total` rows and rebuild the counters from it."""
    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM messaging_provideraccount WHERE name LIKE 'Dash %'")
        first_account = cur.fetchone()[0]
        cur.execute("SELECT min(id) FROM campaigns_campaign WHERE name LIKE 'Dash campaign %'")
        first_campaign = cur.fetchone()[0]
        cur.execute("SELECT coalesce(max(id), 0), count(*) FROM messaging_message")
        start, have = cur.fetchone()
        if have >= total:
            return
        need = total - have
        print(f"  inserting {need:,} message rows …", flush=True)
        t = time.perf_counter()
        step = 1_000_000
        for offset in range(0, need, step):
            n = min(step, need - offset)
            # Each campaign k starts 17*k hours ago; its messages spread over its first 10 hours.
            cur.execute(
                """
                INSERT INTO messaging_message (account_id, campaign_id, contact_id, phone, direction, channel, sender,
                    text, template_name, template_language, variables, payload, status, is_marketing, source,
                    provider_message_id, reference, error_code, error_message, sent_at, delivered_at, read_at,
                    failed_at, price, currency, status_history, created_at, updated_at)
                SELECT %(acc)s + (c %% 3), %(camp)s + c - 1, NULL, '+3933' || lpad(g::text, 9, '0'), 'outbound',
                    (ARRAY['sms','whatsapp','rcs'])[1 + c %% 3], '', 'x', '', '', '[]', '{}',
                    CASE WHEN r < 5 THEN 'failed' WHEN r < 30 THEN 'read' WHEN r < 95 THEN 'delivered' ELSE 'sent' END,
                    true, 'campaign', 'pm' || g, 'b' || g, CASE WHEN r < 5 THEN '30008' ELSE '' END,
                    CASE WHEN r < 5 THEN 'The handset did not answer' ELSE '' END,
                    ts, CASE WHEN r >= 5 AND r < 95 THEN ts + interval '2 minutes' END,
                    CASE WHEN r >= 5 AND r < 30 THEN ts + interval '3 hours' END,
                    CASE WHEN r < 5 THEN ts + interval '1 minute' END, 0.05, 'EUR', '[]', ts, ts
                FROM (
                    SELECT g, 1 + (g %% %(campaigns)s) AS c, (g::bigint * 7919) %% 100 AS r,
                           now() - ((1 + g %% %(campaigns)s) * interval '17 hours')
                               + ((g / %(campaigns)s) %% 600) * interval '1 minute' AS ts
                    FROM generate_series(%(lo)s, %(hi)s) g
                ) s
                """,
                {"acc": first_account, "camp": first_campaign, "campaigns": CAMPAIGNS,
                 "lo": start + offset + 1, "hi": start + offset + n},
            )  # fmt: skip
            print(f"    {offset + n:,} / {need:,} ({time.perf_counter() - t:.0f} s)", flush=True)
        print(f"  rebuilding the counters from the rows ({time.perf_counter() - t:.0f} s so far) …", flush=True)
        cur.execute("DELETE FROM messaging_messagestat")
        buckets = [
            ("created", "true", "created_at", "''"),
            ("queued", "status = 'queued'", "created_at", "''"),
            ("sent", "status IN ('sent','delivered','read')", "created_at", "''"),
            ("failed", "status = 'failed'", "created_at", "''"),
            ("failed_reason", "status = 'failed'", "created_at", "error_message"),
            ("delivered", "delivered_at IS NOT NULL", "delivered_at", "''"),
            ("read", "read_at IS NOT NULL", "read_at", "''"),
            ("cohort_delivered", "delivered_at IS NOT NULL", "created_at", "''"),
            ("cohort_read", "read_at IS NOT NULL", "created_at", "''"),
        ]
        for metric, where, when, reason in buckets:
            cur.execute(
                f"INSERT INTO messaging_messagestat (campaign_id, account_id, channel, hour, metric, reason, count, cost) "
                f"SELECT campaign_id, account_id, channel, date_trunc('hour', {when}), '{metric}', {reason}, count(*), 0 "
                f"FROM messaging_message WHERE {where} GROUP BY 1, 2, 3, 4, 6"
            )  # fmt: skip
        cur.execute(
            "INSERT INTO messaging_messagestat (campaign_id, account_id, channel, hour, metric, reason, count, cost) "
            "SELECT campaign_id, account_id, channel, date_trunc('hour', created_at), 'cost', 'EUR', 0, sum(price) "
            "FROM messaging_message GROUP BY 1, 2, 3, 4"
        )
        cur.execute(
            "UPDATE campaigns_campaign c SET audience_count = s.n FROM (SELECT campaign_id, sum(count) n FROM "
            "messaging_messagestat WHERE metric = 'created' GROUP BY 1) s WHERE s.campaign_id = c.id"
        )
        cur.execute("ANALYZE messaging_message")
        cur.execute("ANALYZE messaging_messagestat")
        print(f"  data ready in {time.perf_counter() - t:.0f} s", flush=True)


def timed(client: Client, url: str, repeat: int) -> tuple[float, float]:
    client.get(url)  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def measure(repeat: int) -> dict:
    client = Client()
    client.login(username="dash", password="dash-pw")
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM messaging_message")
        rows = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM messaging_messagestat")
        buckets = cur.fetchone()[0]
        cur.execute("SELECT coalesce(sum(count), 0) FROM messaging_messagestat WHERE metric = 'created'")
        counted = cur.fetchone()[0]
    # A page that reads empty or stale counters is fast for the wrong reason.
    assert rows > 0 and counted == rows, f"counters say {counted:,} messages, the table holds {rows:,}"
    with connection.cursor() as cur:
        cur.execute("SELECT id FROM campaigns_campaign WHERE name = 'Dash campaign 3'")
        campaign_id = cur.fetchone()[0]
    from datetime import date, timedelta

    today = date.today()
    year = f"/admin/?from={(today - timedelta(days=364)).isoformat()}&to={today.isoformat()}"
    out = {"rows": rows, "buckets": buckets}
    for label, url in [
        ("overview_30d", "/admin/"),
        ("overview_365d", year),
        ("campaign_page", f"/admin/campaigns/campaign/{campaign_id}/report/"),
        ("campaign_page_failed_tab", f"/admin/campaigns/campaign/{campaign_id}/report/?status=failed&page=3"),
        ("api_overview_30d", "/api/stats/overview/"),
        ("api_campaign", f"/api/campaigns/{campaign_id}/"),
    ]:
        p50, p95 = timed(client, url, repeat)
        out[label] = (round(p50, 1), round(p95, 1))
    # A plain admin list page: the fixed cost of rendering any unfold page on this machine.
    out["baseline_admin_page"] = tuple(round(x, 1) for x in timed(client, "/admin/contacts/tag/", repeat))
    # The data layer alone (what the pages compute), without template rendering.
    from campaigns import stats
    from campaigns.exports import recipients_queryset
    from campaigns.models import Campaign

    campaign = Campaign.objects.get(pk=campaign_id)

    def overview_data():
        stats.overview(today - timedelta(days=29), today)

    def campaign_data():
        s = stats.campaign_stats(campaign)
        stats.status_counts(campaign)
        stats.funnel(campaign, s)
        stats.failure_reasons(campaign)
        stats.campaign_hourly(campaign)
        list(recipients_queryset(campaign).select_related("contact").order_by("id")[:50])

    for label, func in [("data_overview_30d", overview_data), ("data_campaign_page", campaign_data)]:
        func()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            func()
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        out[label] = (round(statistics.median(times), 1), round(times[int(0.95 * (len(times) - 1))], 1))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    setup()
    results = []
    for size in [int(s) for s in args.sizes.split(",")]:
        print(f"size {size:,}", flush=True)
        generate(size)
        result = measure(args.repeat)
        print(result, flush=True)
        results.append(result)
    keys = ("data_overview_30d", "data_campaign_page", "overview_30d", "overview_365d", "campaign_page",
            "campaign_page_failed_tab", "api_overview_30d", "api_campaign", "baseline_admin_page")  # fmt: skip
    print("\n| message rows | counter rows | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 2) + "|")
    for r in results:
        cells = " | ".join(f"{r[k][0]} / {r[k][1]} ms" for k in keys)
        print(f"| {r['rows']:,} | {r['buckets']:,} | {cells} |")
    print("(p50 / p95, server time through Django's test client)")


if __name__ == "__main__":
    main()

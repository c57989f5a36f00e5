"""Dashboard benchmark: the overview and a campaign page at 1,000,000 and 10,000,000 message rows.

Generates, in PostgreSQL (its own database), message rows over 500 campaigns and a year of days
with INSERT … SELECT generate_series (2M rows a statement, the message table's secondary indexes
dropped for the load and rebuilt after it, no per-row FK triggers), and their bucketed counters
from one scan of the table (what the status service writes incrementally). A database already at
a size is reused and topped up: `--sizes 1000000,10000000` measures at 1M, then adds 9M rows and
measures again. Then times, server side (Django test client, logged in), the admin home with the
overview (30 days and a whole year), a campaign page, the API and a plain admin page: p50 / p95
ms, and the CPU ms per request of this process (what a loaded machine inflates least). The goal:
< 100 ms p50, the same at 1M and 10M rows (the pages read the counters, never the message table).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i10_dash DEBUG=False \
        .venv/bin/python bench/dashboard_bench.py --sizes 1000000,10000000
Options: --sizes 1000000,10000000 --repeat 15. DEBUG=False as in production.
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


INDEX_STASH = "bench_dash_dropped_indexes"  # secondary indexes dropped for a load, until rebuilt


def restore_indexes(cur) -> None:
    """Rebuild the secondary indexes a load dropped (also after a load that was interrupted)."""
    cur.execute(f"CREATE TABLE IF NOT EXISTS {INDEX_STASH} (name text PRIMARY KEY, definition text NOT NULL)")
    cur.execute(f"SELECT name, definition FROM {INDEX_STASH}")
    stashed = cur.fetchall()
    if not stashed:
        return
    print(f"  building {len(stashed)} indexes …", flush=True)
    t = time.perf_counter()
    cur.execute("SET maintenance_work_mem = '512MB'")
    for name, definition in stashed:
        cur.execute("SELECT 1 FROM pg_indexes WHERE schemaname = 'public' AND indexname = %s", [name])
        if not cur.fetchone():
            cur.execute(definition)
        cur.execute(f"DELETE FROM {INDEX_STASH} WHERE name = %s", [name])
    print(f"  indexes built in {time.perf_counter() - t:.0f} s", flush=True)


def drop_secondary_indexes(cur) -> None:
    """Drop the message table's indexes that back no constraint (rebuilt in one pass after the load)."""
    cur.execute(f"CREATE TABLE IF NOT EXISTS {INDEX_STASH} (name text PRIMARY KEY, definition text NOT NULL)")
    cur.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = 'public' "
        "AND i.tablename = 'messaging_message' AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)"
    )
    for name, definition in cur.fetchall():
        cur.execute(f"INSERT INTO {INDEX_STASH} VALUES (%s, %s) ON CONFLICT DO NOTHING", [name, definition])
        cur.execute(f'DROP INDEX IF EXISTS "{name}"')


def generate(total: int) -> None:
    """Top the message table up to `total` rows and rebuild the counters from it.

    Reuses what the database already holds (run 1M, then the same command tops up to 10M). For
    speed the load runs with the secondary indexes dropped (rebuilt after it, each in one sort)
    and without the row-by-row foreign-key triggers (the rows point at the campaigns and accounts
    made in setup()); the counters are rebuilt from a single scan of the table.
    """
    with connection.cursor() as cur:
        restore_indexes(cur)
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
        drop_secondary_indexes(cur)
        cur.execute("SET session_replication_role = replica")  # no per-row FK trigger during the load
        step = 2_000_000
        try:
            for offset in range(0, need, step):
                n = min(step, need - offset)
                # Each campaign k starts 17*k hours ago; its messages spread over its first 10 hours.
                cur.execute(
                    """
                    INSERT INTO messaging_message (account_id, campaign_id, contact_id, phone, direction, channel,
                        sender, text, template_name, template_language, variables, payload, status, is_marketing,
                        source, provider_message_id, reference, error_code, error_message, sent_at, delivered_at,
                        read_at, failed_at, price, currency, status_history, created_at, updated_at)
                    SELECT %(acc)s + (c %% 3), %(camp)s + c - 1, NULL, '+3933' || lpad(g::text, 9, '0'), 'outbound',
                        (ARRAY['sms','whatsapp','rcs'])[1 + c %% 3], '', 'x', '', '', '[]', '{}',
                        CASE WHEN r < 5 THEN 'failed' WHEN r < 30 THEN 'read' WHEN r < 95 THEN 'delivered'
                             ELSE 'sent' END,
                        true, 'campaign', 'pm' || g, 'b' || g, CASE WHEN r < 5 THEN '30008' ELSE '' END,
                        CASE WHEN r < 5 THEN 'The handset did not answer' ELSE '' END,
                        ts, CASE WHEN r >= 5 AND r < 95 THEN ts + interval '2 minutes' END,
                        CASE WHEN r >= 5 AND r < 30 THEN ts + interval '3 hours' END,
                        CASE WHEN r < 5 THEN ts + interval '1 minute' END, 0.05, 'EUR', '[]', ts, ts
                    FROM (
                        SELECT g, 1 + (g %% %(campaigns)s) AS c, (g::bigint * 7919) %% 100 AS r,
                               now() - ((1 + g %% %(campaigns)s) * interval '17 hours')
                                   + ((g / %(campaigns)s) %% 600) * interval '1 minute' AS ts
                        FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) g
                    ) s
                    """,
                    {"acc": first_account, "camp": first_campaign, "campaigns": CAMPAIGNS,
                     "lo": start + offset + 1, "hi": start + offset + n},
                )  # fmt: skip
                print(f"    {offset + n:,} / {need:,} ({time.perf_counter() - t:.0f} s)", flush=True)
        finally:
            cur.execute("SET session_replication_role = origin")
        restore_indexes(cur)
        print(
            f"  rebuilding the counters from the rows ({time.perf_counter() - t:.0f} s so far) …", flush=True
        )
        # One scan of the message table into small groups; every counter is a sum over them.
        cur.execute("DROP TABLE IF EXISTS bench_dash_groups")
        cur.execute(
            "CREATE TEMP TABLE bench_dash_groups AS SELECT campaign_id, account_id, channel, status, error_message,"
            " date_trunc('hour', created_at) AS created_hour, date_trunc('hour', delivered_at) AS delivered_hour,"
            " date_trunc('hour', read_at) AS read_hour, count(*) AS n, sum(price) AS price "
            "FROM messaging_message GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"
        )
        cur.execute("DELETE FROM messaging_messagestat")
        buckets = [
            ("created", "true", "created_hour", "''"),
            ("queued", "status = 'queued'", "created_hour", "''"),
            ("sent", "status IN ('sent','delivered','read')", "created_hour", "''"),
            ("failed", "status = 'failed'", "created_hour", "''"),
            ("failed_reason", "status = 'failed'", "created_hour", "error_message"),
            ("delivered", "delivered_hour IS NOT NULL", "delivered_hour", "''"),
            ("read", "read_hour IS NOT NULL", "read_hour", "''"),
            ("cohort_delivered", "delivered_hour IS NOT NULL", "created_hour", "''"),
            ("cohort_read", "read_hour IS NOT NULL", "created_hour", "''"),
        ]
        for metric, where, when, reason in buckets:
            cur.execute(
                f"INSERT INTO messaging_messagestat (campaign_id, account_id, channel, hour, metric, reason, count, cost) "
                f"SELECT campaign_id, account_id, channel, {when}, '{metric}', {reason}, sum(n), 0 "
                f"FROM bench_dash_groups WHERE {where} GROUP BY 1, 2, 3, 4, 6"
            )  # fmt: skip
        cur.execute(
            "INSERT INTO messaging_messagestat (campaign_id, account_id, channel, hour, metric, reason, count, cost) "
            "SELECT campaign_id, account_id, channel, created_hour, 'cost', 'EUR', 0, sum(price) "
            "FROM bench_dash_groups GROUP BY 1, 2, 3, 4"
        )
        cur.execute("DROP TABLE bench_dash_groups")
        cur.execute(
            "UPDATE campaigns_campaign c SET audience_count = s.n FROM (SELECT campaign_id, sum(count) n FROM "
            "messaging_messagestat WHERE metric = 'created' GROUP BY 1) s WHERE s.campaign_id = c.id"
        )
        cur.execute("ANALYZE messaging_message")
        cur.execute("ANALYZE messaging_messagestat")
        print(f"  data ready in {time.perf_counter() - t:.0f} s", flush=True)


def timed(client: Client, url: str, repeat: int) -> tuple[float, float, float]:
    """p50 and p95 wall ms, and the mean CPU ms of this process per request (what survives a loaded machine)."""
    client.get(url)  # warm
    times = []
    cpu = time.process_time()
    for _ in range(repeat):
        t = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    cpu_ms = (time.process_time() - cpu) * 1000 / repeat
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))], cpu_ms


def measure(repeat: int) -> dict:
    client = Client()
    # force_login: django-axes' backend refuses a login without a request (the test client's login has none).
    client.force_login(get_user_model().objects.get(username="dash"))
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
        out[label] = tuple(round(x, 1) for x in timed(client, url, repeat))
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
        cpu = time.process_time()
        for _ in range(repeat):
            t = time.perf_counter()
            func()
            times.append((time.perf_counter() - t) * 1000)
        cpu_ms = (time.process_time() - cpu) * 1000 / repeat
        times.sort()
        out[label] = (
            round(statistics.median(times), 1),
            round(times[int(0.95 * (len(times) - 1))], 1),
            round(cpu_ms, 1),
        )
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
        cells = " | ".join(f"{r[k][0]} / {r[k][1]} ({r[k][2]} cpu)" for k in keys)
        print(f"| {r['rows']:,} | {r['buckets']:,} | {cells} |")
    print("(p50 / p95 ms server time through Django's test client; in brackets: CPU ms per request of this")
    print(
        " process, which a loaded machine inflates far less than wall time)",
        "load average",
        Path("/proc/loadavg").read_text().split()[:3],
    )


if __name__ == "__main__":
    main()

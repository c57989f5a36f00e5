"""Click tracking benchmark: what tracked links cost the fan-out, and what a click costs the redirect.

Measures, on PostgreSQL, in one run (so the ratios survive a loaded machine):
  - writing every recipient's message row (materialize_recipients, COPY) with and without click
    tracking on the same audience: wall and CPU seconds (time.process_time) per 1,000 recipients,
    SQL statements per batch of 2,000 (tracking must add a constant: ids by reference + one INSERT);
  - checks: exactly one link per recipient and URL, codes unique, every text carries its own codes,
    the texts of the untracked run unchanged;
  - /r/<code> through the full Django stack (test Client): statements and CPU ms per click, for a
    person (counted) and for HEAD (not counted);
  - concurrent clicks (threads, one connection each) on one recipient's links: every click counted,
    the recipient counted once, the `clicked` counter equal to a count over the messages.

Runs on its own database (never the app's):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i10_clicks_bench .venv/bin/python bench/click_tracking.py
Options: --recipients 100000 --clicks 5000 --threads 8
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sb_i10_clicks_bench")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from bench.audience import ensure_audience  # noqa: E402
from campaigns.models import TrackedLink  # noqa: E402
from campaigns.services import create_campaign  # noqa: E402
from campaigns.services.fanout import WRITE_BATCH, materialize_recipients  # noqa: E402
from campaigns.services.links import short_url  # noqa: E402
from contacts.models import ContactList  # noqa: E402
from messaging.models import Message, ProviderAccount  # noqa: E402
from messaging.stats import campaign_totals  # noqa: E402

TEXT = "Ciao {{first_name}}, saldi -30% su https://www.negozio-demo.it/saldi?utm_source=sms e info su https://www.negozio-demo.it/info"
URLS = 2


def setup_db(n: int) -> tuple[ContactList, ProviderAccount]:
    if connection.vendor != "postgresql":
        sys.exit("click_tracking.py needs PostgreSQL (DATABASE_URL=postgres://…)")
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        for table in ("campaigns_trackedlink", "messaging_messagestat", "messaging_message",
                      "campaigns_campaigntransition", "campaigns_campaign_lists", "campaigns_campaign_exclude_lists",
                      "campaigns_campaign"):  # fmt: skip
            cur.execute(f"DELETE FROM {table}")
    account, _ = ProviderAccount.objects.get_or_create(
        provider="sandbox", name="Bench sandbox", defaults={"settings": {"seed": "bench"}}
    )
    contact_list = ensure_audience("Bench click audience", n, phone_prefix="+3935")
    return contact_list, account


def fan_out(account, contact_list, *, track: bool, n: int) -> dict:
    campaign = create_campaign({
        "name": f"bench clicks {'on' if track else 'off'}", "account": account, "channel": "sms", "text": TEXT,
        "lists": [contact_list], "rate_per_second": 1000, "track_clicks": track,
    })  # fmt: skip
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        written = materialize_recipients(campaign)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    assert written == n, (written, n)
    return {"campaign": campaign, "cpu": cpu, "wall": wall, "statements": len(queries)}


def check_links(campaign, n: int) -> None:
    links = TrackedLink.objects.filter(campaign=campaign)
    assert links.count() == n * URLS, links.count()
    assert links.values("code").distinct().count() == n * URLS
    assert links.values("message_id", "url").distinct().count() == n * URLS
    by_message: dict[int, list[str]] = {}
    for message_id, code in links.values_list("message_id", "code").iterator(chunk_size=10_000):
        by_message.setdefault(message_id, []).append(code)
    for message_id, text in Message.objects.filter(campaign=campaign).values_list("pk", "text").iterator(
        chunk_size=10_000
    ):
        codes = by_message[message_id]
        assert len(codes) == URLS and all(short_url(code) in text for code in codes), message_id
        assert "negozio-demo.it" not in text


def clicks(campaign, m: int) -> dict:
    codes = list(TrackedLink.objects.filter(campaign=campaign).values_list("code", flat=True)[: m * 3])
    rng = random.Random(1)
    picks = [rng.choice(codes) for _ in range(m)]
    client = Client()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    with CaptureQueriesContext(connection) as queries:
        for code in picks:
            assert client.get(f"/r/{code}").status_code == 302
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    with CaptureQueriesContext(connection) as head_queries:
        for code in picks[:200]:
            assert client.head(f"/r/{code}").status_code == 302
    total = sum(TrackedLink.objects.filter(campaign=campaign).values_list("clicks", flat=True))
    assert total == m, (total, m)
    clicked_rows = Message.objects.filter(campaign=campaign, clicked_at__isnull=False).count()
    people = TrackedLink.objects.filter(code__in=set(picks)).values("message_id").distinct().count()
    assert campaign_totals(campaign.pk)["clicked"] == clicked_rows == people, (clicked_rows, people)
    return {"clicks": m, "cpu_ms": 1000 * cpu / m, "wall_ms": 1000 * wall / m, "statements": len(queries) / m,
            "head_statements": len(head_queries) / 200, "clicked_rows": clicked_rows}  # fmt: skip


def concurrent(campaign, threads: int, per_thread: int) -> dict:
    message_id = TrackedLink.objects.filter(campaign=campaign, clicks=0).values_list("message_id", flat=True).first()
    codes = list(TrackedLink.objects.filter(message_id=message_id).values_list("code", flat=True))
    # The recipient's other link may already have clicks from clicks(): count what this run adds.
    clicks_before = sum(TrackedLink.objects.filter(message_id=message_id).values_list("clicks", flat=True))
    already_clicked = Message.objects.filter(pk=message_id, clicked_at__isnull=False).exists()
    before = campaign_totals(campaign.pk)["clicked"]
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(code):
        try:
            client = Client()
            barrier.wait()
            for _ in range(per_thread):
                assert client.get(f"/r/{code}").status_code == 302
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run, args=(codes[i % len(codes)],)) for i in range(threads)]
    t0 = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    wall = time.perf_counter() - t0
    assert not errors, errors[:3]
    total = sum(TrackedLink.objects.filter(message_id=message_id).values_list("clicks", flat=True)) - clicks_before
    after = campaign_totals(campaign.pk)["clicked"]
    rows = Message.objects.filter(campaign=campaign, clicked_at__isnull=False).count()
    assert total == threads * per_thread, total
    assert after - before == (0 if already_clicked else 1) and after == rows, (before, after, rows)
    return {"threads": threads, "clicks": threads * per_thread, "counted": total,
            "recipient_counted": after - before + already_clicked,
            "clicks_per_s": round(threads * per_thread / wall, 1)}  # fmt: skip


def load_average() -> str:
    return Path("/proc/loadavg").read_text().strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--clicks", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    setup_test_environment()  # the test Client needs it; ALLOWED_HOSTS gains "testserver"
    settings.DEBUG = False
    n = args.recipients
    contact_list, account = setup_db(n)
    print(f"load average: {load_average()}", flush=True)
    plain = fan_out(account, contact_list, track=False, n=n)
    tracked = fan_out(account, contact_list, track=True, n=n)
    check_links(tracked["campaign"], n)
    assert not TrackedLink.objects.filter(campaign=plain["campaign"]).exists()
    assert Message.objects.filter(campaign=plain["campaign"], text__contains="negozio-demo.it").count() == n
    batches = -(-n // WRITE_BATCH)
    extra = (tracked["statements"] - plain["statements"]) / batches
    print(f"fan-out of {n:,} recipients, {URLS} links each ({batches} batches of {WRITE_BATCH}):")
    for name, r in (("untracked", plain), ("tracked", tracked)):
        print(f"  {name:9}: {r['wall']:.2f} s wall, {1000 * r['cpu'] / n:.3f} CPU s per 1,000 recipients, "
              f"{r['statements']} statements")  # fmt: skip
    print(f"  tracking adds {extra:.1f} logged statements + 1 COPY per batch (constant), CPU x{tracked['cpu'] / plain['cpu']:.2f}, "
          f"wall x{tracked['wall'] / plain['wall']:.2f}; {n * URLS:,} links, all unique, texts checked")  # fmt: skip
    c = clicks(tracked["campaign"], args.clicks)
    print(f"redirect /r/<code>, {c['clicks']:,} clicks through the Django stack: {c['statements']:.1f} statements (with "
          f"BEGIN/COMMIT) "
          f"and {c['cpu_ms']:.2f} CPU ms per click ({c['wall_ms']:.2f} ms wall); HEAD {c['head_statements']:.1f} "
          f"statements; {c['clicked_rows']:,} recipients clicked = the counter")  # fmt: skip
    k = concurrent(tracked["campaign"], args.threads, 25)
    print(f"concurrent: {k['threads']} threads, {k['clicks']} clicks on one recipient's links → {k['counted']} counted, "
          f"recipient counted {k['recipient_counted']} time; {k['clicks_per_s']} clicks/s")  # fmt: skip
    print(f"load average: {load_average()}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Sync at scale against the provider fakes, with their documented rate limits enforced.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_syncbench .venv/bin/python bench/sync_bench.py \
        [--pull 100000] [--push 2500] [--spoki 1000]

Without DATABASE_URL it uses a throw-away SQLite file in /tmp. The database is dropped and
re-created on every run. Phases (each a real SyncRun through sync_account, over HTTP on
127.0.0.1 to a fake that answers 429 past its documented limit):

1. push: --push local contacts to an empty Qlara fake (contacts one by one; 1,000/min with
   50/s bursts), then --spoki contacts to the Spoki fake (sync_all, 500 per call, 1 call/min);
2. pull: --pull contacts from a Qlara fake into an empty book (pages of 1,000);
3. no-change re-sync of those contacts (pull and push, both directions): everything unchanged.

For each: records/s, requests and the share of the rate limit used (the fastest the limit
allows over the time taken), queries per record, and RSS (sampled every 0.2 s; the fakes run
in this process, so their own state is included).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/sb_syncbench.sqlite3")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
# As in production: with DEBUG on, Django keeps the SQL of the last 9,000 queries (each bulk
# INSERT of a page is ~0.5 MB of text), which would pass for memory growth in the engine.
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def reset_database() -> None:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        Path(db["NAME"]).unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    connection.close()
    call_command("migrate", verbosity=0)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Meter:
    """Time, queries, RSS samples and HTTP requests for one phase."""

    def __init__(self, fake):
        self.fake = fake

    def __enter__(self):
        self.queries = 0
        self.samples: list[float] = []
        self.stop = threading.Event()

        def sample():
            while not self.stop.is_set():
                self.samples.append(rss_mb())
                time.sleep(0.2)

        self.thread = threading.Thread(target=sample, daemon=True)
        self.rss_before = rss_mb()
        self.requests_before = len(self.fake.journal)
        self.wrapper = connection.execute_wrapper(self._count)
        self.wrapper.__enter__()
        self.thread.start()
        self.started = time.perf_counter()
        return self

    def _count(self, execute, sql, params, many, context):
        self.queries += 1
        return execute(sql, params, many, context)

    def __exit__(self, *exc):
        self.elapsed = time.perf_counter() - self.started
        self.wrapper.__exit__(*exc)
        self.stop.set()
        self.thread.join()
        self.requests = len(self.fake.journal) - self.requests_before
        self.rss_after = rss_mb()
        self.rss_peak = max([*self.samples, self.rss_after])


def ideal_seconds(requests: int, limits: list[tuple[int, float]]) -> float:
    """The least time `requests` calls can take under token buckets that start full."""
    return max([0.0] + [max(0.0, (requests - calls) * per / calls) for calls, per in limits])


def report(title: str, run, meter: Meter, records: int, limits: list[tuple[int, float]], limit_words: str):
    rate = records / meter.elapsed if meter.elapsed else 0
    ideal = ideal_seconds(meter.requests, limits)
    share = (
        f"{100 * ideal / meter.elapsed:.0f} %" if ideal >= 1 else "not rate-bound (limit allows it at once)"
    )
    print(f"\n## {title}")
    print(f"run #{run.pk}: {run.status}; counts {run.counts()}")
    if run.error:
        print(f"error: {run.error}")
    print(f"records {records:,} in {meter.elapsed:.1f} s = {rate:,.0f} records/s")
    per_min = meter.requests * 60 / meter.elapsed if meter.elapsed else 0
    sustained = min(calls * 60 / per for calls, per in limits)
    print(f"HTTP requests {meter.requests:,} = {per_min:,.0f}/min; limit {limit_words}")
    print(
        f"share of the sustained limit ({sustained:,.0f}/min): {100 * per_min / sustained:.0f} %; "
        f"counting the bucket's full start (ideal {ideal:.1f} s): {share}"
    )
    print(f"queries {meter.queries:,} = {meter.queries / max(records, 1):.3f} per record")
    print(
        f"RSS before {meter.rss_before:.0f} MB, peak {meter.rss_peak:.0f} MB, after {meter.rss_after:.0f} MB"
    )
    if len(meter.samples) >= 8:
        quarters = [meter.samples[len(meter.samples) * q // 4] for q in (1, 2, 3)]
        print("RSS at 25/50/75 % of the phase: " + ", ".join(f"{v:.0f} MB" for v in quarters))
    return {
        "title": title,
        "records": records,
        "seconds": meter.elapsed,
        "rate": rate,
        "requests": meter.requests,
        "share": share,
        "queries_per_record": meter.queries / max(records, 1),
        "rss_before": meter.rss_before,
        "rss_peak": meter.rss_peak,
        "status": run.status,
        "counts": run.counts(),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pull", type=int, default=100_000)
    parser.add_argument("--push", type=int, default=2_500)
    parser.add_argument("--spoki", type=int, default=1_000)
    args = parser.parse_args()

    reset_database()
    from contacts.models import Contact
    from messaging.models import ProviderAccount
    from messaging.sync.models import RemoteLink
    from messaging.sync.services import sync_account
    from tests.fakes.base import serve
    from tests.fakes.qlara import QlaraFake
    from tests.fakes.spoki import SpokiFake

    print(f"# sync bench on {connection.vendor} ({settings.DATABASES['default']['NAME']}), "
          f"Python {platform.python_version()}, {os.cpu_count()} cores")  # fmt: skip
    results = []
    servers = []

    def account(fake, provider, name, credentials):
        server = serve(fake)
        servers.append(server)
        fake.rate_limit = fake.DOCUMENTED_LIMIT
        return ProviderAccount.objects.create(
            provider=provider, name=name, base_url=server.url, credentials=credentials,
            settings={"sender": "BENCH"}, sync_interval_minutes=0,
        )  # fmt: skip

    def fresh_book(n: int) -> None:
        RemoteLink.objects.all().delete()
        Contact.all_objects.all().delete()
        Contact.objects.bulk_create(
            [Contact(phone=f"+39347{i:07d}", first_name=f"Push{i}", last_name="Bench", email=f"p{i}@example.com")
             for i in range(n)],
            batch_size=5000,
        )  # fmt: skip

    # 1. push -------------------------------------------------------------------------------
    if args.push:
        fresh_book(args.push)
        fake = QlaraFake(api_key="bench")
        acc = account(fake, "qlara", "Qlara push", {"api_key": "bench"})
        with Meter(fake) as meter:
            run = sync_account(acc, "contacts", "push", trigger="cli")
        results.append(report("Push to Qlara, one by one", run, meter, args.push,
                              [(1000, 60.0), (50, 1.0)], "1,000/min, 50/s bursts"))  # fmt: skip
        print(f"fake holds {len(fake.contacts):,} contacts; answered 429 {fake.rate_limited_count} times")
    if args.spoki:
        fresh_book(args.spoki)
        fake = SpokiFake(api_key="bench")
        acc = account(fake, "spoki", "Spoki push", {"api_key": "bench"})
        with Meter(fake) as meter:
            run = sync_account(acc, "contacts", "push", trigger="cli")
        results.append(report("Push to Spoki, sync_all (500 per call)", run, meter, args.spoki,
                              [(1, 60.0)], "sync_all 1 call/min"))  # fmt: skip
        print(f"fake holds {len(fake.contacts):,} contacts; answered 429 {fake.rate_limited_count} times")

    # 2. pull into an empty book ----------------------------------------------------------------
    if args.pull:
        RemoteLink.objects.all().delete()
        Contact.all_objects.all().delete()
        fake = QlaraFake(api_key="bench")
        fake.seed_contacts(args.pull)
        acc = account(fake, "qlara", "Qlara pull", {"api_key": "bench"})
        with Meter(fake) as meter:
            run = sync_account(acc, "contacts", "pull", trigger="cli")
        results.append(report(f"Pull {args.pull:,} from Qlara into an empty book", run, meter, args.pull,
                              [(1000, 60.0), (50, 1.0)], "1,000/min, 50/s bursts"))  # fmt: skip

        # 3. no-change re-sync, both directions -------------------------------------------------
        with Meter(fake) as meter:
            run = sync_account(acc, "contacts", "both", trigger="cli")
        results.append(report(f"No-change re-sync of {args.pull:,} (pull + push)", run, meter, args.pull,
                              [(1000, 60.0), (50, 1.0)], "1,000/min, 50/s bursts"))  # fmt: skip

    for server in servers:
        server.stop()
    return results


if __name__ == "__main__":
    main()

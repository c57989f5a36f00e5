#!/usr/bin/env python
"""100,000 contacts added to a list with an active automation (add tag + start a Spoki automation).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i12_bench .venv/bin/python bench/automation_bench.py [--contacts 100000]

Without DATABASE_URL it uses a throw-away SQLite file in /tmp. Every table is emptied first. The
Spoki fake runs in its own process (this script with --serve-fake) on 127.0.0.1, real HTTP, so the
time and CPU measured are the engine's, not the fake's competing for the same interpreter.

Measures, from the moment contacts.services.add_to_list is called until every run is recorded
and every action dispatched (the worker's drain loop, run here in-process batch by batch):
wall time; queries per batch (first, median, max — O(1) means they do not grow with the
batch or with the table); Spoki calls (the bulk form, <= 500 contacts per call); then a second
identical trigger (the same contacts added again, and every event replayed as if redelivered)
must create zero runs. Figures that survive a loaded machine are printed too: statements per
batch and per 1,000 contacts, and CPU seconds (time.process_time, this process only) per 1,000
contacts, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/sb_i12_bench.sqlite3")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("AUTOMATIONS_SENDING_WINDOW", "")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def reset_database() -> None:
    """Migrate, then empty every table (TRUNCATE): a clean book without DROP DATABASE, which
    waits on every backend of a shared server."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        Path(db["NAME"]).unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone():
                conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    connection.close()
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


class QueryCounter:
    """Counts statements, and their time by the statement's first 70 characters."""

    def __init__(self):
        self.count = 0
        self.time: dict[str, float] = {}

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        t = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            key = sql[:70]
            self.time[key] = self.time.get(key, 0.0) + time.perf_counter() - t


def indexed_spoki_fake():
    """The Spoki fake as the tests use it: it finds a contact by phone through its own index, so
    100,000 contacts started in bulk cost it no scan or copy of its book (an earlier subclass here
    copied the whole book for every new contact: 79 s of the measured time went to that)."""
    from tests.fakes.spoki import SpokiFake

    return SpokiFake(api_key="bench-key")


def serve_fake() -> None:
    """Child process: serve the Spoki fake; answer "stats" on stdin with one JSON line; "stop" ends."""
    from tests.fakes.base import serve

    server = serve(indexed_spoki_fake())
    fake = server.fake
    flow = fake.seed_automation("Onboarding VIP")
    print(json.dumps({"url": server.url, "flow": flow["id"]}), flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            calls = fake.requests_to("POST", r"^/wh/ap/")
            sizes = [len((r.json or {}).get("contacts", [None])) for r in calls]
            print(json.dumps({"calls": len(calls), "max": max(sizes, default=0), "min": min(sizes, default=0),
                              "started": len(fake.automation_runs)}), flush=True)  # fmt: skip
        else:
            break
    server.stop()


class FakeProcess:
    """The Spoki fake in a child process (its own interpreter and GIL), on loopback."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--serve-fake"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)  # fmt: skip
        hello = json.loads(self.proc.stdout.readline())
        self.url, self.flow_id = hello["url"], hello["flow"]

    def stats(self) -> dict:
        self.proc.stdin.write("stats\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def stop(self) -> None:
        self.proc.stdin.write("stop\n")
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    if "--serve-fake" in sys.argv:
        serve_fake()
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="print the drain's top functions (cProfile)")
    parser.add_argument("--batch", type=int, default=None, help="events per batch (default: the engine's)")
    args = parser.parse_args()
    load_before = loadavg()
    reset_database()

    from automations import services
    from automations.engine import BATCH, drain_events
    from automations.models import AutomationRun, AutomationStep
    from contacts import services as contact_services
    from contacts.events import ContactEvent
    from contacts.models import Contact, ContactList, Tag
    from messaging.models import ProviderAccount
    fake = FakeProcess()
    account = ProviderAccount.objects.create(provider="spoki", name="Spoki bench", base_url=fake.url,
                                             credentials={"api_key": "bench-key"})  # fmt: skip
    services.pull_provider_automations(account)
    remote = account.provider_automations.get(remote_id=str(fake.flow_id))
    vip = ContactList.objects.create(name="VIP")
    Tag.objects.create(name="vip")

    t0 = time.perf_counter()
    n = args.contacts
    for start in range(0, n, 10_000):
        Contact.objects.bulk_create(
            [
                Contact(phone=f"+39320{i:07d}", first_name=f"Nome{i}")
                for i in range(start, min(n, start + 10_000))
            ],
            batch_size=10_000,
        )
    ids = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    args.batch = args.batch or BATCH
    print(f"{n:,} contacts generated in {time.perf_counter() - t0:.1f} s")

    automation = services.save_automation({
        "name": "VIP onboarding", "enabled": True, "trigger": {"type": "list_added", "list": vip.pk},
        "actions": [{"type": "add_tag", "tag": "vip"},
                    {"type": "start_provider_automation", "account": account.pk, "automation": remote.pk,
                     "variables": {"NOME": "{{first_name}}"}}],
    })  # fmt: skip

    # The worker's loop is driven here, batch by batch, to count queries per batch: no post-commit
    # kicks (with Celery eager they would drain inside add_to_list).
    from contacts.events import events_recorded

    events_recorded.disconnect(dispatch_uid="automations-kick")
    # Time spent waiting on the fake (another process): the wall time that is not the engine's.
    from messaging.providers.spoki.automations import SpokiAutomationsMixin

    waited = [0.0]
    original_start = SpokiAutomationsMixin.start_provider_automation

    def timed_start(self, *a, **kw):
        t = time.perf_counter()
        try:
            return original_start(self, *a, **kw)
        finally:
            waited[0] += time.perf_counter() - t

    SpokiAutomationsMixin.start_provider_automation = timed_start
    counter = QueryCounter()
    per_batch: list[int] = []
    started = time.perf_counter()
    contact_services.add_to_list(vip, ids, source="bench")
    recorded = time.perf_counter()
    cpu_started = time.process_time()
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with connection.execute_wrapper(counter):
        while True:
            before = counter.count
            totals = drain_events(batch_size=args.batch, max_batches=1)
            if not totals["batches"]:
                break
            per_batch.append(counter.count - before)
    finished = time.perf_counter()
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    cpu = time.process_time() - cpu_started
    load_after = loadavg()

    runs = AutomationRun.objects.filter(automation=automation)
    first_runs = runs.count()
    succeeded = runs.filter(status="succeeded").count()
    steps = AutomationStep.objects.filter(run__automation=automation).count()
    tagged = Tag.objects.get(name="vip").contacts.count()
    remote_stats = fake.stats()
    calls, started_remote = remote_stats["calls"], remote_stats["started"]

    # A second identical trigger: the same contacts again (no new members → no events), and
    # every event replayed as if a worker had died before marking it consumed.
    again_added = contact_services.add_to_list(vip, ids, source="bench")
    drain_events(batch_size=args.batch)
    ContactEvent.objects.update(consumed_at=None)
    replay = drain_events(batch_size=args.batch)
    runs_after = runs.count()
    # A figure only counts if the work was done: one run per contact, every tag added, every
    # contact started on the fake, and the replay creating nothing.
    assert first_runs == n, f"{first_runs:,} runs recorded for {n:,} contacts"
    assert tagged == n, f"{tagged:,} contacts tagged for {n:,}"
    assert started_remote == n, f"the Spoki fake started {started_remote:,} of {n:,} contacts"
    assert runs_after == first_runs, f"the second trigger created {runs_after - first_runs:,} runs"

    fake.stop()
    total = finished - started
    print(f"machine: {platform.node()} · {os.cpu_count()} cores · "
          f"{connection.vendor} · Python {platform.python_version()}")  # fmt: skip
    print(f"events recorded (add_to_list, {n:,} members): {recorded - started:.1f} s")
    print(f"every run recorded and every action dispatched: {total:.1f} s "
          f"({'OK' if total < 60 else 'OVER'} < 60 s) — {n / total:,.0f} contacts/s")  # fmt: skip
    print(
        f"runs succeeded: {succeeded:,} / {n:,}; steps {steps:,}; tagged {tagged:,}; Spoki started {started_remote:,}"
    )
    print(f"load average: {load_before} before, {load_after} after the drain")
    print(f"CPU (this process, the fake excluded): {cpu:.1f} s — {cpu / n * 1000:.3f} CPU s per 1,000 contacts")
    print(f"batches: {len(per_batch)} of {args.batch} events; statements per batch: first {per_batch[0]}, "
          f"median {statistics.median(per_batch):.0f}, max {max(per_batch)}; "
          f"{sum(per_batch) / n * 1000:.1f} statements per 1,000 contacts")  # fmt: skip
    print(f"Spoki calls: {calls} ({'OK' if calls <= 200 else 'OVER'} <= 200); "
          f"contacts per call: max {remote_stats['max']}, min {remote_stats['min']}")  # fmt: skip
    print(f"second identical trigger: {again_added} new members, replay of {replay['events']:,} events → "
          f"{runs_after - n} new runs ({'OK' if runs_after == n else 'FAILED'})")  # fmt: skip
    sql = sum(counter.time.values())
    print(f"of the drain's {finished - recorded:.1f} s: SQL {sql:.1f} s, waiting on the Spoki fake {waited[0]:.1f} s, "
          f"the rest (Python) {finished - recorded - sql - waited[0]:.1f} s")  # fmt: skip
    slowest = sorted(counter.time.items(), key=lambda kv: -kv[1])[:6]
    print("slowest statements (total s): " + "; ".join(f"{t:.1f} {sql!r}" for sql, t in slowest))


if __name__ == "__main__":
    main()

"""The webhook drain alone: N stored events → processed, timed in this process (issue 11's drain goal).

    .venv/bin/python bench/webhook_drain_bench.py [--events 20000] [--batch 200]

1. (Re)creates its own database (sb_i11_drain_bench), migrates it and writes the data the events
   refer to, with webhook_bench.py's plan: the four providers' real payload shapes, 10 % exact
   retries, 1 % forgeries, a few inbound replies; one sent message per message id.
2. Stores every request through the real hot path (receive_webhook, in process: no HTTP), and
   checks each answer (200 for events and retries, 401 for forgeries).
3. Drains the backlog with drain_webhook_events in this one process (one core), counting SQL
   statements and CPU time, until nothing is waiting.
4. Verifies as webhook_bench.py does: every distinct event processed once, every message at the
   status its events lead to with no status recorded twice, counters equal to the rows.

Prints delivery updates/s and events/s, CPU seconds per 1,000 events, statements per batch and
per event, and the load average. Goal: well over 500 updates/s on one core (a 20,000-event
backlog gone within a minute).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import webhook_bench as wb  # bench/ is on sys.path when run as a script

wb.DB_NAME = os.environ.get("BENCH_DRAIN_DB", "sb_i11_drain_bench")


def split_request(raw: bytes) -> tuple[str, str, str, dict, bytes]:
    """A prepared raw HTTP request → (method, token, query, headers, body)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = dict(line.split(": ", 1) for line in lines[1:])
    url = urlsplit(target)
    token = url.path.strip("/").split("/")[-1]
    return method, token, url.query, headers, body


class Statements:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000, help="webhook requests to store, then drain")
    parser.add_argument(
        "--batch", type=int, default=None, help="drain batch size (default WEBHOOK_DRAIN_BATCH)"
    )
    args = parser.parse_args()

    print(f"setting up {wb.DB_NAME} …", flush=True)
    wb.setup_database()
    wb.django_setup(0)
    from django.db import connection

    from messaging.models import WebhookEvent
    from messaging.webhooks import drain
    from messaging.webhooks.receive import receive_webhook

    accounts = wb.make_accounts()
    plan = wb.Plan(args.events)
    plan.build(accounts, 0)
    wb.create_data(plan.messages, accounts)
    kinds, statuses = [], []
    t0 = time.perf_counter()
    for kind, raw, _provider in plan.requests:
        method, token, query, headers, body = split_request(raw)
        statuses.append(receive_webhook(token, method, headers, body, query).status)
        kinds.append(kind)
    store_s = time.perf_counter() - t0
    waiting = WebhookEvent.objects.filter(status="received").count()
    print(f"stored {len(plan.requests)} requests in {store_s:.1f} s; {waiting} events waiting "
          f"({plan.distinct} distinct, {plan.duplicates} retries, {plan.forged} forged)", flush=True)  # fmt: skip

    statements = Statements()
    batches = 0
    totals: Counter = Counter()
    t1, cpu1 = time.perf_counter(), time.process_time()
    profiler = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    with connection.execute_wrapper(statements):
        while True:
            counts = drain.drain_batch(args.batch)
            if not counts:
                break
            batches += 1
            totals.update(counts)
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    drain_s, drain_cpu = time.perf_counter() - t1, time.process_time() - cpu1
    processed = sum(totals.values())
    updates = sum(
        n
        for outcome in WebhookEvent.objects.filter(status="processed").values_list("outcome", flat=True)
        for n in (outcome or {}).get("deliveries", {}).values()
    )
    result = wb.verify(plan, kinds, statuses)
    load = Path("/proc/loadavg").read_text().strip()
    print()
    print(f"drained {processed} events ({updates} delivery updates) in {drain_s:.1f} s, {batches} batches; "
          f"by status {dict(totals)}")  # fmt: skip
    print(f"delivery updates/s  : {updates / drain_s:8.0f}   (events/s {processed / drain_s:.0f})")
    print(
        f"CPU per 1,000 events: {1000 * drain_cpu / max(1, processed):8.3f} s (this process; PostgreSQL not included)"
    )
    print(f"statements          : {statements.count / max(1, batches):.1f} per batch, "
          f"{statements.count / max(1, processed):.3f} per event")  # fmt: skip
    print(f"load average        : {load}")
    if result["problems"]:
        print("PROBLEMS:")
        for p in result["problems"]:
            print("  -", p)
        return 1
    print("verified: every distinct event processed once; message statuses and counters exact")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Webhooks in under load: gunicorn + PostgreSQL, driven from this process over loopback.

    .venv/bin/python bench/webhook_bench.py [--events 30000] [--trivial 15000] [--workers 2]
        [--threads 64] [--concurrency 128] [--clients 2] [--drain-after | --no-drain]

What it does, in one run:
1. (Re)creates its own database sb_i11_bench, migrates it, and writes the data the events refer
   to: four provider accounts (Spoki with its signing secret, MyOperator with a static-header
   secret, Qlara and Spryng authenticated by the URL token) and one sent outbound message per
   message id the events mention.
2. Starts gunicorn (config.wsgi with the production config/gunicorn.conf.py, gthread workers: the group commit in
   messaging/webhooks/group_commit.py needs many request threads per process to share a commit)
   and a Celery worker on the `webhooks` queue (Redis db 11), as production would run them
   (--drain-after starts the worker only once the load has stopped, to measure ingest alone).
3. Measures a trivial Django view (bench/bench_urls.py, full middleware stack) under the same
   gunicorn: the ceiling of this machine.
4. Sends a bounded number of webhook requests: the four providers' payload shapes (built from
   tests/fixtures), 10 % exact duplicates (retries), 1 % forged (bad Spoki signature, wrong
   MyOperator header). Every request is prepared before the clock starts (Spoki's signature
   window is 300 s, the run is far shorter). The client is `--clients` forked processes, each a
   non-blocking raw-socket loop sending pre-built bytes, `--concurrency` connections in flight
   in all, one connection per request (`Connection: close`, as the providers call us); the
   trivial view is driven by the very same client. Besides the rates it prints figures that
   survive a loaded machine: CPU ms per request of the gunicorn processes, of the PostgreSQL
   backends and of the client, and database transactions per accepted event.
5. Waits for the drain backlog to reach zero, then verifies: every distinct event stored once
   and processed once, every duplicate counted as such, every forgery refused and stored as
   refused, every message at the status its events lead to with one history entry per status,
   counters equal to a count over the rows.

Goal (issue 11): ≥ 2,000 accepted events/s, ≥ 60 % of the trivial view, zero lost, zero
doubled, backlog back to zero within a minute of the load stopping.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB_NAME = os.environ.get("BENCH_DB", "sb_i11_bench")
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/11")
FIXTURES = ROOT / "tests" / "fixtures"
SPOKI_SECRET = "whsec_bench_" + "5a" * 16
MYOP_SECRET = "bench-myoperator-header-secret"


def env_for_children(port: int) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": f"{PG}/{DB_NAME}",
        "CELERY_BROKER_URL": REDIS,
        "DJANGO_SETTINGS_MODULE": "bench.bench_settings",
        "DEBUG": "False",
        "CONN_MAX_AGE": "600",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SWITCHBOARD_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_KICK_SECONDS": "1",
    }


def setup_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    env = env_for_children(0)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)


def django_setup(port: int) -> None:
    os.environ.update(env_for_children(port))
    import django

    django.setup()


# --- the data and the requests ---------------------------------------------------------------------


def _fixture(path: str):
    return json.loads((FIXTURES / path).read_text())


class Plan:
    """Every request to send, prepared up front, with what the database must show afterwards."""

    def __init__(self, n_events: int, seed: int = 11):
        self.rng = random.Random(seed)
        self.n_events = n_events
        self.requests: list[tuple[str, bytes, str]] = []  # (kind, raw HTTP request, provider)
        self.expected_final: dict[tuple[int, str], str] = {}  # (account_id, remote id) → status
        self.messages: list[tuple[int, str, str, str]] = []  # account_id, remote id, phone, reference
        self.distinct = 0
        self.duplicates = 0
        self.forged = 0
        self.inbound = 0

    def build(self, accounts: dict, port: int) -> None:
        from messaging.providers.spoki.webhooks import sign_v2

        spoki_t = _fixture("spoki/webhooks_webhooks_body_content_message_sent.json")["request_body"]
        myop_delivered = json.loads(
            (FIXTURES / "myoperator/webhooks/webhooks_new_message_delivered_1.json").read_text()
        )
        myop_read = json.loads(
            (FIXTURES / "myoperator/webhooks/webhooks_new_message_read_1.json").read_text()
        )
        qlara_rows = [
            r["body"] for r in _fixture("qlara/markdown_examples.json") if isinstance(r.get("body"), dict)
        ]
        qlara = [b for b in qlara_rows if "eventType" in b]
        qlara_delivery, qlara_read, qlara_inbound = qlara[1], qlara[2], qlara[3]
        now = int(time.time())
        originals: list[tuple[str, bytes, str]] = []
        mix = ["spoki"] * 30 + ["myoperator"] * 30 + ["qlara"] * 25 + ["spryng"] * 15
        n_distinct = int(self.n_events / 1.11)  # 10 % of the total are duplicates, 1 % forgeries
        seq = 0
        while len(originals) < n_distinct:
            provider = self.rng.choice(mix)
            seq += 1
            account = accounts[provider]
            phone = f"+3933{seq:08d}"
            reference = f"bench-{provider}-{seq}"
            remote_id = uuid.UUID(int=self.rng.getrandbits(128)).hex
            if provider == "qlara" and self.rng.random() < 0.03:  # a reply from a new contact
                body = json.dumps({**qlara_inbound, "messageId": remote_id, "source": phone,
                                   "text": "Grazie!"}).encode()  # fmt: skip
                originals.append(("event", post(account, body, port), provider))
                self.inbound += 1
                continue
            self.messages.append((account.pk, remote_id, phone, reference))
            statuses = ["delivered"] if provider == "spryng" else ["delivered", "read"]
            self.expected_final[(account.pk, remote_id)] = statuses[-1]
            for status in statuses:
                if provider == "spoki":
                    data = {**spoki_t["data"], "uuid": remote_id, "to_phone": phone, "send_status": status.title(),
                            "metadata": {"reference": reference}}  # fmt: skip
                    payload = {**spoki_t, "event_uuid": str(uuid.uuid4()), "data": data}
                    body = json.dumps(payload).encode()
                    headers = {"X-Spoki-Signature": sign_v2(body, SPOKI_SECRET, now), "X-SPOKI-ACCOUNT": "1"}
                    originals.append(("event", post(account, body, port, headers), provider))
                elif provider == "myoperator":
                    template = myop_delivered if status == "delivered" else myop_read
                    message = {**template["payload"], "id": remote_id,
                               "metadata": {**template["payload"].get("metadata", {}), "myop_ref_id": reference}}  # fmt: skip
                    payload = {**template, "event_id": str(uuid.uuid4()), "payload": message,
                               "customer_identifier": phone.lstrip("+")}  # fmt: skip
                    body = json.dumps(payload).encode()
                    originals.append(
                        ("event", post(account, body, port, {"X-Webhook-Token": MYOP_SECRET}), provider)
                    )
                elif provider == "qlara":
                    template = qlara_delivery if status == "delivered" else qlara_read
                    body = json.dumps({**template, "messageId": remote_id, "destination": phone}).encode()
                    originals.append(("event", post(account, body, port), provider))
                else:
                    query = urlencode({"ID": remote_id, "RECIPIENT": phone.lstrip("+"), "STATUS": "10",
                                       "REASONCODE": "0", "REFERENCE": reference,
                                       "OPERATOR_STATUS_AT": "20240102030409"})  # fmt: skip
                    originals.append(("event", get(account, query, port), provider))
        self.distinct = len(originals)
        requests = list(originals)
        for _ in range(int(self.n_events * 0.10)):  # retries: the very same request again
            requests.append(("duplicate", self.rng.choice(originals)[1], "dup"))
            self.duplicates += 1
        for i in range(max(1, int(self.n_events * 0.01))):
            if i % 2:
                body = (
                    b'{"version":1,"event":"message.outbound","data":{"uuid":"forged","send_status":"Read"}}'
                )
                headers = {"X-Spoki-Signature": sign_v2(body, "whsec_guessed", now)}
                requests.append(("forged", post(accounts["spoki"], body, port, headers), "spoki"))
            else:
                body = json.dumps({**myop_read, "event_id": "forged"}).encode()
                requests.append(("forged", post(accounts["myoperator"], body, port, {"X-Webhook-Token": "guess"}),
                                 "myoperator"))  # fmt: skip
            self.forged += 1
        self.rng.shuffle(requests)
        self.requests = requests


def _request(method: str, path: str, port: int, body: bytes = b"", headers=None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             "User-Agent: webhook-bench"]  # fmt: skip
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def post(account, body: bytes, port: int, headers=None) -> bytes:
    return _request("POST", f"/hooks/{account.webhook_token}/", port, body, headers)


def get(account, query: str, port: int) -> bytes:
    return _request("GET", f"/hooks/{account.webhook_token}/?{query}", port)


def create_data(plan_messages, accounts) -> None:
    from messaging.models import Message

    rows = [
        Message(account_id=account_id, phone=phone, direction="outbound", channel="whatsapp", text="Bench",
                status="sent", provider_message_id=remote_id, reference=reference, source="bench")
        for account_id, remote_id, phone, reference in plan_messages
    ]  # fmt: skip
    Message.objects.bulk_create(rows, batch_size=2000)


def make_accounts() -> dict:
    from messaging.models import ProviderAccount

    spec = {
        "spoki": {"webhook_secret": SPOKI_SECRET},
        "myoperator": {"webhook_secret": MYOP_SECRET},
        "qlara": {},
        "spryng": {},
    }
    return {
        slug: ProviderAccount.objects.create(
            provider=slug, name=f"Bench {slug}", credentials={"api_key": "k"}, **extra
        )
        for slug, extra in spec.items()
    }


# --- the client -------------------------------------------------------------------------------------


def drive(port: int, requests: list[bytes], concurrency: int, timeout: float = 600.0, start_at: float = 0.0):
    """Send every request over its own connection, `concurrency` at a time. → (statuses, latencies, secs)."""
    sel = selectors.DefaultSelector()
    pending = list(reversed(range(len(requests))))
    statuses: list[int] = [0] * len(requests)
    latencies: list[float] = [0.0] * len(requests)
    inflight = 0
    while time.perf_counter() < start_at:
        time.sleep(0.001)
    started = time.perf_counter()

    def launch():
        nonlocal inflight
        i = pending.pop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        sel.register(
            sock, selectors.EVENT_WRITE, [i, memoryview(requests[i]), bytearray(), time.perf_counter()]
        )
        inflight += 1

    while pending and inflight < concurrency:
        launch()
    while inflight:
        if time.perf_counter() - started > timeout:
            raise RuntimeError("the load run took longer than its bound")
        for key, mask in sel.select(timeout=5):
            sock, state = key.fileobj, key.data
            if mask & selectors.EVENT_WRITE:
                try:
                    sent = sock.send(state[1])
                except (BlockingIOError, InterruptedError):
                    continue
                state[1] = state[1][sent:]
                if not state[1]:
                    sel.modify(sock, selectors.EVENT_READ, state)
                continue
            try:
                chunk = sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except ConnectionError:
                chunk = b""
            if chunk:
                state[2] += chunk
                continue
            sel.unregister(sock)
            sock.close()
            inflight -= 1
            head = bytes(state[2][:16])
            statuses[state[0]] = int(head.split()[1]) if head.startswith(b"HTTP/") else -1
            latencies[state[0]] = time.perf_counter() - state[3]
            if pending:
                launch()
    return statuses, latencies, time.perf_counter() - started


def _client(port, requests, concurrency, start_at, conn) -> None:
    cpu = time.process_time()
    statuses, latencies, _secs = drive(port, requests, concurrency, start_at=start_at)
    conn.send((statuses, latencies, time.perf_counter(), time.process_time() - cpu))
    conn.close()


def drive_parallel(port: int, requests: list[bytes], concurrency: int, clients: int):
    """drive() split over `clients` forked processes (the client shares the 2 cores with the
    server: one Python process would be the bottleneck). → (statuses, latencies, secs, client CPU s).
    perf_counter is CLOCK_MONOTONIC, one clock for every process on the machine."""
    ctx = multiprocessing.get_context("fork")
    start_at = time.perf_counter() + 0.3 + 0.05 * clients  # every child forked and waiting
    children = []
    for i in range(clients):
        parent_end, child_end = ctx.Pipe(duplex=False)
        share = max(1, concurrency // clients)
        proc = ctx.Process(target=_client, args=(port, requests[i::clients], share, start_at, child_end))
        proc.start()
        child_end.close()
        children.append((proc, parent_end))
    statuses: list[int] = [0] * len(requests)
    latencies: list[float] = [0.0] * len(requests)
    ended, cpu = 0.0, 0.0
    for i, (proc, conn) in enumerate(children):
        part_status, part_lat, end, part_cpu = conn.recv()
        proc.join()
        statuses[i::clients], latencies[i::clients] = part_status, part_lat
        ended, cpu = max(ended, end), cpu + part_cpu
    return statuses, latencies, ended - start_at, cpu


# --- figures that survive a loaded machine --------------------------------------------------------------


def _cpu_of(pids) -> float:
    """user + system CPU seconds of these processes (Linux /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
    return pids


def snapshot(gunicorn_pgid: int) -> dict:
    """CPU so far of gunicorn's processes and of this database's PostgreSQL backends, and the
    database's committed transactions."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        backends = [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [DB_NAME]).fetchall()]  # fmt: skip
        commits = conn.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [DB_NAME]
        ).fetchone()[0]
    return {"web": _cpu_of(_group_pids(gunicorn_pgid)), "pg": _cpu_of(backends), "commits": commits}


def spent(before: dict, after: dict, n: int) -> dict:
    """Per request: CPU ms of gunicorn and of the PostgreSQL backends, and transactions."""
    return {
        "web_ms": 1000 * (after["web"] - before["web"]) / n,
        "pg_ms": 1000 * (after["pg"] - before["pg"]) / n,
        "xacts": (after["commits"] - before["commits"]) / n,
    }


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


# --- processes ----------------------------------------------------------------------------------------


def start(cmd, env, log):
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def wait_for_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


# --- verification ---------------------------------------------------------------------------------------


def verify(plan: Plan, kinds: list[str], statuses: list[int], drained: bool = True) -> dict:
    from django.db.models import Count

    from messaging.models import Message, MessageStat, WebhookEvent

    answers = Counter(zip(kinds, statuses, strict=True))
    events = WebhookEvent.objects
    by_status = dict(events.values_list("status").annotate(n=Count("id")))
    originals = events.filter(is_original=True).count()
    refused = events.filter(http_status__in=(401, 403)).count()
    problems = []
    if originals != plan.distinct:
        problems.append(f"stored {originals} distinct events, sent {plan.distinct}")
    if drained and by_status.get("processed", 0) != plan.distinct:
        problems.append(f"processed {by_status.get('processed', 0)} of {plan.distinct}")
    if by_status.get("duplicate", 0) != plan.duplicates:
        problems.append(f"{by_status.get('duplicate', 0)} duplicate rows for {plan.duplicates} retries")
    if refused != plan.forged or answers[("forged", 401)] != plan.forged:
        problems.append(
            f"forgeries: {refused} stored as refused, {answers[('forged', 401)]} answered 401, sent {plan.forged}"
        )
    if answers[("event", 200)] != plan.distinct or answers[("duplicate", 200)] != plan.duplicates:
        problems.append(f"answers {dict(answers)}")
    if not drained:  # --no-drain: ingest only, nothing was applied
        return {"by_status": by_status, "problems": problems}
    wrong = 0
    doubled = 0
    for m in Message.objects.filter(direction="outbound").only(
        "account_id", "provider_message_id", "status", "status_history"
    ):
        if plan.expected_final.get((m.account_id, m.provider_message_id)) != m.status:
            wrong += 1
        seen = [h.get("status") for h in m.status_history or []]
        if len(seen) != len(set(seen)):
            doubled += 1
    if wrong or doubled:
        problems.append(f"{wrong} messages at the wrong status, {doubled} with a status recorded twice")
    inbound = Message.objects.filter(direction="inbound").count()
    if inbound != plan.inbound:
        problems.append(f"{inbound} inbound messages stored for {plan.inbound} sent")
    counted = {
        row["metric"]: row["n"] for row in MessageStat.objects.values("metric").annotate(n=models_sum())
    }
    rows_read = Message.objects.filter(status="read").count()
    rows_delivered = Message.objects.filter(direction="outbound", delivered_at__isnull=False).count()
    if counted.get("read", 0) != rows_read or counted.get("delivered", 0) != rows_delivered:
        problems.append(f"counters read {counted.get('read')} / delivered {counted.get('delivered')} vs rows "
                        f"{rows_read} / {rows_delivered}")  # fmt: skip
    return {"by_status": by_status, "problems": problems, "read_rows": rows_read, "inbound": inbound}


def models_sum():
    from django.db.models import Sum

    return Sum("count")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=30_000, help="webhook requests to send (bounded)")
    parser.add_argument("--trivial", type=int, default=15_000, help="requests to the trivial view")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64, help="per worker (gthread)")
    parser.add_argument(
        "--drainers", type=int, default=4, help="Celery worker processes on the webhooks queue"
    )
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--concurrency", type=int, default=128, help="connections in flight, all clients")
    parser.add_argument("--port", type=int, default=18111)
    parser.add_argument("--clients", type=int, default=2, help="client processes sharing --concurrency")
    parser.add_argument(
        "--no-drain", action="store_true", help="ingest only: no drainers, storage checks only (tuning runs)"
    )
    parser.add_argument(
        "--drain-after", action="store_true", help="start the drainers only when the load has stopped"
    )
    args = parser.parse_args()

    print(f"setting up {DB_NAME} …", flush=True)
    setup_database()
    django_setup(args.port)
    from django.db import connection

    from messaging.models import WebhookEvent

    accounts = make_accounts()
    plan = Plan(args.events)
    plan.build(accounts, args.port)
    create_data(plan.messages, accounts)
    connection.close()
    print(f"{len(plan.requests)} requests prepared: {plan.distinct} distinct events, {plan.duplicates} retries, "
          f"{plan.forged} forged, {plan.inbound} inbound; {len(plan.messages)} messages", flush=True)  # fmt: skip

    env = env_for_children(args.port)
    subprocess.run(["redis-cli", "-u", REDIS, "FLUSHDB"], check=False, capture_output=True)
    logs = open(ROOT / "var" / "webhook_bench.log", "w")  # noqa: SIM115
    gunicorn = start([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py", "config.wsgi:application",
                      "-b", f"127.0.0.1:{args.port}",
                      "-w", str(args.workers), "--worker-class", args.worker_class, "--threads", str(args.threads),
                      "--backlog", "2048"], env, logs)  # fmt: skip
    celery = [str(ROOT / ".venv/bin/celery"), "-A", "config", "worker", "-Q", "webhooks", "-c", str(args.drainers),
              "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]  # fmt: skip
    worker = None if args.drain_after or args.no_drain else start(celery, env, logs)
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    try:
        wait_for_port(args.port)
        trivial_req = _request("GET", "/bench/trivial/", args.port)
        drive(args.port, [trivial_req] * 500, args.concurrency)  # warm every worker
        snap0 = snapshot(gunicorn.pid)
        t_status, t_lat, t_secs, t_client = drive_parallel(
            args.port, [trivial_req] * args.trivial, args.concurrency, args.clients
        )
        assert set(t_status) == {200}, Counter(t_status)
        trivial_rate = args.trivial / t_secs
        snap1 = snapshot(gunicorn.pid)

        kinds = [k for k, _, _ in plan.requests]
        statuses, latencies, secs, w_client = drive_parallel(
            args.port, [r for _, r, _ in plan.requests], args.concurrency, args.clients
        )
        load_stopped = time.time()
        snap2 = snapshot(gunicorn.pid)
        load_during = Path("/proc/loadavg").read_text().split()[:3]
        accepted = sum(1 for k, s in zip(kinds, statuses, strict=True) if s == 200 and k != "forged")
        event_rate = accepted / secs
        backlog_peak = WebhookEvent.objects.filter(status="received").count()
        connection.close()
        if args.drain_after or args.no_drain:
            time.sleep(11)  # PostgreSQL publishes an idle backend's counters within 10 s
            snap2["commits"] = snapshot(gunicorn.pid)["commits"]
        if args.drain_after:
            worker = start(celery, env, logs)
        while (
            not args.no_drain
            and WebhookEvent.objects.filter(status="received").exists()
            and time.time() - load_stopped < 300
        ):
            time.sleep(0.5)
        drained_after = time.time() - load_stopped
        drain_rate = (plan.distinct - WebhookEvent.objects.filter(status="received").count()) / (
            secs + drained_after
        )
        result = verify(plan, kinds, statuses, drained=not args.no_drain)
    finally:
        stop(gunicorn)
        if worker is not None:
            stop(worker)
        logs.close()

    t_cost, w_cost = spent(snap0, snap1, args.trivial), spent(snap1, snap2, len(plan.requests))
    ok_lat = [lat for lat, s in zip(latencies, statuses, strict=True) if s == 200]
    print()
    print(f"machine: {os.cpu_count()} cores, shared with other sessions; gunicorn -w {args.workers} {args.worker_class} "
          f"x{args.threads} threads, client {args.clients} processes x {args.concurrency // args.clients} "
          f"connections, one connection per request")  # fmt: skip
    print(f"load average        : {' '.join(load_before)} before, {' '.join(load_during)} at the load's end")
    print(f"trivial Django view : {trivial_rate:8.0f} req/s  p50 {statistics.median(t_lat)*1000:.1f} ms  "
          f"p99 {percentile(t_lat, 0.99)*1000:.1f} ms")  # fmt: skip
    print(f"webhooks accepted   : {event_rate:8.0f} ev/s   p50 {statistics.median(ok_lat)*1000:.1f} ms  "
          f"p99 {percentile(ok_lat, 0.99)*1000:.1f} ms  ({event_rate / trivial_rate:.0%} of the trivial view)")  # fmt: skip
    print(
        f"CPU ms per request  : trivial  gunicorn {t_cost['web_ms']:.2f}, client {1000 * t_client / args.trivial:.2f}"
    )
    print(f"                      webhooks gunicorn {w_cost['web_ms']:.2f}, PostgreSQL {w_cost['pg_ms']:.2f}, "
          f"client {1000 * w_client / len(plan.requests):.2f}")  # fmt: skip
    print(f"transactions/request: {w_cost['xacts']:.3f} committed in the bench database during the webhook load"
          f"{'' if args.drain_after or args.no_drain else ' (drainers included)'}")  # fmt: skip
    print(f"requests            : {len(plan.requests)} in {secs:.1f} s; answers {dict(Counter(statuses))}")
    if not args.no_drain:
        print(f"backlog at load end : {backlog_peak}; {'zero' if not result['by_status'].get('received') else 'NOT zero'} "
              f"{drained_after:.1f} s after the load stopped; drain {drain_rate:.0f} ev/s over the whole run")  # fmt: skip
    print(f"events by status    : {result['by_status']}")
    if result["problems"]:
        print("PROBLEMS:")
        for p in result["problems"]:
            print("  -", p)
        return 1
    if args.no_drain:
        print("verified (ingest only, --no-drain): every distinct event stored once; every retry a counted "
              "duplicate; every forgery refused (401) and kept")  # fmt: skip
        return 0
    print("verified: every distinct event stored once and processed once; every retry a counted duplicate; "
          "every forgery refused (401) and kept; message statuses and counters exact")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

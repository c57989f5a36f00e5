"""Campaign fan-out benchmark: 100,000 recipients, Switchboard-run, against the Sandbox and a fake over HTTP.

Measures, for each target:
  - time to have every message row queued (materialize_recipients), goal < 30 s;
  - sustained send rate against the configured rate (goal >= 95 %) and the provider's documented limit;
  - peak RSS growth while sending (memory flat);
  - kill the runner mid-run (a simulated crash after N calls), resume: duplicates and lost recipients;
  - figures that survive a loaded machine: SQL statements per 50-message call (every statement
    the runner's connection sends, the Sandbox's own writes and the HTTP log's included), CPU
    seconds per 1,000 messages (this process: the Spryng fake runs in it too), the load average.

Runs on its own database (never the app's):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i10_bench .venv/bin/python bench/campaign_fanout.py
Options: --recipients 100000 --rate 500 --targets sandbox,spryng
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sb_i10_bench")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "false")

import django

django.setup()

import psutil  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.audience import ensure_audience  # noqa: E402
from campaigns.models import Campaign  # noqa: E402
from campaigns.services import create_campaign, start_campaign  # noqa: E402
from campaigns.services import lifecycle as lifecycle_module  # noqa: E402
from campaigns.services.fanout import materialize_recipients, run_campaign  # noqa: E402
from contacts.models import Contact, ContactList  # noqa: E402
from messaging.models import Message, ProviderAccount, SandboxObject  # noqa: E402
from messaging.stats import campaign_totals  # noqa: E402


def setup_db(n: int) -> ContactList:
    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        for table in ("messaging_messagestat", "messaging_message", "campaigns_campaigntransition",
                      "campaigns_campaign_lists", "campaigns_campaign_exclude_lists", "campaigns_campaign",
                      "messaging_sandboxobject", "messaging_httplog"):  # fmt: skip
            cur.execute(f"DELETE FROM {table}")
    contact_list = ensure_audience("Bench audience", n, phone_prefix="+3934")
    return contact_list


def run_target(name: str, account, contact_list, n: int, rate: int, crash_after: int) -> dict:
    # The benchmark is the worker: start_campaign's on_commit kick would enqueue a task nobody runs.
    lifecycle_module._kick = lambda pk: None
    campaign = create_campaign({
        "name": f"bench {name}", "account": account, "channel": "sms", "text": "Saldi: -30% in tutti i negozi!",
        "lists": [contact_list], "rate_per_second": rate,
    })  # fmt: skip
    start_campaign(campaign)
    t0 = time.perf_counter()
    materialize_recipients(campaign)
    queued_s = time.perf_counter() - t0
    assert Message.objects.filter(campaign=campaign).count() == n

    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    statements = StatementCounter()
    t1 = time.perf_counter()
    cpu1 = time.process_time()
    crashed = False
    with connection.execute_wrapper(statements):
        try:
            run_campaign(campaign.pk, max_seconds=10_000, crash_after=crash_after)
        except RuntimeError:
            crashed = True
        first_run_s = time.perf_counter() - t1
        sent_before_crash = Message.objects.filter(campaign=campaign).exclude(status="queued").count()
        # The dead runner's lease runs out; a new one resumes.
        Campaign.objects.filter(pk=campaign.pk).update(runner_until=None)
        t2 = time.perf_counter()
        report = run_campaign(campaign.pk, max_seconds=10_000)
        second_run_s = time.perf_counter() - t2
    send_s = time.perf_counter() - t1
    send_cpu = time.process_time() - cpu1
    rss1 = proc.memory_info().rss
    campaign.refresh_from_db()
    totals = campaign_totals(campaign.pk)
    if name == "sandbox":
        phones = list(
            SandboxObject.objects.filter(account=account, kind="message").values_list("data__to", flat=True)
        )
    else:
        phones = [r["number"] for m in FAKE.fake.messages.values() for r in m.get("recipients", [])]
    expected = set(
        Contact.objects.filter(memberships__contact_list=contact_list).values_list("phone", flat=True)
    )
    got = [p if p.startswith("+") else "+" + p for p in phones]
    return {
        "target": name, "recipients": n, "queued_s": round(queued_s, 2), "send_s": round(send_s, 1),
        "rate_configured": rate, "rate_achieved": round(n / send_s, 1), "rate_pct": round(100 * n / send_s / rate, 1),
        # The runner's own rate (each run's messages over its own time, without the crash/resume gap).
        "runner_rate_pct": round(100 * n / (first_run_s + second_run_s) / rate, 1),
        "statements_per_call": round(statements.count / max(1, n / 50), 2),
        "statements_by_kind_per_call": {k: round(v / max(1, n / 50), 2) for k, v in statements.kinds.items()},
        "cpu_s_per_1000": round(1000 * send_cpu / n, 3),
        "provider_limit": _limit(account), "crashed_mid_run": crashed, "sent_before_crash": sent_before_crash,
        "duplicates": len(got) - len(set(got)), "lost": len(expected - set(got)), "status": campaign.status,
        "funnel_ok": sum(totals[k] for k in ("queued", "sent", "failed", "unknown", "skipped")) == n,
        "rss_growth_mb": round((rss1 - rss0) / 1e6, 1), "final_report": report.as_dict(),
    }  # fmt: skip


class StatementCounter:
    """Counts SQL statements the runner sends (every round trip: SELECT, UPDATE, INSERT, COPY)."""

    def __init__(self):
        self.count = 0
        self.kinds: dict[str, int] = {}

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        kind = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        self.kinds[kind] = self.kinds.get(kind, 0) + 1
        return execute(sql, params, many, context)


def _limit(account) -> str:
    from campaigns.services.rules import provider_max_rate

    return f"{provider_max_rate(account, batched=True)} msg/s ({provider_max_rate(account)} single sends/s)"


FAKE = None


def main():
    global FAKE
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--targets", default="sandbox,spryng")
    args = parser.parse_args()
    contact_list = setup_db(args.recipients)
    results = []
    for target in args.targets.split(","):
        if target == "sandbox":
            account, _ = ProviderAccount.objects.get_or_create(
                name="Bench sandbox", defaults={"provider": "sandbox"}
            )
        else:
            from tests.fakes.base import serve
            from tests.fakes.spryng import SpryngFake

            FAKE = serve(SpryngFake(api_key="bench-key"))
            account, _ = ProviderAccount.objects.update_or_create(
                name="Bench Spryng (fake over HTTP)",
                defaults={"provider": "spryng", "base_url": FAKE.url, "credentials": {"api_key": "bench-key"},
                          "settings": {"originator": "Bench"}},
            )  # fmt: skip
        crash_after = max(5, args.recipients // 50 // 3)  # a third of the calls, then the worker "dies"
        result = run_target(target, account, contact_list, args.recipients, args.rate, crash_after)
        results.append(result)
        print(result, flush=True)
        if FAKE is not None:
            FAKE.stop()
    print(f"load average: {Path('/proc/loadavg').read_text().strip()}")
    print(
        "\n| target | rows queued | send time | achieved / configured | provider limit | crash+resume | RSS growth |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['target']} | {r['queued_s']} s | {r['send_s']} s | {r['rate_achieved']}/s of {r['rate_configured']}/s "
              f"({r['rate_pct']} %) | {r['provider_limit']} | {r['duplicates']} duplicates, {r['lost']} lost "
              f"(crashed after {r['sent_before_crash']:,}) | {r['rss_growth_mb']} MB |")  # fmt: skip


if __name__ == "__main__":
    main()

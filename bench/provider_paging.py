#!/usr/bin/env python
"""Pull 100,000 records from each provider fake with its documented rate limit enforced.

    .venv/bin/python bench/provider_paging.py [N] [--only qlara,spoki,myoperator,spryng] [--page-size P]

Each fake is served over real HTTP on 127.0.0.1 and seeded with N contacts (Spryng has no
contacts: N sent messages, its paged listing). The fake enforces the documented limit
(`fake.rate_limit = Fake.DOCUMENTED_LIMIT`, answering 429 past it); the real client pages through
with its streaming iterator and its own client-side limiter. Printed per provider: records/s,
requests/s, the achieved share of the documented limit (only meaningful when the limit binds:
with big pages some pulls finish before it matters, and the script says so), the 429s the
fake had to send, and RSS at the start and every quarter (flat = streaming).

Page size defaults to 100 for every provider, so the limit binds (Qlara allows 1,000 per page;
`--page-size 1000` shows that pull). Runs on a throwaway SQLite database (the HTTP log is
written as in production). Spoki's 120 requests/min make its 100,000-record pull ~8.5 min.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_tmp = tempfile.mkdtemp(prefix="sb-paging-")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_tmp}/bench.sqlite3")
os.environ.setdefault("SWITCHBOARD_VAR_DIR", _tmp)
os.environ.setdefault("DEBUG", "false")  # DEBUG keeps every query in memory: not what production does

import django  # noqa: E402

django.setup()

import psutil  # noqa: E402
from django.core.management import call_command  # noqa: E402

from messaging.models import HttpLog, ProviderAccount  # noqa: E402
from tests.fakes.base import serve  # noqa: E402


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


def run(slug: str, n: int, page_size: int) -> dict:
    if slug == "qlara":
        from tests.fakes.qlara import QlaraFake as Fake

        fake, credentials = Fake(api_key="bench-key"), {"api_key": "bench-key"}
        fake.seed_contacts(n)
    elif slug == "spoki":
        from tests.fakes.spoki import SpokiFake as Fake

        fake, credentials = Fake(api_key="bench-key"), {"api_key": "bench-key"}
        fake.seed_contacts(n)
    elif slug == "myoperator":
        from tests.fakes.myoperator import MyOperatorFake as Fake

        fake = Fake(api_key="bench-key", company_id="bench-company")
        credentials = {"api_key": "bench-key", "company_id": "bench-company"}
        fake.seed_contacts(n)
    else:
        from tests.fakes.spryng import SpryngFake as Fake

        fake, credentials = Fake(api_key="bench-key"), {"api_key": "bench-key"}
        fake.seed_messages(n)
    calls, per = Fake.DOCUMENTED_LIMIT
    fake.rate_limit = (calls, per)
    server = serve(fake)
    account = ProviderAccount.objects.create(
        provider=slug, name=f"bench {slug} {time.time()}", base_url=server.url, credentials=credentials
    )
    provider = account.get_provider()
    provider.page_size = page_size
    pages = provider.iter_message_pages() if slug == "spryng" else provider.iter_contact_pages()
    samples, count, start_rss = [], 0, rss_mb()
    started = time.monotonic()
    for page in pages:
        count += len(page.items)
        if count * 4 // n > len(samples):
            samples.append(round(rss_mb(), 1))
    elapsed = time.monotonic() - started
    server.stop()
    requests = HttpLog.objects.filter(account=account).count()
    limit_rate = calls / per
    result = {
        "provider": slug, "records": count, "seconds": elapsed, "requests": requests,
        "records_per_s": count / elapsed, "requests_per_s": requests / elapsed,
        "limit": f"{calls}/{per:g}s", "share": (requests / elapsed) / limit_rate,
        "bound": requests > calls,  # the pull made more calls than one window allows: the limit bound it
        "rejected_429": fake.rate_limited_count, "rss_start": round(start_rss, 1), "rss_quarters": samples,
    }  # fmt: skip
    HttpLog.objects.filter(account=account).delete()
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=100_000)
    parser.add_argument("--only", default="qlara,myoperator,spryng,spoki")
    parser.add_argument(
        "--page-size", type=int, default=0, help="default: 100 (Spryng 40, so its limit binds)"
    )
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(
        f"pulling {args.n:,} records per provider (100 per page, Spryng 40), limits enforced by the fakes\n"
    )
    print(
        f"{'provider':11} {'records':>8} {'secs':>7} {'rec/s':>8} {'req/s':>7} {'limit':>10} {'share':>6} {'429s':>5}  RSS MB start → quarters"
    )
    for slug in args.only.split(","):
        slug = slug.strip()
        r = run(slug, args.n, args.page_size or (40 if slug == "spryng" else 100))
        share = f"{r['share']:.0%}" if r["bound"] else "n/b"
        print(
            f"{r['provider']:11} {r['records']:8,} {r['seconds']:7.1f} {r['records_per_s']:8.0f} {r['requests_per_s']:7.2f}"
            f" {r['limit']:>10} {share:>6} {r['rejected_429']:5d}  {r['rss_start']} → {r['rss_quarters']}",
            flush=True,
        )
    print("\nn/b: not bound: the pull needed fewer calls than one rate-limit window allows.")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Template sync and the SMS counter at scale (issue 9).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/sb_i9bench .venv/bin/python bench/templates_bench.py [--templates 2000]

Without DATABASE_URL it uses a throw-away SQLite file in /tmp (dropped and re-created each run).
Generates its own data: --templates WhatsApp templates made "in the provider's console" of a
Sandbox account (named variables, buttons), then times:

1. first pull (every template created here and linked), 2. a second pull (nothing changes),
3. submitting 100 local templates, 4. count_sms over 100,000 generated texts (GSM-7 and UCS-2 mix),
5. render_template for 10,000 contacts.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.gettempdir()}/sb_i9bench.sqlite3")
os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
os.environ.setdefault("DEBUG", "false")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402


def fresh_database():
    if connection.vendor == "sqlite":
        connection.close()
        Path(connection.settings_dict["NAME"]).unlink(missing_ok=True)
    else:
        with connection.cursor() as cur:
            cur.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    call_command("migrate", verbosity=0)


def timed(label, func, *, count=None):
    queries = [0]

    def counter(execute, sql, params, many, context):
        queries[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        start = time.perf_counter()
        result = func()
        seconds = time.perf_counter() - start
    rate = f", {count / seconds:,.0f}/s" if count else ""
    per = f", {queries[0] / count:.1f} queries each" if count else ""
    print(f"{label}: {seconds:.2f} s{rate}{per} ({queries[0]} queries)")
    return result


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--templates", type=int, default=2000)
    args = parser.parse_args()
    print(
        f"{platform.node()} · {os.cpu_count()} cores · {connection.vendor} · Python {platform.python_version()}"
    )
    fresh_database()

    from contacts.models import Contact
    from messaging.models import MessageTemplate, ProviderAccount, TemplateLink
    from messaging.providers.base import RemoteTemplate
    from messaging.sync.services import sync_account
    from messaging.templating import services
    from messaging.templating.rendering import render_template
    from messaging.templating.sms import count_sms

    account = ProviderAccount.objects.create(provider="sandbox", name="Bench", settings={"review_seconds": 0})
    provider = account.get_provider()
    for i in range(args.templates):
        provider.create_template(RemoteTemplate(
            name=f"console_{i}", language=random.choice(["it", "en", "de"]), category="MARKETING",
            body=f"Ciao {{{{first_name}}}}, offerta {i} a {{{{city}}}} fino a domenica.",
            buttons=[{"type": "quick_reply", "text": "Stop"}], examples={"first_name": "Maria", "city": "Roma"},
        ))  # fmt: skip
    n = args.templates
    first = timed(f"first pull of {n} templates", lambda: sync_account(account, "templates", "pull"), count=n)
    assert first.created == n and MessageTemplate.objects.count() == n, first.summary()
    second = timed(
        f"second pull of {n} (no change)", lambda: sync_account(account, "templates", "pull"), count=n
    )
    assert (second.created, second.updated, second.unchanged) == (0, 0, n), second.summary()
    local = [
        services.create_template({
            "name": f"local_{i}", "kind": "whatsapp", "language": "it", "category": "utility",
            "body": "Ciao {{first_name}}, il tuo ordine è pronto.", "samples": {"first_name": "Ada"},
        })
        for i in range(100)
    ]  # fmt: skip
    timed("submit 100 templates", lambda: [services.submit_template(t, [account]) for t in local], count=100)
    assert TemplateLink.objects.filter(template__in=local, status="approved").count() == 100

    alphabet = "abcdefghijklmnopqrstuvwxyz àèéìòù{}[]€^~|" + "áÈ😀"
    texts = ["".join(random.choice(alphabet) for _ in range(random.randint(20, 400))) for _ in range(100_000)]
    timed("count_sms over 100,000 texts", lambda: [count_sms(t) for t in texts], count=len(texts))
    contacts = [Contact(phone=f"+39333{i:07d}", first_name=f"N{i}", city="Roma") for i in range(10_000)]
    template = local[0]
    timed("render_template for 10,000 contacts", lambda: [render_template(template, contact=c) for c in contacts],
          count=len(contacts))  # fmt: skip


if __name__ == "__main__":
    main()

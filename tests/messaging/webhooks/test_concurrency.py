"""The hot path's shape (one statement) and, on PostgreSQL, duplicates racing from several processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from messaging.models import WebhookEvent
from messaging.webhooks.receive import receive_webhook

from .helpers import make_account, myoperator_examples

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.django_db
def test_an_event_is_stored_in_one_statement(django_assert_num_queries):
    account = make_account("myoperator")
    examples = myoperator_examples()
    headers = {"Content-Type": "application/json"}
    receive_webhook(
        account.webhook_token, "POST", headers, examples["webhooks_new_message_sent_1"]
    )  # warms the cache
    with django_assert_num_queries(1):
        assert (
            receive_webhook(
                account.webhook_token, "POST", headers, examples["webhooks_new_message_read_1"]
            ).text
            == "ok"
        )
    with django_assert_num_queries(1 if connection.vendor == "postgresql" else 2):
        assert (
            receive_webhook(
                account.webhook_token, "POST", headers, examples["webhooks_new_message_read_1"]
            ).text
            == "duplicate"
        )


SENDER = r"""
import os, sys, time
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from messaging.webhooks.receive import receive_webhook
token, start, copies = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
body = sys.stdin.buffer.read()
receive_webhook("x" * 43, "POST", {}, b"{}")  # connect before the start line
while time.time() < start:
    time.sleep(0.0005)
print(",".join(receive_webhook(token, "POST", {"Content-Type": "application/json"}, body).text for _ in range(copies)))
"""


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_deliveries_from_several_processes_count_once():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SWITCHBOARD_INTEGRATION=1 with DATABASE_URL)")
    account = make_account("myoperator")
    body = myoperator_examples()["webhooks_new_message_delivered_1"]
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "WEBHOOK_KICK_SECONDS": "0",
    }  # fmt: skip
    processes, copies = 6, 5
    start = time.time() + 6  # every process imported Django and connected by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, account.webhook_token, str(start), str(copies)],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    answers = []
    for proc in procs:
        out, err = proc.communicate(body, timeout=60)
        assert proc.returncode == 0, err.decode()[-2000:]
        answers += out.decode().strip().splitlines()[-1].split(",")
    assert sorted(set(answers)) == ["duplicate", "ok"] and answers.count("ok") == 1
    assert WebhookEvent.objects.filter(is_original=True).count() == 1
    assert WebhookEvent.objects.filter(status="duplicate").count() == processes * copies - 1
    keys = set(WebhookEvent.objects.values_list("dedupe_key", flat=True))
    assert len(keys) == 1 and json.loads(body)["event_id"]

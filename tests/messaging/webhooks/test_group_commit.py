"""PostgreSQL group commit: many requests share one commit, and none is answered 2xx before it.

These tests run outside a test transaction (the writer thread has its own connection and must see
the accounts), and break the writer for real: a second connection holds a conflicting row
uncommitted so the writer's transaction waits mid-way, then PostgreSQL terminates the writer's
backend, as a crash or a failover would.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import psycopg
import pytest
from django.db import connection

from messaging.models import WebhookEvent
from messaging.webhooks import group_commit
from messaging.webhooks.receive import dedupe_key, receive_webhook

from .helpers import hook_path, make_account, qlara_examples

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HEADERS = {"Content-Type": "application/json"}


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SWITCHBOARD_INTEGRATION=1 with DATABASE_URL)")


def qlara_event(message_id: str) -> bytes:
    return json.dumps({**qlara_examples()[0], "messageId": message_id}).encode()


def key_of(account, body: bytes) -> str:
    from messaging.providers.registry import get_provider_class

    provider = get_provider_class(account.provider)(credentials={}, settings={})
    return dedupe_key(provider.read_webhook(HEADERS, body), body)


def raw_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params)


def hold_key(blocker: psycopg.Connection, account, key: str) -> None:
    """An uncommitted original with this key: the writer's INSERT of the same key waits on it."""
    blocker.execute(
        "INSERT INTO messaging_webhookevent (account_id, provider, event_type, event_id, dedupe_key, "
        "is_original, status, http_status, method, headers, body, error, outcome, attempts, received_at) "
        "VALUES (%s, %s, '', '', %s, true, 'received', 200, 'POST', '{}', '', '', '{}', 0, now())",
        [account.pk, account.provider, key],
    )


def writer_backend_waiting(seconds: float = 15.0) -> int:
    """The pid of the writer's backend once it waits on the held row's lock."""
    deadline = time.monotonic() + seconds
    with raw_connection() as probe:
        probe.autocommit = True
        while time.monotonic() < deadline:
            row = probe.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            ).fetchone()
            if row:
                return row[0]
            time.sleep(0.02)
    raise AssertionError("the writer never waited on the held row")


def send_all(account, bodies: list[bytes]) -> list:
    """Each body from its own thread at once; each thread checks, on its OWN connection, that an
    acknowledged row is already committed when the answer arrives."""
    answers: list = [None] * len(bodies)
    barrier = threading.Barrier(len(bodies))

    def one(i):
        try:
            barrier.wait()
            answer = receive_webhook(account.webhook_token, "POST", HEADERS, bodies[i])
            committed = answer.status == 200 and WebhookEvent.objects.filter(pk=answer.event_id).exists()
            answers[i] = (answer, committed)
        finally:
            connection.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers


def wsgi_post(path: str, body: bytes) -> tuple[str, list]:
    import io

    from config.wsgi import application

    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body), "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http",
    }  # fmt: skip
    started = []
    b"".join(application(environ, lambda status, headers: started.append((status, headers))))
    return started[0]


def send_one(account, body: bytes) -> None:
    try:
        receive_webhook(account.webhook_token, "POST", HEADERS, body)
    finally:
        connection.close()  # this thread's own connection must not outlive the test database


def test_concurrent_requests_are_each_stored_once_and_answered_after_their_commit():
    account = make_account("qlara")
    distinct = [qlara_event(uuid.uuid4().hex) for _ in range(40)]
    bodies = distinct + distinct[:10]  # ten retries racing their originals
    before = group_commit.writer().batches
    answers = send_all(account, bodies)

    assert all(a is not None for a in answers)
    assert all(answer.status == 200 and committed for answer, committed in answers)
    texts = [answer.text for answer, _ in answers]
    assert texts.count("ok") == 40 and texts.count("duplicate") == 10
    assert WebhookEvent.objects.filter(is_original=True).count() == 40
    assert WebhookEvent.objects.filter(status="duplicate").count() == 10
    assert len({a.event_id for a, _ in answers}) == 50  # every request its own row
    # the point of it: fewer commits than rows
    assert group_commit.writer().batches - before < 50


def test_an_aborted_writer_transaction_acknowledges_nothing_and_the_retry_is_stored(settings):
    settings.WEBHOOK_COMMIT_TIMEOUT = 30
    account = make_account("qlara")
    plug = qlara_event("plug-" + uuid.uuid4().hex)
    bodies = [qlara_event(uuid.uuid4().hex) for _ in range(20)] + [plug]
    with raw_connection() as blocker:
        hold_key(blocker, account, key_of(account, plug))
        # the first batch waits on the held row, holding the writer; the rest queue behind it
        first = threading.Thread(target=send_one, args=(account, plug))
        first.start()
        with raw_connection() as killer:
            killer.autocommit = True
            pid = writer_backend_waiting()
            results: list = []
            rest = threading.Thread(target=lambda: results.extend(send_all(account, bodies)))
            rest.start()
            time.sleep(0.5)  # all twenty-one are queued behind the stuck batch
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])  # the first batch dies
            pid = writer_backend_waiting()  # the second batch: 20 rows + the plug's retry, stuck again
            killer.execute("SELECT pg_terminate_backend(%s)", [pid])
            rest.join(60)
            first.join(60)
        blocker.rollback()

    assert len(results) == 21
    assert {answer.status for answer, _ in results} == {503}
    assert all(answer.retry_after for answer, _ in results)
    assert WebhookEvent.objects.count() == 0  # nothing half-written, nothing acknowledged

    answers = send_all(account, bodies)  # the providers retry
    assert all(answer.status == 200 and answer.text == "ok" and committed for answer, committed in answers)
    assert WebhookEvent.objects.filter(is_original=True).count() == 21
    assert WebhookEvent.objects.count() == 21


def test_a_request_not_committed_in_time_gets_503_with_retry_after_and_is_not_stored(client, settings):
    account = make_account("qlara")
    plug = qlara_event("plug-" + uuid.uuid4().hex)
    late = qlara_event(uuid.uuid4().hex)
    with raw_connection() as blocker:
        hold_key(blocker, account, key_of(account, plug))
        first = threading.Thread(target=send_one, args=(account, plug))
        first.start()
        writer_backend_waiting()
        settings.WEBHOOK_COMMIT_TIMEOUT = 0.3
        response = client.post(hook_path(account), data=late, content_type="application/json")
        front = wsgi_post(hook_path(account), late)  # gunicorn's way in answers alike
        settings.WEBHOOK_COMMIT_TIMEOUT = 30
        blocker.rollback()
        first.join(60)

    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert front[0] == "503 Service Unavailable" and ("Retry-After", "5") in front[1]
    group_commit.stop_writer()  # everything queued is written (or skipped) by now
    assert WebhookEvent.objects.filter(body=late.decode()).count() == 0  # it was never taken
    assert WebhookEvent.objects.filter(body=plug.decode(), is_original=True).count() == 1
    again = client.post(hook_path(account), data=late, content_type="application/json")
    assert again.status_code == 200 and again.content == b"ok\n"


def test_a_body_postgresql_would_refuse_does_not_fail_its_batch_mates(client):
    account = make_account("qlara")
    nul = b'{"messageId": "x\x00y", "eventType": "DELIVERY"}'
    bodies = [qlara_event(uuid.uuid4().hex) for _ in range(10)] + [nul, b"\x00not json"]
    answers = send_all(account, bodies)
    statuses = [answer.status for answer, _ in answers]
    assert statuses[:10] == [200] * 10 and 500 not in statuses and 503 not in statuses
    assert WebhookEvent.objects.count() == 12  # the odd ones kept too (stored, or refused as unreadable)


def test_the_shared_writer_rechecks_a_rotated_token_and_a_changed_secret(client):
    """The account is cached per process; the writer's statement re-checks token and secret per row."""
    from messaging.webhooks.services import rotate_webhook_token

    from .helpers import MYOP_SECRET, myoperator_examples

    account = make_account("qlara")
    body = qlara_event(uuid.uuid4().hex)
    old = hook_path(account)
    assert client.post(old, data=body, content_type="application/json").status_code == 200  # cached now
    rotate_webhook_token(account)
    assert client.post(old, data=body, content_type="application/json").status_code == 404
    assert (
        client.post(hook_path(account), data=body, content_type="application/json").content == b"duplicate\n"
    )

    myop = make_account("myoperator")
    event = myoperator_examples()["webhooks_new_message_read_1"]
    headers = {"X-Webhook-Token": MYOP_SECRET}
    assert client.post(hook_path(myop), data=event, content_type="application/json").status_code == 200
    myop.webhook_secret = MYOP_SECRET  # staff set a secret after the account was cached
    myop.save(update_fields=["webhook_secret"])
    refused = client.post(hook_path(myop), data=event, content_type="application/json")
    assert refused.status_code == 401
    accepted = client.post(hook_path(myop), data=event, content_type="application/json", headers=headers)
    assert accepted.status_code == 200 and accepted.content == b"duplicate\n"
    assert WebhookEvent.objects.filter(is_original=True).count() == 2
    assert WebhookEvent.objects.filter(http_status=401).count() == 1

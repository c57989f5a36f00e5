"""A real Celery worker runs our tasks in the background: the embedded filesystem broker by
default, the machine's Redis when CELERY_BROKER_URL says so (as in .ci/run). Not eager."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
from messaging.models import ProviderAccount
from messaging.tasks import check_account_health
account, _ = ProviderAccount.objects.get_or_create(name="Worker check", defaults={"provider": "sandbox"})
result = check_account_health.delay(account.pk)
print("RESULT", result.get(timeout=60))
account.refresh_from_db()
print("HEALTH", account.last_success_at is not None, account.consecutive_failures)

# An import goes through the "imports" queue and its own worker task.
import time
from django.core.files.uploadedfile import SimpleUploadedFile
from contacts.imports.models import ContactImport
from contacts.imports.services import queue_import, start_import
from contacts.models import Contact
csv = "Nome,Cognome,Cellulare\nGiulia,Bianchi,333 123 4567\nMarco,Rossi,12\n".encode()
imp = queue_import(start_import(SimpleUploadedFile("people.csv", csv), new_list_name="Worker list"))
for _ in range(120):
    imp.refresh_from_db()
    if imp.status in ("succeeded", "failed"):
        break
    time.sleep(0.5)
print("IMPORT", imp.status, imp.created, imp.rejected, list(Contact.objects.values_list("phone", flat=True)))
"""


@pytest.fixture
def worker_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "DJANGO_SETTINGS"))}
    env["CELERY_TASK_ALWAYS_EAGER"] = "false"
    env["CELERY_RESULT_BACKEND"] = f"file://{tmp_path / 'results'}"
    (tmp_path / "results").mkdir()
    broker = os.environ.get("CELERY_BROKER_URL", "filesystem://")
    database = os.environ.get("DATABASE_URL", "")
    created_db = None
    if database.startswith("postgres"):
        import psycopg

        created_db = f"sb_worker_{uuid.uuid4().hex[:8]}"
        base = database.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created_db}"')
        env["DATABASE_URL"] = f"{base}/{created_db}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'worker.sqlite3'}"
    if broker.startswith("filesystem://"):
        # A private broker folder: the worker and the producer share it, nothing else does.
        env["CELERY_BROKER_URL"] = "filesystem://"
        env["SWITCHBOARD_VAR_DIR"] = str(tmp_path / "var")
    else:
        env["CELERY_BROKER_URL"] = broker
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    yield env
    if created_db:
        import psycopg

        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')


def test_a_real_worker_runs_a_task_in_the_background(worker_env, tmp_path):
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 — closed below, after the worker stops
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--queues",
         "default,imports,sync,sending,webhooks", "--loglevel", "INFO", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SCRIPT], cwd=ROOT, env=worker_env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-2000:]
        assert "RESULT {'ok': True" in result.stdout, result.stdout
        assert "HEALTH True 0" in result.stdout
        assert "IMPORT succeeded 1 1 ['+393331234567']" in result.stdout, result.stdout
        assert time.monotonic() - started < 90
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    worker_log = (tmp_path / "worker.log").read_text()
    assert "messaging.tasks.check_account_health" in worker_log and "contacts.tasks.run_import" in worker_log

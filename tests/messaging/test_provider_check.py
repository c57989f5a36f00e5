"""manage.py provider_check: words, one JSON line with --json, exit code 0 only when OK."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from messaging import services
from messaging.models import ProviderAccount
from tests.messaging.account_helpers import KEYED, SANDBOX, SECRET, KeyedFake, use_test_providers

ROOT = Path(__file__).resolve().parents[2]
ORIGINAL_PROVIDERS = list(django_settings.SWITCHBOARD_PROVIDERS)  # before the fixture narrows them


@pytest.fixture(autouse=True)
def providers(settings):
    use_test_providers(settings)


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("provider_check", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


@pytest.mark.django_db
def test_sandbox_is_ok_with_exit_code_zero():
    services.create_account(provider="sandbox", name="Sandbox")
    code, output = run("Sandbox", "--json")
    assert code == 0
    result = last_json(output)
    assert result["ok"] is True and result["status"] == "connected"
    assert result["detail"] == "Connected — sandbox (no real messages are sent)"
    assert result["balance"] == "€100.00"

    code, output = run("Sandbox")
    assert code == 0 and "Sandbox (Sandbox): Connected — sandbox" in output


@pytest.mark.django_db
def test_closed_port_fails_with_words_and_exit_code_one():
    services.create_account(
        provider="keyed",
        name="Down",
        base_url="http://127.0.0.1:9",
        credentials={"api_key": "k", "company_id": "c"},
    )
    code, output = run("Down", "--json")
    assert code == 1
    result = last_json(output)
    assert result == result | {
        "ok": False,
        "status": "unreachable",
        "detail": "Provider unreachable: connection refused",
    }
    assert ProviderAccount.objects.get(name="Down").consecutive_failures == 1


@pytest.mark.django_db
def test_refused_key_fails_with_the_providers_message(serve_fake):
    fake = serve_fake(KeyedFake(api_key="the-right-one"))
    services.create_account(
        provider="keyed",
        name="Wrong key",
        base_url=fake.url,
        credentials={"api_key": SECRET, "company_id": "c"},
    )
    code, output = run("Wrong key", "--json")
    assert code == 1
    result = last_json(output)
    assert result["ok"] is False and result["status"] == "auth_failed" and result["http_status"] == 401
    assert result["detail"] == "The API key was refused (401): Invalid API key"
    assert SECRET not in output
    assert len(fake.fake.journal) == 1  # a 401 is never retried


@pytest.mark.django_db
def test_unknown_account():
    with pytest.raises(CommandError, match="No provider account named 'Ghost'"):
        call_command("provider_check", "Ghost", stdout=io.StringIO())
    code, output = run("Ghost", "--json")
    assert code == 2 and last_json(output)["ok"] is False


def test_real_process_exit_codes(tmp_path):
    """The same through a real `manage.py` process, as CI and operators run it."""
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
        "SWITCHBOARD_PROVIDERS": f"{SANDBOX},{KEYED}",
        "CELERY_BROKER_URL": "memory://",
        "LOG_LEVEL": "WARNING",
    }

    def manage(*args, timeout=120):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    # A fresh migrate runs every app's migrations (~23 s on a loaded 2-core machine, 00:30 UTC
    # with 8 sessions); the timeout only guards against a hang, the return code is what is tested.
    migrated = manage("migrate", "-v0", timeout=300)
    assert migrated.returncode == 0, migrated.stderr
    created = manage(
        "shell", "-c",
        "from messaging import services as s; s.create_account(provider='sandbox', name='Demo'); "
        "s.create_account(provider='keyed', name='Down', base_url='http://127.0.0.1:9', "
        "credentials={'api_key': 'k', 'company_id': 'c'})",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    ok = manage("provider_check", "Demo", "--json")
    assert ok.returncode == 0 and last_json(ok.stdout)["ok"] is True, ok.stderr
    down = manage("provider_check", "Down", "--json")
    assert down.returncode == 1 and last_json(down.stdout)["status"] == "unreachable", down.stderr


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ["spoki", "qlara"])
def test_real_clients_against_their_fakes(slug, settings, serve_fake):
    """Where a real client and its fake exist, the command reports their handshake in words."""
    fakes = pytest.importorskip(f"tests.fakes.{slug}")
    from messaging.management.commands.run_fake import find_fake_class

    installed = [p for p in ORIGINAL_PROVIDERS if f".{slug}." in p]
    if not installed or fakes is None:
        pytest.skip(f"{slug} is not installed")
    settings.SWITCHBOARD_PROVIDERS = [SANDBOX, *installed]
    fake = serve_fake(find_fake_class(slug)(api_key="good-key"))
    services.create_account(
        provider=slug, name="Right", base_url=fake.url, credentials={"api_key": "good-key"}
    )
    services.create_account(
        provider=slug, name="Wrong", base_url=fake.url, credentials={"api_key": "bad-key"}
    )

    code, output = run("Right", "--json")
    assert code == 0, output
    assert last_json(output)["ok"] is True and last_json(output)["detail"].startswith("Connected")
    code, output = run("Wrong", "--json")
    assert code == 1 and last_json(output)["status"] == "auth_failed", output
    assert "bad-key" not in output


def test_run_fake_names_a_missing_fake_and_finds_the_one_class():
    from messaging.management.commands.run_fake import find_fake_class

    with pytest.raises(CommandError, match=r"no fake for 'acme' yet \(expected tests/fakes/acme.py\)"):
        call_command("run_fake", "acme")
    with pytest.raises(CommandError, match="not a provider slug"):
        find_fake_class("../etc")
    from tests.fakes.base import FakeAPI

    for slug in ("qlara", "spoki", "myoperator", "spryng"):
        try:
            cls = find_fake_class(slug)
        except CommandError:
            continue  # that fake is not written yet
        assert issubclass(cls, FakeAPI) and cls.__module__ == f"tests.fakes.{slug}"


def test_run_fake_serves_over_http_until_stopped():
    import requests

    env = {**os.environ, "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_fake", "spoki", "--api-key", "demo-key"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = process.stdout.readline()
        if not line:  # the command ended at once: only a fake not written yet is a reason to skip
            why = process.stderr.read()
            if "There is no fake" in why:
                pytest.skip(why.strip())
            pytest.fail(f"run_fake did not start: {why}")
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:")
        assert (
            requests.get(
                f"{url}/api/1/contacts/", headers={"X-Spoki-Api-Key": "wrong"}, timeout=5
            ).status_code
            == 401
        )
        answer = requests.get(f"{url}/api/1/contacts/", headers={"X-Spoki-Api-Key": "demo-key"}, timeout=5)
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)

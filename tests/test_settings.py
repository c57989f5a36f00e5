"""Production settings: no start without real secrets, and Django's deploy checks are clean."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "DJANGO_SETTINGS_MODULE": "config.settings_production",
    "SECRET_KEY": "k" * 20 + "Zq9!xW3@pL7#rT5$vB1%nM8^cD4&hJ6*" + "s" * 10,
    "FIELD_ENCRYPTION_KEY": "x0M1bXx9d2pVb2lVdjF0Q3RaS3l6cW5GU0xOMG1QQ1E=",
    "ALLOWED_HOSTS": "switchboard.example.com",
}


def manage(*args, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", **{k: v for k, v in GOOD.items() if k != "SECRET_KEY"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_a_weak_key_and_a_missing_encryption_key():
    weak = manage("check", **{**GOOD, "SECRET_KEY": "dev-only-short"})
    assert weak.returncode != 0 and "too weak" in weak.stderr
    no_fernet = manage("check", **{k: v for k, v in GOOD.items() if k != "FIELD_ENCRYPTION_KEY"})
    assert no_fernet.returncode != 0 and "FIELD_ENCRYPTION_KEY" in no_fernet.stderr


def test_check_deploy_is_clean():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout

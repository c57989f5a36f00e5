"""Shared test set-up: no network, eager Celery, role users, provider fakes, a real browser."""

from __future__ import annotations

import ipaddress
import os
import shutil
import socket

import pytest

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

_real_connect = socket.socket.connect


def _guarded_connect(self, address):
    """No test touches the internet: only loopback and Unix sockets may be reached."""
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            ip = ipaddress.ip_address(socket.gethostbyname(host)) if host == "localhost" else None
        if ip is None or not ip.is_loopback:
            raise RuntimeError(f"Test tried to reach the network: {address!r}. Use a fake in tests/fakes/.")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect


@pytest.fixture(autouse=True)
def _test_settings(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Tests speak English unless they ask for Italian (LANGUAGE_CODE's embedded default is "it").
    settings.LANGUAGE_CODE = "en"
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    settings.FIELD_ENCRYPTION_KEY = ["x0M1bXx9d2pVb2lVdjF0Q3RaS3l6cW5GU0xOMG1QQ1E="]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from messaging.providers.http import reset_rate_limiters

    reset_rate_limiters()
    yield
    reset_rate_limiters()


@pytest.fixture
def serve_fake():
    """serve_fake(FakeClass(...)) → a RunningFake with .url and .fake; stopped after the test."""
    from tests.fakes.base import serve

    running = []

    def start(fake):
        server = serve(fake)
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


def _make_user(django_user_model, username, role=None, superuser=False):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, is_staff=True, is_superuser=superuser
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def viewer(db, django_user_model):
    return _make_user(django_user_model, "viewer", "Viewer")


@pytest.fixture
def editor(db, django_user_model):
    return _make_user(django_user_model, "editor", "Editor")


@pytest.fixture
def manager(db, django_user_model):
    return _make_user(django_user_model, "manager", "Manager")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def editor_api(api_client, editor):
    api_client.force_authenticate(editor)
    return api_client


@pytest.fixture
def manager_api(db, django_user_model):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(_make_user(django_user_model, "manager_api", "Manager"))
    return client


# --- browser ---------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM:
        pytest.skip("Debian's chromium is not installed (bin/test installs it with apt when it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def admin_login(live_server, page):
    """admin_login(user) logs the browser in through the real login form; returns the page."""

    def login(user):
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", "pw-" + user.username)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_url(f"{live_server.url}/admin/")
        return page

    return login

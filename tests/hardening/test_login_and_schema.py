"""Issue 8: login throttling (django-axes) and the API schema/docs/root behind a login."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _try(client, username, password):
    return client.post(
        reverse("admin:login") + "?next=/admin/", {"username": username, "password": password}
    )


def test_wrong_passwords_lock_the_account_with_a_clear_message(client, editor, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        assert _try(client, "editor", "wrong").status_code in (200, 429)
    # Reproduces the failure: 30 wrong passwords, then the right one was accepted at once.
    locked = _try(client, "editor", "pw-editor")
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "Too many failed logins" in page and "paused" in page
    assert "_auth_user_id" not in client.session


def test_the_lock_is_per_address_too(client, editor, viewer, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for name in ("a", "b", "c"):  # three different (unknown) user names from one address
        _try(client, name, "wrong")
    assert _try(client, "viewer", "pw-viewer").status_code == 429


def test_a_right_password_before_the_limit_logs_in_and_resets(client, editor, settings):
    settings.AXES_FAILURE_LIMIT = 3
    _try(client, "editor", "wrong")
    _try(client, "editor", "wrong")
    assert _try(client, "editor", "pw-editor").status_code == 302
    client.logout()
    _try(client, "editor", "wrong")
    _try(client, "editor", "wrong")
    assert _try(client, "editor", "pw-editor").status_code == 302  # the counter was reset


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/", "/api/"])
def test_schema_docs_and_root_need_a_login_by_default(api_client, viewer, url):
    assert api_client.get(url).status_code in (401, 403)
    api_client.force_authenticate(viewer)
    assert api_client.get(url).status_code == 200


def test_the_api_root_follows_the_public_setting(api_client, settings):
    # The schema view reads the setting at start-up (SPECTACULAR_SETTINGS); the root at each request.
    settings.SWITCHBOARD_API_SCHEMA_PUBLIC = True
    assert api_client.get("/api/").status_code == 200

"""How the language is chosen: browser, switcher (remembered per user), LANGUAGE_CODE, the API."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from localization.models import UserLanguage

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("maria", password="pw-maria", is_staff=True, is_superuser=True)


def test_login_page_follows_the_browser(client):
    italian = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9,en;q=0.5")
    assert italian.headers["Content-Language"] == "it"
    assert "Nome utente" in italian.text
    english = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")
    assert english.headers["Content-Language"] == "en"
    assert "Username" in english.text


def test_without_a_browser_preference_language_code_applies(client, settings):
    settings.LANGUAGE_CODE = "it"
    assert client.get("/admin/login/").headers["Content-Language"] == "it"
    settings.LANGUAGE_CODE = "en"
    assert client.get("/admin/login/").headers["Content-Language"] == "en"


def test_the_switcher_is_in_the_user_menu_and_remembers_the_choice(client, staff):
    client.force_login(staff)
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="it")
    assert 'action="/i18n/setlang/"' in home.text
    assert 'name="language" type="hidden" value="en"' in home.text

    response = client.post("/i18n/setlang/", {"language": "en", "next": "/admin/"}, HTTP_ACCEPT_LANGUAGE="it")
    assert response.status_code == 302 and response.url == "/admin/"
    assert UserLanguage.objects.get(user=staff).language == "en"
    # Same browser, still saying Italian: the choice wins.
    assert client.get("/admin/", HTTP_ACCEPT_LANGUAGE="it").headers["Content-Language"] == "en"


def test_the_choice_follows_the_person_to_another_browser(client, staff):
    UserLanguage.objects.create(user=staff, language="it")
    login = client.post(
        "/admin/login/?next=/admin/", {"username": "maria", "password": "pw-maria"}, HTTP_ACCEPT_LANGUAGE="en"
    )
    assert login.status_code == 302
    client.cookies.pop("django_language", None)
    home = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert home.headers["Content-Language"] == "it"
    assert "Esci" in home.text  # unfold's "Log out" through our vendor catalogue


def test_an_unknown_language_is_ignored(client, staff):
    client.force_login(staff)
    client.post("/i18n/setlang/", {"language": "xx", "next": "/admin/"})
    assert not UserLanguage.objects.filter(user=staff).exists()


def test_api_validation_messages_follow_accept_language(staff):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(staff)
    UserLanguage.objects.create(user=staff, language="en")  # the API ignores the admin choice
    italian = api.post("/api/contacts/", {}, format="json", HTTP_ACCEPT_LANGUAGE="it")
    assert italian.status_code == 400
    assert italian.json()["phone"] == ["Campo obbligatorio."]
    english = api.post("/api/contacts/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert english.json()["phone"] == ["This field is required."]
    # our own reasons too
    short = api.post("/api/contacts/", {"phone": "12"}, format="json", HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9")
    assert short.json() == {"phone": ["troppo corto: '12'"]}
    short = api.post("/api/contacts/", {"phone": "12"}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert short.json() == {"phone": ["too short: '12'"]}


"""Every staff screen, opened in Italian, shows no English: the admin sweep behind the browser test.

One of each thing staff work with (a contact, a list, an import, a provider account, a template, a
finished campaign with statistics, an automation) and then every change list, change form and
extra page (report, preview, members, upload…) the admin offers, as a Manager whose browser
says Italian. Data staff typed (names, messages) and the provider's own words are not checked.
"""

from __future__ import annotations

import html
import re

import pytest
from django.urls import reverse

from campaigns.services import start_campaign
from campaigns.services.fanout import run_campaign
from contacts.models import Contact
from tests.campaigns.helpers import (
    approved_template,
    list_of,
    predictable_outcomes,
    sandbox_account,
    sms_campaign,
)
from tests.factories import TagFactory

pytestmark = pytest.mark.django_db

ENGLISH = re.compile(
    r"\b(the|and|of|with|your|you|contacts?|lists?|tags?|add|save|delete|search|filters?|status|"
    r"phone|import|export|upload|preview|created|updated|rejected|unchanged|merged|none|view|change|"
    r"history|log ?out|welcome|dashboard|health|healthy|balance|total|download|members?|columns?|rows?|"
    r"finished|running|queued|failed|delivered|read|sent|next|back|start|again|settings|field|value|"
    r"choose|here|line|error|reason|duplicates?|sync|campaigns?|templates?|automations?|messages?|"
    r"recipients?|cost|audience|steps?|when|then|draft|approved|pending|paused|completed|cancelled)\b",
    re.IGNORECASE,
)


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style|svg|template|select|textarea)\b.*?</\1>", " ", page)
    page = re.sub(r"(?is)<!--.*?-->", " ", page)
    page = re.sub(r'(?is)<span[^>]*material-symbols[^>]*>[^<]*</span>', " ", page)
    attrs = " ".join(re.findall(r'(?:title|placeholder|aria-label)="([^"]*)"', page))
    tags = re.compile(r"""<(?:"[^"]*"|'[^']*'|[^>"'])*>""")  # quoted attributes may hold ">" (Alpine)
    return html.unescape(tags.sub(" ", page) + " " + attrs)


@pytest.fixture
def world(monkeypatch):
    predictable_outcomes(monkeypatch)
    account = sandbox_account("Sandbox")
    contact_list, contacts = list_of(12, first_name="Maria", last_name="Rossi")
    campaign = sms_campaign(account, [contact_list], name="Saldi", text="Ciao {{first_name}}!")
    start_campaign(campaign)
    run_campaign(campaign.pk, sleep=lambda s: None)
    approved_template(account, name="promo_natale")
    TagFactory(name="clienti")
    from automations import services

    services.save_automation(
        {"name": "Benvenuto", "enabled": True, "trigger": {"type": "list_added", "list": contact_list.pk},
         "actions": [{"type": "add_tag", "tag": "clienti"}]}
    )  # fmt: skip
    return {"campaign": campaign, "list": contact_list, "contact": contacts[0]}


def admin_pages(world):
    from django.contrib import admin

    yield reverse("admin:index")
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        if opts.app_label not in {"contacts", "messaging", "campaigns", "automations", "auth"}:
            continue
        yield reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
        first = model_admin.get_queryset(_request()).first() if hasattr(model_admin, "get_queryset") else None
        if first is not None:
            yield reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
    campaign = world["campaign"]
    yield reverse("admin:campaigns_campaign_report", args=[campaign.pk])
    yield reverse("admin:contacts_contactlist_members", args=[world["list"].pk])
    yield reverse("admin:contacts_contactimport_upload")
    yield reverse("admin:contacts_contactexport_start")
    yield reverse("admin:contacts_contact_add")


def _request():
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    request = RequestFactory().get("/")
    request.user = get_user_model().objects.filter(is_superuser=True).first()
    return request


def test_every_admin_screen_in_italian_has_no_english(client, django_user_model, world):
    boss = django_user_model.objects.create_user("capo", password="x", is_staff=True, is_superuser=True)
    client.force_login(boss)
    found = {}
    pages = list(dict.fromkeys(admin_pages(world)))
    assert len(pages) > 25
    for url in pages:
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="it-IT,it;q=0.9", follow=True)
        assert response.status_code == 200, url
        text = visible_text(response.content.decode())
        text = re.sub(r"List \d+", " ", text)  # factory data
        # Stored codes shown as data on the message page: its JSON status history and its source code.
        text = re.sub(r"\[\s*\{.*?\}\s*\]", " ", text, flags=re.S)
        text = re.sub(r"(?i)origine\s+\w+|campaign, automation, test, api", " ", text)
        for name in ("Maria", "Rossi", "Saldi", "Benvenuto", "promo_natale", "clienti", "Sandbox"):
            text = text.replace(name, " ")
        words = sorted({" ".join(text[max(0, m.start() - 30) : m.end() + 30].split()) for m in ENGLISH.finditer(text)})
        if words:
            found[url] = words
    for url, words in found.items():
        print(url, words)
    assert found == {}
    assert Contact.objects.count() == 12

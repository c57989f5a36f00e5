"""The contact's one timeline: messages, automation runs and imports, newest first, in words."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from automations.timeline import contact_timeline
from contacts.events import record_imported
from messaging.models import Message
from tests.factories import ContactFactory, ContactListFactory, TagFactory

from .helpers import automation, drain, sandbox_account

pytestmark = pytest.mark.django_db


def _history(contact, account, vip, *, messages=1):
    """An import into VIP, a run of the VIP automation, messages out and in: in that order."""
    record_imported("contact_created", [contact.pk])
    record_imported("list_added", [contact.pk], list_id=vip.pk)
    drain()
    later = timezone.now() + dt.timedelta(minutes=1)
    for i in range(messages):
        Message.objects.create(account=account, contact=contact, phone=contact.phone, channel="sms",
                               text=f"Ciao {i}", status="delivered", created_at=later + dt.timedelta(seconds=i))  # fmt: skip
    Message.objects.create(account=account, contact=contact, phone=contact.phone, channel="sms", direction="inbound",
                           text="Grazie!", status="received", created_at=later + dt.timedelta(minutes=5))  # fmt: skip


def test_one_timeline_merges_messages_runs_and_imports_newest_first_in_words():
    vip, account = ContactListFactory(name="VIP"), sandbox_account()
    TagFactory(name="vip")
    automation("Benvenuto", trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "vip"}])
    anna = ContactFactory(first_name="Anna")
    _history(anna, account, vip)

    entries, more = contact_timeline(anna)
    titles = [e["title"] for e in entries]
    assert not more
    assert titles[0] == "Message received on Sandbox" and entries[0]["text"] == "Grazie!"
    assert titles[1] == "Message sent: Delivered" and entries[1]["text"] == "Ciao 0"
    assert "Automation “Benvenuto”: Succeeded" in titles
    assert "Tag “vip” added" in titles  # the automation's own action, as an event
    assert "Added to the list “VIP”" in titles and "Contact created" in titles
    # Only a list_added automation listens, so the import recorded no contact_created event: the
    # creation comes from the contact row, the list addition from the import's event.
    imported = [e for e in entries if e["kind"] == "import"]
    assert len(imported) == 1 and all(e["detail"] == ["by an import"] for e in imported)
    run = next(e for e in entries if e["kind"] == "automation")
    assert run["detail"] == ["Add tag — Done"]  # the action in words, not its code
    times = [e["at"] for e in entries]
    assert times == sorted(times, reverse=True)


def test_timeline_on_the_contact_page_in_english_and_italian(client, editor):
    vip, account = ContactListFactory(name="VIP"), sandbox_account()
    TagFactory(name="vip")
    automation("Benvenuto", trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "vip"}])
    anna = ContactFactory(first_name="Anna")
    _history(anna, account, vip)
    client.force_login(editor)
    url = reverse("admin:contacts_contact_change", args=[anna.pk])
    page = client.get(url).content.decode()
    assert 'data-testid="timeline"' in page and page.count('data-kind="automation"') == 1
    assert "Automation “Benvenuto”: Succeeded" in page and "Add tag" in page and "by an import" in page
    assert page.index("Grazie!") < page.index("Ciao 0") < page.index("Benvenuto")  # newest first
    with translation.override("it"):
        italian = client.get(url, HTTP_ACCEPT_LANGUAGE="it").content.decode()
    assert "Automazione “Benvenuto”" in italian and "da un\u2019importazione" in italian


def test_timeline_is_bounded_and_its_queries_do_not_grow_with_history():
    vip, account = ContactListFactory(name="VIP"), sandbox_account()
    TagFactory(name="vip")
    automation("Benvenuto", trigger={"type": "list_added", "list": vip.pk}, actions=[{"type": "add_tag", "tag": "vip"}])
    small, big = ContactFactory(), ContactFactory()
    _history(small, account, vip, messages=1)
    _history(big, account, vip, messages=60)
    counts = []
    for contact in (small, big):
        with CaptureQueriesContext(connection) as queries:
            entries, more = contact_timeline(contact, limit=50)
        counts.append(len(queries))
    assert counts[0] == counts[1] <= 5
    assert len(entries) == 50 and more  # the big one: bounded, and says there is more
    assert entries[0]["text"] == "Grazie!"

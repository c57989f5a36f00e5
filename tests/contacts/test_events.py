"""contacts/events.py: services record what happened to contacts, once, in bulk."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts import services
from contacts.events import ContactEvent, events_recorded, record_events
from contacts.models import Contact

pytestmark = pytest.mark.django_db


def _phones(n, start=0):
    return [f"+3933312{start + i:05d}" for i in range(n)]


def _contacts(n):
    Contact.objects.bulk_create([Contact(phone=p) for p in _phones(n)])
    return list(Contact.objects.order_by("pk").values_list("pk", flat=True))


def test_record_events_is_one_statement_for_many_contacts():
    ids = _contacts(300)
    with CaptureQueriesContext(connection) as ctx:
        assert record_events("list_added", ids, source="import", data={"list_id": 7}) == 300
    inserts = [q for q in ctx.captured_queries if q["sql"].upper().startswith("INSERT")]
    assert len(inserts) == 1
    assert ContactEvent.objects.filter(kind="list_added", data__list_id=7, source="import").count() == 300


def test_dedupe_key_keeps_one_event_per_kind_and_contact():
    ids = _contacts(2)
    record_events("inbound_message", ids[:1], dedupe_key="msg-1", data={"text": "INFO"})
    record_events("inbound_message", ids[:1], dedupe_key="msg-1", data={"text": "INFO"})
    record_events("inbound_message", ids[1:], dedupe_key="msg-1")
    assert ContactEvent.objects.filter(kind="inbound_message").count() == 2


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown contact event kind"):
        record_events("birthday", [1])


def test_signal_sent_after_commit_only(django_capture_on_commit_callbacks):
    ids = _contacts(1)
    seen = []

    def receiver(sender, kinds, count, **kwargs):
        seen.append((kinds, count))

    events_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            record_events("tag_added", ids)
            assert seen == []
        assert seen == [({"tag_added"}, 1)]
    finally:
        events_recorded.disconnect(receiver)


def test_services_record_events_only_for_real_changes():
    vip = services.create_list("VIP")
    contact = services.create_contact(
        {"phone": "+393331112223", "lists": [vip.pk], "tags": ["new"]}, source="api"
    )
    kinds = sorted(ContactEvent.objects.filter(contact=contact).values_list("kind", "source"))
    assert kinds == [("contact_created", "api"), ("list_added", "api"), ("tag_added", "api")]
    other = services.create_contact({"phone": "+393331112224"})
    ContactEvent.objects.all().delete()
    assert services.add_to_list(vip, [contact.pk, other.pk]) == 1  # contact was already in VIP
    assert list(ContactEvent.objects.values_list("kind", "contact_id", "data")) == [
        ("list_added", other.pk, {"list_id": vip.pk, "list": "VIP"})
    ]
    ContactEvent.objects.all().delete()
    services.tag_contacts(Contact.objects.filter(pk__in=[contact.pk, other.pk]), ["new"])
    assert list(ContactEvent.objects.values_list("kind", "contact_id")) == [("tag_added", other.pk)]
    ContactEvent.objects.all().delete()
    assert services.remove_from_list(vip, [contact.pk]) == 1
    assert services.remove_from_list(vip, [contact.pk]) == 0
    assert list(ContactEvent.objects.values_list("kind", "contact_id")) == [("list_removed", contact.pk)]
    ContactEvent.objects.all().delete()
    services.update_contact(contact, {"lists": [vip.pk], "tags": ["new", "vip"]})
    assert sorted(ContactEvent.objects.values_list("kind", flat=True)) == ["list_added", "tag_added"]

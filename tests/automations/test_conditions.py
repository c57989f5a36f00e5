"""Conditions checked for a whole batch in one query agree with the same conditions as filters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automations.conditions import check_conditions, condition_q
from contacts import services as contacts
from contacts.models import Contact, CustomField
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_every_condition_for_the_batch_in_one_query_agrees_with_the_filter():
    vip, tag = ContactListFactory(name="VIP"), TagFactory(name="gold")
    CustomFieldFactory(key="tier")
    CustomFieldFactory(key="score", type=CustomField.Type.NUMBER)
    people = [
        ContactFactory(language="it", country="IT", city="Bari", fields={"tier": "Gold", "score": 7}),
        ContactFactory(language="en", country="GB", city="", fields={"score": 2}),
        ContactFactory(language="it", country="IT", opted_out=True, fields={"tier": ""}),
        ContactFactory(language="", country="", fields={}),
    ]
    contacts.add_to_list(vip, [people[0].pk, people[2].pk])
    contacts.tag_contacts(Contact.objects.filter(pk=people[1].pk), ["gold"])
    conditions = [
        {"type": "in_list", "list": vip.pk}, {"type": "not_in_list", "list": vip.pk},
        {"type": "has_tag", "tag": tag.name}, {"type": "not_has_tag", "tag": tag.name},
        {"type": "language", "value": "IT"}, {"type": "country", "value": "gb"}, {"type": "not_opted_out"},
        {"type": "field", "field": "tier", "op": "equals", "value": "gold"},
        {"type": "field", "field": "tier", "op": "contains", "value": "ol"},
        {"type": "field", "field": "tier", "op": "empty"}, {"type": "field", "field": "tier", "op": "not_empty"},
        {"type": "field", "field": "score", "op": "greater", "value": 5},
        {"type": "field", "field": "score", "op": "less", "value": 5},
        {"type": "field", "field": "city", "op": "empty"}, {"type": "field", "field": "city", "op": "equals", "value": "bari"},
    ]  # fmt: skip
    ids = [p.pk for p in people]
    with CaptureQueriesContext(connection) as queries:
        results = check_conditions(conditions, ids)
    # One query for the contacts; the custom-field look-ups of equals/contains are per condition.
    contact_queries = [q for q in queries.captured_queries if not q["sql"].startswith('SELECT "contacts_customfield"')]
    assert len(contact_queries) == 1
    for i, cond in enumerate(conditions):
        passing = set(Contact.objects.filter(pk__in=ids).filter(condition_q(cond)).values_list("pk", flat=True))
        assert {cid for cid in ids if results[cid][i]["ok"]} == passing, cond
    assert [r["ok"] for r in results[people[0].pk]][:2] == [True, False]
    assert results[people[1].pk][5]["ok"] and not results[people[2].pk][6]["ok"]
    assert results[people[0].pk][7]["ok"] and not results[people[1].pk][7]["ok"]

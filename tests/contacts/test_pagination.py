import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact, Membership
from contacts.pagination import estimated_count
from tests.factories import ContactFactory, ContactListFactory

pytestmark = pytest.mark.django_db


def test_small_counts_are_exact():
    ContactFactory.create_batch(7)
    assert estimated_count(Contact.objects.all()) == (7, True)
    assert estimated_count(Contact.objects.filter(first_name="nobody")) == (0, True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")
def test_large_counts_are_estimated_on_postgresql():
    ContactFactory.create_batch(30)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    count, exact = estimated_count(Contact.objects.all(), exact_limit=10)
    assert not exact and count >= 11
    count, exact = estimated_count(Contact.objects.filter(first_name__startswith=""), exact_limit=10)
    assert not exact and count >= 11


def test_admin_change_list_queries_do_not_grow_with_the_page(client, editor):
    vip = ContactListFactory()
    client.force_login(editor)
    ContactFactory.create_batch(3)

    def queries(url):
        cache.clear()  # the language filter caches its choices; count a cold page each time
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    small = queries("/admin/contacts/contact/")
    people = ContactFactory.create_batch(40)
    for person in people:
        Membership.objects.create(contact=person, contact_list=vip)
        person.tags.create(name=f"t{person.pk}")
    assert queries("/admin/contacts/contact/") == small

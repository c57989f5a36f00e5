"""The admin's language filter lists the languages live contacts have, without a scan of the book."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from contacts.admin import _distinct_languages
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_languages_are_the_live_contacts_distinct_languages_sorted():
    for i, language in enumerate(["it", "en", "it", "de", "", "en"]):
        ContactFactory(phone=f"+3933312300{i:02d}", language=language)
    ContactFactory(phone="+393331239999", language="fr", deleted_at=timezone.now())  # in the bin only
    with CaptureQueriesContext(connection) as queries:
        assert _distinct_languages() == ["de", "en", "it"]
    assert len(queries) == 1
    assert _distinct_languages(limit=2) == ["de", "en"]


def test_no_contacts_no_languages():
    assert _distinct_languages() == []


@pytest.mark.postgres
def test_on_postgresql_it_probes_the_language_index_instead_of_scanning():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plan")
    from contacts.admin import _LANGUAGES_SQL
    from contacts.models import Contact

    # A book big enough for the planner to choose as it does at scale (20,000 live contacts).
    languages = ["it", "en", "de"]
    Contact.objects.bulk_create(
        [Contact(phone=f"+39334{i:07d}", language=languages[i % 3]) for i in range(20_000)], batch_size=5_000
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("EXPLAIN " + _LANGUAGES_SQL, [100])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "contact_language_idx" in plan

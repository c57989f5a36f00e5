"""The demo import seed_demo adds: a finished import with new contacts, a warning and a rejected row."""

import pytest

from contacts.imports.demo import NAME, seed_import_demo
from contacts.imports.models import ContactImport

pytestmark = pytest.mark.django_db


def test_the_demo_import_shows_each_outcome_once(media):
    assert seed_import_demo() is True
    imp = ContactImport.objects.get(original_name=NAME)
    assert (imp.status, imp.created, imp.warned, imp.rejected) == ("succeeded", 2, 1, 1)
    assert [(w["column"], w["value"]) for w in imp.warning_examples] == [
        ("E-mail Address", "dario@example"), ("Birthday", "31/02/1980"),
    ]  # fmt: skip
    assert seed_import_demo() is False
    assert ContactImport.objects.count() == 1

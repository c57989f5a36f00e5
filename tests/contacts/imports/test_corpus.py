"""Every file of the export corpus (tests/fixtures/imports/corpus.py) imports exactly as expected."""

from __future__ import annotations

import csv
import importlib.util

import pytest

from contacts.imports import services
from contacts.models import Contact

from .conftest import FIXTURES

pytestmark = pytest.mark.django_db


def _corpus():
    spec = importlib.util.spec_from_file_location("corpus", FIXTURES / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CORPUS = _corpus()


@pytest.fixture(scope="module")
def corpus_files(tmp_path_factory):
    return CORPUS.build(tmp_path_factory.mktemp("corpus"))


def _value(contact, key):
    if key == "tags":
        return sorted(contact.tags.values_list("name", flat=True))
    value = getattr(contact, key)
    return value.isoformat() if hasattr(value, "isoformat") else value


@pytest.mark.parametrize("name", sorted(CORPUS.EXPECTED))
def test_corpus_file_imports_exactly(media, corpus_files, name):
    expected = CORPUS.EXPECTED[name]
    imp = services.import_file(str(corpus_files[name]), **{"country": "IT", **expected.get("options", {})})
    assert imp.status == "succeeded", imp.error
    got_counts = {k: getattr(imp, k) for k in expected["counts"]}
    assert got_counts == expected["counts"]
    assert imp.created + imp.updated + imp.unchanged + imp.merged + imp.rejected == imp.total_rows
    contacts = {c.phone: c for c in Contact.objects.all()}
    assert set(contacts) == set(expected["contacts"])
    for phone, fields in expected["contacts"].items():
        got = {key: _value(contacts[phone], key) for key in fields}
        assert got == {k: sorted(v) if k == "tags" else v for k, v in fields.items()}, phone
    warnings = []
    if imp.warnings_file:
        with open(imp.warnings_file.path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0] == ["line", "phone", "column", "value", "reason"]
        # The report is a spreadsheet: a value Excel would run as a formula carries a leading
        # apostrophe there (contacts.imports.exports.neutralise); compare what was in the file.
        warnings = [(int(r[0]), r[2], _unneutralised(r[3]), r[4]) for r in rows[1:]]
        assert all(r[1] in contacts for r in rows[1:])  # each warning names the contact it belongs to
    assert warnings == expected["warnings"], warnings
    assert [(w["line"], w["column"], w["value"], w["reason"]) for w in imp.warning_examples] == warnings
    rejected = []
    if imp.rejected_file:
        with open(imp.rejected_file.path, encoding="utf-8-sig", newline="") as fh:
            rejected = [(int(r[-2]), r[-1]) for r in list(csv.reader(fh))[1:]]
    assert rejected == expected["rejected"]


def _unneutralised(cell: str) -> str:
    return cell[1:] if cell.startswith("'") and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell

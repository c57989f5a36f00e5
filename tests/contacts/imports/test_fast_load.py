"""Issue 13 (second pass) and 12: an import's events, recorded cheaply and only when listened for,
tag_added among them; search indexes deferred for a large load and always rebuilt."""

from __future__ import annotations

import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from contacts.events import ContactEvent, register_listened_kinds, unregister_listened_kinds
from contacts.imports import indexes, pipeline, services
from contacts.models import Contact, ContactList, Tag


def _csv(tmp_path, n: int, *, start: int = 0, name="people.csv", tags: bool = False):
    # Long notes: the import estimates the rows still to load from the file's bytes, which a
    # tiny file gives away in one buffered read.
    lines = ["phone,first name,last name,notes" + (",tags" if tags else "")]
    for i in range(start, start + n):
        row = f"333{i:07d},Name{i},Surname{i},{'x' * 300}"
        if tags:
            row += ",gold" if i % 2 else ","
        lines.append(row)
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_registered_consumers(monkeypatch):
    """These tests speak of the contacts layer alone: with no consumer registered, every kind is
    recorded (the automations app registers one; tests/automations covers what it asks for)."""
    from contacts import events

    monkeypatch.setattr(events, "_listeners", [])


def _events(kind: str):
    return ContactEvent.objects.filter(kind=kind, source="import")


@pytest.mark.django_db
def test_an_import_raises_tag_added_once_per_new_link(media, tmp_path, settings):
    """New contacts (plain-COPY batches on PostgreSQL) and existing ones (the upsert) alike."""
    settings.IMPORT_BATCH_SIZE = 7
    imp = services.import_file(str(_csv(tmp_path, 20)), new_list_name="New", tags=["vip"])
    assert imp.status == "succeeded" and imp.created == 20
    vip = Tag.objects.get(name="vip")
    events = _events("tag_added")
    assert events.count() == 20
    assert set(events.values_list("contact_id", flat=True)) == set(
        Contact.objects.values_list("pk", flat=True)
    )
    assert {(e["tag_id"], e["tag"]) for e in events.values_list("data", flat=True)} == {(vip.pk, "vip")}
    assert _events("contact_created").count() == 20
    new_list = ContactList.objects.get(name="New")
    datas = list(_events("list_added").values_list("data", flat=True))
    assert len(datas) == 20 and all(d == {"list_id": new_list.pk, "list": "New"} for d in datas)

    # Again with 10 of the same contacts plus 10 new ones, the same tag and a new one: only new links count.
    ContactEvent.objects.all().delete()
    imp = services.import_file(str(_csv(tmp_path, 20, start=10, name="more.csv")), tags=["vip", "late"])
    assert (imp.created, imp.unchanged) == (10, 10)
    late = Tag.objects.get(name="late")
    by_tag = {}
    for data, contact_id in _events("tag_added").values_list("data", "contact_id"):
        by_tag.setdefault(data["tag"], []).append(contact_id)
    assert len(by_tag["vip"]) == 10 and len(set(by_tag["vip"])) == 10  # the 10 new contacts
    assert (
        sorted(by_tag["late"]) == sorted(late.contacts.values_list("pk", flat=True))
        and len(by_tag["late"]) == 20
    )
    assert _events("contact_created").count() == 10


@pytest.mark.django_db
def test_the_rows_own_tags_raise_tag_added(media, tmp_path, settings):
    settings.IMPORT_BATCH_SIZE = 5
    imp = services.import_file(str(_csv(tmp_path, 12, tags=True)))
    assert imp.created == 12
    gold = Tag.objects.get(name="gold")
    tagged = set(gold.contacts.values_list("pk", flat=True))
    assert len(tagged) == 6
    assert set(_events("tag_added").values_list("contact_id", flat=True)) == tagged
    assert _events("tag_added").count() == 6
    assert {d["tag_id"] for d in _events("tag_added").values_list("data", flat=True)} == {gold.pk}


@pytest.mark.django_db
def test_an_import_records_only_the_kinds_a_consumer_listens_for(media, tmp_path, settings):
    settings.IMPORT_BATCH_SIZE = 4

    def listens():
        return {"list_added"}

    register_listened_kinds(listens)
    try:
        imp = services.import_file(str(_csv(tmp_path, 10)), new_list_name="Only", tags=["x"])
    finally:
        unregister_listened_kinds(listens)
    assert imp.created == 10
    assert sorted(set(ContactEvent.objects.values_list("kind", flat=True))) == ["list_added"]
    assert _events("list_added").count() == 10
    # With no consumer registered, every kind is recorded again.
    imp = services.import_file(str(_csv(tmp_path, 3, start=100, name="b.csv")), tags=["x"])
    assert _events("contact_created").count() == 3 and _events("tag_added").count() == 3


# --- deferred search indexes (PostgreSQL) ------------------------------------------------------


def _present() -> set[str]:
    with connection.cursor() as cursor:
        return set(indexes.DEFERRED) - set(indexes.missing(cursor))


def _search_uses_trigram() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM contacts_contact WHERE UPPER(last_name) LIKE UPPER('%%urname1%%')"
        )
        plan = " ".join(r[0] for r in cursor.fetchall())
        cursor.execute("RESET enable_seqscan")
    return "contact_last_trgm" in plan


@pytest.fixture
def deferring(settings, media):
    if connection.vendor != "postgresql":
        pytest.skip("the deferred indexes are PostgreSQL's")
    settings.IMPORT_BATCH_SIZE = 10
    settings.IMPORT_DEFER_INDEXES_MIN_ROWS = 20
    yield
    for _ in range(50):  # a closed session's advisory lock ends a moment later
        indexes.restore_if_idle()
        if _present() == set(indexes.DEFERRED):
            break
        time.sleep(0.1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_large_load_defers_the_search_indexes_and_rebuilds_them(deferring, tmp_path, caplog):
    caplog.set_level("INFO", logger="contacts.imports")
    imp = services.import_file(str(_csv(tmp_path, 120)), new_list_name="Big", tags=["t"])
    assert imp.status == "succeeded" and imp.created == 120
    assert "search indexes dropped" in caplog.text and "search indexes rebuilt" in caplog.text
    assert _present() == set(indexes.DEFERRED) and _search_uses_trigram()
    found = Contact.objects.filter(last_name__icontains="urname11").order_by("pk")
    assert [c.last_name for c in found] == ["Surname11"] + [f"Surname{i}" for i in range(110, 120)]
    assert ContactList.objects.get(name="Big").memberships.count() == 120
    # Importing the same file again is no load (its first batch created nothing): indexes kept.
    caplog.clear()
    imp = services.import_file(str(_csv(tmp_path, 120)))
    assert imp.unchanged == 120 and "search indexes dropped" not in caplog.text
    # A small import into the now larger book keeps them (rows left < half the table).
    caplog.clear()
    imp = services.import_file(str(_csv(tmp_path, 40, start=500, name="small.csv")))
    assert imp.created == 40 and "search indexes dropped" not in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_failed_and_resumed_deferred_loads_leave_the_indexes_in_place(deferring, tmp_path, monkeypatch):
    path = _csv(tmp_path, 100)
    with open(path, "rb") as fh:
        imp = services.start_import(SimpleUploadedFile("big.csv", fh.read()), new_list_name="L", tags=["t"])
    real_write = pipeline.PostgresWriter.write
    calls = {"n": 0, "present": None}

    def crashing(self, rows, mode, copy_data=None, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # the 4th batch, after the first one dropped the indexes
            calls["present"] = _present()
            raise ConnectionError("worker killed")
        return real_write(self, rows, mode, copy_data, **kwargs)

    monkeypatch.setattr(pipeline.PostgresWriter, "write", crashing)
    with pytest.raises(ConnectionError):
        services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "failed" and imp.cursor == 30
    assert calls["present"] == set()  # they were deferred …
    assert _present() == set(indexes.DEFERRED)  # … and rebuilt on the failure

    # A worker killed outright cannot rebuild: the indexes stay dropped until the next run.
    with connection.cursor() as cursor:
        for name in indexes.DEFERRED:
            cursor.execute(f"DROP INDEX {name}")
    monkeypatch.setattr(pipeline.PostgresWriter, "write", real_write)
    services.run_import(imp.pk)  # the resume restores them first, then loads the rest
    imp.refresh_from_db()
    assert imp.status == "succeeded" and imp.created == 100
    assert Contact.objects.count() == 100 == ContactList.objects.get(name="L").memberships.count()
    assert Tag.objects.get(name="t").contacts.count() == 100
    assert ContactEvent.objects.filter(kind="contact_created").count() == 100
    assert _present() == set(indexes.DEFERRED) and _search_uses_trigram()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_stale_import_check_restores_indexes_a_dead_worker_left_out(deferring):
    from contacts.tasks import fail_stale_imports

    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX contact_phone_trgm")
    assert fail_stale_imports() == {"failed": 0, "indexes_rebuilt": ["contact_phone_trgm"]}
    assert _present() == set(indexes.DEFERRED)
    assert fail_stale_imports()["indexes_rebuilt"] == []


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_indexes_are_not_restored_under_an_import_that_defers_them(deferring):
    """A second import starting while one loads without the indexes leaves them to it."""
    import psycopg

    s = connection.settings_dict
    other = psycopg.connect(
        host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
        dbname=s["NAME"], autocommit=True,
    )  # fmt: skip
    try:
        other.execute("SELECT pg_advisory_lock_shared(%s, %s)", list(indexes.LOCK))  # "deferring"
        with connection.cursor() as cursor:
            cursor.execute("DROP INDEX contact_email_trgm")
        assert indexes.restore_if_idle() == []
        assert indexes.Deferral().start(10**6) is False  # and it does not defer on top
    finally:
        other.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_busy_table_keeps_its_indexes(deferring):
    """Dropping never queues for long behind a running query (which would stall every reader)."""
    import psycopg

    s = connection.settings_dict
    other = psycopg.connect(
        host=s["HOST"], port=s["PORT"] or 5432, user=s["USER"], password=s["PASSWORD"] or None,
        dbname=s["NAME"],
    )  # fmt: skip
    try:
        other.execute("LOCK TABLE contacts_contact IN ACCESS SHARE MODE")  # a long search, say
        started = time.monotonic()
        assert indexes.Deferral().start(10**6) is False
        assert time.monotonic() - started < 10
    finally:
        other.close()
    assert _present() == set(indexes.DEFERRED)
    deferral = indexes.Deferral()
    assert deferral.start(10**6) is True  # the lock released, a later load may defer
    assert _present() == set()
    deferral.finish()
    assert _present() == set(indexes.DEFERRED)

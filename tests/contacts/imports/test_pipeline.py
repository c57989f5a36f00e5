"""The pipeline end to end on real sample files: exact counts, merges, modes, resume, reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.imports import pipeline, services
from contacts.imports.models import ContactImport
from contacts.models import Contact, ContactList, CustomField, Tag

from .conftest import fixture

pytestmark = pytest.mark.django_db


def run(path, **kwargs) -> ContactImport:
    return services.import_file(str(path), **kwargs)


def counts(imp):
    return {
        k: getattr(imp, k) for k in ("total_rows", "created", "updated", "unchanged", "merged", "rejected")
    }


def rejected_rows(imp):
    with open(imp.rejected_file.path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_google_csv(media):
    imp = run(fixture("google.csv"), new_list_name="Google", tags=["imported"])
    assert imp.status == "succeeded"
    assert counts(imp) == {
        "total_rows": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "rejected": 1,
    }
    mario = Contact.objects.get(phone="+393331234567")  # the Mobile one of two phone columns wins
    assert mario.secondary_phones == ["+390212345678"]
    assert mario.birth_date == dt.date(1980, 4, 15)
    assert mario.notes.endswith("seconda riga della nota")
    assert set(mario.tags.values_list("name", flat=True)) == {"Clienti", "imported"}
    assert ContactList.objects.get(name="Google").memberships.count() == 3
    giulia = Contact.objects.get(phone="+393477654321")
    assert giulia.secondary_phones == []  # her second number is a fax: never used
    anna = Contact.objects.get(email="anna@example.com")  # two numbers in one cell, " ::: " separated
    assert (anna.phone, anna.secondary_phones) == ("+442079460958", ["+393201112222"])
    header, *data = rejected_rows(imp)
    assert header[-2:] == ["line", "error"] and header[0] == "Name"
    assert data == [
        [
            "Luca Verdi",
            "Luca",
            "",
            "Verdi",
            "",
            "",
            "",
            "* myContacts",
            "",
            "",
            "Mobile",
            "12345",
            "",
            "",
            "",
            "5",
            "phone '12345': too short",
        ]
    ]


def test_outlook_csv_with_country_and_formula_cells(media):
    imp = run(fixture("outlook.csv"), country="GB")
    assert counts(imp) == {
        "total_rows": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "rejected": 1,
    }
    john = Contact.objects.get(first_name="John")
    # Mobile is empty, so Home wins; Business is kept; Business Fax is never a phone.
    assert (john.phone, john.secondary_phones) == ("+442079460018", ["+442079460019"])
    assert (john.country, john.city) == ("GB", "London")
    formula = Contact.objects.get(last_name="Formula")
    assert formula.first_name == "=cmd|' /C calc'!A0"  # stored as text, as typed
    assert formula.notes == "@SUM(1+1)"
    assert rejected_rows(imp)[1][-2:] == ["4", "no phone number"]


def test_italian_excel_csv_dedupes_within_file(media, generated):
    imp = run(generated["italian"])
    assert counts(imp) == {
        "total_rows": 5,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "merged": 1,
        "rejected": 1,
    }
    mario = Contact.objects.get(phone="+393331234567")
    assert Contact.objects.filter(last_name="Rossi").count() == 1
    assert mario.notes == "Cliente dal 2010; paga a 30 gg"  # the first row's value is kept
    assert mario.secondary_phones == ["+390212345678"]
    assert Contact.objects.get(phone="+390698765432").first_name == "Niccolò"


def test_utf16_and_xlsx(media, generated):
    CustomField.objects.create(key="punti", label="Punti", type="number")
    CustomField.objects.create(key="iscritto", label="Iscritto", type="boolean")
    imp = run(generated["utf16"])
    assert (imp.created, imp.rejected) == (3, 0)
    assert Contact.objects.get(phone="+8613912345678").company == "北京公司"
    imp = run(generated["xlsx"])
    assert counts(imp) == {
        "total_rows": 5,
        "created": 4,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "rejected": 1,
    }
    anna = Contact.objects.get(phone="+393331112222")  # stored by Excel as a number
    assert anna.birth_date == dt.date(1990, 5, 17) and anna.fields == {"punti": 120, "iscritto": True}
    assert Contact.objects.get(first_name="Bruno").birth_date == dt.date(1990, 1, 1)  # an Excel serial
    assert Contact.objects.get(first_name="Carla").phone == "+393345556667"  # scientific notation, exact
    errors = {row[0]: row[-1] for row in rejected_rows(imp)[1:]}
    assert "scientific notation" in errors["Dario"] and "Elena" not in errors
    # An optional value that cannot be understood: the contact is imported without it, with a warning.
    assert Contact.objects.get(first_name="Elena").fields == {}
    assert imp.warned == 1
    assert imp.warning_examples == [
        {"line": 8, "column": "Punti", "value": "abc", "reason": "'punti' must be a number, got 'abc'",
         "phone": "+393207654321"}
    ]  # fmt: skip
    supplier = run(generated["xlsx"], sheet="Fornitori")
    assert supplier.created == 1 and Contact.objects.filter(phone="+390645678901").exists()


def test_vcards(media):
    imp = run(fixture("apple.vcf"))
    assert counts(imp) == {
        "total_rows": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "rejected": 2,
    }
    maria = Contact.objects.get(phone="+393390001111")
    assert maria.secondary_phones == ["+390287654321"]
    assert (maria.birth_date, maria.country, maria.company) == (dt.date(1975, 6, 30), "IT", "Studio Rossi")
    errors = [row[-1] for row in rejected_rows(imp)[1:]]
    assert errors == ["group card (a list of members, not a contact) skipped", "no phone number"]
    imp = run(fixture("android21.vcf"))
    assert (imp.created, imp.rejected) == (2, 0)
    assert Contact.objects.get(phone="+393351234567").last_name == "Rosà"
    assert Contact.objects.get(phone="+393485556667").secondary_phones == ["+390299887766"]
    imp = run(fixture("v4.vcf"))
    assert counts(imp) == {
        "total_rows": 4,
        "created": 2,
        "updated": 0,
        "unchanged": 0,
        "merged": 0,
        "rejected": 2,
    }
    assert Contact.objects.get(phone="+447911123456").secondary_phones == ["+442079460000"]
    assert Contact.objects.get(phone="+12025550143").notes == "Birthday (no year): 04-12"


def test_second_import_of_the_same_file_changes_nothing(media, generated):
    first = run(generated["italian"], new_list_name="Clienti", tags=["2024"])
    snapshot = list(Contact.objects.order_by("pk").values())
    second = run(generated["italian"], contact_list=ContactList.objects.get(name="Clienti"), tags=["2024"])
    assert counts(second) == {**counts(first), "created": 0, "unchanged": first.created}
    assert list(Contact.objects.order_by("pk").values()) == snapshot
    assert ContactList.objects.get(name="Clienti").memberships.count() == 3


def _csv(tmp_path, text, name="rows.csv"):
    path = Path(tmp_path) / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mode", "expected_name", "expected_email", "outcome"),
    [
        ("fill", "Old", "new@example.com", "updated"),
        ("overwrite", "New", "new@example.com", "updated"),
        ("skip", "Old", "", "unchanged"),
    ],
)
def test_update_modes(media, tmp_path, mode, expected_name, expected_email, outcome):
    Contact.objects.create(phone="+393331234567", first_name="Old", fields={"tier": "gold"})
    CustomField.objects.create(key="tier", label="Tier")
    path = _csv(tmp_path, "phone,first name,email,tier\n333 123 4567,New,new@example.com,silver\n")
    imp = run(path, update_mode=mode)
    assert getattr(imp, outcome) == 1 and imp.created == 0
    contact = Contact.objects.get()
    assert (contact.first_name, contact.email) == (expected_name, expected_email)
    assert contact.fields == {"tier": "silver" if mode == "overwrite" else "gold"}


def test_opted_out_and_blocked_stay_so(media, tmp_path):
    Contact.objects.create(
        phone="+393331234567", opted_out=True, opted_out_reason="STOP", opted_out_at=timezone.now()
    )
    Contact.objects.create(phone="+393331234568", blocked=True)
    path = _csv(tmp_path, "phone,name\n+393331234567,Ann\n+393331234568,Bob\n")
    imp = run(path, update_mode="overwrite")
    assert imp.updated == 2
    assert Contact.objects.get(phone="+393331234567").opted_out is True
    assert Contact.objects.get(phone="+393331234568").blocked is True


def test_soft_deleted_contact_does_not_block_a_new_one(media, tmp_path):
    old = Contact.objects.create(phone="+393331234567", first_name="Gone", deleted_at=timezone.now())
    imp = run(_csv(tmp_path, "phone,name\n+393331234567,Back\n"))
    assert imp.created == 1
    assert Contact.all_objects.filter(phone="+393331234567").count() == 2
    assert Contact.all_objects.get(pk=old.pk).first_name == "Gone"


def test_duplicates_across_batches_merge(media, tmp_path, settings):
    settings.IMPORT_BATCH_SIZE = 2
    text = "phone,first name,email\n3331110001,Ann,\n3331110002,Bob,\n3331110003,Cy,\n+39 333 111 0001,,ann@example.com\n"
    imp = run(_csv(tmp_path, text))
    assert counts(imp) == {
        "total_rows": 4,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "merged": 1,
        "rejected": 0,
    }
    ann = Contact.objects.get(phone="+393331110001")
    assert (ann.first_name, ann.email) == ("Ann", "ann@example.com")


def _big_csv(tmp_path, n=40):
    lines = ["phone,first name,last name"]
    for i in range(n):
        lines.append(f"333{i:07d},Name{i},Surname{i}" if i % 10 != 7 else f"bad{i},Broken,{i}")
    lines.append("3330000001,Again,Dup")
    return _csv(tmp_path, "\n".join(lines) + "\n", "big.csv")


def test_resume_after_a_crash_neither_loses_nor_doubles(media, tmp_path, settings, monkeypatch):
    settings.IMPORT_BATCH_SIZE = 5
    path = _big_csv(tmp_path)
    with open(path, "rb") as fh:
        imp = services.start_import(SimpleUploadedFile("big.csv", fh.read()), new_list_name="Big", tags=["t"])
    writer_class = pipeline.PostgresWriter if connection.vendor == "postgresql" else pipeline.Writer
    real_write = writer_class.write
    calls = {"n": 0}

    def crashing(self, rows, mode, copy_data=None, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # the 4th batch (each batch writes primaries and merges)
            raise ConnectionError("worker killed")
        return real_write(self, rows, mode, copy_data, **kwargs)

    monkeypatch.setattr(writer_class, "write", crashing)
    with pytest.raises(ConnectionError):
        services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "failed" and "worker killed" in imp.error
    assert imp.cursor == 15 and imp.processed == 15
    assert Contact.objects.count() == imp.created == 14  # 15 rows, one bad
    monkeypatch.setattr(writer_class, "write", real_write)
    result = services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "succeeded" and imp.attempts == 2
    assert counts(imp) == {
        "total_rows": 41,
        "created": 36,
        "updated": 0,
        "unchanged": 0,
        "merged": 1,
        "rejected": 4,
    }
    assert result["created"] == 36
    assert Contact.objects.count() == 36
    assert ContactList.objects.get(name="Big").memberships.count() == 36
    assert Tag.objects.get(name="t").contacts.count() == 36
    data = rejected_rows(imp)[1:]
    assert [r[-2] for r in data] == ["9", "19", "29", "39"]  # each rejected row once, in order


def test_stale_running_import_is_failed_not_stuck(media, tmp_path):
    imp = run(_csv(tmp_path, "phone\n3331234567\n"))
    ContactImport.objects.filter(pk=imp.pk).update(
        status="running", heartbeat_at=timezone.now() - dt.timedelta(hours=1)
    )
    fresh = ContactImport.objects.create(
        original_name="x.csv", kind="csv", status="running", heartbeat_at=timezone.now()
    )
    assert services.fail_stale_imports() == 1
    imp.refresh_from_db()
    assert imp.status == "failed" and "Resume" in imp.error
    fresh.refresh_from_db()
    assert fresh.status == "running"
    status = services.import_status(imp)
    assert status["finished"] is True and status["status"] == "failed"


def test_upload_time_errors(media, settings, generated):
    def start(name, data):
        with pytest.raises(ValidationError) as exc:
            services.start_import(SimpleUploadedFile(name, data))
        return " ".join(exc.value.messages)

    assert "empty" in start("a.csv", b"")
    assert "is a PDF" in start("a.csv", b"%PDF-1.4\n" + bytes(range(256)))
    assert "not an Excel" in start("a.xlsx", b"phone\n1\n")
    assert "not a vCard" in start("a.vcf", b"phone\n1\n")
    assert "No phone column" in start("a.csv", b"name,email\nAnn,a@example.com\n")
    settings.IMPORT_MAX_UPLOAD_MB = 0
    assert "limit is 0 MB" in start("a.csv", b"phone\n3331234567\n")
    assert ContactImport.objects.count() == 0
    # A workbook named .csv is read for what it is.
    settings.IMPORT_MAX_UPLOAD_MB = 200
    imp = services.start_import(SimpleUploadedFile("a.csv", generated["xlsx"].read_bytes()))
    assert imp.kind == "xlsx" and imp.headers[2] == "Cellulare"


def test_preview_counts_before_anything_is_written(media, generated):
    Contact.objects.create(phone="+390698765432", first_name="Niccolò", last_name="Bianchi")
    with open(generated["italian"], "rb") as fh:
        imp = services.start_import(SimpleUploadedFile("italiano.csv", fh.read()))
    assert imp.mapping == ["last_name", "first_name", "phone", "phone", "city", "notes"]
    preview = services.preview_import(imp)
    assert preview["counts"] == {
        "total_rows": 5, "processed": 5, "created": 2, "updated": 1, "unchanged": 0, "merged": 1, "rejected": 1,
        "warned": 0,
    }  # fmt: skip
    assert preview["rows"][0]["phone"] == "+393331234567"
    assert preview["rows"][0]["secondary_phones"] == ["+390212345678"]
    assert preview["reasons"] == [["phone: too short", 1]] or preview["reasons"] == [("phone: too short", 1)]
    assert Contact.objects.count() == 1


def test_mapping_choices_and_phone_order(media, tmp_path, django_capture_on_commit_callbacks):
    path = _csv(tmp_path, "Home,Cell,Fax,Nome,Codice\n02 1234 5678,333 123 4567,06 111,Ann,X1\n")
    with open(path, "rb") as fh:
        imp = services.start_import(SimpleUploadedFile("m.csv", fh.read()))
    assert imp.mapping == ["", "phone", "", "first_name", ""]  # "Home" alone is not a known phone header
    with pytest.raises(ValidationError, match="phone"):
        services.set_mapping(imp, ["", "", "", "first_name", ""])
    field = services.create_custom_field_from_column(imp, 4)
    assert field.key == "codice" and imp.mapping[4] == "field:codice"
    services.set_mapping(imp, ["phone", "phone", "", "first_name", "field:codice"], [0, 1])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.queue_import(imp)  # the task is enqueued only once the transaction commits
    assert len([c for c in callbacks if c.__module__.startswith("contacts.imports")]) == 1
    imp.refresh_from_db()
    contact = Contact.objects.get()
    assert (contact.phone, contact.secondary_phones) == ("+390212345678", ["+393331234567"])
    assert contact.fields == {"codice": "X1"}
    assert imp.status == "succeeded"


def test_export_neutralises_formulas_and_round_trips(media, tmp_path):
    from contacts.imports.exports import export_contacts

    Contact.objects.create(
        phone="+393331234567", first_name="=1+1", last_name="@x", notes="-2+3", company="+ok"
    )
    Contact.objects.create(phone="+393331234568", first_name="Ann", secondary_phones=["+390212345678"])
    path = tmp_path / "out.csv"
    assert export_contacts({}, "csv", path) == 2
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel opens UTF-8 correctly
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    formula = next(r for r in rows if r[0] == "+393331234567")
    assert formula[1:3] == ["'=1+1", "'@x"] and formula[7] == "'+ok" and formula[13] == "'-2+3"
    imp = run(path)  # our own export imports back cleanly: same contacts, nothing to change
    assert (imp.created, imp.unchanged, imp.rejected) == (0, 2, 0)
    for fmt in ("xlsx", "vcf"):
        out = tmp_path / f"out.{fmt}"
        assert export_contacts({}, fmt, out) == 2
        again = run(out)
        assert (again.created, again.rejected) == (0, 0), fmt
    from openpyxl import load_workbook

    ws = load_workbook(tmp_path / "out.xlsx").active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    assert any(v == "'=1+1" for row in values for v in row)
    assert "TEL;TYPE=VOICE:+390212345678" in (tmp_path / "out.vcf").read_text()


@pytest.mark.postgres
def test_a_second_worker_does_not_run_an_import_twice(media, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's")
    import psycopg

    with open(_csv(tmp_path, "phone\n3331234567\n"), "rb") as fh:
        imp = services.start_import(SimpleUploadedFile("one.csv", fh.read()))
    settings = connection.settings_dict
    other = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        password=settings["PASSWORD"] or None, dbname=settings["NAME"], autocommit=True,
    )  # fmt: skip
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [services._LOCK_NAMESPACE, imp.pk])
        result = services.run_import(imp.pk)
        assert result["skipped"] and Contact.objects.count() == 0
    finally:
        other.close()  # like a worker that died: its session ends and the lock goes with it
    for _ in range(50):  # the server ends the closed session's lock a moment later
        second = services.run_import(imp.pk)
        if "skipped" not in second:
            break
        time.sleep(0.1)
    assert second["created"] == 1, second


def test_awkward_text_survives_the_bulk_write(media, tmp_path):
    notes = 'tab\there, back\\slash \\N, "quoted"\nnew line, NUL\x00 gone, accents àèìòù 漢字'
    path = tmp_path / "awkward.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(
            [["phone", "notes", "company"], ["3331234567", notes.replace("\x00", ""), "\\N"]]
        )
    imp = run(path)
    assert imp.created == 1
    contact = Contact.objects.get()
    assert contact.notes == notes.replace("\x00", "") and contact.company == "\\N"


cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["333 123 4567", "+39 02 1234 5678", "0039 347 1112233", "3.93331E+11", "=1+1", "", "12/13/2020", "--0412"]),
)  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=st.lists(st.lists(cells, min_size=1, max_size=5), max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_any_table_imports_or_fails_cleanly(media, rows, delimiter):
    CustomField.objects.get_or_create(key="when", defaults={"label": "When", "type": "date"})
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(
        [["Cellulare", "Nome", "Email", "Data di nascita", "When"], *rows]
    )
    try:
        imp = services.start_import(SimpleUploadedFile("fuzz.csv", buffer.getvalue().encode()))
    except ValidationError as exc:
        assert exc.messages
        return
    services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "succeeded", imp.error
    assert imp.created + imp.updated + imp.unchanged + imp.merged + imp.rejected == imp.total_rows

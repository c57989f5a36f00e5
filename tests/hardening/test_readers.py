"""Issue 8: stored data that broke pages and files for everyone, and formula injection in exports."""

import csv
import io

import pytest
from openpyxl import load_workbook

from contacts.imports.exports import write_export
from contacts.imports.values import neutralise
from contacts.models import Contact, CustomField
from tests.factories import ContactFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def _export(fmt):
    buffer = io.BytesIO()
    count = write_export(Contact.objects.order_by("pk"), fmt, buffer)
    return count, buffer.getvalue()


@pytest.mark.parametrize("stored", [5, True, {"a": 1}, "+393331112222", [None, 7, {"x": 1}, "+39 333\r\n444"]])
def test_odd_stored_secondary_phones_do_not_break_any_export(stored):
    ContactFactory()
    odd = ContactFactory()
    Contact.objects.filter(pk=odd.pk).update(secondary_phones=stored, fields=["not", "a", "dict"])
    for fmt in ("csv", "xlsx", "vcf"):
        count, _data = _export(fmt)
        assert count == 2


def test_a_crlf_in_a_phone_cannot_split_a_vcard():
    contact = ContactFactory(first_name="Ann")
    Contact.objects.filter(pk=contact.pk).update(
        phone="+39333\r\nEND:VCARD", secondary_phones=["+39444\r\nBEGIN:VCARD"]
    )
    _, data = _export("vcf")
    text = data.decode()
    assert text.count("BEGIN:VCARD") == 1 and text.count("END:VCARD") == 1
    assert "TEL;TYPE=CELL,PREF:+39333\r\n" in text and "TEL;TYPE=VOICE:+39444\r\n" in text


def test_a_custom_field_with_bad_stored_choices_does_not_break_the_contact_form(client, editor):
    field = CustomFieldFactory(key="tier", label="Tier", type=CustomField.Type.CHOICE)
    CustomField.objects.filter(pk=field.pk).update(choices={"gold": 1})
    contact = ContactFactory()
    client.force_login(editor)
    assert client.get("/admin/contacts/contact/add/").status_code == 200
    assert client.get(f"/admin/contacts/contact/{contact.pk}/change/").status_code == 200
    assert client.get("/admin/contacts/customfield/").status_code == 200


def test_the_custom_field_admin_validates_choices_and_keys(client, editor):
    client.force_login(editor)
    response = client.post(
        "/admin/contacts/customfield/add/", {"label": "!!!", "key": "", "type": "choice", "choices_text": ""}
    )
    assert response.status_code == 200 and not CustomField.objects.exists()  # errors shown on the form
    response = client.post(
        "/admin/contacts/customfield/add/",
        {"label": "Tier", "key": "", "type": "choice", "choices_text": "gold\nsilver\nGold\n"},
    )
    assert response.status_code == 302
    assert CustomField.objects.get().choices == ["gold", "silver"]


@pytest.mark.parametrize("value", ["-2-3", "-(1)", "=1+1", "+1+1", "@SUM(A1)", "-1 -1", "+39 333 (1)"])
def test_formula_like_cells_are_neutralised(value):
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["+393331234567", "-12", "3.5", "-0,5"])
def test_plain_numbers_and_phones_stay_data(value):
    assert neutralise(value) == value


def test_header_cells_are_neutralised_in_csv_and_xlsx():
    CustomFieldFactory(key="evil", label='=HYPERLINK("http://x.invalid","click")')
    contact = ContactFactory(first_name="-2-3")
    Contact.objects.filter(pk=contact.pk).update(fields={"evil": "-(1)"})
    _, data = _export("csv")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][-1].startswith("'=HYPERLINK")
    assert "'-2-3" in rows[1] and "'-(1)" in rows[1]
    _, data = _export("xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    header = list(next(sheet.iter_rows(min_row=1, max_row=1)))
    assert header[-1].value.startswith("'=HYPERLINK") and header[-1].data_type == "s"
    values = [c.value for c in next(sheet.iter_rows(min_row=2, max_row=2))]
    assert "'-2-3" in values and "'-(1)" in values


def test_an_import_over_a_contact_with_odd_stored_values_works(settings, tmp_path, editor):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from contacts.imports import services as import_services

    settings.MEDIA_ROOT = str(tmp_path)
    CustomFieldFactory(key="tier", label="Tier")
    contact = ContactFactory(phone="+393331234567")
    Contact.objects.filter(pk=contact.pk).update(secondary_phones=7, fields=["odd"])
    data = b"phone,other phone,tier\n+393331234567,+393337654321,gold\n"
    imp = import_services.start_import(SimpleUploadedFile("p.csv", data), user=editor)
    import_services.queue_import(imp)
    import_services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "succeeded" and imp.rejected == 0, imp.error

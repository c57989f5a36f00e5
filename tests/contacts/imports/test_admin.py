"""The import wizard and the export pages through Django's test client (the browser test drives chromium)."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from contacts.imports.models import ContactExport, ContactImport
from contacts.models import Contact, ContactList, CustomField

from .conftest import fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, editor):
    client.force_login(editor)
    return client


def upload(client, name, data, **extra):
    f = io.BytesIO(data)
    f.name = name
    return client.post(
        reverse("admin:contacts_contactimport_upload"),
        {"file": f, "country": "IT", "update_mode": "fill", "tags": "fiera, 2024", **extra},
    )


def test_wizard_csv_map_preview_run_result(staff, media, django_capture_on_commit_callbacks):
    page = staff.get(reverse("admin:contacts_contactimport_upload"))
    assert page.status_code == 200 and b"Drag your file here" in page.content
    data = b"Cell,Home,Fax,Nome,Codice cliente\n333 123 4567,02 1234 5678,06 1,Ann,C1\n12,,,Bad,C2\n"
    response = upload(staff, "clienti.csv", data, new_list_name="Fiera")
    imp = ContactImport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{imp.pk}/map/")
    page = staff.get(response["Location"])
    assert page.status_code == 200
    assert b"333 123 4567" in page.content  # sample values beside each column
    # Ann's home number should win: map Home as phone priority 1, make "Codice cliente" a custom field.
    response = staff.post(
        response["Location"],
        {"col_0": "phone", "order_0": "2", "col_1": "phone", "order_1": "1", "col_2": "", "col_3": "first_name",
         "col_4": "__new_field__"},
    )  # fmt: skip
    assert response.status_code == 302 and response["Location"].endswith("/preview/")
    assert CustomField.objects.filter(key="codice_cliente").exists()
    page = staff.get(response["Location"])
    assert page.status_code == 200
    content = page.content.decode()
    assert "+390212345678" in content and "Rejected: phone &#x27;12&#x27;: too short" in content
    assert Contact.objects.count() == 0  # the preview writes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(response["Location"])
    assert response.status_code == 302 and response["Location"].endswith("/progress/")
    status = staff.get(reverse("admin:contacts_contactimport_status", args=[imp.pk])).json()
    assert status["status"] == "succeeded" and status["percent"] == 100
    assert (status["created"], status["rejected"]) == (1, 1) and status["has_rejected_file"]
    contact = Contact.objects.get()
    assert (contact.phone, contact.secondary_phones) == ("+390212345678", ["+393331234567"])
    assert contact.fields == {"codice_cliente": "C1"}
    assert set(contact.tags.values_list("name", flat=True)) == {"fiera", "2024"}
    assert ContactList.objects.get(name="Fiera").memberships.count() == 1
    page = staff.get(response["Location"])
    assert b"Download rejected rows" in page.content
    download = staff.get(reverse("admin:contacts_contactimport_rejected", args=[imp.pk]))
    body = b"".join(download.streaming_content).decode("utf-8-sig")
    assert body.splitlines() == [
        "Cell,Home,Fax,Nome,Codice cliente,line,error",
        "12,,,Bad,C2,3,phone '12': too short",
    ]
    listing = staff.get(reverse("admin:contacts_contactimport_changelist"))
    assert listing.status_code == 200 and b"clienti.csv" in listing.content and b"editor" in listing.content


def test_wizard_vcard_skips_mapping(staff, media):
    response = upload(staff, "apple.vcf", fixture("apple.vcf").read_bytes())
    imp = ContactImport.objects.get()
    assert response["Location"].endswith(f"/{imp.pk}/preview/")
    page = staff.get(response["Location"]).content.decode()
    assert "+393390001111" in page and "group card" in page


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("a.csv", b"", "is empty"),
        ("a.csv", b"name,email\nAnn,a@example.com\n", "No phone column"),
        ("a.xlsx", b"phone\n3331234567\n", "not an Excel"),
        ("a.csv", b"%PDF-1.4\n\x00\x01", "PDF"),
    ],
)
def test_wizard_upload_errors_are_clear(staff, media, name, data, message):
    response = upload(staff, name, data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert ContactImport.objects.count() == 0


def test_viewer_cannot_import(client, viewer, media):
    client.force_login(viewer)
    assert client.get(reverse("admin:contacts_contactimport_upload")).status_code == 403
    assert client.get(reverse("admin:contacts_contactimport_changelist")).status_code == 200


def test_export_action_and_list_export(staff, media):
    from contacts.admin import ContactAdmin
    from contacts.imports.admin import export_contacts_action

    a = Contact.objects.create(phone="+393331234567", first_name="=HYPERLINK(1)")
    Contact.objects.create(phone="+393331234568", first_name="Other")
    ContactAdmin.actions = [*ContactAdmin.actions, export_contacts_action]
    try:
        url = reverse("admin:contacts_contact_changelist")
        page = staff.post(url, {"action": "export_contacts_action", "_selected_action": [a.pk]})
        assert page.status_code == 200 and b"Export" in page.content
        response = staff.post(
            url,
            {"action": "export_contacts_action", "_selected_action": [a.pk], "apply": "1", "format": "csv"},
        )
    finally:
        ContactAdmin.actions = ContactAdmin.actions[:-1]
    export = ContactExport.objects.get()
    assert response.status_code == 302 and export.status == "succeeded" and export.total == 1
    body = b"".join(
        staff.get(reverse("admin:contacts_contactexport_download", args=[export.pk])).streaming_content
    )
    assert body.startswith(b"\xef\xbb\xbf") and b"'=HYPERLINK(1)" in body and b"+393331234568" not in body
    contact_list = ContactList.objects.create(name="VIP")
    contact_list.memberships.create(contact=a)
    start = reverse("admin:contacts_contactexport_start") + f"?list_id={contact_list.pk}"
    assert b"1 contact will be exported" in staff.get(start).content
    response = staff.post(start, {"format": "vcf"})
    export = ContactExport.objects.latest("pk")
    assert export.format == "vcf" and export.filters == {"list_id": str(contact_list.pk)}
    status = staff.get(reverse("admin:contacts_contactexport_status", args=[export.pk])).json()
    assert status["finished"] and status["download_url"]


def test_wizard_excel_sheet_choice(staff, media, generated):
    response = upload(staff, "numeri.xlsx", generated["xlsx"].read_bytes())
    imp = ContactImport.objects.get()
    assert imp.kind == "xlsx" and imp.sheet == "Clienti"
    page = staff.get(response["Location"])
    assert b'name="sheet"' in page.content and b"Fornitori" in page.content
    response = staff.post(response["Location"], {"sheet": "Fornitori"})
    imp.refresh_from_db()
    assert response["Location"].endswith("/map/")
    assert (imp.sheet, imp.headers, imp.mapping) == (
        "Fornitori",
        ["Ragione sociale", "Telefono"],
        ["company", "phone"],
    )


def test_failed_import_resumes_from_the_admin(staff, media, django_capture_on_commit_callbacks):
    upload(staff, "r.csv", b"phone\n3331234567\n3331234568\n")
    imp = ContactImport.objects.get()
    ContactImport.objects.filter(pk=imp.pk).update(status="failed", error="worker killed")
    page = staff.get(reverse("admin:contacts_contactimport_progress", args=[imp.pk]))
    assert b"Resume where it stopped" in page.content and b"worker killed" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(reverse("admin:contacts_contactimport_resume", args=[imp.pk]))
    imp.refresh_from_db()
    assert imp.status == "succeeded" and imp.created == 2

"""A non-technical user imports contact files through the wizard in a real browser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, ContactList
from tests.contacts.imports.conftest import fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    "Elenco clienti\n\n"
    "Nome;Cognome;Cellulare;Telefono;Email\n"
    "Anna;Neri;333 123 4567;02 1234 5678;anna@example.it\n"
    "Bruno;Gialli;12;;bruno@example.it\n"
    "Carla;Blu;+39 347 765 4321;;carla@example.it\n"
    "Anna;;+393331234567;;\n"
)


def test_upload_map_preview_progress_and_rejected_rows(live_server, admin_login, editor, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.IMPORT_BATCH_SIZE = 1  # several batches, so the bar really moves through progress updates
    path = tmp_path / "clienti.csv"
    path.write_bytes(CSV.encode("cp1252"))
    page = admin_login(editor)

    page.goto(f"{live_server.url}/admin/contacts/contactimport/upload/")
    expect(page.get_by_text("Drag your file here")).to_be_visible()
    page.set_input_files("input[type=file]", str(path))
    expect(page.locator("#drop-label")).to_have_text("Selected: clienti.csv")
    page.fill("input[name=new_list_name]", "Clienti 2024")
    page.fill("input[name=tags]", "fiera")
    page.click("text=Upload and continue")

    # Step 2: columns matched automatically (Italian headers), the title line skipped.
    page.wait_for_url(re.compile(r".*/map/$"))
    expect(page.locator("select[name=col_0]")).to_have_value("first_name")
    expect(page.locator("select[name=col_2]")).to_have_value("phone")
    expect(page.locator("input[name=order_2]")).to_have_value("1")  # Cellulare (mobile) first
    expect(page.locator("input[name=order_0]")).to_be_hidden()  # priority only for phone columns
    page.click("button:has-text('Preview')")

    # Step 3: what will happen, before anything is written.
    page.wait_for_url(re.compile(r".*/preview/$"))
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="merged"]')).to_have_text("1")
    expect(page.locator('[data-count="rejected"]')).to_have_text("1")
    expect(page.locator("#preview-rows")).to_contain_text("+393331234567")
    expect(page.locator("#reasons")).to_contain_text("phone: too short")
    assert Contact.objects.count() == 0
    page.click("#start-import")

    # Step 4/5: the progress bar reaches 100 % and the result offers the rejected rows.
    page.wait_for_url(re.compile(r".*/progress/$"))
    expect(page.locator("#percent")).to_have_text("100%", timeout=30000)
    expect(page.locator("#state")).to_have_text("Finished")
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    page.reload()  # the page survives a reload
    expect(page.locator("#percent")).to_have_text("100%")
    with page.expect_download() as info:
        page.click("#rejected-link")
    content = Path(info.value.path()).read_text(encoding="utf-8-sig")
    assert content.splitlines() == [
        "Nome,Cognome,Cellulare,Telefono,Email,line,error",
        "Bruno,Gialli,12,,bruno@example.it,5,phone '12': too short",
    ]
    anna = Contact.objects.get(phone="+393331234567")
    assert anna.secondary_phones == ["+390212345678"]
    assert ContactList.objects.get(name="Clienti 2024").memberships.count() == 2

    # The import list shows who ran it, when, and its counts.
    page.goto(f"{live_server.url}/admin/contacts/contactimport/")
    row = page.locator("#result_list tbody tr").first
    expect(row).to_contain_text("clienti.csv")
    expect(row).to_contain_text("editor")


def test_too_big_file_is_refused_before_upload(live_server, admin_login, editor, tmp_path, settings):
    settings.IMPORT_MAX_UPLOAD_MB = 1
    big = tmp_path / "big.csv"
    big.write_bytes(b"phone\n" + b"3331234567\n" * 200_000)  # 2.2 MB
    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/contacts/contactimport/upload/")
    page.set_input_files("input[type=file]", str(big))
    expect(page.locator("#size-error")).to_have_text("This file is 3 MB; the limit is 1 MB.")
    expect(page.locator("#upload-form button[type=submit]")).to_be_disabled()


def test_vcard_goes_straight_to_preview(live_server, admin_login, editor, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/contacts/contactimport/upload/")
    page.set_input_files("input[type=file]", str(fixture("android21.vcf")))
    expect(page.locator("input[name=new_list_name]")).to_have_value("")  # the file name stays out of it
    page.click("text=Upload and continue")
    page.wait_for_url(re.compile(r".*/preview/$"))
    expect(page.locator("#preview-rows")).to_contain_text("Nicolò")
    page.click("#start-import")
    expect(page.locator("#percent")).to_have_text("100%", timeout=30000)
    expect(page.locator("#rejected-link")).to_be_hidden()
    assert Contact.objects.filter(phone="+393351234567", last_name="Rosà").exists()


OUTLOOK = (
    '"First Name","Last Name","Mobile Phone","E-mail Address","Birthday","Anniversary","Gender"\r\n'
    '"Olga","Prova","333 765 0001","olga@prova.example","0/0/00","0/0/00","Unspecified"\r\n'
    '"Piero","Prova","333 765 0002","piero@","31/02/1980","0/0/00","Male"\r\n'
)


def test_values_left_out_are_shown_and_downloadable(live_server, admin_login, editor, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    path = tmp_path / "outlook.csv"
    path.write_text(OUTLOOK, encoding="utf-8")
    page = admin_login(editor)
    page.goto(f"{live_server.url}/admin/contacts/contactimport/upload/")
    page.set_input_files("input[type=file]", str(path))
    page.click("text=Upload and continue")
    page.wait_for_url(re.compile(r".*/map/$"))
    page.click("button:has-text('Preview')")

    # Outlook's 0/0/00 and Unspecified are empty; Piero's bad e-mail and date are left out, not him.
    page.wait_for_url(re.compile(r".*/preview/$"))
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="rejected"]')).to_have_text("0")
    expect(page.locator('[data-count="warned"]')).to_have_text("1")
    expect(page.locator("#warnings")).to_contain_text("31/02/1980")
    page.click("#start-import")

    page.wait_for_url(re.compile(r".*/progress/$"))
    expect(page.locator("#state")).to_have_text("Finished", timeout=30000)
    expect(page.locator('[data-count="warned"]')).to_have_text("1")
    expect(page.locator("#warnings-body")).to_contain_text("not a valid email address")
    expect(page.locator("#rejected-link")).to_be_hidden()
    with page.expect_download() as info:
        page.click("#warnings-link")
    lines = Path(info.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines == [
        "line,phone,column,value,reason",
        "3,+393337650002,E-mail Address,piero@,not a valid email address: 'piero@'",
        "3,+393337650002,Birthday,31/02/1980,date not understood: '31/02/1980'",
    ]
    piero = Contact.objects.get(first_name="Piero")
    assert (piero.email, piero.birth_date, piero.gender) == ("", None, "male")

"""An Italian browser: log in, the dashboard, an import through the wizard — and no English on screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from contacts.models import Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Words that give English away on a page staff read (brand and technical words like "email",
# "file", "account", "provider", "CSV" are the same in Italian and are not listed).
ENGLISH = re.compile(
    r"\b(the|and|of|with|your|you|contacts?|lists?|tags?|add|save|delete|search|filters?|status|name|"
    r"phone|import|export|upload|preview|created|updated|rejected|unchanged|merged|yes|none|all|view|"
    r"change|history|log ?out|log ?in|username|welcome|dashboard|health|healthy|balance|"
    r"total|download|members?|columns?|rows?|finished|running|queued|failed|new|next|back|start|again|"
    r"settings|field|value|choose|drag|click|here|line|error|reason|duplicates?|too short|lists|sync)\b",
    re.IGNORECASE,
)
CSV = (
    "Nome;Cognome;Cellulare;Email\n"
    "Anna;Neri;333 123 4567;anna@example.it\n"
    "Bruno;Gialli;12;bruno@example.it\n"
    "Carla;Blu;+39 347 765 4321;carla@example.it\n"
)


def english_on(page) -> list[str]:
    text = page.evaluate(
        """() => {
            const clone = document.body.cloneNode(true);
            clone.querySelectorAll('script, style, .material-symbols-outlined, [hidden], .sr-only')
                 .forEach((el) => el.remove());
            const attrs = [...document.querySelectorAll('[placeholder], [title], [aria-label]')]
                 .map((el) => [el.placeholder, el.title, el.getAttribute('aria-label')].join(' '));
            return clone.innerText + ' ' + attrs.join(' ');
        }"""
    )
    return sorted({m.group(0) for m in ENGLISH.finditer(text)})


@pytest.fixture
def italian_page(browser):
    context = browser.new_context(locale="it-IT", viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15000)
    yield context.new_page()
    context.close()


def test_an_italian_member_of_staff_meets_no_english(live_server, italian_page, editor, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    page = italian_page
    path = tmp_path / "clienti.csv"
    path.write_bytes(CSV.encode("cp1252"))

    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    assert english_on(page) == []
    page.fill("input[name=username]", editor.username)
    page.fill("input[name=password]", "pw-" + editor.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Benvenuto")).to_be_visible()
    expect(page.locator("#dashboard-cards")).to_contain_text("Contattabili")
    assert english_on(page) == []

    page.goto(f"{live_server.url}/admin/contacts/contactimport/upload/")
    assert english_on(page) == []
    page.set_input_files("input[type=file]", str(path))
    expect(page.locator("#drop-label")).to_have_text("Selezionato: clienti.csv")
    page.fill("input[name=new_list_name]", "Clienti fiera")
    page.click("text=Carica e continua")

    page.wait_for_url(re.compile(r".*/map/$"))
    expect(page.locator("select[name=col_2]")).to_have_value("phone")
    assert english_on(page) == []
    page.click("button:has-text('Anteprima')")

    page.wait_for_url(re.compile(r".*/preview/$"))
    expect(page.locator("#reasons")).to_contain_text("telefono: troppo corto")
    assert english_on(page) == []
    page.click("#start-import")

    page.wait_for_url(re.compile(r".*/progress/$"))
    expect(page.locator("#percent")).to_have_text("100%", timeout=30000)
    expect(page.locator("#state")).to_have_text("Completata")
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="rejected"]')).to_have_text("1")
    assert english_on(page) == []
    with page.expect_download() as info:
        page.click("#rejected-link")
    assert info.value.suggested_filename == "clienti-scartate.csv"
    rows = Path(info.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert rows[0] == "Nome,Cognome,Cellulare,Email,riga,errore"
    assert rows[1] == "Bruno,Gialli,12,bruno@example.it,3,telefono '12': troppo corto"

    page.goto(f"{live_server.url}/admin/contacts/contact/")
    expect(page.get_by_role("link", name="Anna Neri")).to_be_visible()
    assert english_on(page) == []
    assert Contact.objects.count() == 2


def test_one_click_switches_to_english_and_it_is_remembered(live_server, italian_page, editor):
    page = italian_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", editor.username)
    page.fill("input[name=password]", "pw-" + editor.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Benvenuto")).to_be_visible()
    page.click("text=" + (editor.get_full_name() or editor.username))  # the user menu
    page.click("form[action='/i18n/setlang/'] button:has-text('English')")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.context.clear_cookies()  # another browser, still Italian: the choice follows the person
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("input[name=username]", editor.username)
    page.fill("input[name=password]", "pw-" + editor.username)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()

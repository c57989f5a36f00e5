"""The Italian catalogue is complete, correct and compiled; no marked string in the code is missing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

from localization import catalogue as cat
from localization.management.commands.list_derived_names import TARGET, render
from localization.model_names import derived_names

BASE = Path(settings.BASE_DIR)


def _key(entry) -> tuple[str, str]:
    return (entry.msgctxt or "", entry.msgid)


@pytest.mark.parametrize("vendor", [False, True], ids=["ours", "unfold"])
def test_every_entry_is_translated_not_fuzzy_with_the_same_placeholders(vendor):
    po = polib.pofile(str(cat.catalogue("it", vendor=vendor)))
    problems = [p for entry in po if not entry.obsolete for p in cat.problems(entry)]
    assert len(po) > 150
    assert problems == []


@pytest.mark.parametrize("vendor", [False, True], ids=["ours", "unfold"])
def test_the_compiled_mo_is_current(vendor):
    """bin/up serves the committed .mo files: they must say what the .po says."""
    po_path = cat.catalogue("it", vendor=vendor)
    po = polib.pofile(str(po_path))
    mo = polib.mofile(str(po_path.with_suffix(".mo")))
    expected = {_key(e): (e.msgstr, e.msgstr_plural) for e in po if e.translated() and not e.obsolete}
    compiled = {_key(e): (e.msgstr, e.msgstr_plural) for e in mo if e.msgid}
    assert compiled == expected, "run: .venv/bin/python manage.py compilemessages -l it --ignore=.venv"


def test_placeholder_check_catches_mistakes():
    entry = polib.POEntry(msgid="Added %(count)d contacts to %(list)s", msgstr="Aggiunti %(count)d contatti")
    assert cat.problems(entry) == [f"placeholders differ: {entry.msgid!r} → {entry.msgstr!r}"]
    entry = polib.POEntry(msgid="Save", msgstr="", flags=["fuzzy"])
    assert cat.problems(entry) == ["fuzzy: 'Save'", "untranslated: 'Save'"]
    assert cat.problems(polib.POEntry(msgid="100%% {} %(n)s", msgstr="{} %(n)s al 100%%")) == []


def test_derived_model_names_file_is_current():
    assert TARGET.read_text(encoding="utf-8") == render(derived_names()), "run: manage.py list_derived_names --write"


@pytest.mark.skipif(
    not shutil.which("xgettext") and not os.environ.get("CI"),
    reason="GNU gettext is not installed (bin/test installs it with apt when it can)",
)
def test_every_marked_string_in_the_code_is_in_the_italian_catalogue(tmp_path, settings):
    """makemessages over the code, into a scratch folder; each message must be in locale/it, translated."""
    for child in BASE.iterdir():
        if child.name not in {"locale", ".git"} and not child.name.startswith("."):
            (tmp_path / child.name).symlink_to(child, target_is_directory=child.is_dir())
    (tmp_path / "locale").mkdir()
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        call_command("makemessages", locale=["it"], symlinks=True, **cat.MAKEMESSAGES_OPTIONS)
    finally:
        os.chdir(here)
    extracted = polib.pofile(str(tmp_path / "locale" / "it" / "LC_MESSAGES" / "django.po"))
    committed = {_key(e): e for e in polib.pofile(str(cat.catalogue("it"))) if not e.obsolete}
    assert len(extracted) > 150
    missing = [e.msgid for e in extracted if _key(e) not in committed]
    assert missing == [], "new strings: run manage.py update_translations and translate them"
    unusable = [p for e in extracted for p in cat.problems(committed[_key(e)])]
    assert unusable == []

"""Readers: what staff's real files look like, and arbitrary bytes never escaping as a crash."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.imports.csv import detect_encoding, read_csv
from contacts.imports.errors import ImportFileError
from contacts.imports.vcard import read_vcards
from contacts.imports.xlsx import read_xlsx

from .conftest import fixture


def rows(table):
    return list(table.rows)


def test_google_csv_quoted_newlines_and_line_numbers():
    table = read_csv(fixture("google.csv"))
    assert table.detected == {"encoding": "utf-8", "delimiter": ","}
    assert table.headers[:4] == ["Name", "Given Name", "Additional Name", "Family Name"]
    data = rows(table)
    # The first record spans lines 2-3 (a note with an embedded newline); the next starts on line 4.
    assert [line for line, _ in data] == [2, 4, 5, 6]
    assert data[0][1][6] == 'Cliente storico, preferisce "WhatsApp"\nseconda riga della nota'


def test_header_not_on_first_line_blank_lines_and_ragged_rows():
    table = read_csv(fixture("title_row.csv"))
    assert table.header_line == 3
    assert table.headers == ["Telefono", "Nome", "Cognome", "Email"]
    data = rows(table)
    assert [line for line, _ in data] == [4, 6, 7, 8]  # line 5 is blank
    assert data[1][1] == ["333 111 0002", "Secondo", "Due", "due@example.it", "extra", "cells"]
    assert data[2][1] == ["333 111 0003", "Terzo"]


def test_italian_excel_cp1252_semicolon(generated):
    table = read_csv(generated["italian"])
    assert table.detected == {"encoding": "cp1252", "delimiter": ";"}
    assert table.headers == ["Cognome", "Nome", "Cellulare", "Telefono", "Città", "Note"]
    data = rows(table)
    assert data[0][1][5] == "Cliente dal 2010; paga a 30 gg"  # quoted field with the delimiter inside
    assert data[1][1][1] == "Niccolò"


def test_utf16_unicode_text_tab(generated):
    table = read_csv(generated["utf16"])
    assert table.detected == {"encoding": "utf-16", "delimiter": "\t"}
    assert [cells[0] for _, cells in rows(table)] == ["Zoë Müller", "李雷", "Ørjan Ås"]


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        (b"\xef\xbb\xbfa,b\n", "utf-8-sig"),
        ("a;b\nè;é\n".encode(), "utf-8"),
        ("a;b\nè;é\n".encode("cp1252"), "cp1252"),
        ("a\tb\n".encode("utf-16-le"), "utf-16-le"),
        (b"a;\x81b\n\xe8", "latin-1"),
    ],
)
def test_encoding_detection(sample, expected):
    assert detect_encoding(sample) == expected


def test_not_what_it_claims(tmp_path, generated):
    fake = tmp_path / "contacts.csv"
    fake.write_bytes(generated["xlsx"].read_bytes())
    with pytest.raises(ImportFileError, match="Excel"):
        read_csv(fake)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\r\n\r\n")
    with pytest.raises(ImportFileError, match="empty"):
        read_csv(empty)
    text = tmp_path / "notes.xlsx"
    text.write_text("phone\n123\n")
    with pytest.raises(ImportFileError, match="not an Excel"):
        read_xlsx(text)
    with pytest.raises(ImportFileError, match="not a vCard"):
        read_vcards(text)


def test_xlsx_numbers_dates_and_sheets(generated):
    table = read_xlsx(generated["xlsx"])
    assert table.detected["sheet"] == "Clienti"
    assert table.header_line == 3
    data = {cells[0]: cells for _, cells in rows(table)}
    assert data["Anna"][2] == 393331112222
    assert data["Anna"][3] == dt.datetime(1990, 5, 17)
    assert data["Bruno"][3] == 32874
    assert data["Carla"][2] == pytest.approx(3.93345556667e11)
    other = read_xlsx(generated["xlsx"], sheet="Fornitori")
    assert other.headers == ["Ragione sociale", "Telefono"]
    assert rows(other) == [(2, ["Forniture Srl", "06 4567 8901"])]
    with pytest.raises(ImportFileError, match="no sheet"):
        read_xlsx(generated["xlsx"], sheet="Nope")


def cards(name):
    stream, _ = read_vcards(fixture(name))
    return list(stream)


def test_apple_vcard_item_labels_photo_group():
    maria, gino, group, nophone = cards("apple.vcf")
    assert maria.values["first_name"] == "Maria" and maria.values["last_name"] == "Rossi"
    # item2 is labelled Mobile: it wins over the "pref" main number; the fax is never used.
    assert maria.phones == ["+39 339 000 1111", "02 8765 4321"]
    assert maria.values["email"] == "maria@example.it"  # the pref one
    assert maria.values["city"] == "Milano" and maria.values["postal_code"] == "20121"
    assert maria.values["notes"] == "Conosciuta alla fiera, padiglione 3"
    assert "PHOTO" not in maria.raw  # photos are dropped before parsing
    assert gino.values == {"company": "Pizzeria Da Gino"}  # a company card: no made-up first name
    assert group.error.startswith("group card")
    assert nophone.phones == [] and nophone.error is None


def test_vcard_21_quoted_printable_and_charsets():
    nicolo, paolo = cards("android21.vcf")
    assert nicolo.values["first_name"] == "Nicolò" and nicolo.values["last_name"] == "Rosà"
    assert nicolo.values["notes"] == "Caffè alle 8, poi riunione"  # ISO-8859-1 QP with a soft line break
    assert nicolo.phones == ["+393351234567", "0612345678"]
    assert paolo.phones == ["348 5556667", "+39 02 99887766"]


def test_vcard_40_tel_uris_group_and_truncated_last_card():
    sarah, team, kyle, half = cards("v4.vcf")
    assert sarah.phones == ["+44-7911-123456", "+44-20-7946-0000"]  # cell first, ;ext dropped
    assert sarah.values["birth_date"] == "19840512"
    assert team.error.startswith("group card")
    assert kyle.values["notes"] == "Birthday (no year): 04-12"
    assert half.error == "card is truncated (the file ends before END:VCARD)"
    assert half.line == 23


def test_vcard_huge_photo_is_not_kept(tmp_path):
    photo = "A" * 76
    body = "\r\n".join(" " + photo for _ in range(40_000))  # ~3 MB of base64
    path = tmp_path / "big.vcf"
    path.write_text(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Big Photo\r\nPHOTO;ENCODING=b;TYPE=JPEG:{photo}\r\n{body}\r\n"
        "TEL;TYPE=CELL:+393331234567\r\nEND:VCARD\r\n"
    )
    (card,) = cards_from(path)
    assert card.error is None and card.phones == ["+393331234567"]
    assert len(card.raw) < 500


def cards_from(path):
    stream, _ = read_vcards(path)
    return list(stream)


# --- arbitrary bytes: a clean ImportFileError or rows, never anything else ---------------------

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
csvish = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from([b"a", b",", b";", b'"', b"\n", b"\r", b"\t", b"\x00", b"\xff", b"\xe8", b"phone", b" "]), max_size=80).map(b"".join),
)  # fmt: skip


@FUZZ
@given(data=csvish)
def test_csv_reader_never_crashes(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        for _line, cells in read_csv(path).rows:
            assert isinstance(cells, list)
    except ImportFileError as exc:
        assert str(exc)


vcardish = st.lists(
    st.sampled_from([
        b"BEGIN:VCARD\r\n", b"END:VCARD\r\n", b"VERSION:2.1\r\n", b"VERSION:4.0\r\n", b"TEL;CELL:+393331234567\r\n",
        b"N;ENCODING=QUOTED-PRINTABLE;CHARSET=bogus:=C3=A0=\r\n", b"item1.TEL:1\r\n", b"PHOTO;ENCODING=b:AAA\r\n",
        b" folded\r\n", b"\xff\xfe", b"KIND:group\r\n", b"BDAY:xx\r\n", b"ADR:;;;\r\n", b":\r\n", b"\x00",
    ]),
    max_size=30,
).map(lambda parts: b"BEGIN:VCARD\r\n" + b"".join(parts))  # fmt: skip


@FUZZ
@given(data=st.one_of(vcardish, st.binary(max_size=300).map(lambda b: b"BEGIN:VCARD\n" + b)))
def test_vcard_reader_never_crashes(tmp_path, data):
    path = tmp_path / "fuzz.vcf"
    path.write_bytes(data)
    try:
        for card in cards_from(path):
            assert card.error is None or isinstance(card.error, str)
    except ImportFileError as exc:
        assert str(exc)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=400), cut=st.integers(min_value=0, max_value=5000))
def test_xlsx_reader_never_crashes(tmp_path, generated, data, cut):
    real = generated["xlsx"].read_bytes()
    path = tmp_path / "fuzz.xlsx"
    # A real workbook with a stretch overwritten, or cut short: zip and XML damage.
    path.write_bytes(real[:cut] + data + real[cut + len(data) :] if cut % 2 else real[: cut + 100])
    try:
        for _line, cells in read_xlsx(path).rows:
            assert isinstance(cells, list)
    except ImportFileError as exc:
        assert str(exc)


def test_copy_text_escapes_what_copy_would_misread():
    import datetime as dt

    from contacts.imports.pipeline import Row, copy_text

    row = Row(
        0,
        2,
        "+393331234567",
        ["+390212345678"],
        {"notes": "a\tb\\c\nd\x00e", "birth_date": dt.date(1990, 1, 2)},
        {"k": "è"},
        [],
    )
    line = copy_text([row]).decode().rstrip("\n").split("\t")
    assert line[0] == "+393331234567"
    assert line[12] == "a\\tb\\\\c\\nde"  # notes: escaped, NUL dropped
    assert line[13] == "1990-01-02" and line[14] == '{"k": "è"}' and line[15] == '["+390212345678"]'
    empty = copy_text([Row(0, 2, "+393331234567", [], {}, {}, [])]).decode().rstrip("\n").split("\t")
    assert len(empty) == 16 and empty[13] == "\\N" and empty[14:] == ["{}", "[]"]


NUMBERS = [
    "+39 333 123 4567", "0039 333 1234567", "333-1234567", "(02) 1234 5678", "02 1234 5678", "tel:+44-20-7946-0958",
    "+44 20 7946 0958 ext. 12", "+1 (202) 555-0143", "3.93331234567E+11", "12", "+39 123", "abc", "",
    "+393331234568", "333 123 4569", "+44 7911 123456", "07911 123457", "+86 318 995 644",
]  # fmt: skip


@pytest.mark.parametrize("country", ["IT", "GB"])
def test_phone_normaliser_agrees_with_a_full_parse(country):
    from contacts.imports.values import PhoneNormaliser
    from contacts.phones import PhoneError, normalize_phone

    normalise = PhoneNormaliser(country)
    for _ in range(2):  # the second round answers from learnt shapes and the cache
        for raw in NUMBERS:
            try:
                expected = (normalize_phone(raw, country), None)
            except PhoneError as exc:
                expected = (None, str(exc))
            if raw.endswith("E+11"):
                continue  # Excel's notation is expanded before parsing (tested in the pipeline)
            assert normalise(raw) == expected, raw
    assert normalise.full_parses < 2 * len(NUMBERS)

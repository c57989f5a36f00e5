"""Column mapping: which file column feeds which contact field.

Headers are matched automatically in English, Italian and the spellings of common
exporters (Google, Outlook, Apple, Excel); staff can change any of it in the wizard.
A mapping is a list of targets aligned with the headers:

    "phone"            a phone column (several allowed; `phone_order` says which wins)
    "first_name" …     a Contact attribute (see ATTRIBUTE_TARGETS)
    "full_name"        split into first/last name when those are not mapped
    "tags"             comma/semicolon separated tag names
    "field:<key>"      a custom field
    ""                 ignored
"""

from __future__ import annotations

import re
import unicodedata

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

PHONE = "phone"
IGNORE = ""
ATTRIBUTE_TARGETS = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "full_name": _("Full name (split into first/last)"),
    "email": _("Email"),
    "language": _("Language"),
    "gender": _("Gender"),
    "birth_date": _("Birth date"),
    "company": _("Company"),
    "address": _("Address"),
    "city": _("City"),
    "province": _("Province / state"),
    "postal_code": _("Postal code"),
    "country": _("Country"),
    "notes": _("Notes"),
    "tags": _("Tags"),
}


def norm_header(text) -> str:
    """Lower case, accents and punctuation folded: 'E-mail Address' → 'e mail address'."""
    text = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def _keys(*names):
    return {norm_header(n) for n in names}


MOBILE_HEADERS = _keys(
    "mobile", "mobile phone", "mobile number", "mobile phone number", "cell", "cellphone", "cell phone",
    "cellular", "cellulare", "cell.", "telefono cellulare", "numero cellulare", "tel cellulare", "mobile tel",
    "whatsapp", "numero whatsapp", "handy", "portable", "movil", "móvil", "msisdn", "cell number",
    "primary mobile", "cellulare 1",
)  # fmt: skip
PHONE_HEADERS = _keys(
    "phone", "phone number", "telephone", "telephone number", "tel", "tel.", "telefono", "numero",
    "numero di telefono", "numero telefono", "home phone", "home phone 2", "business phone", "business phone 2",
    "work phone", "primary phone", "other phone", "company main phone", "car phone", "assistant's phone",
    "callback", "radio phone", "pager", "telex", "tty/tdd phone", "telefono casa", "telefono ufficio",
    "telefono abitazione", "telefono lavoro", "recapito telefonico", "contact number", "number", "phones",
    "phone 1", "phone 2", "phone 3", "telefono 1", "telefono 2", "main phone", "landline",
)  # fmt: skip
FAX_HEADERS = _keys("fax", "business fax", "home fax", "other fax", "fax number", "numero fax")
# The number the person marked as their main one (Outlook "Primary Phone", Italian "Telefono principale").
PRIMARY_HEADERS = _keys("primary phone", "telefono principale", "main phone", "telefono preferito")
# Words that say "mobile" in a header or in a type label (Google "Phone 1 - Label", Apple's
# X-ABLabel, vCard TYPE), in every language the header matcher knows.
MOBILE_WORDS = frozenset({
    "mobile", "mobil", "cell", "cellphone", "cellular", "cellulare", "iphone", "whatsapp", "handy",
    "portable", "movil", "celular", "telefonino",
})  # fmt: skip
FAX_WORDS = frozenset({"fax", "telefax", "facsimile"})
_GOOGLE_PHONE = re.compile(r"^phone (\d+) value$")
_GOOGLE_PHONE_TYPE = re.compile(r"^phone (\d+) (type|label)$")
_GOOGLE_EMAIL = re.compile(r"^e ?mail (\d+) value$")
_GOOGLE_EMAIL_TYPE = re.compile(r"^e ?mail (\d+) (type|label)$")


def label_kind(label) -> tuple[str, bool]:
    """('mobile' | 'fax' | 'other', preferred) for a type label: 'Mobile', '* Cellulare', 'Work Fax',
    Apple's '_$!<Mobile>!$_'. Google marks the preferred value with a leading '*'."""
    text = str(label or "").strip()
    preferred = text.startswith("*")
    words = set(norm_header(text).split())
    if words & FAX_WORDS:
        return "fax", preferred
    if words & MOBILE_WORDS:
        return "mobile", preferred
    return "other", preferred or bool(words & {"pref", "preferred", "principale", "primary", "main"})

SYNONYMS = {
    "first_name": _keys(
        "first name", "firstname", "given name", "nome", "first", "forename", "nome proprio", "name first"
    ),
    "last_name": _keys("last name", "lastname", "surname", "family name", "cognome", "last", "name last"),
    "full_name": _keys(
        "name",
        "full name",
        "fullname",
        "display name",
        "nome completo",
        "nominativo",
        "contact name",
        "contact",
        "file as",
        "nome e cognome",
        "cliente",
    ),
    "email": _keys(
        "email",
        "e-mail",
        "e mail",
        "email address",
        "e-mail address",
        "e-mail 1 - value",
        "email 1 value",
        "e-mail 2 - value",
        "e-mail 3 - value",
        "primary email",
        "indirizzo posta elettronica",
        "mail",
        "posta elettronica",
        "indirizzo email",
        "indirizzo e-mail",
        "e-mail 2 address",
    ),
    "company": _keys(
        "company",
        "organization",
        "organisation",
        "organization 1 - name",
        "organization name",
        "azienda",
        "societa",
        "società",
        "ditta",
        "ragione sociale",
        "employer",
        "business",
    ),
    "birth_date": _keys(
        "birthday",
        "birth date",
        "birthdate",
        "date of birth",
        "dob",
        "data di nascita",
        "compleanno",
        "data nascita",
    ),
    "address": _keys(
        "address",
        "street",
        "street address",
        "home street",
        "business street",
        "indirizzo",
        "via",
        "address 1 - street",
        "address line 1",
        "address 1 street",
        "home address",
        "via (uff.)",
        "via (ab.)",
        "indirizzo (uff.)",
        "indirizzo (ab.)",
    ),
    "city": _keys(
        "city",
        "town",
        "home city",
        "business city",
        "citta",
        "città",
        "comune",
        "localita",
        "località",
        "address 1 - city",
        "città (uff.)",
        "città (ab.)",
        "home city",
        "work city",
    ),
    "province": _keys(
        "province",
        "state",
        "region",
        "county",
        "provincia",
        "regione",
        "home state",
        "business state",
        "address 1 - region",
        "prov",
        "pr",
        "provincia (uff.)",
        "provincia (ab.)",
        "home state",
        "work state",
    ),
    "postal_code": _keys(
        "zip",
        "zip code",
        "postal code",
        "postcode",
        "post code",
        "cap",
        "home postal code",
        "business postal code",
        "address 1 - postal code",
        "codice postale",
        "cap (uff.)",
        "cap (ab.)",
        "home zipcode",
        "work zipcode",
    ),
    "country": _keys(
        "country",
        "nazione",
        "paese",
        "stato",
        "country/region",
        "home country/region",
        "business country/region",
        "address 1 - country",
        "country code",
        "paese (uff.)",
        "paese (ab.)",
        "paese/area geografica (uff.)",
        "paese/area geografica (ab.)",
        "home country",
        "work country",
    ),
    "notes": _keys("notes", "note", "comment", "comments", "commenti", "annotazioni", "description"),
    "language": _keys("language", "lingua", "lang", "locale"),
    "gender": _keys("gender", "sex", "sesso", "genere"),
    "tags": _keys("tags", "tag", "labels", "categories", "etichette", "categorie", "group membership"),
}
_BY_HEADER = {h: target for target, names in SYNONYMS.items() for h in names}


def phone_kind(header) -> str | None:
    """'mobile', 'phone', 'fax' or None for a header."""
    key = norm_header(header)
    if not key:
        return None
    if key in FAX_HEADERS or "fax" in key.split():
        return "fax"
    if key in MOBILE_HEADERS:
        return "mobile"
    if key in PHONE_HEADERS or _GOOGLE_PHONE.match(key):
        return "phone"
    words = set(key.split())
    if _GOOGLE_PHONE_TYPE.match(key) or words & {"label", "type", "tipo"}:
        return None  # "Phone 1 - Label", "Tipo telefono": says what a number is, is not one
    if words & MOBILE_WORDS:
        return "mobile"
    if words & {"phone", "telefono", "tel", "telephone"}:
        return "phone"
    return None


def match_header(header, custom_fields: dict[str, str] | None = None) -> str:
    """Best target for one header ("" when nothing fits). custom_fields: {key: label}."""
    key = norm_header(header)
    if not key:
        return IGNORE
    kind = phone_kind(header)
    if kind in ("mobile", "phone"):
        return PHONE
    if kind == "fax":
        return IGNORE
    if key in _BY_HEADER:
        return _BY_HEADER[key]
    for field_key, label in (custom_fields or {}).items():
        if key in (norm_header(field_key), norm_header(label)):
            return f"field:{field_key}"
    return IGNORE


def auto_mapping(headers, custom_fields=None) -> tuple[list[str], list[int]]:
    """(targets aligned with headers, phone column order: mobile columns first, then file order)."""
    targets = [match_header(h, custom_fields) for h in headers]
    # One column per attribute: a second "Email" column would silently overwrite the first.
    seen = set()
    for i, target in enumerate(targets):
        if target not in (PHONE, IGNORE, "tags"):
            if target in seen:
                targets[i] = IGNORE
            seen.add(target)
    phones = [i for i, t in enumerate(targets) if t == PHONE]
    # Mobile first, then the number marked main/primary, then file order; fax columns are never phones.
    order = [i for i in phones if phone_kind(headers[i]) == "mobile"]
    order += [i for i in phones if i not in order and norm_header(headers[i]) in PRIMARY_HEADERS]
    order += [i for i in phones if i not in order]
    return targets, order


def header_score(cells) -> int:
    return sum(1 for c in cells if isinstance(c, str) and match_header(c) != IGNORE)


def find_header_row(rows) -> int:
    """Index of the header among the first rows: the first that names known columns, else the widest."""
    scores = [header_score(r) for r in rows]
    best = max(scores) if scores else 0
    if best > 0:
        return scores.index(best)
    widths = [sum(1 for c in r if c not in (None, "") and str(c).strip()) for r in rows]
    return widths.index(max(widths)) if widths else 0


def google_type_columns(headers) -> dict[int, int]:
    """For Google's "Phone N - Value" columns, the index of the matching "Phone N - Label" column
    ("Phone N - Type" in Google's legacy export)."""
    return _label_columns(headers, _GOOGLE_PHONE, _GOOGLE_PHONE_TYPE)


def google_email_columns(headers) -> dict[int, int | None]:
    """Google's "E-mail N - Value" columns → their "E-mail N - Label/Type" column (None if absent)."""
    labels = _label_columns(headers, _GOOGLE_EMAIL, _GOOGLE_EMAIL_TYPE)
    return {i: labels.get(i) for i, h in enumerate(headers) if _GOOGLE_EMAIL.match(norm_header(h))}


def _label_columns(headers, value_re, label_re) -> dict[int, int]:
    values, types = {}, {}
    for i, h in enumerate(headers):
        key = norm_header(h)
        if m := value_re.match(key):
            values[m.group(1)] = i
        elif m := label_re.match(key):
            types.setdefault(m.group(1), i)
    return {values[n]: types[n] for n in values if n in types}


def validate_mapping(targets, headers, phone_order, custom_field_keys) -> list[str]:
    """Problems with a mapping a person chose, in words; empty when it can be used."""
    problems = []
    if len(targets) != len(headers):
        problems.append(gettext("The mapping does not match the file's columns."))
        return problems
    if PHONE not in targets:
        problems.append(gettext("No column is mapped to the phone number; every contact needs one."))
    for t in targets:
        if t in (PHONE, IGNORE) or t in ATTRIBUTE_TARGETS:
            continue
        if t.startswith("field:") and t[6:] in custom_field_keys:
            continue
        problems.append(gettext("Unknown target '%(target)s'.") % {"target": t})
    for i in phone_order:
        if not (0 <= i < len(targets)) or targets[i] != PHONE:
            problems.append(
                gettext("Phone order names column %(number)d, which is not a phone column.") % {"number": i + 1}
            )
    return problems

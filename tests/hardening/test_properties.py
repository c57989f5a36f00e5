"""Issue 8, property tests: whatever the write services accept, every reader can handle.

Hypothesis generates contact data (any Unicode text, odd phones, secondary phones, custom
field values); for each value create_contact accepts, the contact must export to CSV, XLSX and
vCard, re-import from its own CSV and vCard, render in the admin and push to the sandbox
provider — without an error. Values it refuses must be refused with a ValidationError.
"""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts import services
from contacts.imports import services as import_services
from contacts.imports.exports import write_export
from contacts.models import Contact, CustomField

pytestmark = pytest.mark.django_db

texts = st.text(max_size=120)  # every Unicode category, NUL and surrogates included
phones = st.one_of(
    st.from_regex(r"\+39 ?3[0-9]{2} ?[0-9]{6,7}", fullmatch=True),
    st.from_regex(r"0?3[0-9]{8,9}", fullmatch=True),
    texts,
)
field_values = st.one_of(texts, st.integers(), st.floats(allow_nan=True), st.booleans(), st.none())
contact_data = st.fixed_dictionaries(
    {"phone": phones},
    optional={
        "first_name": texts, "last_name": texts, "company": texts, "city": texts, "notes": st.text(max_size=400),
        "email": st.one_of(st.emails(), texts),
        "secondary_phones": st.one_of(st.lists(phones, max_size=3), field_values),
        "fields": st.dictionaries(st.sampled_from(["tier", "score", "since", "vip"]), field_values, max_size=4),
        "tags": st.lists(st.text(min_size=1, max_size=64), max_size=3),
    },
)  # fmt: skip


@pytest.fixture
def world(db, editor, settings, tmp_path):
    from messaging.services import create_account

    settings.MEDIA_ROOT = str(tmp_path)
    CustomField.objects.create(key="tier", label="Tier", type="choice", choices=["gold", "silver"])
    CustomField.objects.create(key="score", label="Score", type="number")
    CustomField.objects.create(key="since", label="Since", type="date")
    CustomField.objects.create(key="vip", label="=VIP()", type="boolean")
    return {"editor": editor, "account": create_account(provider="sandbox", name="Property sandbox")}


def _file(contact, fmt) -> bytes:
    buffer = io.BytesIO()
    assert write_export(Contact.objects.filter(pk=contact.pk), fmt, buffer) == 1
    return buffer.getvalue()


def _reimport(data: bytes, name: str, editor) -> None:
    Contact.all_objects.all().delete()
    imp = import_services.start_import(SimpleUploadedFile(name, data), user=editor)
    import_services.queue_import(imp)
    import_services.run_import(imp.pk)
    imp.refresh_from_db()
    assert imp.status == "succeeded", imp.error
    assert imp.created == 1 and imp.rejected == 0, (imp.created, imp.rejected, imp.error)


@settings(max_examples=12, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(data=contact_data)
def test_what_the_services_accept_every_reader_handles(world, client, data):
    from messaging.sync.services import start_sync

    Contact.all_objects.all().delete()
    try:
        contact = services.create_contact(data)
    except ValidationError:
        return  # refused in words: fine
    phone = contact.phone
    client.force_login(world["editor"])
    assert client.get(f"/admin/contacts/contact/{contact.pk}/change/").status_code == 200
    assert client.get("/admin/contacts/contact/").status_code == 200
    csv_file, vcf_file = _file(contact, "csv"), _file(contact, "vcf")
    _file(contact, "xlsx")
    run, _ = start_sync(world["account"], "contacts", "push", trigger="api")
    run.refresh_from_db()
    assert run.status in ("succeeded", "partial"), run.error
    _reimport(csv_file, "again.csv", world["editor"])
    assert Contact.objects.get().phone == phone
    _reimport(vcf_file, "again.vcf", world["editor"])
    assert Contact.objects.get().phone == phone

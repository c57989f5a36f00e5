import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from contacts.models import Contact, CustomField, Membership
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def test_create_contact_in_national_format_returns_e164(editor_api):
    response = editor_api.post(
        "/api/contacts/", {"phone": "333 123 4567", "first_name": "Giulia"}, format="json"
    )
    assert response.status_code == 201, response.data
    assert response.data["phone"] == "+393331234567"
    assert Contact.objects.get().first_name == "Giulia"


@pytest.mark.parametrize(
    ("phone", "message"),
    [("12", "too short: '12'"), ("+39 999 999", "not a valid number for IT: '+39 999 999'")],
)
def test_bad_phone_is_a_400_naming_the_field(editor_api, phone, message):
    response = editor_api.post("/api/contacts/", {"phone": phone}, format="json")
    assert response.status_code == 400
    assert response.data == {"phone": [message]}


def test_duplicate_phone_unknown_field_wrong_type_and_missing_list(editor_api):
    existing = ContactFactory(phone="+393331234567", first_name="Mario", last_name="Rossi")
    CustomFieldFactory(key="points", type=CustomField.Type.NUMBER)
    response = editor_api.post("/api/contacts/", {"phone": "3331234567"}, format="json")
    assert response.status_code == 400 and f"contact #{existing.pk}" in response.data["phone"][0]
    response = editor_api.post(
        "/api/contacts/", {"phone": "3339999999", "fields": {"points": "lots", "colour": "red"}, "lists": [77]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 400
    assert any("'points' must be a number" in m for m in response.data["fields"])
    assert any("unknown custom field 'colour'" in m for m in response.data["fields"])
    assert response.data["lists"] == ["no list with id 77"]
    assert Contact.objects.count() == 1


def test_update_and_soft_delete(editor_api):
    contact = ContactFactory()
    response = editor_api.patch(
        f"/api/contacts/{contact.pk}/", {"last_name": "Verdi", "tags": ["vip"]}, format="json"
    )
    assert response.status_code == 200 and response.data["tags"] == ["vip"]
    assert editor_api.delete(f"/api/contacts/{contact.pk}/").status_code == 204
    assert Contact.all_objects.get(pk=contact.pk).deleted_at is not None
    assert editor_api.get(f"/api/contacts/{contact.pk}/").status_code == 404


def test_list_search_filter_order_and_no_n_plus_one(editor_api):
    vip = ContactListFactory(name="VIP")
    people = ContactFactory.create_batch(12)
    for person in people[:5]:
        Membership.objects.create(contact=person, contact_list=vip)
    people[0].tags.create(name="gold")
    target = ContactFactory(phone="+393471234567", last_name="Zanetti")
    response = editor_api.get("/api/contacts/", {"search": "347 123"})
    assert [c["id"] for c in response.data["results"]] == [target.pk]
    response = editor_api.get("/api/contacts/", {"list": vip.pk, "ordering": "id"})
    assert response.data["count"] == 5 and [c["id"] for c in response.data["results"]] == [
        p.pk for p in people[:5]
    ]
    response = editor_api.get("/api/contacts/", {"tag": "gold"})
    assert [c["id"] for c in response.data["results"]] == [people[0].pk]
    with CaptureQueriesContext(connection) as small:
        editor_api.get("/api/contacts/", {"page_size": 2})
    with CaptureQueriesContext(connection) as large:
        editor_api.get("/api/contacts/", {"page_size": 13})
    assert len(large) == len(small)  # prefetching: queries do not grow with the page


def test_custom_field_filter(editor_api):
    CustomFieldFactory(key="tier", type=CustomField.Type.CHOICE, choices=["gold", "silver"])
    gold = ContactFactory(fields={"tier": "gold"})
    ContactFactory(fields={"tier": "silver"})
    response = editor_api.get("/api/contacts/", {"field": "tier:gold"})
    assert [c["id"] for c in response.data["results"]] == [gold.pk]
    assert editor_api.get("/api/contacts/", {"field": "nope:1"}).status_code == 400


def test_list_members_endpoint(editor_api):
    contact_list = ContactListFactory()
    people = ContactFactory.create_batch(3)
    response = editor_api.post(
        f"/api/lists/{contact_list.pk}/members/", {"contacts": [p.pk for p in people]}, format="json"
    )
    assert response.data == {"added": 3, "removed": 0, "member_count": 3}
    response = editor_api.delete(
        f"/api/lists/{contact_list.pk}/members/", {"contacts": [people[0].pk]}, format="json"
    )
    assert response.data == {"added": 0, "removed": 1, "member_count": 2}
    response = editor_api.get(f"/api/lists/{contact_list.pk}/members/")
    assert sorted(c["id"] for c in response.data["results"]) == sorted(p.pk for p in people[1:])
    assert editor_api.get(f"/api/lists/{contact_list.pk}/").data["member_count"] == 2
    response = editor_api.post(f"/api/lists/{contact_list.pk}/members/", {"contacts": [9999]}, format="json")
    assert response.status_code == 400 and "no contact with id 9999" in response.data["contacts"][0]
    assert (
        editor_api.post("/api/lists/4242/members/", {"contacts": [people[0].pk]}, format="json").status_code
        == 404
    )


def test_list_names_are_unique(editor_api):
    assert editor_api.post("/api/lists/", {"name": "Clients"}, format="json").status_code == 201
    response = editor_api.post("/api/lists/", {"name": "clients"}, format="json")
    assert response.status_code == 400 and "already exists" in str(response.data["name"])


def test_viewer_reads_but_cannot_write(api_client, viewer):
    api_client.force_authenticate(viewer)
    ContactFactory()
    assert api_client.get("/api/contacts/").status_code == 200
    assert api_client.post("/api/contacts/", {"phone": "3331234567"}, format="json").status_code == 403
    assert api_client.post("/api/lists/", {"name": "x"}, format="json").status_code == 403


def test_anonymous_is_refused_and_token_auth_works(api_client, editor, capsys):
    assert api_client.get("/api/contacts/").status_code in (401, 403)
    call_command("createtoken", editor.username)
    token = capsys.readouterr().out.strip()
    assert Token.objects.get(user=editor).key == token
    response = api_client.get("/api/contacts/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200


def test_schema_and_docs(editor_api):
    schema = editor_api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/lists/{id}/members/" in schema.content
    assert editor_api.get("/api/docs/").status_code == 200


def test_custom_fields_and_tags_endpoints(editor_api):
    response = editor_api.post(
        "/api/custom-fields/", {"label": "Loyalty tier", "type": "choice"}, format="json"
    )
    assert response.status_code == 400 and "choices" in response.data
    response = editor_api.post(
        "/api/custom-fields/",
        {"label": "Loyalty tier", "type": "choice", "choices": ["a", "b"]},
        format="json",
    )
    assert response.status_code == 201 and response.data["key"] == "loyalty_tier"
    assert editor_api.post("/api/tags/", {"name": "vip"}, format="json").status_code == 201
    assert editor_api.get("/api/tags/").data["results"][0]["contact_count"] == 0


def test_custom_field_filter_types_the_value(editor_api):
    CustomFieldFactory(key="vip", type=CustomField.Type.BOOLEAN)
    CustomFieldFactory(key="points", type=CustomField.Type.NUMBER)
    vip = ContactFactory(fields={"vip": True, "points": 120})
    ContactFactory(fields={"vip": False, "points": 5})
    assert [c["id"] for c in editor_api.get("/api/contacts/", {"field": "vip:yes"}).data["results"]] == [
        vip.pk
    ]
    assert [c["id"] for c in editor_api.get("/api/contacts/", {"field": "points:120"}).data["results"]] == [
        vip.pk
    ]
    response = editor_api.get("/api/contacts/", {"field": "points:lots"})
    assert response.status_code == 400 and "'points' must be a number" in response.data["field"][0]

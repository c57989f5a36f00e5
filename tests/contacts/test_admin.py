import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from contacts.models import Contact, CustomField, Membership
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db

ADD = "/admin/contacts/contact/add/"


def form_data(**extra):
    data = {"phone": "333 123 4567", "first_name": "Giulia", "last_name": "Bianchi", "email": "", "language": "",
            "gender": "", "birth_date": "", "company": "", "address": "", "city": "", "province": "",
            "postal_code": "", "country": "", "notes": "", "opted_out_reason": ""}  # fmt: skip
    data.update(extra)
    return data


def test_add_contact_in_national_format_with_custom_fields_and_list(client, editor):
    CustomFieldFactory(key="tier", type=CustomField.Type.CHOICE, choices=["gold", "silver"])
    vip = ContactListFactory(name="VIP")
    client.force_login(editor)
    response = client.post(ADD, form_data(cf_tier="gold", member_of=[vip.pk]))
    assert response.status_code == 302, response.context["adminform"].form.errors
    contact = Contact.objects.get()
    assert contact.phone == "+393331234567" and contact.fields == {"tier": "gold"}
    assert list(contact.lists.all()) == [vip]
    page = client.get("/admin/contacts/contact/")
    assert b"+393331234567" in page.content


def test_duplicate_phone_error_links_to_the_other_contact(client, editor):
    other = ContactFactory(phone="+393331234567", first_name="Mario", last_name="Rossi")
    client.force_login(editor)
    response = client.post(ADD, form_data())
    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="/admin/contacts/contact/{other.pk}/change/"' in html and "Mario Rossi" in html
    assert Contact.objects.count() == 1


def test_invalid_phone_and_custom_field_type_are_form_errors(client, editor):
    CustomFieldFactory(key="points", type=CustomField.Type.NUMBER)
    client.force_login(editor)
    response = client.post(ADD, form_data(phone="12", cf_points="abc"))
    errors = response.context["adminform"].form.errors
    assert errors["phone"] == ["too short: '12'"]
    assert "cf_points" in errors
    assert Contact.objects.count() == 0


def test_changelist_search_by_phone_fragment_and_filters(client, editor):
    target = ContactFactory(phone="+393471234567", last_name="Zanetti")
    ContactFactory.create_batch(3)
    vip = ContactListFactory()
    Membership.objects.create(contact=target, contact_list=vip)
    client.force_login(editor)
    response = client.get("/admin/contacts/contact/", {"q": "347 12"})
    assert list(response.context["cl"].result_list) == [target]
    response = client.get("/admin/contacts/contact/", {"list": vip.pk})
    assert list(response.context["cl"].result_list) == [target]
    response = client.get("/admin/contacts/contact/", {"q": "zanetti"})
    assert list(response.context["cl"].result_list) == [target]


def test_bulk_actions_add_to_list_tag_opt_out_delete_restore(client, editor):
    people = ContactFactory.create_batch(3)
    ids = [str(p.pk) for p in people]
    client.force_login(editor)
    url = "/admin/contacts/contact/"
    # the action first asks which list
    response = client.post(url, {"action": "add_to_list", ACTION_CHECKBOX_NAME: ids})
    assert response.status_code == 200 and b"Add contacts to a list" in response.content
    client.post(url, {"action": "add_to_list", ACTION_CHECKBOX_NAME: ids, "apply": "1", "new_list": "Spring"})
    assert Membership.objects.filter(contact_list__name="Spring").count() == 3
    client.post(url, {"action": "tag", ACTION_CHECKBOX_NAME: ids[:2], "apply": "1", "tags": "vip, press"})
    assert set(people[0].tags.values_list("name", flat=True)) == {"vip", "press"}
    client.post(url, {"action": "opt_out", ACTION_CHECKBOX_NAME: ids[:1], "apply": "1", "reason": "asked"})
    assert Contact.objects.get(pk=people[0].pk).opted_out_reason == "asked"
    client.post(url, {"action": "delete_contacts", ACTION_CHECKBOX_NAME: ids[:1]})
    assert Contact.objects.count() == 2
    response = client.get(url, {"status": "deleted"})
    assert list(response.context["cl"].result_list) == [Contact.all_objects.get(pk=people[0].pk)]
    client.post(url + "?status=deleted", {"action": "restore", ACTION_CHECKBOX_NAME: ids[:1]})
    assert Contact.objects.count() == 3


def test_list_members_page_add_by_phone_search_and_remove(client, editor):
    contact_list = ContactListFactory(name="Newsletter")
    a = ContactFactory(phone="+393331112222", last_name="Alfa")
    b = ContactFactory(phone="+393331113333", last_name="Beta")
    client.force_login(editor)
    url = f"/admin/contacts/contactlist/{contact_list.pk}/members/"
    client.post(url, {"add": "1", "phones": "333 111 2222\n333 111 3333\n333 000 0000\n12"}, follow=True)
    assert set(contact_list.contacts.all()) == {a, b}
    response = client.get(url, {"q": "beta"})
    assert list(response.context["page"]) == [b]
    client.post(url, {"remove": "1", "contact": [a.pk]})
    assert list(contact_list.contacts.all()) == [b]
    listing = client.get("/admin/contacts/contactlist/")
    assert b">1 member<" in listing.content


def test_dashboard_shows_counts(client, editor):
    ContactFactory.create_batch(4)
    client.force_login(editor)
    response = client.get("/admin/")
    assert response.status_code == 200
    cards = {c["title"]: c["value"] for c in response.context["cards"]}
    assert cards["Contacts"] == "4"


def test_import_and_export_buttons_lead_to_the_wizards(client, editor, manager):
    contact_list = ContactListFactory()
    client.force_login(editor)
    page = client.get("/admin/contacts/contact/")
    assert b"Import contacts" in page.content and b"Export selected" in page.content
    response = client.get("/admin/contacts/contact/import-file/")
    assert response.status_code == 302 and response.url == "/admin/contacts/contactimport/upload/"
    response = client.get(f"/admin/contacts/contactlist/{contact_list.pk}/export-list/")
    assert response.status_code == 302 and response.url.endswith(f"/start/?list_id={contact_list.pk}")
    assert client.get(response.url).status_code == 200
    response = client.get(f"/admin/contacts/contactlist/{contact_list.pk}/members-of/")
    assert response.url == f"/admin/contacts/contactlist/{contact_list.pk}/members/"

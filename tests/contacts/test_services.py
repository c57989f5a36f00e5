import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.models import Contact, CustomField, Membership
from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory

pytestmark = pytest.mark.django_db


def test_create_contact_normalises_and_links_lists_tags_fields():
    tier = CustomFieldFactory(key="tier", type=CustomField.Type.CHOICE, choices=["gold", "silver"])
    CustomFieldFactory(key="points", type=CustomField.Type.NUMBER)
    newsletter = ContactListFactory(name="Newsletter")
    contact = services.create_contact(
        {"phone": "333 123 4567", "first_name": "Giulia", "fields": {"tier": "GOLD", "points": "12"},
         "lists": [newsletter.pk], "tags": ["vip", "vip", " lead "]}
    )  # fmt: skip
    contact.refresh_from_db()
    assert contact.phone == "+393331234567"
    assert contact.fields == {"tier": "gold", "points": 12}
    assert list(contact.lists.all()) == [newsletter]
    assert sorted(contact.tags.values_list("name", flat=True)) == ["lead", "vip"]
    assert tier.key in contact.fields


def test_duplicate_phone_names_the_other_contact_and_saves_nothing():
    other = ContactFactory(phone="+393331234567", first_name="Mario", last_name="Rossi")
    with pytest.raises(services.DuplicatePhone) as err:
        services.create_contact({"phone": "0039 333 123 4567", "first_name": "Copy"})
    assert err.value.other == other
    assert "Mario Rossi" in err.value.message_dict["phone"][0]
    assert f"/admin/contacts/contact/{other.pk}/change/" in err.value.message_dict["phone"][0]
    assert Contact.objects.count() == 1


def test_all_errors_reported_together_and_nothing_half_saved():
    CustomFieldFactory(key="points", type=CustomField.Type.NUMBER)
    with pytest.raises(ValidationError) as err:
        services.create_contact({"phone": "12", "fields": {"points": "many", "nope": 1}, "lists": [999]})
    errors = err.value.message_dict
    assert errors["phone"] == ["too short: '12'"]
    assert any("'points' must be a number" in m for m in errors["fields"])
    assert any("unknown custom field 'nope'" in m for m in errors["fields"])
    assert errors["lists"] == ["no list with id 999"]
    assert Contact.all_objects.count() == 0


def test_soft_delete_frees_the_phone_and_restore_refuses_a_clash():
    contact = ContactFactory(phone="+393331234567")
    assert services.delete_contacts(Contact.objects.filter(pk=contact.pk)) == 1
    assert not Contact.objects.filter(pk=contact.pk).exists()
    assert Contact.all_objects.get(pk=contact.pk).is_deleted
    newcomer = services.create_contact({"phone": "+393331234567"})  # phone unique among live contacts only
    restored, problems = services.restore_contacts(Contact.all_objects.filter(pk=contact.pk))
    assert restored == 0 and "stays deleted" in problems[0]
    services.delete_contacts(Contact.objects.filter(pk=newcomer.pk))
    restored, problems = services.restore_contacts(Contact.all_objects.filter(pk=contact.pk))
    assert restored == 1 and problems == []
    assert Contact.objects.get(pk=contact.pk).phone == "+393331234567"


def test_lists_membership_is_idempotent_and_bulk():
    people = ContactFactory.create_batch(5)
    target = ContactListFactory()
    assert services.add_to_list(target, Contact.objects.all()) == 5
    assert services.add_to_list(target, [people[0].pk, people[1].pk]) == 0
    assert services.remove_from_list(target, [people[0].pk]) == 1
    assert Membership.objects.filter(contact_list=target).count() == 4
    with pytest.raises(ValidationError, match="no contact with id 424242"):
        services.add_to_list(target, [424242])


def test_opt_out_keeps_first_date_and_reason():
    contact = ContactFactory()
    services.opt_out_contacts(Contact.objects.all(), "asked by phone")
    first = Contact.objects.get(pk=contact.pk)
    assert first.opted_out and first.opted_out_reason == "asked by phone" and first.opted_out_at
    assert services.opt_out_contacts(Contact.objects.all(), "again") == 0
    assert Contact.objects.get(pk=contact.pk).opted_out_reason == "asked by phone"


def test_update_contact_merges_custom_fields_and_changes_phone():
    CustomFieldFactory(key="vip", type=CustomField.Type.BOOLEAN)
    CustomFieldFactory(key="city_code", type=CustomField.Type.TEXT)
    contact = services.create_contact({"phone": "3331112222", "fields": {"vip": "yes", "city_code": "MI"}})
    services.update_contact(
        contact, {"phone": "+44 20 7946 0958", "fields": {"vip": "no", "city_code": None}}
    )
    contact.refresh_from_db()
    assert contact.phone == "+442079460958"
    assert contact.fields == {"vip": False}


def test_search_matches_phone_fragments_in_any_format_and_names():
    rossi = ContactFactory(
        phone="+393331234567", first_name="Maria", last_name="Rossi", email="maria@example.com"
    )
    ContactFactory(phone="+442079460958", first_name="John", last_name="Smith")
    search = lambda term: list(services.search_contacts(Contact.objects.all(), term))  # noqa: E731
    assert search("333 123") == [rossi]
    assert search("+39 333-12") == [rossi]
    assert search("rossi") == [rossi]
    assert search("maria rossi") == [rossi]
    assert search("maria@example") == [rossi]
    assert [c.last_name for c in search("020 7946")] == ["Smith"]

"""factory_boy factories for the rows tests need."""

import factory

from contacts.models import Contact, ContactList, CustomField, Tag


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    phone = factory.Sequence(lambda n: f"+39333{1000000 + n:07d}")
    first_name = factory.Faker("first_name", locale="it_IT")
    last_name = factory.Faker("last_name", locale="it_IT")
    email = factory.LazyAttribute(
        lambda c: f"{c.first_name}.{c.last_name}{c.phone[-4:]}@example.com".lower().replace(" ", "")
    )


class ContactListFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactList

    name = factory.Sequence(lambda n: f"List {n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    name = factory.Sequence(lambda n: f"tag{n}")


class CustomFieldFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomField

    key = factory.Sequence(lambda n: f"field_{n}")
    label = factory.LazyAttribute(lambda f: f.key.replace("_", " ").title())
    type = CustomField.Type.TEXT

"""Contacts, their custom fields and tags, and the lists staff group them into."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class CustomField(models.Model):
    """A field staff define once and fill per contact (values live in Contact.fields by key)."""

    class Type(models.TextChoices):
        TEXT = "text", _("Text")
        NUMBER = "number", _("Number")
        DATE = "date", _("Date")
        BOOLEAN = "boolean", _("Yes / no")
        CHOICE = "choice", _("Choice")

    key = models.SlugField(
        max_length=64,
        unique=True,
        help_text=_("Short name used in imports, the API and templates, e.g. 'loyalty_tier'."),
    )
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    choices = models.JSONField(
        default=list, blank=True, help_text=_("For 'Choice' fields: the allowed values, one per entry.")
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["label"]

    def __str__(self):
        return self.label

    def save(self, *args, **kwargs):
        if not self.key:
            self.key = slugify(self.label).replace("-", "_")[:64]
        super().save(*args, **kwargs)

    @property
    def choice_list(self) -> list[str]:
        """The allowed values as texts, whatever is stored (a reader never trusts stored data)."""
        stored = self.choices
        if not isinstance(stored, list | tuple):
            return []
        return [str(c) for c in stored if isinstance(c, str | int | float) and not isinstance(c, bool) and str(c)]

    _TRUE = {"1", "true", "yes", "y", "si", "sì", "on", "x"}
    _FALSE = {"0", "false", "no", "n", "off", ""}

    def clean_value(self, value):
        """Return the JSON value stored for `value`, or raise ValidationError saying why."""
        if value is None or value == "":
            return None
        if self.type == self.Type.TEXT:
            return str(value)
        if self.type == self.Type.NUMBER:
            if isinstance(value, bool):
                raise ValidationError(gettext("'%(key)s' must be a number, not yes/no") % {"key": self.key})
            from config.hardening import bounded_number_text

            if isinstance(value, float) and not math.isfinite(value):
                raise ValidationError(gettext("'%(key)s' must be a finite number") % {"key": self.key})
            try:
                number = Decimal(bounded_number_text(str(value), self.key).replace(",", "."))
            except InvalidOperation:
                raise ValidationError(
                    gettext("'%(key)s' must be a number, got %(value)r") % {"key": self.key, "value": value}
                ) from None
            if not number.is_finite():
                raise ValidationError(gettext("'%(key)s' must be a finite number") % {"key": self.key})
            return int(number) if number == number.to_integral_value() else float(number)
        if self.type == self.Type.DATE:
            if isinstance(value, dt.datetime):
                return value.date().isoformat()
            if isinstance(value, dt.date):
                return value.isoformat()
            text = str(value).strip()
            for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"):
                try:
                    return dt.datetime.strptime(text, fmt).date().isoformat()
                except ValueError:
                    continue
            raise ValidationError(
                gettext("'%(key)s' must be a date (YYYY-MM-DD or DD/MM/YYYY), got %(value)r")
                % {"key": self.key, "value": value}
            )
        if self.type == self.Type.BOOLEAN:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in self._TRUE:
                return True
            if text in self._FALSE:
                return False
            raise ValidationError(
                gettext("'%(key)s' must be yes or no, got %(value)r") % {"key": self.key, "value": value}
            )
        if self.type == self.Type.CHOICE:
            text = str(value).strip()
            for choice in self.choice_list:
                if choice.lower() == text.lower():
                    return choice
            allowed = ", ".join(self.choice_list) or gettext("none defined")
            raise ValidationError(
                gettext("'%(key)s' must be one of: %(allowed)s; got %(value)r")
                % {"key": self.key, "allowed": allowed, "value": value}
            )
        raise ValidationError(gettext("'%(key)s' has an unknown type") % {"key": self.key})


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class ContactQuerySet(models.QuerySet):
    def live(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)


class LiveContactManager(models.Manager.from_queryset(ContactQuerySet)):
    """Default manager: soft-deleted contacts are invisible unless asked for by all_objects."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class Contact(models.Model):
    class Gender(models.TextChoices):
        UNKNOWN = "", "—"
        FEMALE = "female", _("Female")
        MALE = "male", _("Male")
        OTHER = "other", _("Other")

    phone = models.CharField(max_length=20, help_text=_("E.164, e.g. +393331234567"))
    secondary_phones = models.JSONField(default=list, blank=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    language = models.CharField(max_length=10, blank=True, help_text=_("ISO 639-1 code, e.g. 'it'"))
    gender = models.CharField(max_length=10, choices=Gender.choices, blank=True)
    birth_date = models.DateField(null=True, blank=True)
    company = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    province = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166 code, e.g. IT"))
    notes = models.TextField(blank=True)
    fields = models.JSONField(default=dict, blank=True, help_text=_("Custom field values by key"))

    tags = models.ManyToManyField(Tag, blank=True, related_name="contacts")
    lists = models.ManyToManyField("ContactList", through="Membership", blank=True, related_name="contacts")

    opted_out = models.BooleanField(default=False)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    opted_out_reason = models.CharField(max_length=255, blank=True)
    blocked = models.BooleanField(default=False)

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = LiveContactManager()
    all_objects = ContactQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone"], condition=Q(deleted_at__isnull=True), name="contact_phone_unique_live"
            ),
        ]
        indexes = [
            models.Index(fields=["last_name", "first_name"], name="contact_name_idx"),
            models.Index(fields=["language"], name="contact_language_idx"),
            models.Index(fields=["updated_at"], name="contact_updated_idx"),
        ]
        permissions = [("export_contact", _("Can export contacts"))]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return f"{name} ({self.phone})" if name else self.phone

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def get_admin_url(self) -> str:
        return reverse("admin:contacts_contact_change", args=[self.pk])


class ContactList(models.Model):
    name = models.CharField(max_length=150, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("list")
        verbose_name_plural = _("lists")

    def __str__(self):
        return self.name


class Membership(models.Model):
    # No single-column indexes: (contact, contact_list) and the unique (contact_list, contact)
    # already lead with each column, and every index costs each imported contact an insertion.
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="memberships", db_index=False)
    contact_list = models.ForeignKey(
        ContactList, on_delete=models.CASCADE, related_name="memberships", db_index=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["contact_list", "contact"], name="membership_unique"),
        ]
        indexes = [models.Index(fields=["contact", "contact_list"], name="membership_contact_idx")]

    def __str__(self):
        return gettext("%(contact)s in %(list)s") % {"contact": self.contact_id, "list": self.contact_list_id}


from .events import ContactEvent  # noqa: E402,F401
from .imports.models import ContactExport, ContactImport  # noqa: E402,F401

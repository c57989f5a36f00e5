"""Admin forms: contacts with their custom fields, and the small forms bulk actions ask for."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import (
    UnfoldAdminCheckboxSelectMultipleWidget,
    UnfoldAdminDateWidget,
    UnfoldAdminSelectWidget,
    UnfoldAdminTextInputWidget,
    UnfoldBooleanSwitchWidget,
)

from . import services
from .models import Contact, ContactList, CustomField


def custom_form_field(definition: CustomField) -> forms.Field:
    label, common = definition.label, {"required": False, "help_text": gettext("Custom field “%(key)s”") % {"key": definition.key}}
    if definition.type == CustomField.Type.NUMBER:
        return forms.DecimalField(label=label, widget=UnfoldAdminTextInputWidget, **common)
    if definition.type == CustomField.Type.DATE:
        return forms.DateField(label=label, widget=UnfoldAdminDateWidget, **common)
    if definition.type == CustomField.Type.BOOLEAN:
        return forms.BooleanField(label=label, widget=UnfoldBooleanSwitchWidget, **common)
    if definition.type == CustomField.Type.CHOICE:
        choices = [("", "—"), *[(c, c) for c in definition.choice_list]]
        return forms.ChoiceField(label=label, choices=choices, widget=UnfoldAdminSelectWidget, **common)
    return forms.CharField(label=label, widget=UnfoldAdminTextInputWidget, **common)


class ContactAdminForm(forms.ModelForm):
    """The phone accepts any human format; custom fields appear as ordinary inputs (cf_<key>)."""

    phone = forms.CharField(
        max_length=40,
        label=_("Phone"),
        widget=UnfoldAdminTextInputWidget,
        help_text=_("Any format, e.g. 333 123 4567 or +44 20 7946 0958. Saved in international (E.164) form."),
    )

    member_of = forms.ModelMultipleChoiceField(
        queryset=ContactList.objects.all(),
        required=False,
        label=_("Lists"),
        widget=UnfoldAdminCheckboxSelectMultipleWidget,
        help_text=_("The lists this contact belongs to."),
    )

    class Meta:
        model = Contact
        fields = [
            "phone", "first_name", "last_name", "email", "language", "gender", "birth_date", "company",
            "address", "city", "province", "postal_code", "country", "notes", "tags",
            "opted_out", "opted_out_reason", "blocked",
        ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_fields = {f.key: f for f in CustomField.objects.all()}
        for key in self.custom_fields:
            if f"cf_{key}" not in self.fields:  # defined after this form class was built
                self.fields[f"cf_{key}"] = custom_form_field(self.custom_fields[key])
            if self.instance.pk and key in self.instance.fields:
                self.initial[f"cf_{key}"] = self.instance.fields[key]
        if self.instance.pk:
            self.initial["member_of"] = list(
                self.instance.memberships.values_list("contact_list_id", flat=True)
            )

    def clean_phone(self):
        try:
            return services.clean_phone(self.cleaned_data["phone"], exclude_pk=self.instance.pk)
        except services.DuplicatePhone as exc:
            raise ValidationError(
                format_html(
                    gettext('{} already belongs to <a class="underline" href="{}">{}</a>.'),
                    exc.other.phone,
                    exc.other.get_admin_url(),
                    exc.other.display_name,
                )
            ) from None
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone"][0]) from None

    def clean(self):
        cleaned = super().clean()
        values = {key: cleaned.get(f"cf_{key}") for key in self.custom_fields}
        try:
            self.custom_values = services.clean_custom_fields(
                dict(values.items()), definitions=self.custom_fields
            )
        except ValidationError as exc:
            for message in exc.message_dict.get("fields", []):
                self.add_error(None, message)
        return cleaned

    def service_data(self) -> dict:
        data = {name: self.cleaned_data.get(name) for name in self.Meta.fields if name != "tags"}
        data["fields"] = getattr(self, "custom_values", {})
        data["tags"] = [t.name for t in self.cleaned_data.get("tags") or []]
        data["lists"] = [cl.pk for cl in self.cleaned_data.get("member_of") or []]
        return data


class ChooseListForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(), required=False, label=_("List"), widget=UnfoldAdminSelectWidget
    )
    new_list = forms.CharField(
        required=False, label=_("…or a new list called"), widget=UnfoldAdminTextInputWidget, max_length=150
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("contact_list") and not cleaned.get("new_list", "").strip():
            raise ValidationError(gettext("Choose a list, or type a name for a new one."))
        return cleaned

    def get_list(self, user=None) -> ContactList:
        if self.cleaned_data.get("contact_list"):
            return self.cleaned_data["contact_list"]
        return services.create_list(self.cleaned_data["new_list"], user=user)


class ExistingListForm(forms.Form):
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(), label=_("List"), widget=UnfoldAdminSelectWidget
    )


class TagForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags"), help_text=_("One or more, separated by commas."), widget=UnfoldAdminTextInputWidget
    )

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]


class OptOutForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), required=False, max_length=255, widget=UnfoldAdminTextInputWidget,
        help_text=_("Kept with the contact, e.g. 'asked by phone on 3 May'."),
    )  # fmt: skip


class AddMembersForm(forms.Form):
    phones = forms.CharField(
        label=_("Add contacts by phone"),
        widget=forms.Textarea(attrs={"rows": 3, "class": "border rounded-md w-full p-2"}),
        help_text=_("One number per line, any format. Numbers that are not contacts yet are reported."),
    )

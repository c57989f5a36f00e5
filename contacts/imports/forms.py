"""Forms of the import wizard and the export chooser (rendered in the unfold admin)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.models import ContactList, CustomField

from .mapping import ATTRIBUTE_TARGETS, PHONE

INPUT = (
    "border border-base-200 bg-white dark:bg-base-900 dark:border-base-700 rounded-default px-3 py-2 w-full"
)


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Contacts file"),
        help_text=_("CSV or TXT (any separator/encoding), Excel .xlsx, or vCard .vcf."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,.vcf,.vcard", "class": "sr-only"}),
    )
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(),
        required=False,
        label=_("Add everyone to an existing list"),
        widget=forms.Select(attrs={"class": INPUT}),
    )
    new_list_name = forms.CharField(
        required=False,
        max_length=150,
        label=_("…or to a new list"),
        widget=forms.TextInput(attrs={"class": INPUT, "placeholder": _("e.g. Fiera 2024")}),
    )
    tags = forms.CharField(
        required=False,
        label=_("Tags"),
        help_text=_("Comma separated; applied to every imported contact."),
        widget=forms.TextInput(attrs={"class": INPUT, "placeholder": _("e.g. clienti, newsletter")}),
    )
    country = forms.CharField(
        max_length=2,
        label=_("Country of numbers without a +prefix"),
        widget=forms.TextInput(attrs={"class": INPUT, "style": "max-width:6rem"}),
    )
    update_mode = forms.ChoiceField(
        label=_("Contacts already in Switchboard (same phone)"),
        choices=[
            ("fill", _("Fill in only what they are missing")),
            ("overwrite", _("Overwrite with the file's values")),
            ("skip", _("Leave them as they are")),
        ],
        initial="fill",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].initial = settings.SWITCHBOARD_DEFAULT_COUNTRY

    def tag_names(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tags", "").split(",") if t.strip()]

    def clean_country(self):
        value = self.cleaned_data["country"].strip().upper()
        if len(value) != 2 or not value.isalpha():
            raise forms.ValidationError(gettext("A two-letter country code, e.g. IT."))
        return value


NEW_FIELD = "__new_field__"


def target_choices():
    choices = [("", gettext("— ignore this column —")), (PHONE, gettext("Phone number"))]
    choices += [(key, label) for key, label in ATTRIBUTE_TARGETS.items()]
    custom = [(f"field:{f.key}", gettext("Custom field: %(label)s") % {"label": f.label}) for f in CustomField.objects.order_by("label")]
    choices += custom
    choices.append((NEW_FIELD, gettext("+ Create a custom field from this column")))
    return choices


class MappingForm(forms.Form):
    """One target per column, and a priority number for each phone column (1 wins)."""

    def __init__(self, *args, headers, mapping, phone_order, samples, sheets=None, sheet="", **kwargs):
        super().__init__(*args, **kwargs)
        self.headers = headers
        self.samples = samples
        choices = target_choices()
        rank = {col: n + 1 for n, col in enumerate(phone_order)}
        for i, header in enumerate(headers):
            self.fields[f"col_{i}"] = forms.ChoiceField(
                choices=choices,
                required=False,
                initial=mapping[i] if i < len(mapping) else "",
                label=header or gettext("Column %(number)d") % {"number": i + 1},
                widget=forms.Select(attrs={"class": INPUT, "data-column": i}),
            )
            self.fields[f"order_{i}"] = forms.IntegerField(
                required=False,
                min_value=1,
                initial=rank.get(i),
                widget=forms.NumberInput(
                    attrs={"class": INPUT, "style": "max-width:5rem", "title": gettext("Phone priority")}
                ),
            )
        if sheets and len(sheets) > 1:
            self.fields["sheet"] = forms.ChoiceField(
                choices=[(s, s) for s in sheets], initial=sheet, required=False,
                widget=forms.Select(attrs={"class": INPUT}),
            )  # fmt: skip

    def rows(self):
        for i, header in enumerate(self.headers):
            yield {
                "index": i,
                "header": header or gettext("Column %(number)d") % {"number": i + 1},
                "target": self[f"col_{i}"],
                "order": self[f"order_{i}"],
                "samples": [s[i] for s in self.samples if i < len(s) and s[i] not in ("", None)][:3],
            }

    def targets(self) -> list[str]:
        return [self.cleaned_data.get(f"col_{i}") or "" for i in range(len(self.headers))]

    def phone_order(self) -> list[int]:
        targets = self.targets()
        phones = [i for i, t in enumerate(targets) if t == PHONE]
        return sorted(phones, key=lambda i: (self.cleaned_data.get(f"order_{i}") or 999, i))


class ExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[
            ("csv", _("CSV (opens in Excel)")),
            ("xlsx", _("Excel (.xlsx)")),
            ("vcf", _("vCard 3.0 (phones, Outlook)")),
        ],
        initial="csv",
        widget=forms.RadioSelect,
    )

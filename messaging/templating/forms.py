"""The admin form: header parts as plain fields, buttons and samples edited by the page's
Alpine editor into hidden JSON fields. Every rule is MessageTemplate.clean (validation.py)."""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import MessageTemplate

HEADER_TYPES = [
    ("none", _("No header")), ("text", _("Text")), ("image", _("Image")), ("video", _("Video")),
    ("document", _("Document")),
]  # fmt: skip


class JSONHiddenField(forms.CharField):
    """A JSON value carried in a hidden input (the page's editor writes it)."""

    def __init__(self, *, kind=list, **kwargs):
        self.kind = kind
        super().__init__(required=False, widget=forms.HiddenInput, **kwargs)

    def prepare_value(self, value):
        return value if isinstance(value, str) else json.dumps(value if value is not None else self.kind())

    def to_python(self, value):
        if value in (None, ""):
            return self.kind()
        try:
            data = json.loads(value)
        except (TypeError, ValueError):
            raise forms.ValidationError(_("This could not be read; please reload the page.")) from None
        if not isinstance(data, self.kind):
            raise forms.ValidationError(_("This could not be read; please reload the page."))
        return data


class MessageTemplateForm(forms.ModelForm):
    header_type = forms.ChoiceField(label=_("Header"), choices=HEADER_TYPES, initial="none", required=False)
    header_text = forms.CharField(label=_("Header text"), required=False, max_length=200,
                                  help_text=_("At most 60 characters and one variable."))  # fmt: skip
    header_url = forms.CharField(label=_("Sample media URL"), required=False, max_length=2000,
                                 help_text=_("An https:// link to a sample image (.jpg/.png), video (.mp4) or document (.pdf)."))  # fmt: skip
    buttons = JSONHiddenField(kind=list)
    samples = JSONHiddenField(kind=dict)
    cards = forms.JSONField(
        label=_("Cards"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_('RCS rich card or carousel: [{"title": …, "description": …, "media_url": "https://…", "suggestions": [...]}]'),
    )  # fmt: skip

    class Meta:
        model = MessageTemplate
        fields = [
            "name", "kind", "language", "category", "body", "footer", "buttons", "rcs_type",
            "card_orientation", "cards", "sms_fallback", "samples",
        ]  # fmt: skip
        widgets = {
            "body": forms.Textarea(attrs={"rows": 5}),
            "sms_fallback": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        header = self.instance.header if isinstance(self.instance.header, dict) else {}
        self.fields["header_type"].initial = header.get("type") or "none"
        self.fields["header_text"].initial = header.get("text", "")
        self.fields["header_url"].initial = header.get("url", "")
        if "cards" in self.fields:
            self.fields["cards"].initial = self.instance.cards or []

    def clean_cards(self):
        value = self.cleaned_data.get("cards")
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise forms.ValidationError(_("Cards must be a list."))
        return value

    def _post_clean(self):
        kind = self.cleaned_data.get("header_type") or "none"
        header = {"type": kind}
        if kind == "text":
            header["text"] = self.cleaned_data.get("header_text", "")
        elif kind != "none":
            header["url"] = self.cleaned_data.get("header_url", "")
        self.instance.header = header
        super()._post_clean()

    def _update_errors(self, errors):
        # Errors on the model's header belong to the header field staff see.
        if hasattr(errors, "error_dict") and "header" in errors.error_dict:
            kind = self.instance.header_type
            target = "header_text" if kind == "text" else "header_type" if kind == "none" else "header_url"
            errors.error_dict.setdefault(target, []).extend(errors.error_dict.pop("header"))
        super()._update_errors(errors)


def template_from_post(data) -> MessageTemplate:
    """An unsaved template from the form's current values (for the live preview); never raises."""
    form = MessageTemplateForm(data)
    form.is_valid()
    template = form.instance
    cleaned = getattr(form, "cleaned_data", {})
    for field in (
        "name",
        "kind",
        "language",
        "category",
        "body",
        "footer",
        "sms_fallback",
        "rcs_type",
        "card_orientation",
    ):
        if field not in cleaned:
            setattr(template, field, str(data.get(field, ""))[:5000])
    for field, kind in (("buttons", list), ("samples", dict)):
        if field not in cleaned:
            try:
                value = json.loads(data.get(field) or "null")
            except ValueError:
                value = None
            setattr(template, field, value if isinstance(value, kind) else kind())
    return template

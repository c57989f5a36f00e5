"""The provider-account form: credential and setting inputs per provider, secrets write-only.

Inputs are built from each provider class's credential_fields / setting_fields, so a
new provider gets its form for free. On "add" every provider's inputs are present
and the admin shows only the chosen provider's (unfold conditional_fields); on
"change" the provider is fixed and only its inputs exist. Secret inputs are password
fields that never render a value back: blank keeps what is stored.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminPasswordWidget, UnfoldAdminTextInputWidget, UnfoldAdminURLInputWidget

from . import services
from .models import ProviderAccount
from .providers.registry import get_registry

SET_HELP = _("•••• set — leave blank to keep")
MODEL_FIELDS = ["provider", "name", "base_url", "is_active", "conflict_policy", "delete_policy",
                "sync_interval_minutes"]  # fmt: skip


def credential_input(slug: str, key: str) -> str:
    return f"cred__{slug}__{key}"


def setting_input(slug: str, key: str) -> str:
    return f"set__{slug}__{key}"


class ProviderAccountForm(forms.ModelForm):
    base_url = forms.URLField(
        label=_("Base URL"),
        required=False,
        max_length=200,
        assume_scheme="https",  # a typed "api.example.com" means https
        widget=UnfoldAdminURLInputWidget(),
        help_text=_("Leave empty for the provider's own address. Tests and staging point it elsewhere."),
    )
    webhook_secret_input = forms.CharField(
        label=_("Webhook secret"),
        required=False,
        strip=True,
        widget=UnfoldAdminPasswordWidget(render_value=False),
        help_text=_("The shared secret the provider signs its webhooks with."),
    )

    class Meta:
        model = ProviderAccount
        fields = MODEL_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = bool(self.instance and self.instance.pk)
        registry = get_registry()
        self.providers = (
            {self.instance.provider: registry[self.instance.provider]} if self.editing else registry
        )
        if self.editing:
            # An account's remote ids belong to one provider: it cannot change (shown, not editable).
            self.fields["provider"].disabled = True
            if self.instance.webhook_secret:
                self.fields["webhook_secret_input"].help_text = SET_HELP
        self.credential_inputs: dict[str, list[tuple[str, str]]] = {}
        self.setting_inputs: dict[str, list[tuple[str, str]]] = {}
        stored = self.instance.credentials if self.editing else {}
        for slug, cls in self.providers.items():
            for field in cls.credential_fields:
                name = credential_input(slug, field.key)
                already = bool(stored.get(field.key))
                help_text = SET_HELP if already else field.help
                if not already and field.required:
                    help_text = gettext("Required. %(help)s") % {"help": help_text or ""}
                    help_text = help_text.strip()
                # Every credential is write-only, secret or not: a form never shows one back.
                self.fields[name] = forms.CharField(
                    label=field.label,
                    required=False,
                    strip=True,
                    widget=UnfoldAdminPasswordWidget(
                        render_value=False, attrs={"autocomplete": "new-password"}
                    ),
                    help_text=help_text,
                )
                self.credential_inputs.setdefault(slug, []).append((name, field.key))
            for field in cls.setting_fields:
                name = setting_input(slug, field.key)
                self.fields[name] = forms.CharField(
                    label=field.label,
                    required=False,
                    strip=True,
                    widget=UnfoldAdminTextInputWidget(),
                    help_text=(
                        gettext("Required. %(help)s") % {"help": field.help or ""} if field.required else str(field.help or "")
                    ).strip(),
                    initial=(self.instance.settings or {}).get(field.key, "") if self.editing else "",
                )
                self.setting_inputs.setdefault(slug, []).append((name, field.key))

    def chosen_provider(self) -> str:
        return self.instance.provider if self.editing else self.cleaned_data.get("provider", "")

    def clean(self):
        cleaned = super().clean()
        slug = self.chosen_provider()
        if not slug or slug not in self.providers:
            return cleaned
        cls = self.providers[slug]
        credentials = {key: cleaned.get(name, "") for name, key in self.credential_inputs.get(slug, [])}
        settings = {key: cleaned.get(name, "") for name, key in self.setting_inputs.get(slug, [])}
        existing_credentials = self.instance.credentials if self.editing else None
        existing_settings = self.instance.settings if self.editing else None
        for check, given, existing, inputs in (
            (services.clean_credentials, credentials, existing_credentials, self.credential_inputs),
            (services.clean_settings, settings, existing_settings, self.setting_inputs),
        ):
            try:
                check(cls, given, existing)
            except ValidationError as exc:
                for messages in exc.message_dict.values():
                    for message in messages:
                        target = next(
                            (name for name, key in inputs.get(slug, []) if f" {key} " in f" {message} "), None
                        )
                        self.add_error(target, message)
        # Hand the service what staff typed; it merges blanks with what is stored.
        self.credentials_input = {k: v for k, v in credentials.items() if v}
        self.settings_input = settings
        return cleaned

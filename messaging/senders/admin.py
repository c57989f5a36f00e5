"""Senders in the admin: each account's senders on its page, and a page to add the ones its provider
does not list (or to rename / switch off pulled ones). Writes go through messaging.senders.services."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import display

from messaging.admin_access import HidesAccountsMixin

from .models import Sender
from .services import manual_sender_problems, save_manual_sender


def senders_table(account) -> str:
    """The account's senders on its page, read-only (added and changed on the Senders page;
    pulled ones come back with "Sync now" and whenever the account is saved)."""
    rows = list(Sender.objects.filter(account=account).order_by("channel", "label", "address"))
    link = reverse("admin:messaging_sender_changelist") + f"?account__id__exact={account.pk}"
    if not rows:
        return format_html(
            '<p>{}</p><p><a class="underline" href="{}">{}</a></p>',
            _("No senders yet. Sync the account to pull them where the provider lists them."),
            link, _("Senders page"),
        )  # fmt: skip
    body = format_html_join(
        "", "<tr><td class='pr-4'>{}</td><td class='pr-4'>{}</td><td class='pr-4'>{}</td><td class='pr-4'>{}</td>"
        "<td>{}</td></tr>",
        ((s.get_channel_display(), s.address, s.label or "—", _("active") if s.active else _("switched off"),
          s.get_source_display()) for s in rows),
    )  # fmt: skip
    return format_html(
        '<table class="text-left text-sm"><tr><th class="pr-4">{}</th><th class="pr-4">{}</th><th class="pr-4">{}</th>'
        '<th class="pr-4">{}</th><th>{}</th></tr>{}</table><p class="mt-2"><a class="underline" href="{}">{}</a></p>',
        _("channel"), _("sender"), _("name shown"), _("status"), _("source"), body, link, _("Senders page"),
    )  # fmt: skip


class SenderForm(forms.ModelForm):
    class Meta:
        model = Sender
        fields = ["account", "channel", "address", "label", "active"]

    def clean(self):
        """The service's rules, shown on the fields (the service checks them again when it saves)."""
        data = super().clean()
        existing = self.instance if self.instance.pk else None
        account = existing.account if existing else data.get("account")
        if account is None:
            return data
        problems = manual_sender_problems(
            account, channel=data.get("channel", existing.channel if existing else ""),
            address=data.get("address", existing.address if existing else ""), label=data.get("label", ""),
            sender=Sender.objects.get(pk=existing.pk) if existing else None,
        )  # fmt: skip
        for field, errors in problems.items():
            for error in errors:
                self.add_error(field if field in self.fields else None, error)
        return data

    def validate_unique(self):
        """Checked in clean() by the service's rules, in the staff's words."""


@admin.register(Sender)
class SenderAdmin(HidesAccountsMixin, ModelAdmin):
    form = SenderForm
    list_display = [
        "__str__",
        "channel",
        "account",
        "active_label",
        "source",
        "provider_status",
        "last_seen_at",
    ]
    list_filter = ["account", "channel", "active", "source"]
    search_fields = ["address", "label"]
    list_select_related = ["account"]

    def get_readonly_fields(self, request, obj=None):
        fields = ["source", "provider_status", "last_seen_at"]
        if obj is not None:
            fields = ["account", *fields]
            if obj.source == Sender.Source.PULLED:
                fields = ["channel", "address", *fields]
        return self._without(request, fields)

    def has_delete_permission(self, request, obj=None):
        # Pulled senders come back with the next sync: switch them off instead.
        if obj is not None and obj.source == Sender.Source.PULLED:
            return False
        return super().has_delete_permission(request, obj)

    @display(description=_("active"), boolean=True, ordering="active")
    def active_label(self, obj):
        return obj.active

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        existing = Sender.objects.get(pk=obj.pk) if change else None
        try:
            saved = save_manual_sender(
                existing.account if existing else data["account"],
                channel=data.get("channel", existing.channel if existing else ""),
                address=data.get("address", existing.address if existing else ""),
                label=data.get("label", ""), active=data.get("active", True), sender=existing,
            )  # fmt: skip
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            raise
        obj.pk = saved.pk
        obj.refresh_from_db()

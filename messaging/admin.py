"""Provider accounts and the HTTP log in the back office (django-unfold).

Writes go through messaging.services; this module renders forms and reports
outcomes in words. Provider accounts are for Managers only, reads included
(the role table gives everyone view_* permissions; accounts need change_*).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import DropdownFilter, FieldTextFilter, RelatedDropdownFilter
from unfold.decorators import action, display

from localization.formatting import format_datetime

from . import services
from .admin_access import HidesAccountsMixin
from .forms import MODEL_FIELDS, ProviderAccountForm
from .models import HttpLog, ProviderAccount
from .providers.registry import get_registry
from .senders.admin import senders_table
from .webhooks.admin import AccountWebhooksMixin

OP_WORDS = {
    "pull": _("read"), "push": _("create & update"), "delete": _("delete"), "membership": _("members"),
    "bulk": _("bulk upload"), "stats": _("statistics"), "start": _("start"),
}  # fmt: skip
RESOURCE_WORDS = {
    "contacts": _("Contacts"), "lists": _("Lists"), "custom_fields": _("Custom fields"), "templates": _("Templates"),
    "campaigns": _("Campaigns"), "automations": _("Automations"), "senders": _("Senders"),
}  # fmt: skip
CHANNEL_WORDS = {"sms": "SMS", "whatsapp": "WhatsApp", "rcs": "RCS", "voice": _("Voice")}
ORDER = list(OP_WORDS)


def capability_lines(provider_class) -> list[str]:
    """The capability table in words, one line per resource (used by the admin and its tests)."""
    table = provider_class.capabilities.as_dict()
    lines = []
    for resource, ops in table["resources"].items():
        if ops:
            words = [
                OP_WORDS.get(op, op) for op in sorted(ops, key=lambda o: ORDER.index(o) if o in ORDER else 99)
            ]
            lines.append(f"{RESOURCE_WORDS.get(resource, resource)}: {', '.join(str(w) for w in words)}")
    yes, no = gettext("yes"), gettext("no")
    if table["send"]:
        lines.append(gettext("Send: %(channels)s") % {"channels": ", ".join(str(CHANNEL_WORDS.get(c, c)) for c in table["send"])})
    lines.append(gettext("Webhooks: %(answer)s") % {"answer": yes if table["webhooks"] else no})
    lines.append(gettext("Balance: %(answer)s") % {"answer": yes if table["balance"] else no})
    return lines


def report(request, account, result) -> None:
    level = messages.SUCCESS if result.ok else messages.ERROR
    messages.add_message(request, level, f"{account.name}: {result.detail}")


@admin.register(ProviderAccount)
class ProviderAccountAdmin(AccountWebhooksMixin, ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "provider_label", "health", "balance_column", "last_success_at", "is_active"]
    list_filter = ["provider", "is_active"]
    search_fields = ["name"]
    actions = ["test_connection_bulk"]
    actions_detail = ["test_connection_detail", *AccountWebhooksMixin.webhook_detail_actions]
    readonly_fields = [
        "health",
        "balance",
        "capability_list",
        "sender_list",
        "last_success_at",
        "last_error_at",
        "created_at",
        *AccountWebhooksMixin.webhook_readonly_fields,
    ]
    warn_unsaved_form = False

    # -- permissions: Managers only, reads included -------------------------------------------

    def _is_manager(self, request) -> bool:
        return request.user.has_perm("messaging.change_provideraccount")

    def has_view_permission(self, request, obj=None):
        return self._is_manager(request)

    def has_module_permission(self, request):
        return self._is_manager(request)

    # -- the form ------------------------------------------------------------------------------

    @property
    def conditional_fields(self) -> dict[str, str]:
        """Show only the chosen provider's inputs on "add" (an Alpine expression per input)."""
        shown = {}
        for slug, cls in get_registry().items():
            for field in cls.credential_fields:
                shown[f"cred__{slug}__{field.key}"] = f"provider == '{slug}'"
            for field in cls.setting_fields:
                shown[f"set__{slug}__{field.key}"] = f"provider == '{slug}'"
        return shown

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The per-provider inputs are built by the form itself; only model fields go to the factory.
        kwargs["fields"] = MODEL_FIELDS
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request, obj=None):
        providers = {obj.provider: obj.provider_class} if obj else get_registry()
        credentials = [
            f"cred__{slug}__{f.key}" for slug, cls in providers.items() for f in cls.credential_fields
        ]
        settings = [f"set__{slug}__{f.key}" for slug, cls in providers.items() for f in cls.setting_fields]
        fieldsets = [
            (None, {"fields": ["provider", "name", "base_url", "is_active"]}),
            (
                _("Credentials"),
                {
                    "fields": credentials,
                    "description": _(
                        "Stored encrypted and never shown again. Leave a field blank to keep it. "
                        "A provider that needs none (like the sandbox) shows no fields here."
                    ),
                },
            ),
        ]
        if settings:
            fieldsets.append((_("Settings"), {"fields": settings}))
        webhook_fields = ["webhook_secret_input", *(self.webhook_readonly_fields if obj else [])]
        fieldsets.append((_("Webhooks"), {"fields": webhook_fields}))
        fieldsets.append((_("Sync"), {"fields": ["conflict_policy", "delete_policy", "sync_interval_minutes"]}))
        if obj:
            fieldsets.append(
                (
                    _("Health"),
                    {"fields": ["health", "balance", "last_success_at", "last_error_at", "capability_list"]},
                )
            )
            fieldsets.append((_("Senders"), {"fields": ["sender_list"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        common = {
            "credentials": form.credentials_input,
            "settings": form.settings_input,
            "webhook_secret": form.cleaned_data.get("webhook_secret_input", ""),
        }
        plain = {k: form.cleaned_data[k] for k in MODEL_FIELDS if k != "provider" and k in form.cleaned_data}
        try:
            if change:
                saved = services.update_account(obj, **common, **plain)
            else:
                saved = services.create_account(provider=form.cleaned_data["provider"], **common, **plain)
        except ValidationError as exc:  # the form checked these already; a race can still get here
            messages.error(request, "; ".join(exc.messages))
            raise
        obj.pk = saved.pk
        obj.refresh_from_db()
        # The account's senders follow it: pulled again whenever staff save it (on commit).
        from .senders.services import pull_senders_later

        pull_senders_later(saved, trigger="button", user=request.user)

    # -- columns --------------------------------------------------------------------------------

    @display(description=_("Provider"), ordering="provider")
    def provider_label(self, obj):
        return obj.provider_class.display_name

    @display(description=_("Health"))
    def health(self, obj):
        text = services.health_text(obj)
        colour = "text-green-700" if obj.consecutive_failures == 0 else "text-red-700"
        if obj.consecutive_failures and obj.healthy:
            colour = "text-amber-700"
        return format_html('<span class="{}">{}</span>', colour, text)

    @display(description=_("Balance"), ordering="balance_text")
    def balance_column(self, obj):
        return obj.balance_text or "—"

    @display(description=_("Balance"))
    def balance(self, obj):
        if not obj.balance_text:
            return "—"
        return gettext("%(balance)s (checked %(when)s)") % {
            "balance": obj.balance_text, "when": format_datetime(obj.balance_checked_at)
        }

    @display(description=_("Senders"))
    def sender_list(self, obj):
        return senders_table(obj)

    @display(description=_("What it can do"))
    def capability_list(self, obj):
        return format_html(
            '<ul class="list-disc ml-4">{}</ul>',
            format_html_join("", "<li>{}</li>", ((line,) for line in capability_lines(obj.provider_class))),
        )

    # -- actions --------------------------------------------------------------------------------

    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection_bulk(self, request, queryset):
        for account in queryset:
            report(request, account, services.test_connection(account))

    @action(description=_("Test connection"), url_path="test-connection", permissions=["change"], icon="lan")
    def test_connection_detail(self, request, object_id):
        account = get_object_or_404(ProviderAccount, pk=object_id) if str(object_id).isdigit() else None
        if account is None:
            raise Http404
        # Unfold's detail actions are links (GET): a GET only asks, the POST tests (it records health).
        if request.method != "POST":
            return TemplateResponse(
                request,
                "admin/messaging/provideraccount/test_connection.html",
                {
                    **self.admin_site.each_context(request),
                    "title": _("Test the connection of %(name)s") % {"name": account.name},
                    "account": account,
                    "opts": self.model._meta,
                    "original": account,
                },
            )
        report(request, account, services.test_connection(account))
        return HttpResponseRedirect(reverse("admin:messaging_provideraccount_change", args=[account.pk]))


# --- the HTTP log -----------------------------------------------------------------------------


class StatusClassFilter(DropdownFilter):
    title = _("status")
    parameter_name = "status_class"

    def lookups(self, request, model_admin):
        return [("2xx", _("2xx success")), ("4xx", _("4xx refused")), ("5xx", _("5xx provider error")),
                ("none", _("No answer"))]  # fmt: skip

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(status__isnull=True)
        if value in ("2xx", "4xx", "5xx"):
            low = int(value[0]) * 100
            return queryset.filter(status__gte=low, status__lt=low + 100)
        return queryset


class ProviderFilter(DropdownFilter):
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(slug, cls.display_name) for slug, cls in get_registry().items()]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


@admin.register(HttpLog)
class HttpLogAdmin(HidesAccountsMixin, ModelAdmin):
    list_display = ["method", "path", "status_label", "duration_ms", "account", "created_at"]
    list_filter = [
        ("account", RelatedDropdownFilter),
        StatusClassFilter,
        ProviderFilter,
        ("correlation", FieldTextFilter),
    ]
    list_filter_submit = True
    search_fields = ["path", "request_id", "correlation"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    fields = [
        "created_at", "account", "provider", "method", "host", "path", "query", "status", "duration_ms",
        "request_id", "correlation", "error", "request_body_pre", "response_body_pre",
    ]  # fmt: skip
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=_("Status"), ordering="status")
    def status_label(self, obj):
        return obj.status if obj.status is not None else gettext("no answer")

    @display(description=_("Request body"))
    def request_body_pre(self, obj):
        return format_html('<pre class="whitespace-pre-wrap text-xs">{}</pre>', obj.request_body or "—")

    @display(description=_("Response body"))
    def response_body_pre(self, obj):
        return format_html('<pre class="whitespace-pre-wrap text-xs">{}</pre>', obj.response_body or "—")


# Sync runs, held conflicts and "Sync now" (messaging/sync/admin.py).
from .message_admin import MessageAdmin  # noqa: E402, F401  (issue 10)
from .sync import admin as sync_admin  # noqa: E402, F401

# Message templates: editor, live preview, submit and statuses (messaging/templating/admin.py; issue 9).
from .templating import admin as templating_admin  # noqa: E402, F401

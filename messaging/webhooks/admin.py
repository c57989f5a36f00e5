"""Webhook events in the back office, and the webhook part of the provider account page.

Raw payloads are shown as stored: the receiver already replaced credentials, signatures and
secret query parameters with *** before the INSERT, so nothing here can reveal a secret.
"""

from __future__ import annotations

import contextlib
import json

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.contrib.filters.admin import DropdownFilter, FieldTextFilter, RelatedDropdownFilter
from unfold.decorators import action, display

from ..providers.errors import NotSupported, ProviderError
from ..providers.registry import get_registry
from . import services
from .drain import reprocess_webhook_events
from .models import WebhookEvent

STATUS_COLOURS = {
    "received": "text-blue-700", "processed": "text-green-700", "failed": "text-red-700",
    "ignored": "text-gray-500", "duplicate": "text-amber-700",
}  # fmt: skip


class WebhookProviderFilter(DropdownFilter):
    title = _("provider")
    parameter_name = "provider"

    def lookups(self, request, model_admin):
        return [(slug, cls.display_name) for slug, cls in get_registry().items()]

    def queryset(self, request, queryset):
        return queryset.filter(provider=self.value()) if self.value() else queryset


class WebhookStatusFilter(DropdownFilter):
    title = _("status")
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return WebhookEvent.Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(WebhookEvent)
class WebhookEventAdmin(ModelAdmin):
    list_display = ["id", "provider_label", "account", "event_type", "status_label", "http_status",
                    "received_at", "processed_at", "error_short"]  # fmt: skip
    list_filter = [
        WebhookProviderFilter,
        ("account", RelatedDropdownFilter),
        WebhookStatusFilter,
        ("event_type", FieldTextFilter),
    ]
    list_filter_submit = True
    search_fields = ["event_type", "event_id", "dedupe_key", "error"]
    list_select_related = ["account"]
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    actions_detail = ["reprocess_detail"]
    fields = [
        "received_at", "account", "provider", "event_type", "event_id", "status_label", "http_status",
        "method", "error", "attempts", "processed_at", "dedupe_key", "headers_pre", "body_pre", "outcome_pre",
    ]  # fmt: skip
    readonly_fields = fields
    show_full_result_count = False  # the table grows by thousands an hour: no COUNT(*) per page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing here is edited; "Process again" has its own permission

    def has_reprocess_permission(self, request, obj=None):
        return request.user.has_perm("messaging.change_webhookevent")

    @display(description=_("Provider"), ordering="provider")
    def provider_label(self, obj):
        cls = get_registry().get(obj.provider)
        return cls.display_name if cls else obj.provider

    @display(description=_("Status"), ordering="status")
    def status_label(self, obj):
        return format_html(
            '<span class="{}">{}</span>', STATUS_COLOURS.get(obj.status, ""), obj.get_status_display()
        )

    @display(description=_("Error"))
    def error_short(self, obj):
        return (obj.error[:80] + "…") if len(obj.error) > 80 else (obj.error or "—")

    @display(description=_("Headers (secrets removed)"))
    def headers_pre(self, obj):
        return format_html(
            '<pre class="whitespace-pre-wrap text-xs">{}</pre>', json.dumps(obj.headers, indent=2)
        )

    @display(description=_("Body as received"))
    def body_pre(self, obj):
        text = obj.body or obj.headers.get("QUERY_STRING", "") or "—"
        with contextlib.suppress(ValueError):
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        return format_html('<pre class="whitespace-pre-wrap text-xs">{}</pre>', text)

    @display(description=_("What processing did"))
    def outcome_pre(self, obj):
        if not obj.outcome:
            return "—"
        return format_html(
            '<pre class="whitespace-pre-wrap text-xs">{}</pre>', json.dumps(obj.outcome, indent=2)
        )

    def _report(self, request, queued, skipped):
        if queued:
            messages.success(request, gettext("%(n)s event(s) will be processed again.") % {"n": queued})
        if skipped:
            messages.warning(
                request,
                gettext("%(n)s event(s) skipped: refused requests and duplicates are never applied.")
                % {"n": skipped},
            )

    @admin.action(description=_("Process again"), permissions=["reprocess"])
    def reprocess(self, request, queryset):
        self._report(request, *reprocess_webhook_events(queryset))

    @action(description=_("Process again"), url_path="reprocess", permissions=["reprocess"], icon="replay")
    def reprocess_detail(self, request, object_id):
        event = get_object_or_404(WebhookEvent, pk=object_id)
        url = reverse("admin:messaging_webhookevent_change", args=[event.pk])
        if request.method != "POST":
            return confirm(request, self, gettext("Process webhook event #%(id)s again?") % {"id": event.pk},
                           gettext("Its effects are idempotent: nothing is counted twice."), url)  # fmt: skip
        self._report(request, *reprocess_webhook_events(WebhookEvent.objects.filter(pk=event.pk)))
        return HttpResponseRedirect(url)


def confirm(request, model_admin, question: str, detail: str, back: str):
    """A one-button POST page, so no state changes on a GET link."""
    context = {**model_admin.admin_site.each_context(request), "question": question, "detail": detail,
               "back": back, "title": question}  # fmt: skip
    return TemplateResponse(request, "admin/messaging/webhooks/confirm.html", context)


# --- on the provider account page -------------------------------------------------------------------------


class AccountWebhooksMixin:
    """Fields and buttons ProviderAccountAdmin shows about webhooks (mixed in by messaging/admin.py)."""

    webhook_readonly_fields = ["webhook_url_display", "webhook_activity", "webhook_help"]
    webhook_detail_actions = [
        "register_webhooks_detail",
        "rotate_webhook_token_detail",
        "rotate_webhook_secrets_detail",
    ]

    @display(description=_("Webhook URL"))
    def webhook_url_display(self, obj):
        return format_html(
            '<code class="break-all select-all">{}</code><p class="text-xs mt-1">{}</p>', obj.webhook_url,
            gettext("Give this address to the provider. Rotating it retires the old one at once."),
        )  # fmt: skip

    @display(description=_("Webhooks in the last 24 hours"))
    def webhook_activity(self, obj):
        summary = services.webhook_summary(obj)
        parts = format_html_join(
            ", ", "{}: <b>{}</b>",
            ((WebhookEvent.Status(s).label, n) for s, n in summary.counts.items()),
        )  # fmt: skip
        if summary.last_received_at:
            last = gettext("Last received %(when)s.") % {
                "when": timezone.localtime(summary.last_received_at).strftime("%Y-%m-%d %H:%M:%S")
            }
        else:
            last = gettext("Nothing received yet.")
        warn = (
            gettext(" The provider has not called for over a day.")
            if summary.silent and summary.last_received_at
            else ""
        )
        link = reverse("admin:messaging_webhookevent_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('{}<br>{}{} <a class="underline" href="{}">{}</a>', parts, last, warn, link,
                           gettext("See the events"))  # fmt: skip

    @display(description=_("Connecting the provider"))
    def webhook_help(self, obj):
        steps = services.registration_help(obj)
        registered = (obj.webhook_registration or {}).get("registered_at")
        note = (
            gettext("Registered with the provider at %(when)s.") % {"when": registered[:19]}
            if registered
            else ""
        )
        if not steps and not note:
            return "—"
        return format_html('<ol class="list-decimal ml-4">{}</ol><p class="text-xs">{}</p>',
                           format_html_join("", "<li>{}</li>", ((s,) for s in steps)), note)  # fmt: skip

    def get_actions_detail(self, request, object_id):
        """Hide Register/Rotate where the provider's API cannot do it (staff paste the URL there)."""
        from ..models import ProviderAccount

        actions = super().get_actions_detail(request, object_id)
        account = ProviderAccount.objects.filter(pk=object_id).first()
        if account is None:
            return actions
        hidden = set()
        if not services.can_register(account):
            hidden.add("register_webhooks_detail")
        if not services.can_rotate_secrets(account):
            hidden.add("rotate_webhook_secrets_detail")
        return [a for a in actions if a.action_name.split("provideraccount_", 1)[-1] not in hidden]

    def _back(self, account):
        return reverse("admin:messaging_provideraccount_change", args=[account.pk])

    def _run(self, request, object_id, question, detail, do):
        from ..models import ProviderAccount

        account = get_object_or_404(ProviderAccount, pk=object_id)
        if request.method != "POST":
            return confirm(request, self, question, detail, self._back(account))
        try:
            messages.success(request, do(account))
        except NotSupported as exc:
            messages.warning(request, str(exc))
        except ProviderError as exc:
            messages.error(request, gettext("The provider refused: %(error)s") % {"error": exc})
        return HttpResponseRedirect(self._back(account))

    @action(
        description=_("Register webhooks"),
        url_path="register-webhooks",
        permissions=["change"],
        icon="webhook",
    )
    def register_webhooks_detail(self, request, object_id):
        def do(account):
            services.register_webhooks(account)
            return gettext("The provider now calls %(url)s.") % {"url": account.webhook_url}

        return self._run(request, object_id, gettext("Register our webhook URL with the provider?"),
                         gettext("Existing subscriptions to this address are updated, not duplicated."), do)  # fmt: skip

    @action(
        description=_("New webhook URL"), url_path="rotate-webhook-token", permissions=["change"], icon="key"
    )
    def rotate_webhook_token_detail(self, request, object_id):
        def do(account):
            services.rotate_webhook_token(account)
            if services.can_register(account):
                services.register_webhooks(account)
                return gettext("New URL registered with the provider: %(url)s") % {"url": account.webhook_url}
            return gettext("New URL: %(url)s — paste it in the provider's console now.") % {
                "url": account.webhook_url
            }

        return self._run(request, object_id, gettext("Give this account a new webhook URL?"),
                         gettext("The old URL stops working at once."), do)  # fmt: skip

    @action(description=_("Rotate webhook secrets"), url_path="rotate-webhook-secrets", permissions=["change"],
            icon="lock_reset")  # fmt: skip
    def rotate_webhook_secrets_detail(self, request, object_id):
        def do(account):
            services.rotate_webhook_secrets(account)
            return gettext("New signing secrets stored (encrypted).")

        return self._run(request, object_id, gettext("Ask the provider for new signing secrets?"),
                         gettext("The old secrets stop working at the provider at once."), do)  # fmt: skip

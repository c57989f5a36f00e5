"""Message templates in the back office: write, preview live, submit, watch each account's status.

The live preview and the status table are small server-rendered fragments that the page
fetches with htmx (shipped by django-unfold) as staff type, so the bubble, the SMS counter
and the rule messages come from the same code as everything else (rendering.py, sms.py,
validation.py). Writes go through services.py.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import display

from . import services
from .forms import MessageTemplateForm, template_from_post
from .models import MessageTemplate, TemplateLink
from .rendering import render_template
from .validation import template_errors

STATUS_COLOURS = {
    "approved": "bg-green-100 text-green-800", "pending": "bg-amber-100 text-amber-800",
    "rejected": "bg-red-100 text-red-800", "draft": "bg-gray-100 text-gray-700",
    "paused": "bg-orange-100 text-orange-800", "disabled": "bg-gray-200 text-gray-600",
}  # fmt: skip
LIVE_REFRESH = dt.timedelta(
    seconds=3
)  # pending statuses are pulled at most this often while the page is open


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ModelAdmin):
    form = MessageTemplateForm
    change_form_template = "admin/messaging/messagetemplate/change_form.html"
    list_display = ["name", "kind", "language", "category", "status_badges", "updated_at"]
    list_filter = ["kind", "language", "category", "links__status", "links__account"]
    search_fields = ["name", "body"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "language", "category"]}),
        (gettext_lazy("Content"), {"fields": ["header_type", "header_text", "header_url", "body", "footer", "buttons", "samples"]}),
        (gettext_lazy("RCS"), {"fields": ["rcs_type", "card_orientation", "cards", "sms_fallback"], "classes": ["rcs-only"]}),
    ]  # fmt: skip

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("links", queryset=TemplateLink.objects.select_related("account")))
        )

    @display(description=gettext_lazy("Status per account"))
    def status_badges(self, obj):
        links = list(obj.links.all())
        if not links:
            return _("Not submitted") if obj.kind != "sms" else _("Ready (SMS needs no approval)")
        return format_html_join(
            " ", '<span class="px-2 py-0.5 rounded-default text-xs {}">{}: {}</span>',
            ((STATUS_COLOURS.get(k.status, ""), k.account.name, k.get_status_display()) for k in links),
        )  # fmt: skip

    # -- pages -----------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="messaging_messagetemplate_preview"),
            path("<int:pk>/submit/", view(self.submit_view), name="messaging_messagetemplate_submit"),
            path("<int:pk>/statuses/", view(self.statuses_view), name="messaging_messagetemplate_statuses"),
            path("<int:pk>/sync/", view(self.sync_view), name="messaging_messagetemplate_sync"),
            *super().get_urls(),
        ]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["preview_url"] = reverse("admin:messaging_messagetemplate_preview")
        if obj is not None:
            context["edit_warning"] = services.edit_warning(obj)
            context["offered_accounts"] = services.accounts_for(obj) if obj.kind != "sms" else []
            context["needs_replace"] = [
                a for a in context["offered_accounts"] if not a.provider_class.can_update_templates
            ]
            context["can_submit"] = request.user.has_perm("messaging.change_messagetemplate")
        return super().render_change_form(request, context, add, change, form_url, obj)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
            obj.save()
            return
        data = {f: getattr(obj, f) for f in form.Meta.fields} | {"header": obj.header}
        _template, outcomes = services.update_template(
            obj, data, confirm_replace=request.POST.get("confirm_replace") == "1"
        )
        for outcome in outcomes:
            self._report(request, outcome)

    def delete_view(self, request, object_id, extra_context=None):
        template = self.get_object(request, object_id)
        if template is not None:
            blocking = [u.label for u in services.template_uses(template) if u.blocking]
            if blocking:
                self.message_user(request, _("“%(name)s” cannot be deleted: %(users)s uses it.") % {
                    "name": template.name, "users": ", ".join(blocking)}, messages.ERROR)  # fmt: skip
                return HttpResponseRedirect(
                    reverse("admin:messaging_messagetemplate_change", args=[template.pk])
                )
        return super().delete_view(request, object_id, extra_context)

    def delete_model(self, request, obj):
        try:
            services.delete_template(obj, force=request.POST.get("force") == "1")
        except services.TemplateInUse as exc:
            self.message_user(request, str(exc), messages.ERROR)

    def delete_queryset(self, request, queryset):
        for template in queryset:
            self.delete_model(request, template)

    def _report(self, request, outcome: dict) -> None:
        if outcome["ok"]:
            text = _("%(account)s: %(status)s.") % {
                "account": outcome["account_name"],
                "status": outcome["status"],
            }
            self.message_user(request, text, messages.SUCCESS)
        else:
            self.message_user(request, f"{outcome['account_name']}: {outcome['detail']}", messages.ERROR)

    def preview_view(self, request):
        """POST the form as it is now → the phone bubble, the SMS counter and the rule messages."""
        if request.method != "POST" or not self.has_view_permission(request):
            raise PermissionDenied
        template = template_from_post(request.POST)
        rendered = render_template(template, samples=True)
        problems = template_errors(template)
        context = {
            "template": template,
            "rendered": rendered,
            "sms": rendered.sms,
            "cards": [
                {"title": str(c.get("title") or ""), "description": str(c.get("description") or "")}
                for c in (template.cards if isinstance(template.cards, list) else [])
                if isinstance(c, dict)
            ],
            "buttons": [
                {
                    "type": str(b.get("type") or ""),
                    "label": str(b.get("text") or b.get("example") or ""),
                    "url": str(b.get("url") or ""),
                }
                for b in rendered.buttons
            ],
            "problems": [(field, msg) for field, msgs in problems.items() for msg in msgs],
            "variables": template.variables,
        }
        return TemplateResponse(request, "admin/messaging/messagetemplate/preview.html", context)

    def statuses_view(self, request, pk):
        """The status table; pending statuses are pulled from the provider (at most every few seconds)."""
        template = get_object_or_404(MessageTemplate, pk=pk)
        if not self.has_view_permission(request, template):
            raise PermissionDenied
        services.refresh_pending_statuses(template, older_than=LIVE_REFRESH)
        links = list(template.links.select_related("account"))
        context = {
            "template": template, "rows": [(link, STATUS_COLOURS.get(link.status, "")) for link in links],
            "live": any(link.status == TemplateLink.Status.PENDING for link in links),
        }  # fmt: skip
        return TemplateResponse(request, "admin/messaging/messagetemplate/statuses.html", context)

    def submit_view(self, request, pk):
        template = get_object_or_404(MessageTemplate, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, template):
            raise PermissionDenied
        offered = {str(a.pk): a for a in services.accounts_for(template)}
        chosen = [offered[i] for i in request.POST.getlist("accounts") if i in offered]
        if not chosen:
            self.message_user(request, _("Choose at least one account."), messages.WARNING)
        else:
            try:
                for outcome in services.submit_template(
                    template,
                    chosen,
                    user=request.user,
                    confirm_replace=request.POST.get("confirm_replace") == "1",
                ):
                    self._report(request, outcome)
            except ValidationError as exc:
                for message in exc.messages:
                    self.message_user(request, message, messages.ERROR)
        return HttpResponseRedirect(reverse("admin:messaging_messagetemplate_change", args=[template.pk]))

    def sync_view(self, request, pk):
        template = get_object_or_404(MessageTemplate, pk=pk)
        if request.method != "POST" or not self.has_change_permission(request, template):
            raise PermissionDenied
        outcomes = services.sync_template_now(template)
        if not outcomes:
            self.message_user(request, _("This template is not on any account yet."), messages.INFO)
        for outcome in outcomes:
            self._report(request, outcome)
        return HttpResponseRedirect(reverse("admin:messaging_messagetemplate_change", args=[template.pk]))

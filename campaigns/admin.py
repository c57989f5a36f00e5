"""The campaign pages staff use: the list, the draft form, the preview, and the campaign page.

Drafts are edited in the usual form (rules checked by campaigns.services on every save);
once a campaign has started its page is the statistics report: funnel, failures in words,
the hour-by-hour chart, cost and the recipients table. Buttons call the lifecycle
services; nothing here decides anything on its own.
"""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import display

from localization.formatting import format_number
from messaging.message_models import Message
from messaging.templating.sms import count_sms

from . import services, stats
from .exports import recipients_queryset, write_recipients
from .models import Campaign, CampaignTransition
from .services.links import counted_text, public_base, tracked_link_length
from .services.preview import preview_campaign, send_test
from .services.rules import check_campaign

STATUS_COLOURS = {
    "draft": "bg-gray-100 text-gray-700", "scheduled": "bg-blue-100 text-blue-700",
    "sending": "bg-amber-100 text-amber-800", "paused": "bg-orange-100 text-orange-800",
    "completed": "bg-green-100 text-green-800", "cancelled": "bg-gray-200 text-gray-700",
    "failed": "bg-red-100 text-red-700",
}  # fmt: skip
MESSAGE_STATUS_WORDS = {
    "queued": gettext_lazy("Waiting to be sent"), "sent": gettext_lazy("Sent (no receipt yet)"),
    "delivered": gettext_lazy("Delivered"), "read": gettext_lazy("Read"), "failed": gettext_lazy("Failed"),
    "unknown": gettext_lazy("Outcome unknown"), "skipped": gettext_lazy("Held back"),
}  # fmt: skip
PAGE_SIZE = 50


def sender_choices(campaign) -> list:
    """The select's options: every active sender, grouped by account and channel (the rules refuse
    one that is not the chosen account's on the chosen channel); the campaign's own value kept."""
    from messaging.models import Sender

    groups: dict[str, list[tuple[str, str]]] = {}
    for sender in Sender.objects.filter(active=True).select_related("account").order_by(
        "account__name", "channel", "label", "address"
    ):
        name = f"{sender.account.name} — {sender.get_channel_display()}"
        groups.setdefault(name, []).append((sender.address, str(sender)))
    choices: list = [("", _("The account's default sender"))]
    current = getattr(campaign, "sender", "")
    if current and not any(current == value for options in groups.values() for value, _label in options):
        choices.append((current, current))
    choices += list(groups.items())
    return choices


class CampaignForm(forms.ModelForm):
    class Meta:
        model = Campaign
        fields = [
            "name", "description", "account", "channel", "sender", "template", "text", "lists", "exclude_lists",
            "variables", "scheduled_at", "rate_per_second", "window_start", "window_end", "window_days",
            "apply_frequency_cap", "track_clicks", "failure_threshold_percent", "failure_window",
        ]  # fmt: skip
        help_texts = {
            "variables": gettext_lazy('e.g. {"name": {"field": "first_name", "fallback": "cliente"}}'),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "sender" in self.fields:
            self.fields["sender"] = forms.ChoiceField(
                label=self.fields["sender"].label, required=False, choices=sender_choices(self.instance),
                help_text=gettext_lazy("From the senders of the chosen account and channel (the account page lists "
                                       "them). Empty: the account's default sender."),
            )  # fmt: skip
        helps = {  # a read-only view (Viewers) has no fields
            # Dates are read and shown in the staff member's time zone (localization.middleware).
            "scheduled_at": _("In your time zone: %(zone)s (change it in the user menu). Empty: start when you "
                              "press Start.") % {"zone": timezone.get_current_timezone_name()},
            "track_clicks": _(
                "Links (http:// or https://) in SMS and RCS texts are replaced by short links on %(site)s, one for "
                "each recipient, so you see who opened them. Each one counts as %(n)s characters. WhatsApp "
                "templates are sent exactly as approved: their links are not changed or tracked."
            ) % {"site": public_base(), "n": tracked_link_length()},
        }  # fmt: skip
        text = self.instance.text if self.instance.pk else ""
        if text:
            counted = count_sms(counted_text(self.instance, text))
            helps["text"] = _(
                "{{first_name}} etc. As saved: %(units)s characters, %(encoding)s, %(parts)s SMS part(s), before "
                "the contact's values are filled in (tracked links counted at their short length)."
            ) % {"units": counted.units, "encoding": counted.encoding, "parts": counted.parts}
        for name, words in helps.items():
            if name in self.fields:
                self.fields[name].help_text = words

    def clean(self):
        data = super().clean()
        if self.errors or not data.get("account"):
            return data
        probe = Campaign(**{k: v for k, v in data.items() if k not in ("lists", "exclude_lists")})
        probe.pk = self.instance.pk
        probe.status = self.instance.status
        problems = check_campaign(
            probe, list_ids=[x.pk for x in data.get("lists") or []],
            exclude_ids=[x.pk for x in data.get("exclude_lists") or []],
        )  # fmt: skip
        for field, errors in problems.items():
            for error in errors:
                self.add_error(field if field in self.fields else None, error)
        return data


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    form = CampaignForm
    list_display = ["name_link", "status_badge", "channel", "account", "audience_count", "delivered_rate",
                    "started_at"]  # fmt: skip
    list_filter = ["status", "channel", "account"]
    search_fields = ["name"]
    list_select_related = ["account"]

    # -- list --------------------------------------------------------------------------------

    @display(description=gettext_lazy("Campaign"), ordering="name")
    def name_link(self, obj):
        return format_html('<a class="underline" href="{}">{}</a>', self._page_url(obj), obj.name)

    @display(description=gettext_lazy("Status"), ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="px-2 py-1 rounded text-xs font-semibold {}">{}</span>',
                           STATUS_COLOURS.get(obj.status, ""), obj.get_status_display())  # fmt: skip

    @display(description=gettext_lazy("Delivered"))
    def delivered_rate(self, obj):
        if obj.status == Campaign.Status.DRAFT:
            return "—"
        s = stats.campaign_stats(obj)
        if not s["audience"]:
            return "—"
        return f"{100 * s['delivered'] / s['audience']:.0f}% ({format_number(s['delivered'])})"

    def _page_url(self, obj) -> str:
        if obj.status == Campaign.Status.DRAFT:
            return reverse("admin:campaigns_campaign_change", args=[obj.pk])
        return reverse("admin:campaigns_campaign_report", args=[obj.pk])

    # -- the draft form goes through the services ------------------------------------------------

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and obj.status != Campaign.Status.DRAFT:
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_report", args=[obj.pk]))
        extra_context = {**(extra_context or {}), "preview_url": reverse("admin:campaigns_campaign_preview",
                                                                         args=[object_id])}  # fmt: skip
        return super().change_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        data = dict(form.cleaned_data)
        try:
            if change:
                saved = services.update_campaign(obj, data, by=request.user)
            else:
                saved = services.create_campaign(data, by=request.user)
        except ValidationError as exc:  # checked in the form already; a race is still said in words
            raise PermissionDenied("; ".join(exc.messages)) from None
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def save_related(self, request, form, formsets, change):
        """The services set the lists already."""

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_preview", args=[obj.pk]))

    def response_change(self, request, obj):
        if "_continue" in request.POST:
            return super().response_change(request, obj)
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_preview", args=[obj.pk]))

    def delete_model(self, request, obj):
        services.delete_campaign(obj, by=request.user)

    def has_delete_permission(self, request, obj=None):
        ok = super().has_delete_permission(request, obj)
        return ok and (obj is None or obj.status == Campaign.Status.DRAFT)

    # -- extra pages -----------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:pk>/preview/", wrap(self.preview_view), name="campaigns_campaign_preview"),
            path("<int:pk>/report/", wrap(self.report_view), name="campaigns_campaign_report"),
            path("<int:pk>/do/<str:verb>/", wrap(self.action_view), name="campaigns_campaign_action"),
            path("<int:pk>/export/<str:fmt>/", wrap(self.export_view), name="campaigns_campaign_export"),
            *super().get_urls(),
        ]

    def _get(self, request, pk) -> Campaign:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(Campaign.objects.select_related("account", "template"), pk=pk)

    def _can_act(self, request) -> bool:
        return request.user.has_perm("campaigns.change_campaign")

    def preview_view(self, request, pk):
        campaign = self._get(request, pk)
        if campaign.status != Campaign.Status.DRAFT:
            return HttpResponseRedirect(reverse("admin:campaigns_campaign_report", args=[pk]))
        context = {
            **self.admin_site.each_context(request), "title": _("Check before sending: %(name)s") % {"name": campaign.name},
            "campaign": campaign, "preview": preview_campaign(campaign), "can_act": self._can_act(request),
            "problems": check_campaign(campaign, starting=True), "opts": self.model._meta,
            # Account balances are for Managers only (whoever may open provider accounts).
            "show_balance": request.user.has_perm("messaging.view_provideraccount"),
        }  # fmt: skip
        return TemplateResponse(request, "admin/campaigns/preview.html", context)

    def action_view(self, request, pk, verb):
        campaign = self._get(request, pk)
        if request.method != "POST" or not self._can_act(request):
            raise PermissionDenied
        actions = {"start": services.start_campaign, "pause": services.pause_campaign,
                   "resume": services.resume_campaign, "cancel": services.cancel_campaign}  # fmt: skip
        try:
            if verb == "test":
                message = send_test(campaign, request.POST.get("phone", ""), by=request.user)
                messages.success(request, _("Test sent to %(phone)s: %(status)s.")
                                 % {"phone": message.phone, "status": message.get_status_display()})  # fmt: skip
                return HttpResponseRedirect(reverse("admin:campaigns_campaign_preview", args=[pk]))
            if verb not in actions:
                raise PermissionDenied
            actions[verb](campaign, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            back = "preview" if campaign.status == Campaign.Status.DRAFT else "report"
            return HttpResponseRedirect(reverse(f"admin:campaigns_campaign_{back}", args=[pk]))
        words = {
            "start": _("Started."),
            "pause": _("Paused."),
            "resume": _("Resumed."),
            "cancel": _("Cancelled."),
        }
        messages.success(request, words[verb])
        return HttpResponseRedirect(reverse("admin:campaigns_campaign_report", args=[pk]))

    def report_view(self, request, pk):
        campaign = self._get(request, pk)
        s = stats.campaign_stats(campaign)
        totals = stats.campaign_totals(campaign.pk)
        counts = stats.status_counts(campaign, totals)
        wanted = request.GET.get("status", "")
        wanted = wanted if wanted in counts else ""
        search = request.GET.get("q", "")[:100]
        qs = (
            recipients_queryset(campaign, status=wanted, search=search)
            .select_related("contact")
            .order_by("id")
        )
        if not search:
            # The count comes from the counters, not a COUNT(*) over the messages.
            total = counts[wanted] if wanted else sum(counts.values())
            paginator = Paginator(qs, PAGE_SIZE)
            paginator.__dict__["count"] = total
        else:
            paginator = Paginator(qs, PAGE_SIZE)
        page = paginator.get_page(request.GET.get("page"))
        # Each row's status in words, translated once per page rather than by get_status_display()
        # per row (which rebuilds the translated choices for every call).
        words = {code: str(label) for code, label in Message.Status.choices}
        page.object_list = list(page.object_list)
        for m in page.object_list:
            m.status_label = words.get(m.status, m.status)
        hourly = stats.campaign_hourly(campaign)
        chart = {
            "labels": hourly["labels"],
            "datasets": [
                {"label": str(_("Delivered")), "data": hourly["delivered"], "borderColor": "var(--color-primary-600)",
                 "backgroundColor": "var(--color-primary-600)", "displayYAxis": True},
                {"label": str(_("Read")), "data": hourly["read"], "borderColor": "#16a34a", "backgroundColor": "#16a34a"},
            ],
        }  # fmt: skip
        tabs = [{"key": "", "label": _("All"), "count": sum(counts.values())}] + [
            {"key": k, "label": MESSAGE_STATUS_WORDS[k], "count": v} for k, v in counts.items()
        ]
        context = {
            **self.admin_site.each_context(request), "title": campaign.name, "campaign": campaign, "stats": s,
            "funnel": stats.funnel(campaign, s), "failures": stats.failure_reasons(campaign),
            "chart_data": json.dumps(chart), "has_chart": bool(hourly["labels"]), "page": page, "tabs": tabs,
            "wanted": wanted, "search": search, "can_act": self._can_act(request),
            "transitions": CampaignTransition.objects.filter(campaign=campaign).select_related("by"),
            "refresh": campaign.status in (Campaign.Status.SENDING, Campaign.Status.SCHEDULED),
            "status_words": MESSAGE_STATUS_WORDS, "provider": _provider_comparison(campaign, s),
            "opts": self.model._meta, "status_colour": STATUS_COLOURS.get(campaign.status, ""),
        }  # fmt: skip
        return TemplateResponse(request, "admin/campaigns/report.html", context)

    def export_view(self, request, pk, fmt):
        campaign = self._get(request, pk)
        if fmt not in ("csv", "xlsx"):
            raise PermissionDenied
        wanted = request.GET.get("status", "")
        qs = recipients_queryset(campaign, status=wanted if wanted in Message.Status.values else "",
                                 search=request.GET.get("q", ""))  # fmt: skip
        content = write_recipients(qs, fmt)
        types = {"csv": "text/csv; charset=utf-8",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}  # fmt: skip
        response = HttpResponse(content, content_type=types[fmt])
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}-recipients.{fmt}"'
        return response


def _provider_comparison(campaign: Campaign, ours: dict) -> list[dict]:
    """For provider-run campaigns: the provider's totals beside ours, differences explained."""
    theirs = campaign.provider_stats or {}
    if not theirs:
        return []
    rows = []
    for key in ("sent", "delivered", "read", "failed"):
        if key not in theirs:
            continue
        a, b = ours.get(key, 0), theirs.get(key) or 0
        rows.append({
            "key": key, "label": MESSAGE_STATUS_WORDS.get(key, key), "ours": a, "theirs": b, "differs": a != b,
            "why": _("The provider counts its own recipients; receipts that have not reached us yet explain a "
                     "lower number here.") if a != b else "",
        })  # fmt: skip
    return rows


class TransitionStatusFilter(admin.SimpleListFilter):
    """The new status, in the staff's words (the field stores the code)."""

    title = gettext_lazy("to status")
    parameter_name = "to_status"

    def lookups(self, request, model_admin):
        return Campaign.Status.choices

    def queryset(self, request, queryset):
        return queryset.filter(to_status=self.value()) if self.value() else queryset


@admin.register(CampaignTransition)
class CampaignTransitionAdmin(ModelAdmin):
    list_display = ["campaign", "from_column", "to_column", "by", "at"]
    list_filter = [TransitionStatusFilter]
    fields = ["campaign", "from_column", "to_column", "by", "reason", "at"]
    readonly_fields = fields
    search_fields = ["campaign__name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @display(description=gettext_lazy("from status"), ordering="from_status")
    def from_column(self, obj):
        return obj.from_label or "—"

    @display(description=gettext_lazy("to status"), ordering="to_status")
    def to_column(self, obj):
        return obj.to_label

    def has_delete_permission(self, request, obj=None):
        return False

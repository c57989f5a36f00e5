"""Admin under the Automations section: build with menus, switch on/off, dry run, see every run."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from messaging.models import ProviderAccount

from . import services
from .forms import ACTION_ROWS, CONDITION_ROWS, AutomationForm
from .models import Automation, AutomationRun, ProviderAutomation
from .timeline import describe_trigger, runs_table


def _trigger_is(*kinds) -> str:
    return " || ".join(f"trigger_type == '{k}'" for k in kinds)


def _conditional_fields() -> dict[str, str]:
    shown = {
        "trigger_list": _trigger_is("list_added", "list_removed"),
        "trigger_tag": _trigger_is("tag_added"),
        "trigger_sources": _trigger_is("contact_created"),
        "trigger_keywords": _trigger_is("inbound_keyword"),
        "trigger_match": _trigger_is("inbound_keyword"),
        **{f"trigger_{k}": _trigger_is("date_field") for k in ("field", "offset_days", "at", "yearly")},
        **{
            f"trigger_{k}": _trigger_is("message_status")
            for k in ("status", "within_hours", "channel", "campaign")
        },
    }
    for i in range(1, CONDITION_ROWS + 1):
        t = f"condition_{i}_type"
        shown[f"condition_{i}_list"] = f"{t} == 'in_list' || {t} == 'not_in_list'"
        shown[f"condition_{i}_tag"] = f"{t} == 'has_tag' || {t} == 'not_has_tag'"
        shown[f"condition_{i}_field"] = f"{t} == 'field'"
        shown[f"condition_{i}_op"] = f"{t} == 'field'"
        shown[f"condition_{i}_value"] = f"{t} == 'field' || {t} == 'language' || {t} == 'country'"
    for i in range(1, ACTION_ROWS + 1):
        t = f"action_{i}_type"

        def any_of(*kinds, t=t):
            return " || ".join(f"{t} == '{k}'" for k in kinds)

        shown.update({
            f"action_{i}_delay": f"{t} != ''", f"action_{i}_delay_unit": f"{t} != ''",
            f"action_{i}_account": any_of("send_template", "send_text", "start_provider_automation"),
            f"action_{i}_template": any_of("send_template"),
            f"action_{i}_channel": any_of("send_template", "send_text"),
            f"action_{i}_text": any_of("send_text"),
            f"action_{i}_automation": any_of("start_provider_automation"),
            f"action_{i}_variables": any_of("send_template", "start_provider_automation"),
            f"action_{i}_list": any_of("add_to_list", "remove_from_list"),
            f"action_{i}_tag": any_of("add_tag", "remove_tag"),
            f"action_{i}_field": any_of("set_field"), f"action_{i}_value": any_of("set_field"),
            f"action_{i}_emails": any_of("notify"),
        })  # fmt: skip
        if i > 1:  # the next action row appears once the previous one is chosen
            shown[f"action_{i}_type"] = f"action_{i - 1}_type != ''"
    for i in range(2, CONDITION_ROWS + 1):
        shown[f"condition_{i}_type"] = f"condition_{i - 1}_type != ''"
    return shown


@admin.register(Automation)
class AutomationAdmin(ModelAdmin):
    form = AutomationForm
    list_display = ["name", "enabled_column", "trigger_column", "runs_column", "updated_at"]
    list_filter = ["enabled", "trigger_type"]
    search_fields = ["name"]
    readonly_fields = ["timeline"]
    actions = ["switch_on", "switch_off"]
    actions_detail = ["dry_run"]
    conditional_fields = _conditional_fields()

    def get_fieldsets(self, request, obj=None):
        trigger = ["trigger_type", "trigger_list", "trigger_tag", "trigger_sources", "trigger_keywords",
                   "trigger_match", "trigger_field", ("trigger_offset_days", "trigger_at"), "trigger_yearly",
                   "trigger_status", "trigger_within_hours", "trigger_channel", "trigger_campaign"]  # fmt: skip
        sets = [
            (None, {"fields": ["name", "enabled", "run_for_past"]}),
            (_("When"), {"fields": trigger}),
            (_("Only if (all must hold)"), {"fields": [
                (f"condition_{i}_type", f"condition_{i}_list", f"condition_{i}_tag", f"condition_{i}_field",
                 f"condition_{i}_op", f"condition_{i}_value") for i in range(1, CONDITION_ROWS + 1)]}),
        ]  # fmt: skip
        for i in range(1, ACTION_ROWS + 1):
            p = f"action_{i}_"
            sets.append((_("Then, step %(n)s") % {"n": i}, {"fields": [
                (p + "type", p + "delay", p + "delay_unit"), p + "account", p + "template", p + "channel", p + "text",
                p + "automation", p + "variables", p + "list", p + "tag", (p + "field", p + "value"), p + "emails"]}))  # fmt: skip
        if obj is not None:
            sets.append((_("Runs"), {"fields": ["timeline"]}))
        return sets

    def get_form(self, request, obj=None, change=False, **kwargs):
        # The menus are added by AutomationForm.__init__ (their choices are read per request);
        # only the model's own fields go through the model form factory.
        kwargs["fields"] = ["name", "enabled"]
        return super().get_form(request, obj, change, **kwargs)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(run_total=Count("runs"), run_failed=Count("runs", filter=Q(runs__status="failed")))
        )

    @display(description=_("On"), label={True: "success", False: "info"})
    def enabled_column(self, obj):
        return obj.enabled

    @display(description=_("When"))
    def trigger_column(self, obj):
        return describe_trigger(obj.trigger)

    @display(description=_("Runs"))
    def runs_column(self, obj):
        if obj.run_failed:
            return gettext("%(n)s (%(f)s failed)") % {"n": obj.run_total, "f": obj.run_failed}
        return obj.run_total

    @display(description=_("Latest runs"))
    def timeline(self, obj):
        runs = (
            AutomationRun.objects.filter(automation=obj)
            .select_related("contact")
            .prefetch_related("steps")[:50]
        )
        return runs_table(runs, show="contact")

    def save_model(self, request, obj, form, change):
        automation = services.save_automation(form.service_data(), automation=obj if change else None,
                                              user=request.user)  # fmt: skip
        obj.pk, obj.enabled_at = automation.pk, automation.enabled_at
        obj.refresh_from_db()
        if form.cleaned_data.get("run_for_past") and automation.enabled:
            created = services.start_for_past(automation)
            self.message_user(
                request, gettext("Running now for %(n)s contacts that already matched.") % {"n": created}
            )

    def save_related(self, request, form, formsets, change):
        pass  # no related rows: the service wrote everything

    def delete_model(self, request, obj):
        services.delete_automation(obj)

    @action(description=_("Switch on"), permissions=["change"])
    def switch_on(self, request, queryset):
        for automation in queryset:
            services.set_enabled(automation, True)
        self.message_user(request, gettext("%(n)s automations switched on.") % {"n": queryset.count()})

    @action(description=_("Switch off"), permissions=["change"])
    def switch_off(self, request, queryset):
        for automation in queryset:
            services.set_enabled(automation, False)
        self.message_user(request, gettext("%(n)s automations switched off.") % {"n": queryset.count()})

    @action(description=_("Dry run"), url_path="dry-run", icon="science", permissions=["view"])
    def dry_run(self, request, object_id):
        automation = get_object_or_404(Automation, pk=object_id)
        result = services.dry_run(automation, sample=20)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "automation": automation,
                   "result": result, "title": gettext("Dry run: %(name)s") % {"name": automation.name},
                   "change_url": reverse("admin:automations_automation_change", args=[automation.pk])}  # fmt: skip
        return TemplateResponse(request, "admin/automations/dry_run.html", context)


@admin.register(AutomationRun)
class AutomationRunAdmin(ModelAdmin):
    list_display = ["id", "automation", "contact", "status_column", "created_at", "finished_at", "error"]
    list_filter = ["status", "automation"]
    list_select_related = ["automation", "contact"]
    search_fields = ["contact__phone", "automation__name"]
    readonly_fields = ["automation", "contact", "status", "key", "trigger_data", "conditions_checked", "next_step",
                       "due_at", "attempts", "error", "created_at", "finished_at", "steps_table"]  # fmt: skip
    exclude = ["event"]

    @display(description=_("Status"), label={"succeeded": "success", "failed": "danger", "skipped": "info",
                                             "pending": "warning", "running": "warning"})  # fmt: skip
    def status_column(self, obj):
        return obj.status

    @display(description=_("Steps"))
    def steps_table(self, obj):
        return runs_table([obj], show="steps")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ProviderAutomation)
class ProviderAutomationAdmin(ModelAdmin):
    list_display = ["name", "account", "is_active", "secret_column", "fields_column", "pulled_at"]
    list_filter = ["account", "is_active"]
    search_fields = ["name", "remote_id"]
    readonly_fields = ["account", "remote_id", "name", "is_active", "fields", "pulled_at"]
    exclude = ["trigger_id", "secret"]
    actions_list = ["pull_all"]

    @display(description=_("Can be started"), boolean=True)
    def secret_column(self, obj):
        return obj.has_secret

    @display(description=_("Fields it uses"))
    def fields_column(self, obj):
        return ", ".join(obj.fields or []) or "—"

    @action(description=_("Pull from the accounts"), icon="sync", permissions=["pull"])
    def pull_all(self, request):
        pulled, failed = 0, []
        for account in ProviderAccount.objects.filter(is_active=True):
            if not account.provider_class.capabilities.supports("automations", "pull"):
                continue
            try:
                pulled += services.pull_provider_automations(account)["pulled"]
            except (ValidationError, Exception) as exc:
                failed.append(f"{account}: {exc}")
        self.message_user(request, gettext("%(n)s automations pulled.") % {"n": pulled})
        for problem in failed:
            self.message_user(request, problem, level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:automations_providerautomation_changelist"))

    def has_pull_permission(self, request):
        return request.user.has_perm("automations.change_automation")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

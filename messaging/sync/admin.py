"""Sync in the back office: runs (read-only, with counts, problems and their HTTP log),
held conflicts side by side with "Keep ours" / "Keep theirs", and "Sync now".

Imported at the end of messaging/admin.py. "Sync now" appears as a detail action on the
provider account and list pages (added from here, so those modules stay unaware of sync);
it opens a confirmation page whose POST starts the run.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline
from unfold.decorators import display

from contacts.models import ContactList
from messaging.admin_access import HidesAccountsMixin
from messaging.models import ProviderAccount
from messaging.providers.base import Op

from .core import resource_names
from .models import RemoteLink, SyncConflict, SyncError, SyncRun
from .services import resolve_conflict, start_sync


class SyncErrorInline(TabularInline):
    model = SyncError
    fields = ["level", "kind", "remote_id", "local_id", "message"]
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False
    verbose_name = _("problem or note")
    verbose_name_plural = _("Problems and notes")

    def has_add_permission(self, request, obj=None):
        return False


def _count_label(name: str) -> str:
    try:
        return SyncRun._meta.get_field(name).verbose_name
    except FieldDoesNotExist:  # a count that is not a field keeps its name
        return name


@admin.register(SyncRun)
class SyncRunAdmin(HidesAccountsMixin, ModelAdmin):
    list_display = [
        "id", "account", "resource", "direction", "trigger", "status_label", "pulled", "created", "updated",
        "unchanged", "pushed", "deleted", "conflicts", "errors", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "resource", "trigger", "account"]
    list_select_related = ["account"]
    date_hierarchy = "created_at"
    fields = [
        "account", "resource", "direction", "trigger", "status_label", "requested_by", "created_at",
        "started_at", "finished_at", "attempts", "counts_table", "error", "http_log_link",
    ]  # fmt: skip
    readonly_fields = fields
    inlines = [SyncErrorInline]
    change_form_before_template = "admin/messaging/sync/live_refresh.html"  # reloads while running

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("messaging.delete_syncrun")

    @display(description=_("Status"), label={
        "succeeded": "success", "partial": "warning", "failed": "danger", "running": "info", "queued": "info",
    })  # fmt: skip
    def status_label(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("Counts"))
    def counts_table(self, obj):
        cells = format_html_join(
            "",
            '<div class="sync-count" data-count="{}"><strong>{}</strong> {}</div>',
            ((name, value, _count_label(name)) for name, value in obj.counts().items()),
        )
        return format_html('<div class="flex flex-wrap gap-4">{}</div>', cells)

    @display(description=_("HTTP log"))
    def http_log_link(self, obj):
        count = obj.account.http_logs.filter(correlation=obj.correlation).count()
        url = reverse("admin:messaging_httplog_changelist") + f"?correlation={obj.correlation}"
        return format_html(
            '<a class="text-primary-600 underline" href="{}">{}</a>',
            url,
            ngettext("%(count)d request made by this run", "%(count)d requests made by this run", count)
            % {"count": count},
        )

    # -- "Sync now" -------------------------------------------------------------------------------

    def get_urls(self):
        urls = [
            path("start/", self.admin_site.admin_view(self.start_view), name="messaging_syncrun_start"),
        ]
        return urls + super().get_urls()

    def start_view(self, request):
        """GET: what will be synced and a button; POST: start it (on the sync queue) and show the run."""
        if not request.user.has_perm("messaging.add_syncrun"):
            raise PermissionDenied
        account = None
        contact_list = None
        if request.GET.get("account"):
            account = get_object_or_404(ProviderAccount, pk=request.GET["account"])
            accounts = [account]
        else:
            contact_list = get_object_or_404(ContactList, pk=request.GET.get("list"))
            linked = ProviderAccount.objects.filter(
                is_active=True,
                remote_links__kind=RemoteLink.Kind.LIST,
                remote_links__contact_list=contact_list,
            ).distinct()
            candidates = list(linked) or list(ProviderAccount.objects.filter(is_active=True))
            accounts = [a for a in candidates if a.provider_class.capabilities.supports("lists", Op.PULL)]
        if request.method == "POST":
            resource = "lists" if contact_list else request.POST.get("resource", "all")
            direction = request.POST.get("direction", "both")
            if resource not in SyncRun.Resource.values or direction not in SyncRun.Direction.values:
                raise PermissionDenied
            runs = []
            for acc in accounts:
                run, started = start_sync(acc, resource, direction, trigger="button", user=request.user)
                runs.append(run)
                if not started:
                    messages.info(
                        request, gettext("A sync of %(account)s was already under way (#%(id)s).") % {"account": acc, "id": run.pk}
                    )
            if not runs:
                messages.warning(request, gettext("No active account can sync lists."))
                return HttpResponseRedirect(reverse("admin:messaging_syncrun_changelist"))
            if len(runs) == 1:
                return HttpResponseRedirect(reverse("admin:messaging_syncrun_change", args=[runs[0].pk]))
            return HttpResponseRedirect(reverse("admin:messaging_syncrun_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Sync %(what)s") % {"what": account or contact_list},
            "account": account,
            "contact_list": contact_list,
            "accounts": accounts,
            # Only resources a module is registered for (templates, and later campaigns/automations).
            "resources": [(v, label) for v, label in SyncRun.Resource.choices if v in resource_names()],
            "directions": SyncRun.Direction.choices,
            "opts": self.model._meta,
            "recent": SyncRun.objects.filter(account__in=accounts).select_related("account")[:5],
        }
        return TemplateResponse(request, "admin/messaging/sync/start.html", context)


@admin.register(SyncConflict)
class SyncConflictAdmin(HidesAccountsMixin, ModelAdmin):
    list_display = ["id", "account", "kind", "record", "status", "created_at", "resolved_by"]
    list_filter = ["status", "kind", "account"]
    list_select_related = ["account", "contact", "contact_list", "resolved_by"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @display(description=_("Record"))
    def record(self, obj):
        return obj.contact or obj.contact_list or obj.remote_id

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """Both versions side by side, with a button for each."""
        conflict = get_object_or_404(
            SyncConflict.objects.select_related("account", "contact", "contact_list"), pk=object_id
        )
        if not self.has_view_permission(request, conflict):
            raise PermissionDenied
        can_resolve = self.has_change_permission(request, conflict)
        if request.method == "POST":
            keep = request.POST.get("keep")
            if not can_resolve or keep not in ("ours", "theirs"):
                raise PermissionDenied
            resolve_conflict(conflict, keep, user=request.user)
            if keep == "ours":
                # Send ours now rather than at the next scheduled run.
                resource = "contacts" if conflict.kind == RemoteLink.Kind.CONTACT else "lists"
                start_sync(conflict.account, resource, "push", trigger="button", user=request.user)
            words = (
                gettext("Switchboard's version was kept and is being sent.")
                if keep == "ours"
                else gettext("The provider's version was kept and applied here.")
            )
            messages.success(request, words)
            return HttpResponseRedirect(reverse("admin:messaging_syncconflict_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Conflict on %(record)s") % {"record": self.record(conflict)},
            "conflict": conflict,
            "rows": [
                (
                    key,
                    conflict.local_snapshot.get(key),
                    conflict.remote_snapshot.get(key),
                    conflict.local_snapshot.get(key) != conflict.remote_snapshot.get(key)
                    and conflict.remote_snapshot.get(key) is not None,
                )
                for key in sorted(set(conflict.local_snapshot) | set(conflict.remote_snapshot))
            ],
            "can_resolve": can_resolve and conflict.status == SyncConflict.Status.OPEN,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/messaging/sync/conflict.html", context)


# --- "Sync now" on the account and list pages ---------------------------------------------------


def _add_sync_now(model, admin_class_name: str, param: str) -> None:
    """Add a "Sync now" detail action (a link to the confirmation page) to a registered ModelAdmin."""
    model_admin = admin.site._registry.get(model)
    if model_admin is None or hasattr(type(model_admin), "sync_now"):
        return

    def sync_now(self, request, object_id):
        return HttpResponseRedirect(reverse("admin:messaging_syncrun_start") + f"?{param}={object_id}")

    sync_now.__name__ = "sync_now"
    from unfold.decorators import action

    decorated = action(description=_("Sync now"), url_path="sync-now", icon="sync", permissions=["sync"])(
        sync_now
    )
    cls = type(model_admin)
    cls.has_sync_permission = lambda self, request, obj=None: request.user.has_perm("messaging.add_syncrun")
    cls.sync_now = decorated
    cls.actions_detail = [*(cls.actions_detail or []), "sync_now"]


_add_sync_now(ProviderAccount, "ProviderAccountAdmin", "account")
_add_sync_now(ContactList, "ContactListAdmin", "list")

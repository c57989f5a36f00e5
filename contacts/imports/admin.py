"""Admin for imports (the wizard) and exports, in the unfold look.

contacts/admin.py imports this module (one line) so these admins register with the
site. `export_contacts_action` is an action ready to be listed in ContactAdmin.actions.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action, display

from . import exports, views
from .forms import ExportForm
from .models import ContactExport, ContactImport


class OwnedByStaffMixin:
    """Imports and exports hold people's data: each user sees their own; Managers see everyone's."""

    def get_queryset(self, request):
        from contacts.roles import owned_or_managed

        return owned_or_managed(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        from contacts.roles import may_open

        return super().has_view_permission(request, obj) and (obj is None or may_open(request.user, obj))

    def _redirect_if_allowed(self, request, object_id, target):
        from django.core.exceptions import PermissionDenied
        from django.shortcuts import get_object_or_404

        obj = get_object_or_404(self.get_queryset(request), pk=object_id) if str(object_id).isdigit() else None
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        return HttpResponseRedirect(reverse(target, args=[obj.pk]))


@admin.register(ContactImport)
class ContactImportAdmin(OwnedByStaffMixin, ModelAdmin):
    list_display = [
        "file_column", "status_column", "who", "created_at", "total_rows", "created", "updated", "unchanged",
        "rejected_column", "warned",
    ]  # fmt: skip
    list_filter = ["status", "kind"]
    search_fields = ["original_name"]
    list_per_page = 50
    list_select_related = ["created_by"]
    actions = None

    def has_change_permission(self, request, obj=None):
        return False  # imports change through the wizard only

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def view(fn):
            return wrap(lambda request, *args, **kwargs: fn(self, request, *args, **kwargs))

        info = "contacts_contactimport"
        return [
            path("upload/", view(views.upload), name=f"{info}_upload"),
            path("<int:pk>/map/", view(views.map_columns), name=f"{info}_map"),
            path("<int:pk>/preview/", view(views.preview), name=f"{info}_preview"),
            path("<int:pk>/progress/", view(views.progress), name=f"{info}_progress"),
            path("<int:pk>/status.json", view(views.status), name=f"{info}_status"),
            path("<int:pk>/rejected/", view(views.rejected), name=f"{info}_rejected"),
            path("<int:pk>/warnings/", view(views.warnings_report), name=f"{info}_warnings"),
            path("<int:pk>/resume/", view(views.resume), name=f"{info}_resume"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:contacts_contactimport_upload"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._redirect_if_allowed(request, object_id, "admin:contacts_contactimport_progress")

    @display(description=_("File"), ordering="original_name")
    def file_column(self, obj):
        return format_html(
            '<a href="{}" class="font-semibold">{}</a>',
            reverse("admin:contacts_contactimport_progress", args=[obj.pk]),
            obj.original_name,
        )

    @display(
        description=_("Status"),
        label={
            "succeeded": "success", "failed": "danger", "running": "info", "queued": "info",
            "previewed": "warning", "uploaded": "warning", "mapping": "warning",
        },
    )  # fmt: skip
    def status_column(self, obj):
        return obj.status, obj.get_status_display()

    @display(description=_("By"))
    def who(self, obj):
        return obj.created_by.get_username() if obj.created_by else "—"

    @display(description=_("Rejected"))
    def rejected_column(self, obj):
        if obj.rejected and obj.rejected_file and obj.status == ContactImport.Status.SUCCEEDED:
            return format_html(
                '<a href="{}">{} ⬇</a>',
                reverse("admin:contacts_contactimport_rejected", args=[obj.pk]),
                obj.rejected,
            )
        return obj.rejected


@admin.register(ContactExport)
class ContactExportAdmin(OwnedByStaffMixin, ModelAdmin):
    list_display = ["__str__", "status", "done", "total", "created_by", "created_at", "download"]
    list_select_related = ["created_by"]
    actions = None

    def has_add_permission(self, request):
        return request.user.has_perm("contacts.export_contact")

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view

        def view(fn):
            return wrap(lambda request, *args, **kwargs: fn(self, request, *args, **kwargs))

        info = "contacts_contactexport"
        return [
            path("start/", view(views.start_export_view), name=f"{info}_start"),
            path("<int:pk>/progress/", view(views.export_progress), name=f"{info}_progress"),
            path("<int:pk>/status.json", view(views.export_status), name=f"{info}_status"),
            path("<int:pk>/download/", view(views.export_download), name=f"{info}_download"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:contacts_contactexport_start"))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        return self._redirect_if_allowed(request, object_id, "admin:contacts_contactexport_progress")

    @display(description=_("File"))
    def download(self, obj):
        if obj.status == ContactExport.Status.SUCCEEDED:
            return format_html(
                '<a href="{}">{}</a>', reverse("admin:contacts_contactexport_download", args=[obj.pk]), gettext("Download")
            )
        return "—"


def _filters_from_changelist(request) -> dict:
    """The contact change list's own filters (?list=…&tag=…&q=…) as an export filter spec."""
    from contacts.models import Tag

    filters = {}
    if request.GET.get("list"):
        filters["list_id"] = request.GET["list"]
    if request.GET.get("tag"):
        tag = Tag.objects.filter(pk=request.GET["tag"]).first()
        if tag:
            filters["tag"] = tag.name
    if request.GET.get("q"):
        filters["search"] = request.GET["q"]
    return filters


@action(description=_("Export selected…"))
def export_contacts_action(model_admin, request, queryset):
    """Admin action for ContactAdmin: CSV / XLSX / vCard 3.0 of the selected contacts."""
    if not request.user.has_perm("contacts.export_contact"):
        messages.error(request, gettext("You do not have permission to export contacts."))
        return None
    form = ExportForm(request.POST if "apply" in request.POST else None)
    if form.is_bound and form.is_valid():
        if request.POST.get("select_across") == "1":
            filters = _filters_from_changelist(request)
        else:
            filters = {"ids": list(queryset.values_list("pk", flat=True))}
        export = exports.start_export(form.cleaned_data["format"], filters, user=request.user)
        if export.status == ContactExport.Status.SUCCEEDED:
            messages.success(
                request,
                ngettext("Exported %(count)d contact.", "Exported %(count)d contacts.", export.total)
                % {"count": export.total},
            )
        return HttpResponseRedirect(reverse("admin:contacts_contactexport_progress", args=[export.pk]))
    return TemplateResponse(
        request,
        "admin/contacts/action_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": gettext("Export contacts"),
            "form": form,
            "queryset": queryset,
            "count": queryset.count(),
            "action_name": "export_contacts_action",
            "button": gettext("Export"),
            "opts": model_admin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
        },
    )

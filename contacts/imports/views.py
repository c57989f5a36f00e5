"""The import wizard's pages (upload → map → preview → progress/result) and the export pages.

Mounted under the ContactImport/ContactExport admins (see admin.py) so they share the
admin's login, permissions and look. Every write goes through services/exports.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.models import CustomField
from contacts.roles import owned_or_managed

from . import exports, pipeline, services
from .errors import ImportFileError
from .forms import NEW_FIELD, ExportForm, MappingForm, UploadForm
from .mapping import ATTRIBUTE_TARGETS
from .models import ContactExport, ContactImport

STEPS = [_("Upload"), _("Map columns"), _("Preview"), _("Import")]


def _context(model_admin, request, title, step=None, **extra):
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": title,
        "steps": STEPS,
        "step": step,
        **extra,
    }


def _can_add(request):
    if not request.user.has_perm("contacts.add_contactimport"):
        raise PermissionDenied


def _import(request, pk, **related):
    """The import, if this user may see it (view permission; their own, or any for a Manager)."""
    if not request.user.has_perm("contacts.view_contactimport"):
        raise PermissionDenied
    queryset = ContactImport.objects.select_related(*related.get("select", ()))
    return get_object_or_404(owned_or_managed(request.user, queryset), pk=pk)


def _export(request, pk):
    if not request.user.has_perm("contacts.view_contactexport"):
        raise PermissionDenied
    return get_object_or_404(owned_or_managed(request.user, ContactExport.objects.all()), pk=pk)


def _url(name, imp):
    return reverse(f"admin:contacts_contactimport_{name}", args=[imp.pk])


def upload(model_admin, request):
    """Step 1: the file, where its contacts go, and how to treat contacts already here."""
    _can_add(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            imp = services.start_import(
                data["file"],
                user=request.user,
                contact_list=data["contact_list"],
                new_list_name=data["new_list_name"],
                tags=form.tag_names(),
                country=data["country"],
                update_mode=data["update_mode"],
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else "file", errors)
        else:
            if imp.kind == "vcard":  # a vCard's fields are known: no mapping step
                return HttpResponseRedirect(_url("preview", imp))
            return HttpResponseRedirect(_url("map", imp))
    from django.conf import settings

    return TemplateResponse(
        request,
        "admin/contacts/import/upload.html",
        _context(model_admin, request, gettext("Import contacts"), 0, form=form, max_mb=settings.IMPORT_MAX_UPLOAD_MB),
    )


def _samples(imp, count=3):
    try:
        source = pipeline.open_source(imp.file.path, services._options(imp), require_phone=False)
    except ImportFileError:
        return []
    out = []
    try:
        for _, (_line, raw, *_rest) in zip(range(count), source.items, strict=False):
            out.append([str(v) if v is not None else "" for v in raw])
    finally:
        if hasattr(source.items, "close"):
            source.items.close()
    return out


def map_columns(model_admin, request, pk):
    """Step 2: which column is which field; phone columns in the order they should win."""
    _can_add(request)
    imp = _import(request, pk)
    if imp.is_active or imp.status in (ContactImport.Status.SUCCEEDED, ContactImport.Status.FAILED):
        return HttpResponseRedirect(_url("progress", imp))
    if imp.kind == "vcard":
        return HttpResponseRedirect(_url("preview", imp))
    sheets = imp.detected.get("sheets") if imp.kind == "xlsx" else None
    kwargs = {
        "headers": imp.headers, "mapping": imp.mapping, "phone_order": imp.phone_order,
        "samples": _samples(imp), "sheets": sheets, "sheet": imp.sheet,
    }  # fmt: skip
    form = MappingForm(request.POST or None, **kwargs)
    if request.method == "POST" and form.is_valid():
        sheet = form.cleaned_data.get("sheet")
        if sheet and sheet != imp.sheet:
            try:
                services.set_mapping(imp, [], None, sheet=sheet)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(_url("map", imp))
        targets = form.targets()
        for i, target in enumerate(targets):
            if target == NEW_FIELD:
                field = services.create_custom_field_from_column(imp, i)
                targets[i] = f"field:{field.key}"
        try:
            services.set_mapping(imp, targets, [i for i in form.phone_order() if targets[i] == "phone"])
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        else:
            return HttpResponseRedirect(_url("preview", imp))
    return TemplateResponse(
        request,
        "admin/contacts/import/map.html",
        _context(
            model_admin, request, gettext("Map the columns of %(name)s") % {"name": imp.original_name}, 1,
            form=form, imp=imp,
        ),
    )


PREVIEW_COLUMNS = ["phone", "first_name", "last_name", "email", "company", "city", "birth_date"]


def preview(model_admin, request, pk):
    """Step 3: the first rows as they will be saved and what will happen, before anything is written."""
    _can_add(request)
    imp = _import(request, pk)
    if imp.is_active or imp.status in (ContactImport.Status.SUCCEEDED, ContactImport.Status.FAILED):
        return HttpResponseRedirect(_url("progress", imp))
    if request.method == "POST":
        try:
            services.queue_import(imp)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(_url("preview", imp))
        return HttpResponseRedirect(_url("progress", imp))
    try:
        data = services.preview_import(imp)
    except ImportFileError as exc:
        messages.error(request, str(exc))
        return HttpResponseRedirect(_url("map", imp))
    used = [c for c in PREVIEW_COLUMNS if c == "phone" or any(c in r for r in data["rows"])]
    labels = {"phone": gettext("Phone (E.164)"), **ATTRIBUTE_TARGETS}
    custom = {f.key: f.label for f in CustomField.objects.all()}
    return TemplateResponse(
        request,
        "admin/contacts/import/preview.html",
        _context(
            model_admin, request, gettext("Preview of %(name)s") % {"name": imp.original_name}, 2, imp=imp, preview=data,
            columns=[(c, labels.get(c, c)) for c in used], custom=custom,
            target_list=imp.contact_list.name if imp.contact_list else imp.new_list_name,
        ),
    )  # fmt: skip


def progress(model_admin, request, pk):
    """Step 4 and 5: a live progress bar (polls status.json; survives reloads), then the result."""
    imp = _import(request, pk, select=("created_by", "contact_list"))
    if imp.status in (ContactImport.Status.UPLOADED, ContactImport.Status.MAPPING):
        return HttpResponseRedirect(_url("map" if imp.kind != "vcard" else "preview", imp))
    if imp.status == ContactImport.Status.PREVIEWED:
        return HttpResponseRedirect(_url("preview", imp))
    return TemplateResponse(
        request,
        "admin/contacts/import/progress.html",
        _context(
            model_admin,
            request,
            gettext("Import of %(name)s") % {"name": imp.original_name},
            3,
            imp=imp,
            status=services.import_status(imp),
        ),
    )


def status(model_admin, request, pk):
    imp = _import(request, pk)
    return JsonResponse(services.import_status(imp))


def rejected(model_admin, request, pk):
    imp = _import(request, pk)
    if not imp.rejected_file or imp.status != ContactImport.Status.SUCCEEDED:
        raise Http404(gettext("No rejected rows"))
    name = imp.original_name.rsplit(".", 1)[0]
    return FileResponse(
        imp.rejected_file.open("rb"),
        as_attachment=True,
        filename=gettext("%(name)s-rejected.csv") % {"name": name},
        content_type="text/csv",
    )


def warnings_report(model_admin, request, pk):
    """The warnings CSV: line, phone, column, value, reason — values left out of imported contacts."""
    imp = _import(request, pk)  # the same owner/Manager rule as the rejected rows
    if not imp.warnings_file or imp.status != ContactImport.Status.SUCCEEDED:
        raise Http404(gettext("No warnings"))
    name = imp.original_name.rsplit(".", 1)[0][:60]
    return FileResponse(
        imp.warnings_file.open("rb"), as_attachment=True, filename=gettext("%(name)s-warnings.csv") % {"name": name},
        content_type="text/csv",
    )


def resume(model_admin, request, pk):
    _can_add(request)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    imp = _import(request, pk)
    try:
        services.resume_import(imp)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return HttpResponseRedirect(_url("progress", imp))


# --- exports ---------------------------------------------------------------------------------


def _can_export(request):
    if not request.user.has_perm("contacts.export_contact"):
        raise PermissionDenied


def start_export_view(model_admin, request):
    """Export all contacts or one list (?list_id=…): choose a format, get a file or a progress page."""
    _can_export(request)
    filters = {k: request.GET[k] for k in ("list_id", "tag", "search") if request.GET.get(k)}
    form = ExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        export = exports.start_export(form.cleaned_data["format"], filters, user=request.user)
        return HttpResponseRedirect(reverse("admin:contacts_contactexport_progress", args=[export.pk]))
    count = exports.contacts_for(filters).count()
    return TemplateResponse(
        request,
        "admin/contacts/export/start.html",
        _context(model_admin, request, gettext("Export contacts"), None, form=form, count=count, filters=filters),
    )


def export_progress(model_admin, request, pk):
    export = _export(request, pk)
    return TemplateResponse(
        request,
        "admin/contacts/export/progress.html",
        _context(model_admin, request, gettext("Export #%(id)s") % {"id": export.pk}, None, export=export),
    )


def export_status(model_admin, request, pk):
    export = _export(request, pk)
    return JsonResponse(
        {
            "status": export.status, "status_display": export.get_status_display(), "done": export.done, "total": export.total, "percent": export.percent,
            "error": export.error, "finished": export.status in ("succeeded", "failed"),
            "download_url": reverse("admin:contacts_contactexport_download", args=[export.pk])
            if export.status == "succeeded" else None,
        }
    )  # fmt: skip


def export_download(model_admin, request, pk):
    _can_export(request)
    export = _export(request, pk)
    if export.status != ContactExport.Status.SUCCEEDED or not export.file:
        raise Http404(gettext("Not ready"))
    return FileResponse(
        export.file.open("rb"), as_attachment=True, filename=export.file.name.rsplit("/", 1)[-1]
    )

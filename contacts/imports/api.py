"""REST API for imports and exports: POST a file, poll its progress, download the reports.

Registered by contacts/api.py's register(router) calling register(router) here.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from config.hardening import id_field

from . import exports, services
from .models import ContactExport, ContactImport


def _drf(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({k: [str(m) for m in v] for k, v in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField()
    list = id_field(required=False, help_text=_("Id of a list to add everyone to"))
    list_name = serializers.CharField(
        required=False, max_length=150, help_text=_("A new (or existing) list by name")
    )
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    country = serializers.CharField(required=False, max_length=2, allow_blank=True)
    update = serializers.ChoiceField(choices=["fill", "overwrite", "skip"], default="fill")
    sheet = serializers.CharField(required=False, allow_blank=True, max_length=100)
    mapping = serializers.JSONField(
        required=False,
        help_text='List of targets per column, or {"columns": {"Header": "target"}, "phone_order": ["Header"]}',
    )
    preview = serializers.BooleanField(
        default=False, help_text=_("Only preview: write nothing, return the counts")
    )


class ImportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactImport
        fields = [
            "id", "original_name", "kind", "size", "status", "contact_list", "tags", "country", "update_mode",
            "headers", "mapping", "phone_order", "total_rows", "processed", "created", "updated", "unchanged",
            "merged", "rejected", "warned", "rate", "eta_seconds", "error", "created_at", "started_at", "finished_at",
        ]  # fmt: skip

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["percent"] = instance.percent
        data["rejected_url"] = (
            self.context["request"].build_absolute_uri(f"/api/imports/{instance.pk}/rejected/")
            if instance.rejected_file and instance.status == ContactImport.Status.SUCCEEDED
            else None
        )
        # Rows imported without an optional value that could not be understood: counted apart
        # from the rejected rows; the first ones here, all of them in the report.
        data["warnings"] = {
            "rows": instance.warned,
            "examples": list(instance.warning_examples or [])[:20],
            "report_url": self.context["request"].build_absolute_uri(f"/api/imports/{instance.pk}/warnings/")
            if instance.warnings_file and instance.status == ContactImport.Status.SUCCEEDED
            else None,
        }
        return data


class ImportViewSet(
    mixins.CreateModelMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Contact imports. POST a file to start one; GET it to follow its progress and counts."""

    queryset = ContactImport.objects.select_related("created_by").order_by("-created_at")
    serializer_class = ImportSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filterset_fields = ["status", "kind"]
    ordering_fields = ["created_at"]
    search_fields = ["original_name"]

    def get_queryset(self):
        from contacts.roles import owned_or_managed

        return owned_or_managed(self.request.user, super().get_queryset())

    def get_serializer_class(self):
        return ImportCreateSerializer if self.action == "create" else ImportSerializer

    def retrieve(self, request, *args, **kwargs):
        imp = self.get_object()
        services.import_status(imp)  # fails a stale run first, so nobody polls "running" forever
        imp.refresh_from_db()
        return Response(ImportSerializer(imp, context={"request": request}).data)

    def create(self, request, *args, **kwargs):
        form = ImportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        mapping = data.get("mapping")
        if isinstance(mapping, str):
            try:
                mapping = json.loads(mapping)
            except ValueError:
                raise ValidationError({"mapping": [gettext("not valid JSON")]}) from None
        tags = data.get("tags") or []
        if len(tags) == 1 and "," in tags[0]:
            tags = [t.strip() for t in tags[0].split(",")]
        try:
            imp = services.start_import(
                data["file"],
                user=request.user,
                contact_list=data.get("list"),
                new_list_name=data.get("list_name", ""),
                tags=tags,
                country=data.get("country", ""),
                update_mode=data["update"],
                sheet=data.get("sheet", ""),
                mapping_spec=mapping,
            )
            if data["preview"]:
                preview = services.preview_import(imp)
                body = ImportSerializer(imp, context={"request": request}).data
                return Response({**body, "preview": preview}, status=status.HTTP_201_CREATED)
            services.queue_import(imp)
        except DjangoValidationError as exc:
            raise _drf(exc) from None
        imp.refresh_from_db()
        return Response(
            ImportSerializer(imp, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Queue a previewed import, or resume a failed or stopped one from its last committed batch
        (running with no heartbeat for IMPORT_STALE_SECONDS, or queued that long: its message was lost)."""
        imp = self.get_object()
        try:
            if services.can_resume(imp):
                services.resume_import(imp)
            else:
                services.queue_import(imp)
        except DjangoValidationError as exc:
            raise _drf(exc) from None
        imp.refresh_from_db()
        return Response(
            ImportSerializer(imp, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )

    @action(detail=True, methods=["get"])
    def rejected(self, request, pk=None):
        """The rejected rows: the original rows as uploaded plus `line` and `error` columns (CSV)."""
        imp = self.get_object()
        if not imp.rejected_file or imp.status != ContactImport.Status.SUCCEEDED:
            raise Http404(gettext("This import has no rejected rows."))
        return FileResponse(
            imp.rejected_file.open("rb"),
            as_attachment=True,
            filename=f"{imp.original_name.rsplit('.', 1)[0]}-rejected.csv",
            content_type="text/csv; charset=utf-8",
        )


    @action(detail=True, methods=["get"], url_path="warnings")
    def warnings_report(self, request, pk=None):
        """Warnings: one CSV line per value left out of an imported contact (line, phone, column, value, reason)."""
        imp = self.get_object()
        if not imp.warnings_file or imp.status != ContactImport.Status.SUCCEEDED:
            raise Http404(gettext("This import has no warnings."))
        return FileResponse(
            imp.warnings_file.open("rb"),
            as_attachment=True,
            filename=f"{imp.original_name.rsplit('.', 1)[0][:60]}-warnings.csv",
            content_type="text/csv; charset=utf-8",
        )


class CanExport(BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("contacts.export_contact")


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx", "vcf"], default="csv")
    ids = serializers.ListField(child=id_field(), required=False, max_length=100000)
    list_id = id_field(required=False)
    tag = serializers.CharField(required=False)
    search = serializers.CharField(required=False)


class ExportSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactExport
        fields = ["id", "format", "filters", "status", "total", "done", "error", "created_at", "finished_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["percent"] = instance.percent
        data["download_url"] = (
            self.context["request"].build_absolute_uri(f"/api/exports/{instance.pk}/download/")
            if instance.status == ContactExport.Status.SUCCEEDED
            else None
        )
        return data


class ExportViewSet(
    mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """Contact exports (CSV, XLSX, vCard 3.0): small ones are ready at once, large ones in the background."""

    queryset = ContactExport.objects.order_by("-created_at")
    serializer_class = ExportSerializer
    permission_classes = [CanExport]

    def get_queryset(self):
        from contacts.roles import owned_or_managed

        return owned_or_managed(self.request.user, super().get_queryset())

    def get_serializer_class(self):
        return ExportCreateSerializer if self.action == "create" else ExportSerializer

    def create(self, request, *args, **kwargs):
        form = ExportCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = dict(form.validated_data)
        fmt = data.pop("format")
        export = exports.start_export(fmt, data, user=request.user)
        return Response(
            ExportSerializer(export, context={"request": request}).data, status=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        export = self.get_object()
        if export.status != ContactExport.Status.SUCCEEDED or not export.file:
            raise Http404(gettext("This export is not ready."))
        return FileResponse(
            export.file.open("rb"), as_attachment=True, filename=export.file.name.rsplit("/", 1)[-1]
        )


def register(router):
    """Add /api/imports/ and /api/exports/ to the project router."""
    router.register("imports", ImportViewSet, basename="contactimport")
    router.register("exports", ExportViewSet, basename="contactexport")

"""REST API: /api/automations/ (CRUD, dry-run, runs) and /api/provider-automations/?account=.

The nested serializers declare the shape (so the OpenAPI schema is accurate and bounded); the
service validates meaning (the list exists, the template is approved…) and its
ValidationErrors become 400s naming the field.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from contacts.api import as_drf_error

from . import schema, services
from .models import Automation, AutomationRun, AutomationStep, ProviderAutomation

ID = {"min_value": 1, "max_value": 2**62}


class TriggerSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=schema.TRIGGER_TYPES)
    list = serializers.IntegerField(
        required=False, help_text=_("list_added / list_removed: the list id"), **ID
    )
    tag = serializers.CharField(required=False, max_length=64, help_text=_("tag_added: the tag name"))
    keywords = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                     max_length=schema.MAX_KEYWORDS, help_text=_("inbound_keyword"))  # fmt: skip
    match = serializers.ChoiceField(choices=["exact", "contains"], required=False)
    sources = serializers.ListField(child=serializers.ChoiceField(choices=schema.CONTACT_SOURCES), required=False,
                                    max_length=len(schema.CONTACT_SOURCES), help_text=_("contact_created: which ways"))  # fmt: skip
    field = serializers.CharField(
        required=False, max_length=64, help_text=_("date_field: birth_date or a date field")
    )
    offset_days = serializers.IntegerField(required=False, min_value=-365, max_value=365)
    at = serializers.TimeField(
        required=False, format="%H:%M", help_text=_("date_field: local time, e.g. 09:00")
    )
    yearly = serializers.BooleanField(required=False)
    status = serializers.ChoiceField(choices=schema.STATUSES, required=False)
    campaign = serializers.IntegerField(required=False, allow_null=True, **ID)
    channel = serializers.ChoiceField(choices=["sms", "whatsapp", "rcs", "voice"], required=False,
                                      help_text=_("message_status: only messages on this channel"))  # fmt: skip
    within_hours = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=24 * 90,
                                            help_text=_("message_status: did NOT reach the status within"))  # fmt: skip


class ConditionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=schema.CONDITION_TYPES)
    list = serializers.IntegerField(required=False, **ID)
    tag = serializers.CharField(required=False, max_length=64)
    field = serializers.CharField(required=False, max_length=64)
    op = serializers.ChoiceField(choices=schema.FIELD_OPS, required=False)
    value = serializers.CharField(required=False, max_length=200, allow_blank=True)


class ActionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=schema.ACTION_TYPES)
    delay_seconds = serializers.IntegerField(required=False, min_value=0, max_value=schema.MAX_DELAY)
    list = serializers.IntegerField(required=False, **ID)
    tag = serializers.CharField(required=False, max_length=64)
    field = serializers.CharField(required=False, max_length=64)
    value = serializers.CharField(required=False, max_length=200, allow_blank=True, allow_null=True)
    account = serializers.IntegerField(required=False, **ID)
    template = serializers.IntegerField(required=False, **ID)
    text = serializers.CharField(required=False, max_length=4096)
    channel = serializers.ChoiceField(choices=["sms", "whatsapp", "rcs", "voice"], required=False)
    automation = serializers.IntegerField(required=False, help_text=_("a provider automation id"), **ID)
    variables = serializers.DictField(child=serializers.CharField(max_length=500, allow_blank=True), required=False,
                                      help_text=_("values; {{first_name}} or {{field_key}} are filled per contact"))  # fmt: skip
    emails = serializers.ListField(
        child=serializers.EmailField(), required=False, min_length=1, max_length=20
    )


class AutomationSerializer(serializers.ModelSerializer):
    trigger = TriggerSerializer()
    conditions = ConditionSerializer(many=True, required=False, max_length=schema.MAX_CONDITIONS)
    actions = ActionSerializer(many=True, min_length=1, max_length=schema.MAX_ACTIONS)
    enabled = serializers.BooleanField(required=False)

    class Meta:
        model = Automation
        fields = [
            "id",
            "name",
            "enabled",
            "trigger",
            "conditions",
            "actions",
            "enabled_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["enabled_at", "created_at", "updated_at"]
        extra_kwargs = {"name": {"max_length": 150}}

    def to_representation(self, instance):
        return {
            "id": instance.pk, "name": instance.name, "enabled": instance.enabled, "trigger": instance.trigger,
            "conditions": instance.conditions, "actions": instance.actions,
            "enabled_at": instance.enabled_at.isoformat() if instance.enabled_at else None,
            "created_at": instance.created_at.isoformat(), "updated_at": instance.updated_at.isoformat(),
        }  # fmt: skip

    def _save(self, validated, instance=None):
        data = dict(validated)
        trigger = data.get("trigger")
        if trigger and trigger.get("at") is not None:
            trigger["at"] = trigger["at"].strftime("%H:%M")
        for key in ("trigger", "conditions", "actions"):
            if key in data:
                data[key] = _plain(data[key])
        request = self.context.get("request")
        try:
            return services.save_automation(data, automation=instance, user=getattr(request, "user", None))
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def create(self, validated_data):
        return self._save(validated_data)

    def update(self, instance, validated_data):
        return self._save(validated_data, instance)


def _plain(value):
    """OrderedDicts and nested serializer output → plain JSON, dropping keys left unset."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None or k == "value"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class StepSerializer(serializers.ModelSerializer):
    class Meta:
        model = AutomationStep
        fields = ["action", "status", "error", "at"]


class RunSerializer(serializers.ModelSerializer):
    steps = StepSerializer(many=True, read_only=True)
    trigger = serializers.JSONField(source="trigger_data", read_only=True)

    class Meta:
        model = AutomationRun
        fields = ["id", "automation", "contact", "status", "key", "trigger", "conditions_checked", "error",
                  "due_at", "created_at", "finished_at", "steps"]  # fmt: skip


class ProviderAutomationSerializer(serializers.ModelSerializer):
    has_secret = serializers.BooleanField(read_only=True)

    class Meta:
        model = ProviderAutomation
        fields = ["id", "account", "remote_id", "name", "is_active", "fields", "has_secret", "pulled_at"]


DryRunResult = inline_serializer("AutomationDryRun", {
    "matches": serializers.IntegerField(),
    "sample": inline_serializer("AutomationDryRunContact", {
        "id": serializers.IntegerField(), "name": serializers.CharField(), "phone": serializers.CharField(),
    }, many=True),
})  # fmt: skip


class AutomationViewSet(viewsets.ModelViewSet):
    """Automations: when something happens to a contact, act. Editors build; Viewers read."""

    serializer_class = AutomationSerializer
    queryset = Automation.objects.all()
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]
    filterset_fields = ["enabled", "trigger_type"]

    def perform_destroy(self, instance):
        services.delete_automation(instance)

    @extend_schema(request=None, responses=DryRunResult,
                   description="How many and which contacts would be affected right now, without acting.")  # fmt: skip
    @action(detail=True, methods=["post"], url_path="dry-run")
    def dry_run(self, request, pk=None):
        return Response(services.dry_run(self.get_object()))

    @extend_schema(responses=RunSerializer(many=True), description="This automation's runs, newest first.")
    @action(detail=True, methods=["get"])
    def runs(self, request, pk=None):
        automation = self.get_object()
        qs = AutomationRun.objects.filter(automation=automation).prefetch_related("steps").order_by("-id")
        status = request.query_params.get("status")
        if status:
            if status not in AutomationRun.Status.values:
                raise ValidationError(
                    {"status": [_("must be one of: %(v)s") % {"v": ", ".join(AutomationRun.Status.values)}]}
                )
            qs = qs.filter(status=status)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(RunSerializer(page, many=True).data)

    @extend_schema(request=None, responses=inline_serializer("AutomationPastRuns", {"created": serializers.IntegerField()}),
                   description="Also run now for the contacts that already match (once each).")  # fmt: skip
    @action(detail=True, methods=["post"], url_path="run-for-past")
    def run_for_past(self, request, pk=None):
        try:
            return Response({"created": services.start_for_past(self.get_object())})
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class ProviderAutomationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Automations pulled from provider accounts (Spoki), to start from an automation's actions."""

    serializer_class = ProviderAutomationSerializer
    ordering = ["name"]

    def get_queryset(self):
        qs = ProviderAutomation.objects.all().order_by("name", "pk")
        account = self.request.query_params.get("account")
        if account not in (None, ""):
            if not account.isdigit() or int(account) > 2**62:
                raise ValidationError({"account": [_("must be an account id")]})
            qs = qs.filter(account_id=int(account))
        return qs

    @extend_schema(
        parameters=[OpenApiParameter("account", int, description="Only this account's automations")]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


def register(router):
    router.register("automations", AutomationViewSet, basename="automation")
    router.register("provider-automations", ProviderAutomationViewSet, basename="provider-automation")

"""REST API for campaigns, messages and the statistics overview; register(router) adds the routes.

Serializers shape and bound the input; every write goes through campaigns.services, whose
CampaignErrors become 400s naming the field. Viewers read (view_* permissions); Editors
create, start, pause, resume and cancel (add/change permissions).
"""

from __future__ import annotations

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import DjangoModelPermissions
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.models import ContactList
from localization.serializers import UserZoneDateTimeField
from messaging.message_models import Message
from messaging.models import MessageTemplate, ProviderAccount

from . import services, stats
from .models import Campaign
from .services.preview import preview_campaign, send_test


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


class StatsSerializer(serializers.Serializer):
    audience = serializers.IntegerField()
    queued = serializers.IntegerField()
    sent = serializers.IntegerField()
    delivered = serializers.IntegerField()
    read = serializers.IntegerField()
    failed = serializers.IntegerField()
    unknown = serializers.IntegerField()
    skipped = serializers.IntegerField()
    replied = serializers.IntegerField()
    clicked = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=16, decimal_places=2)
    currency = serializers.CharField()


class CampaignSerializer(serializers.ModelSerializer):
    account = serializers.PrimaryKeyRelatedField(queryset=ProviderAccount.objects.all())
    channel = serializers.ChoiceField(choices=Campaign.Channel.choices)
    template = serializers.PrimaryKeyRelatedField(
        queryset=MessageTemplate.objects.all(), required=False, allow_null=True
    )
    lists = serializers.PrimaryKeyRelatedField(queryset=ContactList.objects.all(), many=True, required=False)
    exclude_lists = serializers.PrimaryKeyRelatedField(
        queryset=ContactList.objects.all(), many=True, required=False
    )
    variables = serializers.DictField(
        child=serializers.DictField(), required=False,
        help_text='{"var": {"field": "first_name", "fallback": "cliente"}} or {"var": {"value": "literal"}}',
    )  # fmt: skip
    fallback_channels = serializers.ListField(
        child=serializers.ChoiceField(choices=["sms", "rcs", "whatsapp"]), required=False, max_length=3
    )
    window_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=6), required=False, max_length=7
    )
    rate_per_second = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    failure_threshold_percent = serializers.IntegerField(min_value=1, max_value=100, required=False)
    failure_window = serializers.IntegerField(min_value=1, max_value=100_000, required=False)
    text = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    scheduled_at = UserZoneDateTimeField(
        required=False, allow_null=True,
        help_text="ISO 8601. With an offset (2026-12-24T09:00:00+01:00) it is that instant; without one it is "
                  "read in your time zone (chosen in the user menu, else the server's TIME_ZONE). Returned with "
                  "your zone's offset. Must be in the future.",
    )  # fmt: skip
    track_clicks = serializers.BooleanField(
        required=False,
        help_text="Replace the links in SMS/RCS texts by short tracked links (SWITCHBOARD_PUBLIC_URL/r/<code>), one per "
                  "recipient; stats.clicked counts the recipients who opened one. WhatsApp templates are not changed.",
    )  # fmt: skip
    stats = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = [
            "id", "name", "description", "account", "channel", "fallback_channels", "sender", "template", "text",
            "lists", "exclude_lists", "variables", "scheduled_at", "rate_per_second", "window_start", "window_end",
            "window_days", "apply_frequency_cap", "track_clicks", "failure_threshold_percent", "failure_window",
            "status", "status_reason", "execution", "stats", "provider_stats", "created_at", "started_at",
            "finished_at",
        ]  # fmt: skip
        read_only_fields = ["status", "status_reason", "execution", "provider_stats", "created_at", "started_at",
                            "finished_at"]  # fmt: skip

    @extend_schema_field(StatsSerializer)
    def get_stats(self, campaign) -> dict:
        return StatsSerializer(stats.campaign_stats(campaign)).data

    def create(self, validated_data):
        try:
            return services.create_campaign(validated_data, by=self.context["request"].user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, instance, validated_data):
        try:
            return services.update_campaign(instance, validated_data, by=self.context["request"].user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class MessageSerializer(serializers.ModelSerializer):
    error = serializers.CharField(read_only=True)

    class Meta:
        model = Message
        fields = [
            "id", "campaign", "contact", "phone", "direction", "channel", "status", "provider_message_id", "error",
            "sent_at", "delivered_at", "read_at", "price", "status_history",
        ]  # fmt: skip
        read_only_fields = fields


class MessageFilter(django_filters.FilterSet):
    provider_message_id = django_filters.CharFilter(max_length=200)
    campaign = django_filters.NumberFilter(field_name="campaign_id", min_value=1, max_value=2**31 - 1)
    contact = django_filters.NumberFilter(field_name="contact_id", min_value=1, max_value=2**31 - 1)
    direction = django_filters.ChoiceFilter(choices=Message.Direction.choices)
    status = django_filters.ChoiceFilter(choices=Message.Status.choices)

    class Meta:
        model = Message
        fields = ["provider_message_id", "campaign", "contact", "direction", "status"]


class CampaignPermission(DjangoModelPermissions):
    """Reading needs view_campaign (Viewer); every POST action needs change_campaign (Editor)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s"],
    }

    def has_permission(self, request, view):
        if getattr(view, "action", None) in ("preview", "test", "start", "pause", "resume", "cancel"):
            return bool(request.user and request.user.is_authenticated
                        and request.user.has_perm("campaigns.change_campaign"))  # fmt: skip
        if getattr(view, "action", None) == "messages":
            return bool(request.user and request.user.is_authenticated
                        and request.user.has_perm("messaging.view_message"))  # fmt: skip
        return super().has_permission(request, view)


class TestSendSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=40)


PreviewResponse = inline_serializer(
    "CampaignPreview",
    {
        "audience": serializers.IntegerField(),
        "excluded": inline_serializer(
            "CampaignExcluded",
            {
                "opted_out": serializers.IntegerField(),
                "blocked": serializers.IntegerField(),
                "in_exclude_lists": serializers.IntegerField(),
                "duplicates": serializers.IntegerField(),
            },
        ),
        "sample": inline_serializer(
            "CampaignSample", {"phone": serializers.CharField(), "text": serializers.CharField()}, many=True
        ),
        "parts": serializers.IntegerField(),
        "encoding": serializers.CharField(),
        "cost": serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True),
        "currency": serializers.CharField(),
        "rate_per_second": serializers.IntegerField(),
        "duration_seconds": serializers.IntegerField(allow_null=True),
        "execution": serializers.CharField(),
    },
)


class CampaignViewSet(viewsets.ModelViewSet):
    queryset = Campaign.objects.select_related("account", "template").prefetch_related(
        "lists", "exclude_lists"
    )
    serializer_class = CampaignSerializer
    permission_classes = [CampaignPermission]
    filterset_fields = ["status", "channel", "account"]
    search_fields = ["name"]
    ordering_fields = ["created_at", "name", "started_at"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance):
        try:
            services.delete_campaign(instance, by=self.request.user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def _act(self, func, **kwargs):
        campaign = self.get_object()
        try:
            func(campaign, by=self.request.user, **kwargs)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        campaign.refresh_from_db()
        return Response(self.get_serializer(campaign).data)

    @extend_schema(request=None, responses=PreviewResponse)
    @action(detail=True, methods=["post"])
    def preview(self, request, pk=None):
        """The audience after each exclusion, the first messages rendered, SMS parts and the cost."""
        return Response(preview_campaign(self.get_object()))

    @extend_schema(request=TestSendSerializer, responses=MessageSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Send the campaign's message to one phone number first."""
        body = TestSendSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            message = send_test(self.get_object(), body.validated_data["phone"], by=request.user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        """Start now (or at scheduled_at). Starting twice sends nothing twice."""
        return self._act(services.start_campaign)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(services.pause_campaign)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(services.resume_campaign)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(services.cancel_campaign)

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=[s for s, _ in Message.Status.choices])],
        responses=MessageSerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_fields=[], search_fields=[], ordering_fields=[])
    def messages(self, request, pk=None):
        """The campaign's recipients and where each message is."""
        campaign = self.get_object()
        qs = Message.objects.filter(campaign=campaign).order_by("id")
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in Message.Status.values:
                raise ValidationError({"status": [_("Unknown status.")]})
            qs = qs.filter(status=wanted)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(MessageSerializer(page, many=True).data)


class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Messages, outbound and inbound; filter by provider_message_id, campaign, contact, direction, status."""

    queryset = Message.objects.all().order_by("-id")
    serializer_class = MessageSerializer
    filterset_class = MessageFilter
    search_fields = []
    ordering_fields = ["id", "created_at"]


OverviewResponse = inline_serializer("StatsOverview", {
    "from": serializers.DateField(), "to": serializers.DateField(),
    "days": serializers.ListField(child=serializers.DateField()),
    "by_channel": serializers.DictField(child=serializers.ListField(child=serializers.IntegerField())),
    "by_account": serializers.DictField(child=serializers.ListField(child=serializers.IntegerField())),
    "delivery_rate": serializers.ListField(child=serializers.FloatField(allow_null=True)),
    "read_rate": serializers.ListField(child=serializers.FloatField(allow_null=True)),
    "totals": serializers.DictField(), "previous": serializers.DictField(), "change": serializers.DictField(),
    "campaigns": serializers.ListField(child=serializers.DictField()),
})  # fmt: skip


class OverviewQuery(serializers.Serializer):
    to = serializers.DateField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = serializers.DateField(required=False)  # a Python keyword: added by name
        return fields

    def validate(self, attrs):
        today = timezone.localdate()
        end = attrs.get("to") or today
        start = attrs.get("from") or end - dt.timedelta(days=29)
        if start > end:
            raise ValidationError({"from": [_("The start must be on or before the end.")]})
        if (end - start).days > 366:
            raise ValidationError({"from": [_("Choose at most a year.")]})
        if start.year < 2000 or end.year > 2100:
            raise ValidationError({"from": [_("Choose dates between 2000 and 2100.")]})
        return {"from": start, "to": end}


class StatsOverviewView(APIView):
    """Messages per day by channel and account, delivery and read rates, totals vs the previous period."""

    permission_classes = [CampaignPermission]
    queryset = Campaign.objects.none()  # for the permission class: view_campaign

    @extend_schema(
        parameters=[OpenApiParameter("from", dt.date), OpenApiParameter("to", dt.date)],
        responses=OverviewResponse,
    )
    def get(self, request):
        query = OverviewQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        return Response(stats.overview(query.validated_data["from"], query.validated_data["to"]))


def register(router):
    """Add this app's viewsets to the project router."""
    router.register("campaigns", CampaignViewSet, basename="campaign")
    router.register("messages", MessageViewSet, basename="message")

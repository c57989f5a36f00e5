"""GET /api/webhook-events/ and POST /api/webhook-events/{id}/reprocess/; register(router) adds them."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from contacts.permissions import RolePermission

from .drain import reprocess_webhook_events
from .models import WebhookEvent


class WebhookEventSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=WebhookEvent.Status.choices, read_only=True)

    class Meta:
        model = WebhookEvent
        fields = ["id", "account", "provider", "event_type", "status", "error", "received_at", "processed_at"]
        read_only_fields = fields


class WebhookEventFilter(django_filters.FilterSet):
    account = django_filters.NumberFilter(field_name="account_id", min_value=1, max_value=2**63 - 1)
    status = django_filters.ChoiceFilter(choices=WebhookEvent.Status.choices)
    event_type = django_filters.CharFilter(max_length=100)

    class Meta:
        model = WebhookEvent
        fields = ["account", "status", "event_type"]


class CanReprocess(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("messaging.change_webhookevent"))


class WebhookEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every request providers made to our webhook URLs, newest first (the raw payload is in the admin)."""

    serializer_class = WebhookEventSerializer
    queryset = WebhookEvent.objects.all().order_by("-id")
    filterset_class = WebhookEventFilter
    search_fields = []
    ordering_fields = ["id", "received_at", "processed_at"]

    def get_permissions(self):
        if self.action == "reprocess":
            return [permissions.IsAuthenticated(), CanReprocess()]
        return [RolePermission()]

    @extend_schema(
        request=None,
        responses={
            202: WebhookEventSerializer,
            409: inline_serializer("NotReprocessed", {"detail": serializers.CharField()}),
        },
    )
    @action(detail=True, methods=["post"])
    def reprocess(self, request, pk=None):
        """Queue the event to be processed again (refused requests and duplicates never are)."""
        event = self.get_object()
        queued, _skipped = reprocess_webhook_events(WebhookEvent.objects.filter(pk=event.pk))
        if not queued:
            return Response(
                {"detail": "A refused or malformed request, or a duplicate, is never applied."},
                status=status.HTTP_409_CONFLICT,
            )
        event.refresh_from_db()
        return Response(self.get_serializer(event).data, status=status.HTTP_202_ACCEPTED)


def register(router):
    router.register("webhook-events", WebhookEventViewSet, basename="webhook-event")

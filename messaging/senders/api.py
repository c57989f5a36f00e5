"""REST API for senders: what a campaign's `sender` may be, per account and channel.

GET /api/senders/?account=<id>&channel=sms&active=true and /api/senders/{id}/ (read-only:
senders are pulled from providers or added by Managers in the admin). Reading needs
messaging.view_sender (every role). `address` is the value to give as a campaign's `sender`.
"""

from __future__ import annotations

import django_filters
from rest_framework import mixins, serializers, viewsets

from contacts.permissions import RolePermission

from .models import Sender


class SenderSerializer(serializers.ModelSerializer):
    class Meta:
        model = Sender
        fields = ["id", "account", "channel", "address", "label", "active", "source", "provider_status",
                  "last_seen_at"]  # fmt: skip
        read_only_fields = fields


class SenderFilter(django_filters.FilterSet):
    """?account=<id>&channel=<channel>&active=true; a malformed value is a 400 that says so."""

    account = django_filters.NumberFilter(field_name="account_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = Sender
        fields = ["account", "channel", "active", "source"]


class SenderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The accounts' senders; a campaign's `sender` is one of these `address`es (same account and channel)."""

    queryset = Sender.objects.order_by("account_id", "channel", "label", "address")
    serializer_class = SenderSerializer
    permission_classes = [RolePermission]
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = SenderFilter

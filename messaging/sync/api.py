"""REST API for sync: start a run on an account, read runs with their counts and problems.

POST /api/provider-accounts/{id}/sync/  {"resource": "all", "direction": "both"} → 202 {"id": …}
GET  /api/sync-runs/ and /api/sync-runs/{id}/

Starting a sync needs messaging.add_syncrun (Managers); reading runs needs view_syncrun.
"""

from __future__ import annotations

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from contacts.permissions import RolePermission
from messaging.models import ProviderAccount

from .models import SyncError, SyncRun
from .services import start_sync


class SyncErrorSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncError
        fields = ["level", "kind", "remote_id", "local_id", "message", "created_at"]


class SyncRunSerializer(serializers.ModelSerializer):
    # Account names are Manager-only (accounts are); others get null here.
    account_name = serializers.SerializerMethodField()
    http_log_correlation = serializers.CharField(source="correlation", read_only=True)

    class Meta:
        model = SyncRun
        fields = [
            "id", "account", "account_name", "resource", "direction", "trigger", "status", "created_at",
            "started_at", "finished_at", *SyncRun.COUNTS, "attempts", "error", "http_log_correlation",
        ]  # fmt: skip
        read_only_fields = fields

    def get_account_name(self, obj) -> str | None:
        from contacts.roles import is_manager

        request = self.context.get("request")
        return obj.account.name if request is not None and is_manager(request.user) else None


class SyncRunDetailSerializer(SyncRunSerializer):
    problems = serializers.SerializerMethodField()

    class Meta(SyncRunSerializer.Meta):
        fields = [*SyncRunSerializer.Meta.fields, "problems"]
        read_only_fields = fields

    def get_problems(self, obj) -> list[dict]:
        return SyncErrorSerializer(obj.problems.all()[:500], many=True).data


class SyncRunFilter(django_filters.FilterSet):
    """?account=<id>&status=…&resource=…; a malformed value is a 400 that says so."""

    account = django_filters.NumberFilter(field_name="account_id", min_value=1, max_value=2**63 - 1)

    class Meta:
        model = SyncRun
        fields = ["account", "status", "resource"]


class SyncRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sync runs, newest first; filter with ?account=<id>&status=<status>."""

    queryset = SyncRun.objects.select_related("account")
    permission_classes = [RolePermission]
    lookup_value_regex = r"[0-9]{1,18}"
    filterset_class = SyncRunFilter

    def get_serializer_class(self):
        return SyncRunDetailSerializer if self.action == "retrieve" else SyncRunSerializer



class CanStartSync(permissions.BasePermission):
    def has_permission(self, request, view):
        return bool(request.user and request.user.has_perm("messaging.add_syncrun"))


class StartSyncSerializer(serializers.Serializer):
    resource = serializers.ChoiceField(choices=SyncRun.Resource.choices, default="all")
    direction = serializers.ChoiceField(choices=SyncRun.Direction.choices, default="both")


class StartSyncView(APIView):
    """Start a sync of one account; answers 202 with the run id (an already running one: 200)."""

    permission_classes = [permissions.IsAuthenticated, CanStartSync]

    @extend_schema(
        request=StartSyncSerializer,
        responses={
            202: inline_serializer(
                "SyncStarted",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "started": serializers.BooleanField(),
                    "url": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request, pk: int):
        account = get_object_or_404(ProviderAccount, pk=pk)
        params = StartSyncSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        run, started = start_sync(
            account, params.validated_data["resource"], params.validated_data["direction"], trigger="api",
            user=request.user,
        )  # fmt: skip
        run.refresh_from_db()
        body = {
            "id": run.pk,
            "status": run.status,
            "started": started,
            "url": request.build_absolute_uri(f"/api/sync-runs/{run.pk}/"),
        }
        return Response(body, status=status.HTTP_202_ACCEPTED if started else status.HTTP_200_OK)


def register(router):
    """Add the sync-runs routes to a project router (messaging/sync/urls.py does this by itself)."""
    router.register("sync-runs", SyncRunViewSet, basename="sync-run")

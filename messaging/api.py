"""REST API for provider accounts and the provider registry; register(router) adds the routes.

Accounts are Manager-only, reads included: even an account's name, base URL and
health say which providers and numbers the company uses. Credentials are
write-only; responses say which keys are set (`credentials_set`), never a value.
Every write goes through messaging.services.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from . import services
from .models import ProviderAccount
from .providers.registry import get_registry
from .senders.services import pull_senders_later


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


class ManagesProviderAccounts(permissions.DjangoModelPermissions):
    """Every method needs change_provideraccount (reads too); adding and deleting need theirs as well."""

    perms_map = {
        "GET": ["%(app_label)s.change_%(model_name)s"],
        "HEAD": ["%(app_label)s.change_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.change_%(model_name)s"],
        "POST": ["%(app_label)s.add_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
        "PUT": ["%(app_label)s.change_%(model_name)s"],
        "PATCH": ["%(app_label)s.change_%(model_name)s"],
        "DELETE": ["%(app_label)s.delete_%(model_name)s", "%(app_label)s.change_%(model_name)s"],
    }


class ProviderAccountSerializer(serializers.ModelSerializer):
    provider = serializers.CharField(help_text="A slug from /api/providers/.")
    credentials = serializers.DictField(
        write_only=True, required=False, help_text='Secrets, e.g. {"api_key": "…"}. Never returned.'
    )
    webhook_secret = serializers.CharField(write_only=True, required=False, allow_blank=True)
    settings = serializers.DictField(required=False, help_text="Non-secret ids: sender, phone_number_id, …")
    provider_name = serializers.SerializerMethodField()
    effective_base_url = serializers.CharField(read_only=True)
    credentials_set = serializers.SerializerMethodField()
    webhook_secret_set = serializers.SerializerMethodField()
    health = serializers.SerializerMethodField()
    balance = serializers.SerializerMethodField()
    capabilities = serializers.SerializerMethodField()
    webhook_url = serializers.CharField(read_only=True, help_text="Give this URL to the provider (issue 11).")

    class Meta:
        model = ProviderAccount
        fields = [
            "id", "provider", "provider_name", "name", "base_url", "effective_base_url", "credentials",
            "credentials_set", "webhook_secret", "webhook_secret_set", "settings", "is_active",
            "conflict_policy", "delete_policy", "sync_interval_minutes", "health", "balance",
            "capabilities", "webhook_url", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        # The service checks uniqueness and says so in words; DRF's own validator would run first.
        extra_kwargs = {"name": {"validators": []}}

    def get_provider_name(self, obj) -> str:
        return obj.provider_class.display_name

    def get_credentials_set(self, obj) -> list[str]:
        return obj.credential_keys()

    def get_webhook_secret_set(self, obj) -> bool:
        return bool(obj.webhook_secret)

    def get_health(self, obj) -> dict:
        return {
            "healthy": obj.healthy,
            "text": services.health_text(obj),
            "last_success_at": obj.last_success_at,
            "last_error_at": obj.last_error_at,
            "last_error": obj.last_error,
            "consecutive_failures": obj.consecutive_failures,
        }

    def get_balance(self, obj) -> dict:
        return {"text": obj.balance_text, "checked_at": obj.balance_checked_at}

    def get_capabilities(self, obj) -> dict:
        return obj.provider_class.capabilities.as_dict()

    def validate(self, attrs):
        # Provider, credentials and settings are checked by the service, all at once.
        return attrs

    def create(self, validated_data):
        try:
            account = services.create_account(**validated_data)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        pull_senders_later(account, trigger="api")
        return account

    def update(self, instance, validated_data):
        try:
            account = services.update_account(instance, **validated_data)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        pull_senders_later(account, trigger="api")
        return account


ConnectionResultSerializer = inline_serializer(
    "ConnectionResult",
    {
        "ok": serializers.BooleanField(),
        "status": serializers.CharField(),
        "detail": serializers.CharField(),
        "balance": serializers.CharField(allow_null=True),
    },
)


WebhookUrlSerializer = inline_serializer("WebhookUrl", {"webhook_url": serializers.CharField()})


class ProviderAccountViewSet(viewsets.ModelViewSet):
    """Provider accounts (Managers only). Credentials are write-only."""

    serializer_class = ProviderAccountSerializer
    permission_classes = [ManagesProviderAccounts]
    queryset = ProviderAccount.objects.all()
    filterset_fields = ["provider", "is_active"]
    search_fields = ["name"]
    ordering_fields = ["name", "provider", "created_at", "consecutive_failures"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def perform_destroy(self, instance):
        services.delete_account(instance)

    @extend_schema(request=None, responses=ConnectionResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Test the connection now and record the account's health."""
        result = services.test_connection(self.get_object())
        return Response(result.as_dict(), status=status.HTTP_200_OK)

    @extend_schema(request=None, responses=WebhookUrlSerializer)
    @action(detail=True, methods=["post"], url_path="rotate-webhook-token")
    def rotate_webhook_token(self, request, pk=None):
        """A new /hooks/ URL for this account; the old one answers 404 from now on."""
        from .webhooks.services import rotate_webhook_token

        account = self.get_object()
        rotate_webhook_token(account)
        return Response({"webhook_url": account.webhook_url}, status=status.HTTP_200_OK)


class ProviderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The installed providers: what each can do and which credentials and settings it needs."""

    permission_classes = [permissions.IsAuthenticated]
    pagination_class = None
    lookup_field = "slug"
    lookup_value_regex = r"[\w-]+"
    filter_backends = []

    def get_queryset(self):  # not a model; here for the schema generator
        return []

    @extend_schema(responses=inline_serializer("Provider", {"slug": serializers.CharField()}, many=True))
    def list(self, request):
        return Response([cls.describe() for cls in get_registry().values()])

    @extend_schema(responses=inline_serializer("ProviderDetail", {"slug": serializers.CharField()}))
    def retrieve(self, request, slug=None):
        try:
            cls = services.resolve_provider(slug)
        except DjangoValidationError as exc:
            return Response(exc.message_dict, status=status.HTTP_404_NOT_FOUND)
        return Response(cls.describe())


def register(router):
    """Add this app's viewsets to the project router."""
    router.register("provider-accounts", ProviderAccountViewSet, basename="provider-account")
    router.register("providers", ProviderViewSet, basename="provider")
    from .templating import api as templating_api  # issue 9: /api/templates/

    templating_api.register(router)
    from .webhooks.api import register as register_webhooks

    register_webhooks(router)

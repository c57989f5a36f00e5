"""REST API for message templates: /api/templates/ and POST /api/templates/{id}/submit/.

Viewer reads; Editor writes and submits (model permissions on MessageTemplate). Rules live in
validation.py (through MessageTemplate.clean); every write goes through services.py.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from messaging.models import ProviderAccount

from . import services
from .models import MessageTemplate, TemplateLink
from .validation import BODY_MAX, FOOTER_MAX

EDITABLE = [
    "name", "kind", "language", "category", "header", "body", "footer", "buttons", "rcs_type",
    "card_orientation", "cards", "sms_fallback", "samples",
]  # fmt: skip


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({f: [str(m) for m in msgs] for f, msgs in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


class TemplateStatusSerializer(serializers.ModelSerializer):
    account_name = serializers.CharField(source="account.name", read_only=True)
    provider = serializers.CharField(source="account.provider", read_only=True)
    updated_at = serializers.DateTimeField(source="status_changed_at", read_only=True)

    class Meta:
        model = TemplateLink
        fields = ["account", "account_name", "provider", "status", "reason", "remote_id", "updated_at"]
        read_only_fields = fields


class HeaderSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["none", "text", "image", "video", "document"], default="none")
    text = serializers.CharField(required=False, allow_blank=True, max_length=200)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ButtonSerializer(serializers.Serializer):
    type = serializers.CharField(
        max_length=30,
        help_text="quick_reply | url | phone_number | copy_code (RCS: reply | url | dial | location | calendar)",
    )
    text = serializers.CharField(required=False, allow_blank=True, max_length=200)
    url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    phone_number = serializers.CharField(required=False, allow_blank=True, max_length=30)
    example = serializers.CharField(required=False, allow_blank=True, max_length=200)
    query = serializers.CharField(required=False, allow_blank=True, max_length=200)
    latitude = serializers.FloatField(required=False, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, min_value=-180, max_value=180)
    title = serializers.CharField(required=False, allow_blank=True, max_length=200)
    start = serializers.CharField(required=False, allow_blank=True, max_length=40)
    end = serializers.CharField(required=False, allow_blank=True, max_length=40)


class CardSerializer(serializers.Serializer):
    title = serializers.CharField(required=False, allow_blank=True, max_length=400)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    media_url = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    suggestions = ButtonSerializer(many=True, required=False)


class MessageTemplateSerializer(serializers.ModelSerializer):
    header = HeaderSerializer(required=False)
    body = serializers.CharField(required=False, allow_blank=True, max_length=BODY_MAX * 4)
    footer = serializers.CharField(required=False, allow_blank=True, max_length=FOOTER_MAX * 4)
    buttons = ButtonSerializer(many=True, required=False, max_length=50)
    cards = CardSerializer(many=True, required=False, max_length=20)
    samples = serializers.DictField(
        child=serializers.CharField(max_length=500, allow_blank=True), required=False,
        help_text='A sample value per variable, e.g. {"first_name": "Maria"} (WhatsApp requires them).',
    )  # fmt: skip
    sms_fallback = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    variables = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Derived from the text."
    )
    statuses = TemplateStatusSerializer(source="links", many=True, read_only=True)
    confirm_replace = serializers.BooleanField(
        write_only=True, required=False, default=False,
        help_text="On update: allow delete + create on providers that cannot edit templates.",
    )  # fmt: skip

    class Meta:
        model = MessageTemplate
        fields = ["id", *EDITABLE, "variables", "statuses", "created_at", "updated_at", "confirm_replace"]
        read_only_fields = ["created_at", "updated_at"]
        validators = []  # the name+language uniqueness is reported by full_clean, on the name

    def validate(self, attrs):
        data = {k: v for k, v in attrs.items() if k != "confirm_replace"}
        for key in ("buttons", "cards"):
            if key in data:
                data[key] = [_plain(item) for item in data[key]]
        if "header" in data:
            data["header"] = _plain(data["header"])
        probe = (
            MessageTemplate(**{f: getattr(self.instance, f) for f in EDITABLE})
            if self.instance
            else MessageTemplate()
        )
        if self.instance:
            probe.pk = self.instance.pk
        for key, value in data.items():
            setattr(probe, key, value)
        try:
            probe.clean()  # validation.py's rules and the name + language check
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
        attrs.update(data)
        return attrs


def _plain(value):
    """OrderedDicts from nested serializers → plain JSON, blanks dropped."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v not in ("", None)}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class SubmitSerializer(serializers.Serializer):
    accounts = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), min_length=1, max_length=50,
        help_text="Provider account ids (only accounts whose provider holds this kind of template).",
    )  # fmt: skip
    confirm_replace = serializers.BooleanField(required=False, default=False)


OUTCOME = inline_serializer(
    "TemplateSubmitOutcome",
    {
        "account": serializers.IntegerField(), "account_name": serializers.CharField(),
        "provider": serializers.CharField(), "ok": serializers.BooleanField(), "status": serializers.CharField(),
        "reason": serializers.CharField(), "remote_id": serializers.CharField(), "detail": serializers.CharField(),
    },
)  # fmt: skip
OUTCOMES = inline_serializer(
    "TemplateSubmitResult",
    {"template": serializers.IntegerField(), "results": serializers.ListField(child=OUTCOME)},
)


class MessageTemplateViewSet(viewsets.ModelViewSet):
    """Message templates (WhatsApp, RCS, SMS) with their status on every account."""

    serializer_class = MessageTemplateSerializer
    search_fields = ["name", "body"]
    ordering_fields = ["name", "language", "updated_at"]
    filterset_fields = ["kind", "language", "category"]

    def get_queryset(self):
        return MessageTemplate.objects.prefetch_related(
            Prefetch("links", queryset=TemplateLink.objects.select_related("account"))
        ).order_by("name", "language", "pk")

    def perform_create(self, serializer):
        data = {k: v for k, v in serializer.validated_data.items() if k != "confirm_replace"}
        try:
            serializer.instance = services.create_template(data, user=self.request.user)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        confirm = data.pop("confirm_replace", False)
        try:
            serializer.instance, _outcomes = services.update_template(
                serializer.instance, data, confirm_replace=confirm
            )
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc

    def destroy(self, request, *args, **kwargs):
        template = self.get_object()
        try:
            services.delete_template(template, force=request.query_params.get("force") in ("1", "true"))
        except services.TemplateInUse as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=SubmitSerializer, responses={200: OUTCOMES})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """Send the template for approval to the given accounts; one outcome per account."""
        template = self.get_object()
        params = SubmitSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        wanted = list(dict.fromkeys(params.validated_data["accounts"]))
        offered = {a.pk: a for a in services.accounts_for(template)}
        unknown = [i for i in wanted if i not in offered]
        if unknown:
            known = set(ProviderAccount.objects.filter(pk__in=unknown).values_list("pk", flat=True))
            problems = [
                _("Account %(id)s cannot hold %(kind)s templates.") % {"id": i, "kind": template.get_kind_display()}
                if i in known else _("No account with id %(id)s.") % {"id": i}
                for i in unknown
            ]  # fmt: skip
            raise ValidationError({"accounts": problems})
        try:
            results = services.submit_template(
                template, [offered[i] for i in wanted], user=request.user,
                confirm_replace=params.validated_data["confirm_replace"],
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from exc
        return Response({"template": template.pk, "results": results})

    @extend_schema(request=None, responses={200: OUTCOMES})
    @action(detail=True, methods=["post"], url_path="sync")
    def sync_now(self, request, pk=None):
        """Pull this template's status from every account it was submitted to."""
        template = self.get_object()
        return Response({"template": template.pk, "results": services.sync_template_now(template)})


def register(router):
    router.register("templates", MessageTemplateViewSet, basename="messagetemplate")

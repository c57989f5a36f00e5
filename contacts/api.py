"""REST API for contacts, lists, list members, custom fields and tags.

Serializers shape data; every write goes through contacts.services, whose
ValidationErrors become 400s naming the field and the reason.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from config.hardening import id_field, strict_char_field

from . import services
from .imports import api as imports_api
from .models import Contact, ContactList, CustomField, Membership, Tag


def as_drf_error(exc: DjangoValidationError) -> ValidationError:
    if hasattr(exc, "error_dict"):
        return ValidationError({field: [str(m) for m in msgs] for field, msgs in exc.message_dict.items()})
    return ValidationError({"non_field_errors": exc.messages})


# --- serializers -----------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    phone = serializers.CharField(help_text=_("Any human format; stored in E.164 (default country applies)."))
    # Written as names/ids; read back by to_representation from prefetched rows.
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, write_only=True)
    lists = serializers.ListField(child=id_field(), required=False, write_only=True, help_text=_("List ids"))
    secondary_phones = serializers.ListField(
        child=serializers.CharField(max_length=40),
        required=False,
        max_length=services.MAX_SECONDARY_PHONES,
        help_text=_("Other numbers, any human format; stored in E.164."),
    )
    fields = serializers.DictField(required=False, help_text=_("Custom field values by key"))
    country_hint = serializers.CharField(
        write_only=True,
        required=False,
        max_length=2,
        help_text=_("Parse the phone for this country (ISO code)."),
    )

    class Meta:
        model = Contact
        fields = [
            "id", "phone", "secondary_phones", "first_name", "last_name", "email", "language", "gender",
            "birth_date", "company", "address", "city", "province", "postal_code", "country", "notes",
            "fields", "tags", "lists", "opted_out", "opted_out_at", "opted_out_reason", "blocked",
            "created_at", "updated_at", "country_hint",
        ]  # fmt: skip
        read_only_fields = ["opted_out_at", "created_at", "updated_at"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        # Prefetched in the viewset: no query per row.
        data["tags"] = [t.name for t in instance.tags.all()]
        data["lists"] = [m.contact_list_id for m in instance.memberships.all()]
        return data

    def validate(self, attrs):
        # Model-level checks (phone, custom fields, lists) happen in the service, all at once.
        return attrs

    def create(self, validated_data):
        country = validated_data.pop("country_hint", None)
        try:
            return services.create_contact(validated_data, country=country, source="api")
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, instance, validated_data):
        country = validated_data.pop("country_hint", None)
        try:
            return services.update_contact(instance, validated_data, country=country)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class ContactListSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactList
        fields = ["id", "name", "description", "member_count", "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]

    def create(self, validated_data):
        request = self.context.get("request")
        try:
            contact_list = services.create_list(
                validated_data["name"], validated_data.get("description", ""),
                user=getattr(request, "user", None) if request and request.user.is_authenticated else None,
            )  # fmt: skip
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        contact_list.member_count = 0
        return contact_list


class MembersSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=id_field(), allow_empty=False, max_length=10000)


class CustomFieldSerializer(serializers.ModelSerializer):
    class Meta:
        model = CustomField
        fields = ["id", "key", "label", "type", "choices", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"key": {"required": False}}

    choices = serializers.ListField(
        child=strict_char_field(max_length=services.MAX_CHOICE_LENGTH),
        required=False,
        max_length=services.MAX_CHOICES,
        help_text=_("For 'choice' fields: the allowed values."),
    )

    def create(self, validated_data):
        try:
            return services.create_custom_field(**validated_data)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None

    def update(self, instance, validated_data):
        try:
            return services.update_custom_field(instance, **validated_data)
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None


class TagSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "contact_count", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"name": {"validators": []}}  # the service says "already exists" in words

    def create(self, validated_data):
        try:
            tag = services.create_tag(validated_data["name"])
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        tag.contact_count = 0
        return tag


# --- filters ------------------------------------------------------------------------------------


class ContactFilter(django_filters.FilterSet):
    list = django_filters.NumberFilter(
        field_name="memberships__contact_list", label=_("In list (id)"), min_value=1, max_value=2**63 - 1
    )
    tag = django_filters.CharFilter(field_name="tags__name", label=_("Has tag (name)"))
    language = django_filters.CharFilter()
    opted_out = django_filters.BooleanFilter()
    blocked = django_filters.BooleanFilter()
    updated_after = django_filters.IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    field = django_filters.CharFilter(
        method="filter_custom_field", label=_("Custom field value as key:value, e.g. tier:gold")
    )

    class Meta:
        model = Contact
        fields = ["list", "tag", "language", "opted_out", "blocked", "country", "gender"]

    def filter_custom_field(self, queryset, name, value):
        try:
            return services.filter_by_custom_field(queryset, value)
        except DjangoValidationError as exc:
            raise ValidationError({"field": exc.messages}) from None


# --- viewsets ------------------------------------------------------------------------------------


class ContactViewSet(viewsets.ModelViewSet):
    """Contacts. Search (`?search=`) matches names, email and phone in any format."""

    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    ordering_fields = ["id", "last_name", "first_name", "created_at", "updated_at", "phone"]
    ordering = ["-id"]
    search_fields = []  # replaced by services.search_contacts in filter_queryset

    def get_queryset(self):
        return Contact.objects.prefetch_related("tags", "memberships")

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        term = self.request.query_params.get("search", "")
        return services.search_contacts(queryset, term) if term else queryset

    def perform_destroy(self, instance):
        services.delete_contacts(Contact.objects.filter(pk=instance.pk))


class ContactListViewSet(viewsets.ModelViewSet):
    serializer_class = ContactListSerializer
    search_fields = ["name", "description"]
    ordering_fields = ["name", "created_at", "member_count"]
    ordering = ["name"]
    filterset_fields = ["name"]

    def get_queryset(self):
        return ContactList.objects.annotate(member_count=Count("memberships", filter=_live_members()))

    def perform_destroy(self, instance):
        from django.utils.translation import gettext

        from .usage import blocking_list_uses

        uses = blocking_list_uses([instance])  # e.g. a switched-on automation (issue 12)
        if uses:
            message = gettext("The list %(list)s cannot be deleted: it is used by %(uses)s.")
            raise serializers.ValidationError({"detail": message % {"list": instance.name, "uses": "; ".join(uses)}})
        instance.delete()

    @extend_schema(
        methods=["GET"], responses=ContactSerializer(many=True), description="The list's members, paginated."
    )
    @extend_schema(
        methods=["POST", "DELETE"],
        request=MembersSerializer,
        responses=inline_serializer(
            "MembersChanged",
            {
                "added": serializers.IntegerField(),
                "removed": serializers.IntegerField(),
                "member_count": serializers.IntegerField(),
            },
        ),
        description="POST adds the contacts with these ids; DELETE removes them.",
    )
    @action(detail=True, methods=["get", "post", "delete"])
    def members(self, request, pk=None):
        contact_list = self.get_object()
        if request.method == "GET":
            queryset = Contact.objects.filter(memberships__contact_list=contact_list).prefetch_related(
                "tags", "memberships"
            )
            term = request.query_params.get("search", "")
            queryset = services.search_contacts(queryset, term).order_by("last_name", "first_name", "id")
            page = self.paginate_queryset(queryset)
            return self.get_paginated_response(ContactSerializer(page, many=True).data)
        payload = MembersSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            if request.method == "POST":
                changed = {
                    "added": services.add_to_list(
                        contact_list, payload.validated_data["contacts"], source="api"
                    ),
                    "removed": 0,
                }
            else:
                changed = {
                    "added": 0,
                    "removed": services.remove_from_list(
                        contact_list, payload.validated_data["contacts"], source="api"
                    ),
                }
        except DjangoValidationError as exc:
            raise as_drf_error(exc) from None
        changed["member_count"] = Membership.objects.filter(
            contact_list=contact_list, contact__deleted_at__isnull=True
        ).count()
        return Response(changed, status=status.HTTP_200_OK)


def _live_members():
    from django.db.models import Q

    return Q(memberships__contact__deleted_at__isnull=True)


class CustomFieldViewSet(viewsets.ModelViewSet):
    queryset = CustomField.objects.all()
    serializer_class = CustomFieldSerializer
    search_fields = ["key", "label"]
    ordering_fields = ["label", "key", "created_at"]


class TagViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                 mixins.DestroyModelMixin, viewsets.GenericViewSet):  # fmt: skip
    serializer_class = TagSerializer
    search_fields = ["name"]
    ordering_fields = ["name", "created_at"]

    def get_queryset(self):
        return Tag.objects.annotate(contact_count=Count("contacts")).order_by("name")


def register(router):
    """Add this app's viewsets to the project router."""
    router.register("contacts", ContactViewSet, basename="contact")
    router.register("lists", ContactListViewSet, basename="contactlist")
    router.register("custom-fields", CustomFieldViewSet, basename="customfield")
    router.register("tags", TagViewSet, basename="tag")
    imports_api.register(router)  # /api/imports/, /api/exports/

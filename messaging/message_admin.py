"""Messages in the admin: read only (they are written by the sending and status services)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from contacts.pagination import EstimatedCountPaginator

from .message_models import Message


@admin.register(Message)
class MessageAdmin(ModelAdmin):
    list_display = ["phone", "direction", "channel", "status", "campaign", "account", "error", "created_at"]
    list_filter = ["direction", "status", "channel", "account"]
    search_fields = ["=phone", "=provider_message_id", "=reference"]
    list_select_related = ["campaign", "account"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    readonly_fields = [f.name for f in Message._meta.fields]
    raw_id_fields = ["contact", "campaign"]

    @admin.display(description=_("Error"))
    def error(self, obj):
        return obj.error

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

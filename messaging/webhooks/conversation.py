"""A contact's conversation: what they sent us and what we sent them, oldest first, on their page."""

from __future__ import annotations

from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from unfold.decorators import display

from ..message_models import Message

CONVERSATION_LIMIT = 50


def conversation_for(contact, limit: int = CONVERSATION_LIMIT) -> list[Message]:
    """The latest `limit` messages with this contact, both directions, oldest first (2 queries)."""
    rows = list(
        Message.objects.filter(contact=contact)
        .select_related("campaign", "account")
        .order_by("-created_at", "-id")[:limit]
    )
    return rows[::-1]


def _bubble(message: Message):
    inbound = message.direction == Message.Direction.INBOUND
    when = timezone.localtime(message.created_at).strftime("%Y-%m-%d %H:%M")
    if inbound:
        meta = gettext("%(when)s · received on %(account)s") % {"when": when, "account": message.account.name}
    else:
        meta = gettext("%(when)s · %(status)s") % {"when": when, "status": message.get_status_display()}
        if message.campaign_id:
            meta += " · " + gettext("campaign “%(name)s”") % {"name": message.campaign.name}
        if message.replied_at:
            meta += " · " + gettext("replied")
    text = message.text or (message.template_name and f"[{message.template_name}]") or "—"
    media = (
        (message.variables or {}).get("media_url", "")
        if inbound and isinstance(message.variables, dict)
        else ""
    )
    # Inline styles: unfold ships a precompiled stylesheet, so only classes it already uses exist.
    side = (
        "margin-right:auto;background:rgba(148,163,184,.18);border:1px solid rgba(148,163,184,.45)"
        if inbound
        else "margin-left:auto;background:rgba(59,130,246,.14);border:1px solid rgba(59,130,246,.35)"
    )
    return (side, "inbound" if inbound else "outbound", text, media or "", meta)


class ConversationAdminMixin:
    """Adds a read-only "Conversation" field (mixed into ContactAdmin)."""

    @display(description=_("Conversation"))
    def conversation(self, obj):
        messages = conversation_for(obj) if obj and obj.pk else []
        if not messages:
            return gettext("No messages yet.")
        bubbles = format_html_join(
            "",
            '<div class="rounded px-3 py-2 my-1" style="max-width:80%;{}" data-direction="{}"><div class="whitespace-pre-wrap">{}</div>'
            '<div class="text-xs break-all">{}</div><div class="text-xs text-gray-500">{}</div></div>',
            (_bubble(m) for m in messages),
        )
        return format_html('<div class="flex flex-col" data-testid="conversation">{}</div>', bubbles)

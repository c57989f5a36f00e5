"""The admin home: the counts staff look at first, each a link to the page behind it."""

from __future__ import annotations

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from localization.formatting import format_number

from .models import Contact, ContactList, CustomField, Tag
from .pagination import estimated_count


def _url(name: str, query: str = "") -> str:
    try:
        return reverse(name) + query
    except NoReverseMatch:
        return ""


def _count(queryset) -> str:
    value, exact = estimated_count(queryset)
    return format_number(value) if exact else _("about %(count)s") % {"count": format_number(value)}


def dashboard_callback(request, context):
    cards = [
        {"title": _("Contacts"), "value": _count(Contact.objects.all()), "url": _url("admin:contacts_contact_changelist"), "icon": "contacts"},
        {"title": _("Can be messaged"), "value": _count(Contact.objects.filter(opted_out=False, blocked=False)), "url": _url("admin:contacts_contact_changelist", "?status=active"), "icon": "mark_chat_read"},
        {"title": _("Opted out"), "value": _count(Contact.objects.filter(opted_out=True)), "url": _url("admin:contacts_contact_changelist", "?status=opted_out"), "icon": "unsubscribe"},
        {"title": _("Lists"), "value": format_number(ContactList.objects.count()), "url": _url("admin:contacts_contactlist_changelist"), "icon": "format_list_bulleted"},
        {"title": _("Tags"), "value": format_number(Tag.objects.count()), "url": _url("admin:contacts_tag_changelist"), "icon": "sell"},
        {"title": _("Custom fields"), "value": format_number(CustomField.objects.count()), "url": _url("admin:contacts_customfield_changelist"), "icon": "tune"},
    ]  # fmt: skip
    accounts = []
    # Accounts are Manager-only (their names, health and balance included), as in their admin.
    show_accounts = apps.is_installed("messaging") and request.user.has_perm("messaging.change_provideraccount")
    if show_accounts:
        ProviderAccount = apps.get_model("messaging", "ProviderAccount")
        for account in ProviderAccount.objects.all()[:10]:
            accounts.append(
                {
                    "name": account.name,
                    "provider": account.provider_class.display_name if account.provider else "",
                    "healthy": account.healthy,
                    "last_error": account.last_error,
                    "balance": account.balance_text,
                    "url": _account_url(account.pk),
                }
            )
    context.update({"cards": cards, "accounts": accounts, "show_accounts": show_accounts})
    if apps.is_installed("campaigns") and request.user.has_perm("campaigns.view_campaign"):
        from campaigns.dashboard import overview_context  # issue 10: the messaging overview

        context.update(overview_context(request))
    return context


def _account_url(pk: int) -> str:
    try:
        return reverse("admin:messaging_provideraccount_change", args=[pk])
    except NoReverseMatch:
        return ""

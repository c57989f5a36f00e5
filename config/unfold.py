"""The admin's look: django-unfold, with a sidebar grouped by what staff do."""

from functools import lru_cache

from django.conf import settings
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.functional import lazy
from django.utils.translation import gettext_lazy as _


@lru_cache(maxsize=512)
def _resolved(name: str, prefix: str, urlconf) -> str | None:
    # The URL configuration does not change while the process runs: resolve each name once
    # (the sidebar asked for ~50 reverse() per request before).
    try:
        return reverse(name, urlconf=urlconf)
    except NoReverseMatch:
        return None


def _url(name: str) -> str:
    # Later issues register their models; until then the entry points to the admin home.
    prefix, urlconf = get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF
    return _resolved(name, prefix, urlconf) or _resolved("admin:index", prefix, urlconf)


admin_url = lazy(_url, str)


def _exists(name: str) -> bool:
    return _resolved(name, get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF) is not None


def _can(perm: str, url_name: str | None = None):
    """Show an entry to people with `perm`, and only once its page exists (later issues add some)."""
    return lambda request: request.user.has_perm(perm) and (url_name is None or _exists(url_name))


UNFOLD = {
    "SITE_TITLE": "Switchboard",
    "SITE_HEADER": "Switchboard",
    "SITE_SUBHEADER": _("Contacts, lists and campaigns"),
    "SITE_SYMBOL": "hub",
    "SHOW_HISTORY": True,
    "SHOW_LANGUAGES": True,  # the language switcher in the user menu (localization.views.set_language)
    "SHOW_VIEW_ON_SITE": False,
    "DASHBOARD_CALLBACK": "contacts.dashboard.dashboard_callback",
    "COLORS": {
        "primary": {
            "50": "239 246 255",
            "100": "219 234 254",
            "200": "191 219 254",
            "300": "147 197 253",
            "400": "96 165 250",
            "500": "59 130 246",
            "600": "37 99 235",
            "700": "29 78 216",
            "800": "30 64 175",
            "900": "30 58 138",
            "950": "23 37 84",
        },
    },
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": [
            {
                "title": _("Contacts"),
                "separator": False,
                "items": [
                    {"title": _("Dashboard"), "icon": "dashboard", "link": admin_url("admin:index")},
                    {
                        "title": _("Contacts"),
                        "icon": "contacts",
                        "link": admin_url("admin:contacts_contact_changelist"),
                        "permission": _can("contacts.view_contact", "admin:contacts_contact_changelist"),
                    },
                    {
                        "title": _("Imports"),
                        "icon": "upload_file",
                        "link": admin_url("admin:contacts_contactimport_changelist"),
                        "permission": _can(
                            "contacts.view_contactimport", "admin:contacts_contactimport_changelist"
                        ),
                    },
                    {
                        "title": _("Exports"),
                        "icon": "download",
                        "link": admin_url("admin:contacts_contactexport_changelist"),
                        "permission": _can(
                            "contacts.view_contactexport", "admin:contacts_contactexport_changelist"
                        ),
                    },
                    {
                        "title": _("Custom fields"),
                        "icon": "tune",
                        "link": admin_url("admin:contacts_customfield_changelist"),
                        "permission": _can(
                            "contacts.view_customfield", "admin:contacts_customfield_changelist"
                        ),
                    },
                    {
                        "title": _("Tags"),
                        "icon": "sell",
                        "link": admin_url("admin:contacts_tag_changelist"),
                        "permission": _can("contacts.view_tag", "admin:contacts_tag_changelist"),
                    },
                ],
            },
            {
                "title": _("Lists"),
                "separator": True,
                "items": [
                    {
                        "title": _("Lists"),
                        "icon": "format_list_bulleted",
                        "link": admin_url("admin:contacts_contactlist_changelist"),
                        "permission": _can(
                            "contacts.view_contactlist", "admin:contacts_contactlist_changelist"
                        ),
                    },
                ],
            },
            {
                "title": _("Templates"),
                "separator": True,
                "items": [
                    {
                        "title": _("Message templates"),
                        "icon": "description",
                        "link": admin_url("admin:messaging_messagetemplate_changelist"),
                        "permission": _can(
                            "messaging.view_messagetemplate", "admin:messaging_messagetemplate_changelist"
                        ),
                    },
                ],
            },
            {
                "title": _("Campaigns"),
                "separator": True,
                "items": [
                    {
                        "title": _("Campaigns"),
                        "icon": "campaign",
                        "link": admin_url("admin:campaigns_campaign_changelist"),
                        "permission": _can("campaigns.view_campaign", "admin:campaigns_campaign_changelist"),
                    },
                ],
            },
            {
                "title": _("Automations"),
                "separator": True,
                "items": [
                    {
                        "title": _("Automations"),
                        "icon": "bolt",
                        "link": admin_url("admin:automations_automation_changelist"),
                        "permission": _can(
                            "automations.view_automation", "admin:automations_automation_changelist"
                        ),
                    },
                    {
                        "title": _("Runs"),
                        "icon": "history",
                        "link": admin_url("admin:automations_automationrun_changelist"),
                        "permission": _can(
                            "automations.view_automationrun", "admin:automations_automationrun_changelist"
                        ),
                    },
                    {
                        "title": _("Spoki automations"),
                        "icon": "account_tree",
                        "link": admin_url("admin:automations_providerautomation_changelist"),
                        "permission": _can(
                            "automations.view_providerautomation",
                            "admin:automations_providerautomation_changelist",
                        ),
                    },
                ],
            },
            {
                "title": _("Providers"),
                "separator": True,
                "items": [
                    {
                        "title": _("Provider accounts"),
                        "icon": "hub",
                        "link": admin_url("admin:messaging_provideraccount_changelist"),
                        "permission": _can(
                            "messaging.change_provideraccount", "admin:messaging_provideraccount_changelist"
                        ),
                    },
                    {
                        "title": _("Senders"),
                        "icon": "outgoing_mail",
                        "link": admin_url("admin:messaging_sender_changelist"),
                        "permission": _can("messaging.view_sender", "admin:messaging_sender_changelist"),
                    },
                    {
                        "title": _("Sync runs"),
                        "icon": "sync",
                        "link": admin_url("admin:messaging_syncrun_changelist"),
                        "permission": _can("messaging.view_syncrun", "admin:messaging_syncrun_changelist"),
                    },
                    {
                        "title": _("Webhook events"),
                        "icon": "webhook",
                        "link": admin_url("admin:messaging_webhookevent_changelist"),
                        "permission": _can(
                            "messaging.view_webhookevent", "admin:messaging_webhookevent_changelist"
                        ),
                    },
                    {
                        "title": _("HTTP log"),
                        "icon": "receipt_long",
                        "link": admin_url("admin:messaging_httplog_changelist"),
                        "permission": _can("messaging.view_httplog", "admin:messaging_httplog_changelist"),
                    },
                ],
            },
            {
                "title": _("People"),
                "separator": True,
                "items": [
                    {
                        "title": _("Users"),
                        "icon": "person",
                        "link": admin_url("admin:auth_user_changelist"),
                        "permission": _can("auth.view_user", "admin:auth_user_changelist"),
                    },
                    {
                        "title": _("Roles"),
                        "icon": "group",
                        "link": admin_url("admin:auth_group_changelist"),
                        "permission": _can("auth.view_group", "admin:auth_group_changelist"),
                    },
                ],
            },
        ],
    },
}

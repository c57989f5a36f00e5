"""Who may open what: every URL pattern of the admin and the API, for every role, GET and POST.

The test walks the project's URL resolver, so a view added later is found automatically; a
pattern that no row of MATRIX describes fails the test. Each request is sent as anonymous,
no-role staff, Viewer, Editor and Manager and judged:

    ok       — anything else (and never a 5xx)
    refused  — 401, 403, 404, 405, a redirect to the login page, or the admin's "not found"
               redirect to its index

Routes outside admin/ and api/ are walked when their prefix is in WALKED.
A row lists the roles that must get "ok"; every other role must be refused. Each request runs
in a savepoint that is rolled back, so a POST (a delete, an action) cannot change what the next
role sees.

How to add rows (the only thing a new view needs)
-------------------------------------------------
MATRIX maps a URL name (with its namespace: "admin:…" for the admin; API route names have
none) or, for unnamed patterns, the route itself, to a Row. Keys may be fnmatch patterns
("admin:campaigns_campaign_*"); an exact key beats a pattern and a longer pattern beats a
shorter one. Add your app's rows as one dict and merge it into MATRIX below, e.g.:

    CAMPAIGNS = {
        **model_admin_rows("campaigns", "campaign"),            # the five standard admin pages
        "admin:campaigns_campaign_send": Row(get=NOBODY, post=EDIT),
        "campaign-list": Row(get=READ, post=EDIT, model="campaigns.campaign"),
        "campaign-detail": Row(get=READ, post=NOBODY, model="campaigns.campaign"),
    }

`model` names the model whose sample row fills `pk`/`object_id` (admin rows find it from the
path). Sample rows come from SAMPLES (add a factory there) or, failing that, the first row in
the database. `kwargs` gives other URL arguments (e.g. {"slug": "sandbox"}); `skip="why"` leaves a
pattern out (say why). Run:  .venv/bin/pytest tests/test_permission_matrix.py -q
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

ANON, NOROLE, VIEWER, EDITOR, MANAGER = "anonymous", "norole", "viewer", "editor", "manager"
ROLES = (ANON, NOROLE, VIEWER, EDITOR, MANAGER)
EVERYONE = frozenset(ROLES)
STAFF = frozenset({NOROLE, VIEWER, EDITOR, MANAGER})
READ = frozenset({VIEWER, EDITOR, MANAGER})
EDIT = frozenset({EDITOR, MANAGER})
MGR = frozenset({MANAGER})
NOBODY = frozenset()


@dataclass(frozen=True)
class Row:
    get: frozenset = NOBODY
    post: frozenset = NOBODY
    model: str | None = None  # "app_label.model" whose sample fills pk / object_id
    kwargs: dict = field(default_factory=dict)
    query: str = ""  # e.g. "account={messaging.provideraccount}": {model} becomes its sample's pk
    data: dict = field(default_factory=dict)  # the POST body (empty by default)
    skip: str = ""


def model_admin_rows(app, model, *, view=READ, add=EDIT, change=EDIT, delete=EDIT):
    """The standard admin pages of one model (changelist, add, change, delete, history)."""
    prefix = f"admin:{app}_{model}"
    return {
        f"{prefix}_changelist": Row(get=view, post=view),  # POST without an action just renders the list
        f"{prefix}_add": Row(get=add, post=add),
        f"{prefix}_change": Row(get=view, post=change),
        f"{prefix}_delete": Row(get=delete, post=delete),
        f"{prefix}_history": Row(get=view, post=view),
    }


def api_rows(basename, model, *, read=READ, write=EDIT, detail_post=NOBODY):
    """A DRF router's list and detail routes."""
    return {
        f"{basename}-list": Row(get=read, post=write, model=model),
        f"{basename}-detail": Row(get=read, post=detail_post, model=model),
    }


ADMIN_SITE = {
    "admin:index": Row(get=STAFF, post=STAFF),
    "admin:login": Row(get=frozenset({ANON}), post=EVERYONE),  # logged-in staff are sent to the index
    "admin:logout": Row(get=NOBODY, post=STAFF),  # POST only
    "admin:password_change": Row(get=STAFF, post=STAFF),
    "admin:password_change_done": Row(get=STAFF, post=NOBODY),
    "admin:jsi18n": Row(get=STAFF, post=NOBODY),
    "admin:search": Row(get=STAFF, post=STAFF),
    "admin:autocomplete": Row(skip="needs app_label/model_name/field_name; Django checks them per request"),
    "admin:view_on_site": Row(skip="no model here has get_absolute_url"),
    "admin:app_list": Row(get=READ, post=READ, kwargs={"app_label": "contacts"}),
    "admin/(?P<url>.*)$": Row(get=NOBODY, post=NOBODY, kwargs={"url": "no-such-page/"}),
    # Django's "<object_id>/" → "<object_id>/change/" redirect, for any logged-in staff.
    "admin/*/<path:object_id>/": Row(get=STAFF, post=STAFF),
}

AUTH = {
    **model_admin_rows("auth", "user", view=MGR, add=MGR, change=MGR, delete=MGR),
    "admin:auth_user_password_change": Row(get=MGR, post=MGR, model="auth.user"),
    **model_admin_rows("auth", "group", view=MGR, add=MGR, change=MGR, delete=MGR),
    **model_admin_rows("authtoken", "tokenproxy", view=MGR, add=MGR, change=MGR, delete=MGR),
}

# django-axes: login attempts and lockouts; Managers lift a lockout by deleting the attempt.
AXES = {}
for _m in ("accessattempt", "accesslog", "accessfailurelog"):
    AXES.update(model_admin_rows("axes", _m, view=MGR, add=NOBODY, change=MGR, delete=MGR))

BEAT = {}
for _m in ("periodictask", "clockedschedule", "crontabschedule", "solarschedule", "intervalschedule"):
    BEAT.update(model_admin_rows("django_celery_beat", _m, view=READ, add=MGR, change=MGR, delete=MGR))

CONTACTS = {
    **model_admin_rows("contacts", "contact"),
    "admin:contacts_contact_import_contacts": Row(get=EDIT, post=EDIT),
    "admin:contacts_contact_export_all": Row(get=EDIT, post=EDIT),
    **model_admin_rows("contacts", "contactlist"),
    "admin:contacts_contactlist_members": Row(get=READ, post=EDIT, model="contacts.contactlist"),
    "admin:contacts_contactlist_open_members": Row(get=READ, post=READ),
    "admin:contacts_contactlist_export_list": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactlist_sync_now": Row(get=MGR, post=MGR),
    **model_admin_rows("contacts", "customfield"),
    **model_admin_rows("contacts", "tag"),
    # Imports and exports: the sample rows belong to the Editor; Managers see everyone's.
    **model_admin_rows("contacts", "contactimport", view=READ, change=NOBODY),
    "admin:contacts_contactimport_change": Row(get=EDIT, post=EDIT),  # redirects to the owner's progress
    "admin:contacts_contactimport_history": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactimport_upload": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactimport_map": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_preview": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_progress": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_status": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_rejected": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_warnings": Row(get=EDIT, post=EDIT, model="contacts.contactimport"),
    "admin:contacts_contactimport_resume": Row(get=NOBODY, post=EDIT, model="contacts.contactimport"),
    **model_admin_rows("contacts", "contactexport", view=READ, add=EDIT, change=NOBODY),
    "admin:contacts_contactexport_change": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactexport_history": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactexport_start": Row(get=EDIT, post=EDIT),
    "admin:contacts_contactexport_progress": Row(get=EDIT, post=EDIT, model="contacts.contactexport"),
    "admin:contacts_contactexport_status": Row(get=EDIT, post=EDIT, model="contacts.contactexport"),
    "admin:contacts_contactexport_download": Row(get=EDIT, post=EDIT, model="contacts.contactexport"),
    # API
    **api_rows("contact", "contacts.contact"),
    **api_rows("contactlist", "contacts.contactlist"),
    "contactlist-members": Row(get=READ, post=EDIT, model="contacts.contactlist"),
    **api_rows("customfield", "contacts.customfield"),
    **api_rows("tag", "contacts.tag"),
    "contactimport-list": Row(get=READ, post=EDIT, model="contacts.contactimport"),
    "contactimport-detail": Row(get=EDIT, post=NOBODY, model="contacts.contactimport"),
    "contactimport-rejected": Row(get=EDIT, post=NOBODY, model="contacts.contactimport"),
    "contactimport-warnings-report": Row(get=EDIT, post=NOBODY, model="contacts.contactimport"),
    "contactimport-start": Row(get=NOBODY, post=EDIT, model="contacts.contactimport"),
    "contactexport-list": Row(get=EDIT, post=EDIT, model="contacts.contactexport"),
    "contactexport-detail": Row(get=EDIT, post=NOBODY, model="contacts.contactexport"),
    "contactexport-download": Row(get=EDIT, post=NOBODY, model="contacts.contactexport"),
}

MESSAGING = {
    **model_admin_rows("messaging", "provideraccount", view=MGR, add=MGR, change=MGR, delete=MGR),
    # GET asks to confirm; only the POST tests (it records health).
    "admin:messaging_provideraccount_test_connection_detail": Row(get=MGR, post=MGR),
    "admin:messaging_provideraccount_sync_now": Row(get=MGR, post=MGR),
    **model_admin_rows("messaging", "httplog", view=READ, add=NOBODY, change=NOBODY, delete=MGR),
    **model_admin_rows("messaging", "syncrun", view=READ, add=NOBODY, change=NOBODY, delete=MGR),
    "admin:messaging_syncrun_start": Row(get=MGR, post=MGR, query="account={messaging.provideraccount}"),
    **model_admin_rows("messaging", "syncconflict", view=READ, add=NOBODY, change=MGR, delete=NOBODY),
    # Senders (issue 10): everyone reads them (campaign forms name them); Managers add, change, delete.
    **model_admin_rows("messaging", "sender", view=READ, add=MGR, change=MGR, delete=MGR),
    "admin:messaging_syncconflict_change": Row(get=READ, post=MGR, data={"keep": "theirs"}),
    # API
    **api_rows("provider-account", "messaging.provideraccount", read=MGR, write=MGR),
    "provider-account-test": Row(get=NOBODY, post=MGR, model="messaging.provideraccount"),
    "provider-account-sync": Row(get=NOBODY, post=MGR, model="messaging.provideraccount"),
    "provider-list": Row(get=STAFF, post=NOBODY),
    "provider-detail": Row(get=STAFF, post=NOBODY, kwargs={"slug": "sandbox"}),
    "sync-run-list": Row(get=READ, post=NOBODY, model="messaging.syncrun"),
    "sender-list": Row(get=READ, post=NOBODY, model="messaging.sender"),
    "sender-detail": Row(get=READ, post=NOBODY, model="messaging.sender"),
    "sync-run-detail": Row(get=READ, post=NOBODY, model="messaging.syncrun"),
}

TEMPLATES = {  # issue 9
    **model_admin_rows("messaging", "messagetemplate"),
    "admin:messaging_messagetemplate_preview": Row(get=NOBODY, post=READ),
    "admin:messaging_messagetemplate_submit": Row(get=NOBODY, post=EDIT, model="messaging.messagetemplate"),
    "admin:messaging_messagetemplate_statuses": Row(get=READ, post=READ, model="messaging.messagetemplate"),
    "admin:messaging_messagetemplate_sync": Row(get=NOBODY, post=EDIT, model="messaging.messagetemplate"),
    **api_rows("messagetemplate", "messaging.messagetemplate"),
    "messagetemplate-submit": Row(get=NOBODY, post=EDIT, model="messaging.messagetemplate"),
    "messagetemplate-sync-now": Row(get=NOBODY, post=EDIT, model="messaging.messagetemplate"),
}

WEBHOOKS = {  # issue 11 (rows as H11 posted them)
    **model_admin_rows("messaging", "webhookevent", view=READ, add=NOBODY, change=NOBODY, delete=MGR),
    "admin:messaging_webhookevent_reprocess_detail": Row(get=MGR, post=MGR),  # GET = confirm page, POST = do
    # The sandbox registers/rotates without HTTP, so these buttons are safe on the sample account.
    "admin:messaging_provideraccount_register_webhooks_detail": Row(get=MGR, post=MGR),
    "admin:messaging_provideraccount_rotate_webhook_token_detail": Row(get=MGR, post=MGR),
    "admin:messaging_provideraccount_rotate_webhook_secrets_detail": Row(get=MGR, post=MGR),
    "webhook-event-list": Row(get=READ, post=NOBODY),
    "webhook-event-detail": Row(get=READ, post=NOBODY, model="messaging.webhookevent"),
    # 202, or 409 for a refused request
    "webhook-event-reprocess": Row(get=NOBODY, post=MGR, model="messaging.webhookevent"),
    "provider-account-rotate-webhook-token": Row(get=NOBODY, post=MGR, model="messaging.provideraccount"),
    "webhook": Row(
        skip="public by design: /hooks/<token>/ is authenticated by its 256-bit token + the provider's check"
    ),
}


AUTOMATIONS = {  # issue 12: Viewer reads; Editor builds, switches, dry-runs and runs for the past
    **model_admin_rows("automations", "automation"),
    "admin:automations_automation_dry_run": Row(get=EDIT, post=EDIT, model="automations.automation"),
    # Runs and pulled provider flows are written by the system: read-only; Managers may delete.
    **model_admin_rows("automations", "automationrun", view=READ, add=NOBODY, change=NOBODY, delete=MGR),
    **model_admin_rows("automations", "providerautomation", view=READ, add=NOBODY, change=NOBODY, delete=MGR),
    "admin:automations_providerautomation_pull_all": Row(get=EDIT, post=EDIT),
    # API
    **api_rows("automation", "automations.automation"),
    "automation-dry-run": Row(get=NOBODY, post=EDIT, model="automations.automation"),
    "automation-run-for-past": Row(get=NOBODY, post=EDIT, model="automations.automation"),
    "automation-runs": Row(get=READ, post=NOBODY, model="automations.automation"),
    **api_rows("provider-automation", "automations.providerautomation", write=NOBODY),
}


CAMPAIGNS = {  # issue 10: Viewer reads; Editor creates, starts, pauses, cancels; Managers everything
    # The sample campaign is a draft (only drafts can be deleted or edited in the form).
    **model_admin_rows("campaigns", "campaign"),
    "admin:campaigns_campaign_preview": Row(get=READ, post=READ, model="campaigns.campaign"),
    "admin:campaigns_campaign_report": Row(get=READ, post=READ, model="campaigns.campaign"),
    "admin:campaigns_campaign_export": Row(get=READ, post=READ, model="campaigns.campaign", kwargs={"fmt": "csv"}),
    "admin:campaigns_campaign_action": Row(get=NOBODY, post=EDIT, model="campaigns.campaign", kwargs={"verb": "start"}),
    # Transitions and messages are written by the services; people only read them.
    **model_admin_rows("campaigns", "campaigntransition", add=NOBODY, change=NOBODY, delete=NOBODY),
    "admin:campaigns_campaigntransition_change": Row(get=READ, post=NOBODY),
    **model_admin_rows("messaging", "message", add=NOBODY, change=NOBODY, delete=NOBODY),
    "admin:messaging_message_change": Row(get=READ, post=NOBODY),
    # API
    **api_rows("campaign", "campaigns.campaign"),
    "campaign-preview": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-test": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-start": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-pause": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-resume": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-cancel": Row(get=NOBODY, post=EDIT, model="campaigns.campaign"),
    "campaign-messages": Row(get=READ, post=NOBODY, model="campaigns.campaign"),
    **api_rows("message", "messaging.message", write=NOBODY),
    "stats-overview": Row(get=READ, post=NOBODY),
    # Tracked links in campaign messages: public by design (recipients are not users); GET/HEAD only.
    "follow-link": Row(get=EVERYONE, post=NOBODY, model="campaigns.trackedlink"),
    # The user menu's time zone form (like Django's set_language): POST only, back to `next`.
    "set_time_zone": Row(
        get=NOBODY, post=EVERYONE, data={"time_zone": "Europe/Rome", "next": "/admin/campaigns/campaign/"}
    ),
}

API_SITE = {
    "api-root": Row(get=STAFF, post=NOBODY),
    "schema": Row(get=STAFF, post=NOBODY),  # SWITCHBOARD_API_SCHEMA_PUBLIC=false (the default)
    "api-docs": Row(get=STAFF, post=NOBODY),
}

MATRIX: dict[str, Row] = {
    **ADMIN_SITE, **AUTH, **AXES, **BEAT, **CONTACTS, **MESSAGING, **TEMPLATES, **CAMPAIGNS, **WEBHOOKS,
    **AUTOMATIONS, **API_SITE,
}  # fmt: skip


# --- sample rows ---------------------------------------------------------------------------------


def _sample_import(users):
    from django.core.files.base import ContentFile

    from contacts.imports.models import ContactImport

    imp = ContactImport(original_name="people.csv", kind="csv", status=ContactImport.Status.SUCCEEDED,
                        created_by=users[EDITOR], rejected=1, warned=1)  # fmt: skip
    imp.file.save("people.csv", ContentFile(b"phone\n+393331234567\nnot a phone\n"), save=False)
    imp.rejected_file.save("people-rejected.csv", ContentFile(b"line,error\n3,not a phone\n"), save=False)
    imp.warnings_file.save("people-warnings.csv", ContentFile(b"line,column,value,reason\n2,email,x,not an e-mail\n"), save=False)
    imp.save()
    return imp


def _sample_export(users):
    from contacts.imports import exports

    return exports.start_export("csv", {}, user=users[EDITOR])


def _sample_account(users):
    from messaging.services import create_account

    return create_account(provider="sandbox", name="Matrix sandbox")


def _sample_sender(users):
    from messaging.senders.services import save_manual_sender

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return save_manual_sender(account, channel="sms", address="Matrix")


def _sample_syncrun(users):
    from messaging.sync.models import SyncRun

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return SyncRun.objects.create(account=account, resource="contacts", direction="pull", trigger="api")


def _sample_conflict(users):
    from messaging.sync.models import SyncConflict

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return SyncConflict.objects.create(account=account, kind="contact", remote_id="r1")


def _sample_webhookevent(users):
    from messaging.webhooks.models import WebhookEvent

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return WebhookEvent.objects.create(account=account, provider=account.provider, event_type="status",
                                       dedupe_key="sample", is_original=True)  # fmt: skip


def _sample_automation(users):
    from automations.services import save_automation
    from contacts.models import Tag

    for name in ("vip", "welcomed"):
        Tag.objects.get_or_create(name=name)
    return save_automation({"name": "Matrix automation", "enabled": False, "trigger": {"type": "tag_added", "tag": "vip"},
                            "actions": [{"type": "add_tag", "tag": "welcomed"}]})  # fmt: skip


def _sample_automation_run(users):
    from automations.models import AutomationRun
    from tests import factories

    automation = apps.get_model("automations", "automation").objects.first() or _sample_automation(users)
    return AutomationRun.objects.create(
        automation=automation, contact=factories.ContactFactory(), key="matrix-run"
    )


def _sample_provider_automation(users):
    from automations.models import ProviderAutomation

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return ProviderAutomation.objects.create(
        account=account, remote_id="m1", name="Matrix flow", fields=["name"]
    )


def _sample_campaign(users):
    from campaigns.models import Campaign

    account = apps.get_model("messaging", "provideraccount").objects.first() or _sample_account(users)
    return Campaign.objects.create(name="Matrix campaign", account=account, channel="sms", text="Ciao")


def _sample_transition(users):
    from campaigns.models import CampaignTransition

    return CampaignTransition.objects.create(campaign=_sample_campaign(users), from_status="draft",
                                             to_status="scheduled", by=users[EDITOR])  # fmt: skip


def _sample_message(users):
    from messaging.message_models import Message

    campaign = _sample_campaign(users)
    return Message.objects.create(campaign=campaign, account=campaign.account, phone="+393331234567",
                                  channel="sms", direction="outbound")  # fmt: skip


def _sample_tracked_link(users):
    from campaigns.models import TrackedLink

    message = _sample_message(users)
    return TrackedLink.objects.create(code="Matrix01", message=message, campaign=message.campaign,
                                      url="https://shop.example.com/saldi")  # fmt: skip


def _factory(name):
    def make(users):
        from tests import factories

        return getattr(factories, name)()

    return make


# "app_label.model" → callable(users) returning a row. Add yours here.
SAMPLES = {
    "contacts.contact": _factory("ContactFactory"),
    "contacts.contactlist": _factory("ContactListFactory"),
    "contacts.customfield": _factory("CustomFieldFactory"),
    "contacts.tag": _factory("TagFactory"),
    "contacts.contactimport": _sample_import,
    "contacts.contactexport": _sample_export,
    "messaging.provideraccount": _sample_account,
    "messaging.syncrun": _sample_syncrun,
    "messaging.sender": _sample_sender,
    "messaging.syncconflict": _sample_conflict,
    "messaging.httplog": lambda users: apps.get_model("messaging", "httplog").objects.create(
        provider="sandbox", method="GET", host="sandbox.local", path="/x"
    ),
    "messaging.webhookevent": _sample_webhookevent,
    "messaging.messagetemplate": lambda users: apps.get_model("messaging", "messagetemplate").objects.create(
        name="matrix_template", category="marketing", body="Ciao {{name}}, a presto.", samples={"name": "Ada"}
    ),
    "automations.automation": _sample_automation,
    "automations.automationrun": _sample_automation_run,
    "automations.providerautomation": _sample_provider_automation,
    "campaigns.campaign": _sample_campaign,
    "campaigns.campaigntransition": _sample_transition,
    "messaging.message": _sample_message,
    "campaigns.trackedlink": _sample_tracked_link,
    "auth.user": lambda users: users[VIEWER],
    # The token admin's object id is the user's id.
    "authtoken.tokenproxy": lambda users: apps.get_model("authtoken", "token").objects.create(user=users[VIEWER]).user,
    "axes.accessattempt": lambda users: apps.get_model("axes", "accessattempt").objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test", failures_since_start=1
    ),
    "axes.accesslog": lambda users: apps.get_model("axes", "accesslog").objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test"
    ),
    "axes.accessfailurelog": lambda users: apps.get_model("axes", "accessfailurelog").objects.create(
        username="someone", ip_address="127.0.0.1", user_agent="test"
    ),
    "django_celery_beat.clockedschedule": lambda users: apps.get_model(
        "django_celery_beat", "clockedschedule"
    ).objects.create(clocked_time="2030-01-01T00:00:00Z"),
    "django_celery_beat.solarschedule": lambda users: apps.get_model(
        "django_celery_beat", "solarschedule"
    ).objects.create(event="sunrise", latitude=45, longitude=9),
}


# --- walking the URL patterns ------------------------------------------------------------------


def _walk(resolver, prefix="", namespace=None):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from _walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
            yield prefix + str(pattern.pattern), name


# The admin, the API, and the public pages outside them that answer people (not provider webhooks).
WALKED = ("admin/", "api/", "r/", "i18n/settimezone/")


def all_patterns():
    """(route, key) for every pattern, without DRF's duplicate ".json" format-suffix routes."""
    seen, out = set(), []
    for route, name in _walk(get_resolver()):
        if "format" in route and ("(?P<format>" in route or "<drf_format_suffix:format>" in route):
            continue
        if not route.startswith(WALKED):
            continue
        key = name or route
        if (route, key) not in seen:
            seen.add((route, key))
            out.append((route, key))
    return out


def row_for(key: str) -> Row | None:
    if key in MATRIX:
        return MATRIX[key]
    matches = [p for p in MATRIX if any(c in p for c in "*?[") and fnmatch.fnmatchcase(key, p)]
    return MATRIX[max(matches, key=len)] if matches else None


_PARAM = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def build_url(route: str, row: Row, samples: dict) -> str:
    model = row.model
    if model is None and route.startswith("admin/"):
        parts = route.split("/")  # admin/<app_label>/<model>/…
        try:
            model = apps.get_model(parts[1], parts[2])._meta.label_lower
        except (LookupError, ValueError, IndexError):
            model = None

    def fill(match):
        name = match.group("name") or match.group("rname")
        if name in row.kwargs:
            return str(row.kwargs[name])
        if name in ("pk", "object_id", "id"):
            assert model, f"{route}: say which model fills <{name}> (Row(model=...))"
            return str(samples(model).pk)
        if model and hasattr(samples(model), name):  # e.g. <code>: the sample's own code
            return str(getattr(samples(model), name))
        raise AssertionError(f"{route}: give a value for <{name}> in Row(kwargs=...)")

    path = _PARAM.sub(fill, route).replace("^", "").replace("$", "").replace("\\", "")
    query = re.sub(r"\{([\w.]+)\}", lambda m: str(samples(m.group(1)).pk), row.query)
    return "/" + path + (f"?{query}" if query else "")


def _refused(response) -> bool:
    if response.status_code in (401, 403, 404, 405):
        return True
    location = response.headers.get("Location", "")
    return response.status_code in (301, 302) and ("/login/" in location or location == "/admin/")


@pytest.fixture
def matrix_users(db, django_user_model, monkeypatch):
    from django.contrib.auth.models import Group
    from django.template import Template
    from django.test.utils import _TestState

    # The test runner's template instrumentation copies every context for assertions we do not
    # make; rendering without it halves the time of ~1,900 admin requests.
    saved = getattr(_TestState, "saved_data", None)
    if saved is not None:
        monkeypatch.setattr(Template, "_render", saved.template_render)

    users = {ANON: None}
    for role in ROLES[1:]:
        user = django_user_model.objects.create_user(username=f"m-{role}", password="x", is_staff=True)
        if role != NOROLE:
            user.groups.add(Group.objects.get(name=role.capitalize()))
        users[role] = user
    return users


def test_every_pattern_has_a_row():
    missing = [f"{key}  ({route})" for route, key in all_patterns() if row_for(key) is None]
    assert not missing, "URL patterns without a row in tests/test_permission_matrix.py MATRIX:\n" + "\n".join(
        missing
    )


SHARDS = 2  # tests/test_permission_matrix_2.py runs the second half, so 2 workers share the load


def patterns_for(shard: int):
    return [p for i, p in enumerate(all_patterns()) if i % SHARDS == shard]


@pytest.mark.parametrize("route,key", patterns_for(0), ids=[k for _, k in patterns_for(0)])
def test_permission_matrix(route, key, matrix_users, settings, tmp_path):
    check_pattern(route, key, matrix_users, settings, tmp_path)


def check_pattern(route, key, matrix_users, settings, tmp_path):
    row = row_for(key)
    if row is None:
        pytest.fail(f"no MATRIX row for {key} ({route})")
    if row.skip:
        pytest.skip(row.skip)
    settings.MEDIA_ROOT = str(tmp_path)
    cache = {}

    def samples(model):
        if model not in cache:
            maker = SAMPLES.get(model)
            if maker is not None:
                cache[model] = maker(matrix_users)
            else:
                found = apps.get_model(model).objects.order_by("pk").first()
                assert found is not None, f"no sample {model} for {route}: add one to SAMPLES"
                cache[model] = found
        return cache[model]

    url = build_url(route, row, samples)
    wrong = []
    for role in ROLES:
        client = Client()
        if matrix_users[role] is not None:
            client.force_login(matrix_users[role])
        for method, allowed in (("GET", row.get), ("POST", row.post)):
            with transaction.atomic():
                response = client.get(url) if method == "GET" else client.post(url, row.data)
                transaction.set_rollback(True)
            assert response.status_code < 500, f"{method} {url} as {role}: {response.status_code}"
            expected_ok = role in allowed
            if _refused(response) == expected_ok:
                wrong.append(
                    f"{method} {url} as {role}: {response.status_code} "
                    f"{response.headers.get('Location', '')} (expected {'ok' if expected_ok else 'refused'})"
                )
    assert not wrong, "\n".join(wrong)

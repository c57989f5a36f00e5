"""The three staff roles and what each may do, kept as data so later apps are covered too.

A migration creates the groups; this post_migrate hook (re)grants their permissions
after every migrate, so a model added by a later issue is covered without a new
data migration. Viewer reads everything; Editor edits contacts, lists, templates,
campaigns and automations; Manager also manages provider accounts and users.
"""

from __future__ import annotations

ROLES = ("Viewer", "Editor", "Manager")
OUR_APPS = ("contacts", "messaging", "campaigns", "automations", "django_celery_beat")

# (app_label, model) pairs an Editor may add/change/delete; None means every model of the app.
EDITOR_MODELS = {
    ("contacts", None),
    ("messaging", "messagetemplate"),
    ("messaging", "templatelink"),
    ("campaigns", None),
    ("automations", "automation"),
}
# A Manager may do everything in our apps, plus users and groups, and lift login lockouts (axes).
MANAGER_EXTRA_APPS = ("auth", "authtoken", "axes")
# Actions on these models are not for people, whatever their role.
READ_ONLY_MODELS = {
    ("messaging", "httplog"),
    # Automations (issue 12): runs, the event log, indexes and pulled flows are written by the system.
    ("contacts", "contactevent"), ("automations", "automationrun"), ("automations", "automationstep"),
    ("automations", "contactdate"), ("automations", "drainstate"), ("automations", "providerautomation"),
}
# Only Managers see these at all (accounts hold credentials and cost money).
MANAGER_ONLY_MODELS = {("messaging", "provideraccount")}


def permissions_for(role: str, Permission):
    perms = Permission.objects.select_related("content_type")
    selected = []
    for perm in perms:
        app, model = perm.content_type.app_label, perm.content_type.model
        action = perm.codename.split("_", 1)[0]
        if app not in OUR_APPS + MANAGER_EXTRA_APPS:
            continue
        is_view = action == "view"
        if role != "Manager" and (app, model) in MANAGER_ONLY_MODELS:
            continue
        if role == "Viewer":
            ok = is_view and app in OUR_APPS
        elif role == "Editor":
            ok = (is_view and app in OUR_APPS) or (
                ((app, None) in EDITOR_MODELS or (app, model) in EDITOR_MODELS)
                and (app, model) not in READ_ONLY_MODELS
            )
        else:  # Manager
            ok = is_view or (app, model) not in READ_ONLY_MODELS or perm.codename.startswith("delete_")
        if ok:
            selected.append(perm)
    return selected


def sync_role_permissions(sender=None, apps=None, using="default", **kwargs):
    """Create the role groups if missing and grant each exactly its permissions."""
    from django.contrib.auth.models import Group, Permission

    for role in ROLES:
        group, _ = Group.objects.using(using).get_or_create(name=role)
        group.permissions.set(permissions_for(role, Permission))


def is_manager(user) -> bool:
    """Managers (and superusers) oversee everyone's work: imports, exports, provider accounts."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_switchboard_is_manager", None)
    if cached is None:
        cached = user.groups.filter(name="Manager").exists()
        user._switchboard_is_manager = cached
    return cached


def owned_or_managed(user, queryset, owner_field: str = "created_by"):
    """Rows a user may open: their own, or every row for a Manager (imports and exports hold people's data)."""
    if is_manager(user):
        return queryset
    if not getattr(user, "is_authenticated", False):
        return queryset.none()
    return queryset.filter(**{owner_field: user})


def may_open(user, obj, owner_field: str = "created_by") -> bool:
    return is_manager(user) or (
        getattr(user, "is_authenticated", False) and getattr(obj, f"{owner_field}_id", None) == user.pk
    )

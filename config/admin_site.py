"""The admin site: django-unfold's, with what it rebuilt on every request computed once.

Profiling a plain admin page (issue 10's dashboards, the 1 M contact list) showed a third of the
server time spent around the page rather than in it: Django's `available_apps` (one `reverse()`
per model and action, ~55 per request) that unfold's sidebar never shows with
`show_all_applications` off, and unfold's sidebar rebuilt item by item (a deep copy, a lazy class
per permission check, `reverse()` per link). What staff see is unchanged:

- `available_apps` / `get_app_list` are lazy: built only when a template really iterates them.
- The sidebar depends only on the language, the URL prefix and the user's permissions, so its
  groups are built once per such key (the permissions are the set Django already loads for
  `has_perm`, so a role change shows at the next request) and only the active flag, which depends
  on the path, is computed per request, with unfold's own rule.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from urllib.parse import urlparse

from django.urls import get_script_prefix, reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import get_language
from unfold.sites import UnfoldAdminSite

_SIDEBARS: OrderedDict = OrderedDict()  # (language, prefix, permissions) -> groups, least recent first
_SIDEBARS_MAX = 256
_LOCK = threading.Lock()


def clear_sidebar_cache() -> None:
    with _LOCK:
        _SIDEBARS.clear()


def _permission_key(user) -> object:
    if not user.is_active:
        return "inactive"
    if user.is_superuser:
        return "superuser"
    return frozenset(user.get_all_permissions())


class SwitchboardAdminSite(UnfoldAdminSite):
    def get_app_list(self, request, app_label=None):
        parent = super().get_app_list
        # A list-like that is built on first use: most pages never use it (see the module docstring).
        return SimpleLazyObject(lambda: parent(request, app_label))

    def get_sidebar_list(self, request):
        if not self.has_permission(request):
            return []
        if self._get_config("TABS", request):  # tabs change which link is active: unfold's own way
            return super().get_sidebar_list(request)
        key = (get_language(), get_script_prefix(), _permission_key(request.user))
        with _LOCK:
            groups = _SIDEBARS.get(key)
            if groups is not None:
                _SIDEBARS.move_to_end(key)
        if groups is None:
            groups = self._static_sidebar(super().get_sidebar_list(request))
            with _LOCK:
                _SIDEBARS[key] = groups
                while len(_SIDEBARS) > _SIDEBARS_MAX:
                    _SIDEBARS.popitem(last=False)
        index_path = reverse(f"{self.name}:index")
        return [
            {
                **group,
                "items": [
                    {**item, "active": _is_active(request.path, item, index_path)} for item in group["items"]
                ],
            }
            for group in groups
        ]

    @staticmethod
    def _static_sidebar(groups: list[dict]) -> list[dict]:
        """unfold's groups with every lazy value turned into plain text and booleans.

        The keys unfold's template asks for and our configuration leaves out are set to their empty
        value: a missing key makes the template engine fall back to a slow lookup, same output.
        """
        out = []
        for group in groups:
            if "badge" in group or any("badge" in item or "items" in item for item in group["items"]):
                raise ValueError("badges and nested items need unfold's per-request sidebar")
            items = []
            for item in group["items"]:
                fixed = {k: v for k, v in item.items() if k not in ("permission", "link_callback", "active")}
                fixed["title"] = str(item["title"])
                fixed["link"] = str(item.get("link_callback") or item.get("link") or "")
                fixed["link_callback"] = ""
                fixed["badge"] = None
                fixed["has_permission"] = bool(item["has_permission"])
                items.append(fixed)
            fixed_group = {k: (str(v) if k == "title" else v) for k, v in group.items() if k != "items"}
            fixed_group.setdefault("collapsible", False)
            fixed_group.setdefault("badge", None)
            out.append({**fixed_group, "items": items})
        return out


def _is_active(path: str, item: dict, index_path: str) -> bool:
    """unfold's UnfoldAdminSite._get_is_active for a plain link (no tabs in our sidebar)."""
    link_path = urlparse(item["link"]).path
    if link_path == path == index_path:
        return True
    return link_path != "" and link_path in path and link_path != index_path

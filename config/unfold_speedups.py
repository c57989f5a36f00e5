"""Two per-row costs of unfold's change list, removed without changing a byte of its HTML.

Profiled on the contact change list (50 rows): unfold renders the row checkbox through Django's
form-widget templates once per row (three templates each), and its `items_for_result` rebuilds
every column header — including one more rendered "select all" checkbox — once per row, only to
read each header's text. Together ~100 widget renders per page, the largest part of the page's
rendering time. Here:

- the row checkbox is rendered once per language with a placeholder value, then the primary key
  (escaped, exactly as the widget escapes it) is put in its place;
- `result_headers` is computed once per change list (same request, same `cl`) and reused;
- a coloured status label (`@display(label=...)`) is rendered once per language, text and colour:
  a column like the contacts' status has four values, not fifty;
- the link to each row's change page is `reverse()`d once per change list and the row's integer
  primary key put in it (other primary keys go through `reverse()` as before);
- `list_sections` (asked for by unfold's change-list template twice per row) gets its empty value
  on admins that do not set it: a missing attribute made the template engine call dir() on the
  ModelAdmin each time (~100 times per page), with the same output.

Installed from config.apps.UnfoldConfig.ready(); tests/test_admin_speedups.py checks the output is
identical to unfold's own.
"""

from __future__ import annotations

from django.contrib.admin import helpers
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

_PLACEHOLDER = "__switchboard_pk__"
_checkbox_html: dict[str | None, tuple[SafeString, SafeString]] = {}
_labels: dict[tuple, str] = {}
_LABELS_MAX = 4096
ORIGINALS: dict[str, object] = {}  # unfold's own functions, for the tests that compare the output


def install() -> None:
    import unfold.admin
    from unfold.templatetags import unfold_list

    if getattr(unfold_list, "_switchboard_installed", False):
        return
    unfold_list._switchboard_installed = True

    original_headers = ORIGINALS["result_headers"] = unfold_list.result_headers

    def result_headers(cl):
        headers = getattr(cl, "_switchboard_headers", None)
        if headers is None:
            headers = list(original_headers(cl))
            cl._switchboard_headers = headers
        return iter(list(headers))

    unfold_list.result_headers = result_headers

    original_label = ORIGINALS["display_for_label"] = unfold_list.display_for_label

    def display_for_label(value, empty_value_display, label):
        try:
            key = (
                get_language(),
                value,
                empty_value_display,
                tuple(sorted(label.items())) if isinstance(label, dict) else label,
            )
            hash(key)
        except TypeError:  # a list of values, or a mapping of them: not worth keeping
            return original_label(value, empty_value_display, label)
        html = _labels.get(key)
        if html is None:
            if len(_labels) >= _LABELS_MAX:
                _labels.clear()
            html = _labels[key] = original_label(value, empty_value_display, label)
        return html

    unfold_list.display_for_label = display_for_label

    from unfold.views import ChangeList

    original_url = ORIGINALS["url_for_result"] = ChangeList.url_for_result

    def url_for_result(self, result):
        pk = getattr(result, self.pk_attname)
        if type(pk) is not int:
            return original_url(self, result)
        parts = getattr(self, "_switchboard_change_url", None)
        if parts is None:
            marker = 987654321987654321  # digits only: reverse() quotes it exactly as any integer
            url = original_url(self, type("Row", (), {self.pk_attname: marker})())
            parts = self._switchboard_change_url = tuple(url.split(str(marker), 1))
            if len(parts) != 2:
                parts = self._switchboard_change_url = ()
        if not parts:
            return original_url(self, result)
        return f"{parts[0]}{pk}{parts[1]}"

    ChangeList.url_for_result = url_for_result

    if not hasattr(unfold.admin.ModelAdmin, "list_sections"):
        unfold.admin.ModelAdmin.list_sections = ()
        ORIGINALS["list_sections_added"] = True

    original_checkbox = ORIGINALS["action_checkbox"] = unfold.admin.ModelAdmin.action_checkbox

    def action_checkbox(self, obj):
        language = get_language()
        parts = _checkbox_html.get(language)
        if parts is None:
            # The widget's HTML is safe; its value is escaped the way format_html escapes pk below.
            html = unfold.admin.checkbox.render(helpers.ACTION_CHECKBOX_NAME, _PLACEHOLDER)
            before, after = html.split(_PLACEHOLDER, 1)
            parts = _checkbox_html[language] = (SafeString(before), SafeString(after))
        return format_html("{}{}{}", parts[0], str(obj.pk), parts[1])

    # Keep what the @display decorator put on unfold's method (the "select all" header).
    action_checkbox.__dict__.update(original_checkbox.__dict__)
    action_checkbox.__name__ = "action_checkbox"
    unfold.admin.ModelAdmin.action_checkbox = action_checkbox

"""Admin helpers that keep provider accounts (names, hosts) out of non-Managers' pages."""

from __future__ import annotations


class HidesAccountsMixin:
    """Accounts are Manager-only: for everyone else, drop the columns, filters and fields naming them."""

    account_fields = ("account", "host")

    def _sees_accounts(self, request) -> bool:
        return request.user.has_perm("messaging.change_provideraccount")

    def _without(self, request, names):
        if self._sees_accounts(request):
            return names
        return [n for n in names if (n[0] if isinstance(n, tuple) else n) not in self.account_fields]

    def get_list_display(self, request):
        return self._without(request, super().get_list_display(request))

    def get_list_filter(self, request):
        return self._without(request, super().get_list_filter(request))

    def get_fields(self, request, obj=None):
        return self._without(request, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._without(request, super().get_readonly_fields(request, obj))

    def get_list_select_related(self, request):
        return self.list_select_related if self._sees_accounts(request) else False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self._sees_accounts(request):  # the page title would be str(obj), which names the account
            extra_context = {**(extra_context or {}), "subtitle": f"{self.model._meta.verbose_name} #{object_id}"}
        return super().change_view(request, object_id, form_url, extra_context)

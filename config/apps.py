"""django-unfold's app, installing Switchboard's admin site (config/admin_site.py) as `admin.site`."""

from django.apps import AppConfig


class UnfoldConfig(AppConfig):
    # Takes the place of "unfold" in INSTALLED_APPS: same app (templates, static, template tags),
    # but the site it installs is ours. Listed before django.contrib.admin, whose autodiscover then
    # registers every ModelAdmin on this site.
    name = "unfold"

    def ready(self):
        from django.contrib import admin
        from django.contrib.admin import sites

        from . import unfold_speedups
        from .admin_site import SwitchboardAdminSite

        unfold_speedups.install()

        site = SwitchboardAdminSite()
        admin.site = site
        sites.site = site

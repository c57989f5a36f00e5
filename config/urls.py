from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

import automations.api
import campaigns.api
import contacts.api
import messaging.api
from config.routers import Router
from localization.views import set_language, set_time_zone

# Each app adds its routes through register(router) in its api.py.
router = Router()  # digits-only ids; the API root needs a login (config/routers.py)
for app_api in (contacts.api, messaging.api, campaigns.api, automations.api):
    app_api.register(router)

urlpatterns = [
    path("i18n/setlang/", set_language, name="set_language"),
    path("i18n/settimezone/", set_time_zone, name="set_time_zone"),
    path("admin/", admin.site.urls),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("", include("messaging.urls")),
    path("", include("messaging.webhooks.urls")),
    path("", include("messaging.sync.urls")),
    path("", include("contacts.urls")),
    path("", include("campaigns.urls")),
]

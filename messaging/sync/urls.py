"""Sync URLs, included at the project root by config/urls.py: path("", include("messaging.sync.urls"))."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .api import StartSyncView, register

router = SimpleRouter()
register(router)

urlpatterns = [
    path("api/provider-accounts/<int:pk>/sync/", StartSyncView.as_view(), name="provider-account-sync"),
    path("api/", include(router.urls)),
]

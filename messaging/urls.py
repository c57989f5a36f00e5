"""messaging URLs included at the project root (the rest have their own modules: webhooks, sync)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .senders.api import SenderViewSet

router = SimpleRouter()
router.register("senders", SenderViewSet, basename="sender")

urlpatterns = [path("api/", include(router.urls))]

from django.urls import re_path

from .views import webhook_view

urlpatterns = [
    re_path(r"^hooks/(?P<token>[A-Za-z0-9_-]{16,64})/?$", webhook_view, name="webhook"),
]

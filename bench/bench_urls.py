"""The project's URLs plus /bench/trivial/: a Django view doing nothing, through the full middleware."""

from django.http import HttpResponse
from django.urls import path

from config.urls import urlpatterns as project_urls


def trivial(request):
    return HttpResponse(b"ok\n", content_type="text/plain")


urlpatterns = [path("bench/trivial/", trivial), *project_urls]

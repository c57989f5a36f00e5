from django.urls import path

from .api import StatsOverviewView

urlpatterns = [
    path("api/stats/overview/", StatsOverviewView.as_view(), name="stats-overview"),
]

from django.urls import path

from .api import StatsOverviewView
from .views import follow_link

urlpatterns = [
    path("api/stats/overview/", StatsOverviewView.as_view(), name="stats-overview"),
    # Tracked links in campaign messages (public): SWITCHBOARD_PUBLIC_URL/r/<code>.
    path("r/<path:code>", follow_link, name="follow-link"),
]

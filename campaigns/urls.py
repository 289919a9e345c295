from django.urls import path

from core.roles import Role
from core.views import coming_soon

app_name = "campaigns"
urlpatterns = [
    path(
        "calendar/",
        coming_soon(
            "Campaign calendar",
            "Campaigns by month and week with talking points, lead lists and an iCalendar feed.",
            Role.REP,
            Role.MARKETER,
        ),
        name="calendar",
    ),
]

from django.urls import path

from core.roles import Role
from core.views import coming_soon

urlpatterns = [
    path(
        "",
        coming_soon(
            "Leads",
            "Every lead with filters by stage, kind, temperature and campaign.",
            Role.MARKETER,
        ),
        name="list",
    ),
    path(
        "nurture/",
        coming_soon(
            "Returned to nurture",
            "Leads sales handed back, with the reason codes and counts per reason.",
            Role.MARKETER,
        ),
        name="nurture",
    ),
    path(
        "scoring/",
        coming_soon(
            "Scoring", "Fit and engagement rules, thresholds and their insights.", Role.MARKETER
        ),
        name="scoring",
    ),
]

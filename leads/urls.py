from django.urls import path

from core.roles import Role
from core.views import coming_soon

app_name = "leads"
urlpatterns = [
    path(
        "queue/",
        coming_soon(
            "Lead queue",
            "Your leads and the pool, ordered by first-touch due time, with claim, accept, "
            "return and touch logging in place.",
            Role.REP,
        ),
        name="queue",
    ),
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
        "pipeline/",
        coming_soon(
            "Pipeline",
            "The shared funnel by stage: counts, conversion, drop-off and time in stage.",
            Role.REP,
            Role.MARKETER,
        ),
        name="pipeline",
    ),
    path(
        "scoring/",
        coming_soon(
            "Scoring", "Fit and engagement rules, thresholds and their insights.", Role.MARKETER
        ),
        name="scoring",
    ),
    path(
        "<int:pk>/",
        coming_soon(
            "Lead", "Contact, company, timeline and handoff context.", Role.REP, Role.MARKETER
        ),
        name="detail",
    ),
]

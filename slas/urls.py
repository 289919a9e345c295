from django.urls import path

from core.roles import Role
from core.views import coming_soon

app_name = "slas"
urlpatterns = [
    path(
        "audit/",
        coming_soon(
            "Monthly SLA audit",
            "MQLs delivered against target, acceptance rate, time to first touch, breaches "
            "and the funnel per month, with sign-off.",
            Role.MANAGER,
        ),
        name="audit",
    ),
    path(
        "team/",
        coming_soon("Team", "Live SLA clocks and breaches across the sales team.", Role.MANAGER),
        name="team",
    ),
]

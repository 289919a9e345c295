from django.urls import path

from core.roles import Role
from core.views import coming_soon

urlpatterns = [
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
]

from django.urls import path

from core.roles import Role
from core.views import coming_soon

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
]

from django.urls import path

from core.roles import Role
from core.views import coming_soon

urlpatterns = [
    path(
        "<int:pk>/",
        coming_soon(
            "Lead", "Contact, company, timeline and handoff context.", Role.REP, Role.MARKETER
        ),
        name="detail",
    ),
]

"""The enablement library: what sales says and sends for every live campaign, searchable."""

from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from campaigns.selectors import enablement_library
from core.roles import Role, has_role, role_required


@role_required(Role.REP, Role.MARKETER)
def library(request):
    search = request.GET.get("q", "").strip()[:100]
    found = enablement_library(search=search, today=timezone.localdate())
    return render(
        request,
        "campaigns/enablement.html",
        {
            "title": "Enablement library",
            "search": search,
            "can_plan": has_role(request.user, Role.MARKETER),
            **found,
        },
    )


urlpatterns = [path("enablement/", library, name="enablement")]

"""The team page (managers): SLA standing per rep and the breaches open right now, which
htmx refreshes every 30 seconds."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from core.roles import Role, role_required
from slas.selectors import team_board

REFRESH_SECONDS = 30


@role_required(Role.MANAGER)
@require_GET
def team(request: HttpRequest) -> HttpResponse:
    template = "slas/team.html"
    if request.htmx and not request.htmx.history_restore_request:
        template += "#live"
    response = render(
        request,
        template,
        {"title": "Team", "board": team_board(), "refresh_seconds": REFRESH_SECONDS},
    )
    patch_vary_headers(response, ["HX-Request"])
    return response


urlpatterns = [path("team/", team, name="team")]

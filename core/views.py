from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import timezone

from core.roles import Role, primary_role, role_required
from core.selectors import heartbeat_list

HOME_BY_ROLE = {
    Role.REP: "leads:queue",
    Role.MARKETER: "campaigns:calendar",
    Role.MANAGER: "slas:audit",
}


@login_required
def home(request):
    role = primary_role(request.user)
    if role is None:
        return render(request, "core/no_role.html", status=403)
    return redirect(HOME_BY_ROLE[role])


def coming_soon(title: str, summary: str, *roles: Role):
    """A page whose feature has not landed yet: says so plainly instead of showing fake data."""

    @role_required(*roles)
    def view(request):
        return render(request, "core/coming_soon.html", {"title": title, "summary": summary})

    return view


@role_required(Role.MANAGER)
def system_status(request):
    return render(
        request,
        "core/status.html",
        {"heartbeats": heartbeat_list(), "now": timezone.now()},
    )

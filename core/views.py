from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.models import Notification
from core.roles import Role, primary_role, role_required
from core.selectors import heartbeat_list, notification_page, notification_unread_count
from core.services import notification_mark_read

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


# --- notifications ------------------------------------------------------------------------
# After a change htmx fires this event on <body>; the bell listens and refreshes its count.
NOTIFICATIONS_CHANGED = "notifications-changed"


def _local_url(request, url: str) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


@login_required
def notifications(request):
    try:
        page = max(int(request.GET.get("page", 1)), 1)
    except ValueError:
        page = 1
    rows, more = notification_page(user=request.user, page=page)
    return render(
        request,
        "core/notifications.html",
        {
            "title": "Notifications",
            "notifications": rows,
            "page": page,
            "next_url": f"?page={page + 1}" if more else "",
            "previous_url": (f"?page={page - 1}" if page > 2 else "?") if page > 1 else "",
        },
    )


@login_required
def notifications_bell(request):
    """The bell's unread count alone, for htmx to refresh in place."""
    return render(
        request,
        "core/notifications_count.html",
        {"count": notification_unread_count(user=request.user)},
    )


@login_required
def notifications_panel(request):
    """The bell's drop-down: the latest notifications, loaded when it opens."""
    rows, more = notification_page(user=request.user, limit=8)
    return render(request, "core/notifications_panel.html", {"notifications": rows, "more": more})


def _after_change(request, notification: Notification | None = None):
    if request.htmx and notification is not None:
        response = render(request, "core/notifications_row.html", {"n": notification})
    else:
        back = request.POST.get("next", "")
        response = redirect(back if _local_url(request, back) else reverse("core:notifications"))
    response["HX-Trigger"] = NOTIFICATIONS_CHANGED
    return response


@require_POST
@login_required
def notification_read(request, pk: int):
    # Another user's notification is a 404: its existence is not ours to confirm.
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notification_mark_read(user=request.user, notification_ids=[notification.pk])
    notification.refresh_from_db(fields=["read_at"])
    return _after_change(request, notification)


@require_POST
@login_required
def notification_open(request, pk: int):
    """Mark the notification read and follow its link."""
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notification_mark_read(user=request.user, notification_ids=[notification.pk])
    if _local_url(request, notification.url):
        return redirect(notification.url)
    return redirect("core:notifications")


@require_POST
@login_required
def notifications_read_all(request):
    notification_mark_read(user=request.user)
    return _after_change(request)

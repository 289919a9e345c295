"""The shared calendar (month and week), the per-user iCalendar feed and its token page."""

from datetime import date, timedelta

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from campaigns.ical import calendar_build
from campaigns.models import CalendarFeed, Campaign
from campaigns.selectors import (
    CalendarFilters,
    calendar_month,
    calendar_week,
    campaign_owners,
    feed_campaigns,
    feed_deadlines,
    feed_user,
    week_start,
)
from campaigns.services import calendar_feed_rotate
from campaigns.views.common import param_choice, param_date, param_int
from core.roles import Role, has_role, role_required

SESSION_NEW_TOKEN = "campaigns.new_feed_token"  # noqa: S105 (a session key name)


def _month_param(raw: str, today: date) -> date:
    try:
        year, month = (int(part) for part in raw.split("-"))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


@role_required(Role.REP, Role.MARKETER)
def calendar(request):
    today = timezone.localdate()
    view = "week" if request.GET.get("view") == "week" else "month"
    filters = CalendarFilters(
        channel=param_choice(request, "channel", Campaign.Channel.values),
        owner=param_int(request, "owner"),
    )
    keep = {k: v for k, v in (("channel", filters.channel), ("owner", filters.owner)) if v}
    context = {
        "title": "Campaign calendar",
        "view": view,
        "today": today,
        "filters": filters,
        "channels": Campaign.Channel.choices,
        "owners": campaign_owners(),
        "filter_query": "&".join(f"{k}={v}" for k, v in keep.items()),
        "can_plan": has_role(request.user, Role.MARKETER),
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    if view == "week":
        monday = week_start(param_date(request, "week", today) or today)
        cal = calendar_week(monday=monday, today=today, filters=filters)
        context.update(
            calendar=cal,
            heading=f"Week of {monday:%-d %B %Y}",
            prev_query=f"view=week&week={monday - timedelta(days=7):%Y-%m-%d}",
            next_query=f"view=week&week={monday + timedelta(days=7):%Y-%m-%d}",
            today_query="view=week",
            other_view_query=f"view=month&month={monday:%Y-%m}",
        )
    else:
        first = _month_param(request.GET.get("month", ""), today)
        if not 1900 < first.year < 3000:
            first = today.replace(day=1)
        cal = calendar_month(year=first.year, month=first.month, today=today, filters=filters)
        this_week = today if first <= today < _add_months(first, 1) else first
        context.update(
            calendar=cal,
            heading=f"{first:%B %Y}",
            prev_query=f"month={_add_months(first, -1):%Y-%m}",
            next_query=f"month={_add_months(first, 1):%Y-%m}",
            today_query="",
            other_view_query=f"view=week&week={week_start(this_week):%Y-%m-%d}",
        )
    return render(request, "campaigns/calendar.html", context)


@role_required(Role.REP, Role.MARKETER)
def feed_settings(request):
    feed = CalendarFeed.objects.filter(user=request.user).first()
    token = request.session.pop(SESSION_NEW_TOKEN, None)
    url = ""
    if token:
        url = request.build_absolute_uri(f"{reverse('campaigns:calendar_ics')}?token={token}")
    return render(
        request,
        "campaigns/feed.html",
        {
            "title": "Calendar feed",
            "feed": feed,
            "feed_url": url,
            "webcal_url": url.replace("https://", "webcal://").replace("http://", "webcal://"),
            "is_rep": has_role(request.user, Role.REP),
        },
    )


@require_POST
@role_required(Role.REP, Role.MARKETER)
def feed_rotate(request):
    had_feed = CalendarFeed.objects.filter(user=request.user).exists()
    request.session[SESSION_NEW_TOKEN] = calendar_feed_rotate(user=request.user)
    messages.success(
        request,
        "New feed link made; the old link no longer works."
        if had_feed
        else "Your feed link is ready.",
    )
    return redirect("campaigns:calendar_feed")


@require_GET
def calendar_ics(request):
    """The subscription URL: no session, the secret token is the credential. A wrong or
    rotated token is a 404, so the URL reveals nothing."""
    user = feed_user(token=request.GET.get("token", ""))
    if user is None:
        raise Http404("No such calendar feed.")
    body = calendar_build(
        campaigns=feed_campaigns(today=timezone.localdate()),
        deadlines=feed_deadlines(user=user),
        site_url=settings.SMARKETING["SITE_URL"].rstrip("/"),
        name=f"smarketing campaigns ({user.get_username()})",
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="smarketing.ics"'
    response["Cache-Control"] = "private, max-age=300"
    response["Referrer-Policy"] = "no-referrer"
    return response


urlpatterns = [
    path("calendar/", calendar, name="calendar"),
    path("calendar/feed/", feed_settings, name="calendar_feed"),
    path("calendar/feed/rotate/", feed_rotate, name="calendar_feed_rotate"),
    path("calendar.ics", calendar_ics, name="calendar_ics"),
]

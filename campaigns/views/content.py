"""Content requests: a rep asks marketing for deal-specific content; marketing's board takes
and delivers; both sides see status and turnaround."""

from datetime import timedelta

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from campaigns.forms import ContentRequestForm, DeliverForm, errors_to_form
from campaigns.selectors import (
    content_request_board,
    content_request_turnaround,
    content_requests_visible,
)
from campaigns.services import (
    CampaignInvalid,
    content_request_cancel,
    content_request_create,
    content_request_deliver,
    content_request_take,
)
from campaigns.views.common import param_int, run_action
from core.errors import DomainError
from core.roles import Role, has_role, is_manager, is_marketer, role_required
from leads.models import Lead
from leads.selectors import lead_visibility_q

SCOPES_MARKETING = (
    ("active", "Open and in progress"),
    ("open", "Not taken"),
    ("mine", "Taken by me"),
    ("done", "Delivered or cancelled"),
)
SCOPES_SALES = (("active", "Open and in progress"), ("done", "Delivered or cancelled"))


@role_required(Role.REP, Role.MARKETER)
def board(request):
    marketing = is_marketer(request.user) or is_manager(request.user)
    scopes = SCOPES_MARKETING if marketing else SCOPES_SALES
    scope = request.GET.get("scope", "active")
    scope = scope if scope in dict(scopes) else "active"
    rows = content_request_board(user=request.user, scope=scope)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    stats = content_request_turnaround(
        since=today - timedelta(days=90),
        until=today,
        requests=content_requests_visible(user=request.user),
    )
    return render(
        request,
        "campaigns/content_board.html",
        {
            "title": "Content requests",
            "page": page,
            "scope": scope,
            "scopes": scopes,
            "marketing": marketing,
            "stats": stats,
            "today": today,
        },
    )


@role_required(Role.REP)
def request_new(request):
    lead_id = param_int(request, "lead") or (
        int(request.POST["lead"]) if request.POST.get("lead", "").isdigit() else None
    )
    lead = (
        Lead.objects.filter(lead_visibility_q(request.user))
        .select_related("source_campaign")
        .filter(pk=lead_id)
        .first()
        if lead_id
        else None
    )
    if lead is None:
        messages.error(request, "Ask for content from one of your leads' pages.")
        return redirect("campaigns:content_requests")
    form = ContentRequestForm(
        request.POST or None,
        initial={"need_by": timezone.localdate() + timedelta(days=3)},
    )
    if request.method == "POST" and form.is_valid():
        try:
            created = content_request_create(
                actor=request.user, lead_id=lead.pk, **form.cleaned_data
            )
        except CampaignInvalid as error:
            errors_to_form(form, error)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, "Sent to marketing. You will be notified when it is taken.")
            return redirect(created)
    return render(
        request,
        "campaigns/content_request_form.html",
        {"title": "Ask marketing for content", "form": form, "lead": lead},
    )


@role_required(Role.REP, Role.MARKETER)
def request_detail(request, pk: int):
    item = get_object_or_404(content_requests_visible(user=request.user), pk=pk)
    marketing = has_role(request.user, Role.MARKETER)
    return render(
        request,
        "campaigns/content_request_detail.html",
        {
            "title": f"Content request #{item.pk}",
            "item": item,
            "marketing": marketing,
            "can_cancel": item.is_active
            and (item.requested_by_id == request.user.pk or is_manager(request.user)),
            "can_deliver": marketing
            and item.is_active
            and (
                item.status == item.Status.OPEN
                or item.taken_by_id == request.user.pk
                or is_manager(request.user)
            ),
            "deliver_form": DeliverForm(),
            "today": timezone.localdate(),
        },
    )


@require_POST
@role_required(Role.MARKETER)
def request_take(request, pk: int):
    return run_action(
        request,
        lambda: content_request_take(request_id=pk, actor=request.user),
        success="Taken. The rep has been told you are on it.",
        then=reverse("campaigns:content_request_detail", args=[pk]),
    )


@require_POST
@role_required(Role.MARKETER)
def request_deliver(request, pk: int):
    item = get_object_or_404(content_requests_visible(user=request.user), pk=pk)
    form = DeliverForm(request.POST)
    if form.is_valid():
        try:
            content_request_deliver(request_id=pk, actor=request.user, **form.cleaned_data)
        except CampaignInvalid as error:
            errors_to_form(form, error)
        except DomainError as error:
            messages.error(request, error.message)
            return redirect(item)
        else:
            messages.success(request, "Delivered. The rep has been notified.")
            return redirect(item)
    return render(
        request,
        "campaigns/content_request_detail.html",
        {
            "title": f"Content request #{item.pk}",
            "item": item,
            "marketing": True,
            "can_deliver": True,
            "deliver_form": form,
            "today": timezone.localdate(),
        },
        status=400,
    )


@require_POST
@role_required(Role.REP, Role.MARKETER)
def request_cancel(request, pk: int):
    return run_action(
        request,
        lambda: content_request_cancel(request_id=pk, actor=request.user),
        success="Request cancelled.",
        then=reverse("campaigns:content_request_detail", args=[pk]),
    )


urlpatterns = [
    path("content-requests/", board, name="content_requests"),
    path("content-requests/new/", request_new, name="content_request_new"),
    path("content-requests/<int:pk>/", request_detail, name="content_request_detail"),
    path("content-requests/<int:pk>/take/", request_take, name="content_request_take"),
    path("content-requests/<int:pk>/deliver/", request_deliver, name="content_request_deliver"),
    path("content-requests/<int:pk>/cancel/", request_cancel, name="content_request_cancel"),
]

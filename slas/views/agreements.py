"""Agreements and working calendars. Everyone in a role reads the agreements; managers write
them, their targets and calendars; the sales head (a manager) and the marketing head (a
marketer or manager) sign them."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.errors import DomainError, NotAllowed
from core.roles import Role, is_manager, role_required
from slas.forms import (
    AgreementForm,
    CalendarForm,
    HolidayForm,
    SignForm,
    errors_to_form,
    target_formset,
)
from slas.models import Agreement, Holiday
from slas.selectors import (
    agreement_get,
    agreement_history,
    agreement_in_force_id,
    agreement_list,
    calendar_get,
    calendar_list,
    working_days_text,
)
from slas.services import (
    SIDES,
    AgreementInvalid,
    AgreementSaved,
    CalendarInvalid,
    agreement_create,
    agreement_sign,
    agreement_update,
    calendar_create,
    calendar_update,
    holiday_add,
    holiday_remove,
    signing_refusal,
)

READERS = (Role.REP, Role.MARKETER)  # managers hold every role
SIDE_LABELS = {"sales": "Sales head", "marketing": "Marketing head"}


def _saved_message(request: HttpRequest, saved: AgreementSaved, text: str) -> None:
    messages.success(request, text)
    if saved.signatures_cleared:
        messages.warning(
            request,
            "The terms changed, so both signatures were cleared: the sales and the marketing "
            "head sign the agreement again.",
        )
    if saved.deadlines_moved:
        messages.info(
            request,
            f"{saved.deadlines_moved} open deadline{'s' if saved.deadlines_moved != 1 else ''} "
            "moved to the new terms.",
        )


# --- agreements -----------------------------------------------------------------------------
@role_required(*READERS)
def agreement_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "slas/agreement_list.html",
        {
            "title": "SLA agreements",
            "agreements": agreement_list(),
            "in_force_id": agreement_in_force_id(on=timezone.localdate()),
            "can_edit": is_manager(request.user),
            "tab": "agreements",
        },
    )


@role_required(*READERS)
def agreement_current(request: HttpRequest) -> HttpResponse:
    """The agreement in force today, for a link that never goes stale."""
    pk = agreement_in_force_id(on=timezone.localdate())
    if pk is None:
        messages.info(request, "No agreement is in force today.")
        return redirect("slas:agreements")
    return redirect("slas:agreement", pk)


@role_required(*READERS)
def agreement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = agreement_get(agreement_id=pk)
    signatures = [
        {
            "side": side,
            "label": SIDE_LABELS[side],
            "head": getattr(agreement, f"{side}_head"),
            "signed_at": getattr(agreement, f"{side}_signed_at"),
            "can_sign": signing_refusal(agreement=agreement, actor=request.user, side=side) is None,
        }
        for side in SIDES
    ]
    today = timezone.localdate()
    return render(
        request,
        "slas/agreement_detail.html",
        {
            "title": agreement.name,
            "agreement": agreement,
            "calendar": agreement.calendar,
            "working_days": working_days_text(agreement.calendar.working_days),
            "holidays": [h for h in agreement.calendar.holidays.all() if h.date >= today][:8],
            "signatures": signatures,
            "in_force": agreement.starts_on <= today <= agreement.ends_on,
            "history": agreement_history(agreement=agreement),
            "can_edit": is_manager(request.user),
        },
    )


def _agreement_form_page(request, *, agreement: Agreement | None, form, targets) -> HttpResponse:
    return render(
        request,
        "slas/agreement_form.html",
        {
            "title": f"Edit {agreement.name}" if agreement else "New SLA agreement",
            "agreement": agreement,
            "form": form,
            "targets": targets,
            "signed": agreement is not None
            and bool(agreement.sales_signed_at or agreement.marketing_signed_at),
        },
    )


@role_required(Role.MANAGER)
def agreement_new(request: HttpRequest) -> HttpResponse:
    form = AgreementForm(request.POST or None)
    targets = target_formset(request.POST or None)
    # `&`, not `and`: validate both, so every error shows at once.
    if request.method == "POST" and form.is_valid() & targets.is_valid():
        try:
            saved = agreement_create(actor=request.user, targets=targets.targets, **form.values)
        except AgreementInvalid as error:
            errors_to_form(form, error, targets)
        else:
            _saved_message(request, saved, f"Agreement “{saved.agreement.name}” created.")
            return redirect("slas:agreement", saved.agreement.pk)
    return _agreement_form_page(request, agreement=None, form=form, targets=targets)


@role_required(Role.MANAGER)
def agreement_edit(request: HttpRequest, pk: int) -> HttpResponse:
    agreement = agreement_get(agreement_id=pk)
    form = AgreementForm(request.POST or None, agreement=agreement)
    targets = target_formset(request.POST or None, agreement=agreement)
    if request.method == "POST" and form.is_valid() & targets.is_valid():
        try:
            saved = agreement_update(
                agreement_id=pk, actor=request.user, targets=targets.targets, **form.values
            )
        except AgreementInvalid as error:
            errors_to_form(form, error, targets)
        else:
            _saved_message(request, saved, "Agreement saved.")
            return redirect("slas:agreement", pk)
    return _agreement_form_page(request, agreement=agreement, form=form, targets=targets)


@require_POST
@role_required(Role.MARKETER)
def agreement_sign_view(request: HttpRequest, pk: int) -> HttpResponse:
    form = SignForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Sign as the sales head or as the marketing head.")
        return redirect("slas:agreement", pk)
    side = form.cleaned_data["side"]
    try:
        agreement = agreement_sign(agreement_id=pk, actor=request.user, side=side)
    except NotAllowed as error:
        raise PermissionDenied(error.message) from None
    except DomainError as error:
        messages.error(request, error.message)
    else:
        waiting = "" if agreement.is_signed else " It waits for the other head's signature."
        messages.success(request, f"Signed as {SIDE_LABELS[side].lower()}.{waiting}")
    return redirect("slas:agreement", pk)


# --- working calendars --------------------------------------------------------------------------
@role_required(Role.MANAGER)
def calendar_index(request: HttpRequest) -> HttpResponse:
    calendars = [
        (calendar, working_days_text(calendar.working_days)) for calendar in calendar_list()
    ]
    return render(
        request,
        "slas/calendar_list.html",
        {"title": "Working calendars", "calendars": calendars, "tab": "calendars"},
    )


@role_required(Role.MANAGER)
def calendar_new(request: HttpRequest) -> HttpResponse:
    form = CalendarForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            calendar = calendar_create(actor=request.user, **form.values)
        except CalendarInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, f"Calendar “{calendar.name}” created. Add its holidays.")
            return redirect("slas:calendar", calendar.pk)
    return render(
        request,
        "slas/calendar_form.html",
        {"title": "New working calendar", "form": form, "calendar": None},
    )


def _calendar_page(request, calendar, *, form=None, holiday_form=None, status=200):
    return render(
        request,
        "slas/calendar_form.html",
        {
            "title": calendar.name,
            "calendar": calendar,
            "form": form or CalendarForm(calendar=calendar),
            "holiday_form": holiday_form or HolidayForm(prefix="holiday"),
            "holidays": list(calendar.holidays.all()),
            "agreements": list(calendar.agreements.all()),
        },
        status=status,
    )


def _moved_message(request: HttpRequest, moved: int) -> None:
    if moved:
        messages.info(request, f"{moved} open deadline{'s' if moved != 1 else ''} moved.")


@role_required(Role.MANAGER)
def calendar_edit(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = calendar_get(calendar_id=pk)
    form = CalendarForm(request.POST or None, calendar=calendar)
    if request.method == "POST" and form.is_valid():
        try:
            moved = calendar_update(calendar_id=pk, actor=request.user, **form.values)
        except CalendarInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, "Calendar saved.")
            _moved_message(request, moved)
            return redirect("slas:calendar", pk)
    return _calendar_page(request, calendar, form=form)


@require_POST
@role_required(Role.MANAGER)
def holiday_add_view(request: HttpRequest, pk: int) -> HttpResponse:
    calendar = calendar_get(calendar_id=pk)
    form = HolidayForm(request.POST, prefix="holiday")
    if form.is_valid():
        try:
            holiday = holiday_add(
                calendar_id=pk,
                actor=request.user,
                day=form.cleaned_data["date"],
                name=form.cleaned_data["name"],
            )
        except CalendarInvalid as error:
            errors_to_form(form, error)
        else:
            messages.success(request, f"{holiday.name} ({holiday.date:%-d %b %Y}) added.")
            return redirect(f"{reverse('slas:calendar', args=[pk])}#holidays")
    return _calendar_page(request, calendar, holiday_form=form, status=400)


@require_POST
@role_required(Role.MANAGER)
def holiday_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    holiday = get_object_or_404(Holiday, pk=pk)
    moved = holiday_remove(holiday_id=pk, actor=request.user)
    messages.success(request, f"{holiday.name} ({holiday.date:%-d %b %Y}) removed.")
    _moved_message(request, moved)
    return redirect(f"{reverse('slas:calendar', args=[holiday.calendar_id])}#holidays")


urlpatterns = [
    path("agreements/", agreement_index, name="agreements"),
    path("agreements/new/", agreement_new, name="agreement_new"),
    path("agreements/current/", agreement_current, name="agreement_current"),
    path("agreements/<int:pk>/", agreement_detail, name="agreement"),
    path("agreements/<int:pk>/edit/", agreement_edit, name="agreement_edit"),
    path("agreements/<int:pk>/sign/", agreement_sign_view, name="agreement_sign"),
    path("calendars/", calendar_index, name="calendars"),
    path("calendars/new/", calendar_new, name="calendar_new"),
    path("calendars/<int:pk>/", calendar_edit, name="calendar"),
    path("calendars/<int:pk>/holidays/", holiday_add_view, name="holiday_add"),
    path("holidays/<int:pk>/delete/", holiday_delete_view, name="holiday_delete"),
]

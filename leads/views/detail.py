"""The lead page, and the actions on one lead (claim, stage moves, touches, feedback, notes).

Each action is a POST that calls one service. With htmx it answers with the fragment to swap
in (the queue row or the lead page, depending on where it was started); without JavaScript it
redirects with a message. Actions that need input have a GET that renders their form, as a
dialog for htmx or as a page of its own. A ``DomainError`` is shown as a message, never a 500.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from core.errors import DomainError, InvalidInput, NotAllowed
from core.links import object_url
from core.roles import Role, is_manager, is_rep, role_required
from leads.forms import MOVE_FORMS, FeedbackForm, NoteForm, TouchForm
from leads.models import (
    DisqualifyReason,
    Handoff,
    Lead,
    LeadFeedback,
    LostReason,
    ReturnReason,
    Stage,
)
from leads.scoring import explanation_text
from leads.selectors import (
    TIMELINE_EVENTS,
    TIMELINE_SHOWS,
    lead_get,
    lead_open_handoff,
    lead_timeline,
    queue_counts,
    queue_row_handoff,
)
from leads.services import (
    feedback_give,
    lead_claim,
    lead_transition,
    note_add,
    touch_log,
    transition_refusal,
)
from leads.views.queue import (
    ActionContext,
    Flash,
    QueueRow,
    first_touch_clock,
    lead_actions,
    move_label,
    queue_row,
)
from slas.selectors import agreement_clocks

TIMELINE_STYLE = {
    "stage": ("", "Stage"),
    "touch": ("is-success", "Touch"),
    "note": ("is-muted", "Note"),
    "feedback": ("is-warning", "Feedback"),
    "assignment": ("is-muted", "Owner"),
    "engagement": ("is-event", "Engagement"),
}
# When a rating is given, by the stage the lead is in (or moves to).
FEEDBACK_MOMENT = {
    Stage.SQL: LeadFeedback.Moment.WORKING,
    Stage.OPPORTUNITY: LeadFeedback.Moment.WORKING,
    Stage.WON: LeadFeedback.Moment.CLOSE,
    Stage.LOST: LeadFeedback.Moment.CLOSE,
    Stage.RECYCLED: LeadFeedback.Moment.RETURN,
    Stage.DISQUALIFIED: LeadFeedback.Moment.RETURN,
}
STALE = "You cannot work this lead any more: another rep has it now."
REASON_LABELS = {
    Stage.RECYCLED: ReturnReason,
    Stage.DISQUALIFIED: DisqualifyReason,
    Stage.LOST: LostReason,
}


def _visible_lead(request: HttpRequest, pk: int) -> Lead:
    try:
        return lead_get(lead_id=pk, user=request.user)
    except NotAllowed as refused:
        raise PermissionDenied(refused.message) from refused


class _OutOfSight(Exception):
    """The user may not see the lead; ``response`` tells an htmx page so in place."""

    def __init__(self, response: HttpResponse):
        self.response = response


def _answers_out_of_sight(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except _OutOfSight as out:
            return out.response

    return wrapper


def _lead_to_act_on(request: HttpRequest, pk: int) -> Lead:
    """The lead an action posts to. Out of the user's sight it is a 403, except for htmx
    posts: a row that went stale (another rep claimed it) says so in place instead of
    silently ignoring the click."""
    try:
        return lead_get(lead_id=pk, user=request.user)
    except NotAllowed as refused:
        if not (request.htmx and request.method == "POST"):
            raise PermissionDenied(refused.message) from refused
        ctx = ActionContext.from_request(request)
        if ctx.page == "queue":
            row = QueueRow(lead=Lead(pk=pk), handoff=None, gone=True, hidden=True, error=STALE)
            raise _OutOfSight(_queue_row_response(request, row, ctx)) from refused
        messages.error(request, STALE)
        raise _OutOfSight(HttpResponseClientRedirect(reverse("home"))) from refused


# --- the lead page --------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineItem:
    entry: object
    css: str
    label: str


def _handoff_context(lead: Lead, handoff) -> dict:
    """What travelled with the handoff; without an open one, the lead's own campaign."""
    context = dict(handoff.context) if handoff is not None else {}
    # The snapshot keeps times as ISO text (JSON); the page shows them as dates.
    events = [
        {**event, "occurred_at": datetime.fromisoformat(event["occurred_at"])}
        for event in context.get("engagement") or []
    ]
    # What the lead had done when sales got it (a backdated handoff may list later events).
    context["engagement"] = [
        e for e in events if handoff is None or e["occurred_at"] <= handoff.created_at
    ]
    campaign = lead.source_campaign
    if not context.get("campaign") and campaign is not None:
        context["campaign"] = {
            "id": campaign.pk,
            "name": campaign.name,
            "channel": campaign.get_channel_display(),
            "offer": campaign.offer,
            "landing_url": campaign.landing_url,
            "talking_points": [point.text for point in campaign.talking_points.all()],
            "quote": campaign.quote,
        }
    return context


TIMELINE_TABS = (("all", "All"), ("activity", "People"), ("engagement", "Engagement"))


def _timeline_context(request: HttpRequest, lead: Lead, note_form: NoteForm | None = None):
    show = request.GET.get("timeline")
    show = show if show in TIMELINE_SHOWS else "all"
    timeline = lead_timeline(lead=lead, show=show)
    return {
        "lead": lead,
        "timeline_show": show,
        "timeline_tabs": TIMELINE_TABS,
        "timeline": [
            TimelineItem(entry, *TIMELINE_STYLE.get(entry.kind, ("", entry.kind)))
            for entry in timeline.entries
        ],
        "timeline_events_cut": timeline.events_cut,
        "timeline_events_shown": TIMELINE_EVENTS,
        "note_form": note_form or NoteForm(),
    }


def _clock(handoff: Handoff | None):
    """The first-touch clock in the business hours of the agreement in force, as in the queue."""
    if handoff is None:
        return None
    clocks = agreement_clocks(starts=[handoff.created_at])  # one query, touched or not
    return first_touch_clock(
        handoff,
        now=timezone.now(),
        clock=clocks.for_start(handoff.created_at),
    )


def _detail_context(
    request: HttpRequest,
    lead: Lead,
    *,
    note_form: NoteForm | None = None,
    flash: Flash | None = None,
    error: str = "",
) -> dict:
    handoff = lead_open_handoff(lead=lead)
    ctx = ActionContext(page="detail", next=lead.get_absolute_url())
    handoff_context = _handoff_context(lead, handoff)
    return {
        "title": str(lead),
        "lead": lead,
        "handoff": handoff,
        "handoff_context": handoff_context,
        "campaign": handoff_context.get("campaign"),
        "fit": handoff_context.get("fit") or {},
        "score_explanation": (explained := handoff_context.get("score_explanation") or []),
        # the score at handoff as one line to read out: "72 = 20 Pricing page view + 15 …"
        "score_explanation_text": explanation_text(handoff_context.get("score") or 0, explained)
        if explained
        else "",
        "clock": _clock(handoff),
        "actions": (actions := lead_actions(lead=lead, handoff=handoff, user=request.user)),
        # whoever works the lead may ask marketing for deal-specific collateral
        "can_request_content": any(a.key == "touch" for a in actions),
        "action_ctx": ctx,
        "has_bant": any(
            (lead.bant_budget, lead.bant_authority, lead.bant_need, lead.bant_timeline)
        ),
        "flash": flash,
        "error": error,
        **_timeline_context(request, lead, note_form),
    }


@role_required(Role.REP, Role.MARKETER)
@require_http_methods(["GET", "HEAD"])
def lead_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _visible_lead(request, pk)
    if request.htmx and request.htmx.target == "lead-timeline":
        # The timeline's tabs swap only the timeline.
        return render(request, "leads/detail.html#timeline", _timeline_context(request, lead))
    return render(request, "leads/detail.html", _detail_context(request, lead))


# --- answering an action ----------------------------------------------------------------------
@dataclass(frozen=True)
class ActionSpec:
    title: str
    submit: str
    url: str


class RatingWanted(str):
    """A success message after which the queue row asks the rep to rate the lead's quality."""


def _done(request: HttpRequest, lead: Lead, ctx: ActionContext, message: str) -> HttpResponse:
    if request.htmx and ctx.page == "queue":
        return _fresh_row(
            request, lead, ctx, notice=message, ask_rating=isinstance(message, RatingWanted)
        )
    fresh = None
    if ctx.page == "detail":
        try:
            fresh = lead_get(lead_id=lead.pk, user=request.user)
        except NotAllowed:  # the move took the lead out of this user's sight
            ctx = ActionContext(page="queue", next=reverse("leads:queue"))
    if not request.htmx or fresh is None:
        messages.success(request, message)
        if request.htmx:
            return HttpResponseClientRedirect(ctx.next)
        return redirect(ctx.next)
    context = _detail_context(request, fresh, flash=Flash("success", message))
    return render(request, "leads/detail.html#lead_update", context)


def _one_click_refused(
    request: HttpRequest, lead: Lead, ctx: ActionContext, message: str
) -> HttpResponse:
    """A one-click action (no form) was refused: say why where it was clicked."""
    if not request.htmx:
        messages.error(request, message)
        return redirect(ctx.next)
    if ctx.page == "queue":
        return _fresh_row(request, lead, ctx, error=message)
    fresh = _visible_lead(request, lead.pk)
    return render(request, "leads/detail.html#lead", _detail_context(request, fresh, error=message))


def _fresh_row(
    request: HttpRequest,
    lead: Lead,
    ctx: ActionContext,
    *,
    notice: str = "",
    error: str = "",
    ask_rating: bool = False,
) -> HttpResponse:
    """The lead's queue row as it is now, with what just happened to it."""
    handoff = queue_row_handoff(lead_id=lead.pk)
    row = queue_row(
        lead=handoff.lead if handoff else lead,
        handoff=handoff,
        user=request.user,
        tab=ctx.tab,
        now=timezone.now(),
        notice=notice,
        error=error,
    )
    if ask_rating and not row.gone:
        row.rate_url = object_url("leads:feedback", lead.pk)
    return _queue_row_response(request, row, ctx)


def _queue_row_response(request: HttpRequest, row: QueueRow, ctx: ActionContext) -> HttpResponse:
    context = {
        "row": row,
        "tab": ctx.tab,
        "columns": 9 if ctx.tab == "pool" else 8,
        "counts": queue_counts(rep=request.user),
        "action_ctx": ctx,
        "oob": True,
    }
    return render(request, "leads/queue.html#row_update", context)


def _form_response(
    request: HttpRequest,
    lead: Lead,
    spec: ActionSpec,
    form,
    ctx: ActionContext,
    *,
    error: str = "",
    can_submit: bool = True,
    status: int = 400,
) -> HttpResponse:
    context = {
        "lead": lead,
        "action": spec,
        "form": form,
        "action_ctx": ctx,
        "error": error,
        "can_submit": can_submit,
        "title": spec.title,
    }
    if request.htmx:
        if request.method == "GET":
            return render(request, "leads/_actions.html#dialog", context)
        # Errors re-render the form inside the open dialog; htmx swaps only 2xx answers.
        response = render(request, "leads/_actions.html#form", context)
        return retarget(reswap(response, "outerHTML"), "#action-form")
    return render(
        request,
        "leads/action.html",
        context,
        status=200 if request.method == "GET" else status,
    )


def _handle_action(
    request: HttpRequest,
    lead: Lead,
    *,
    spec: ActionSpec,
    make_form: Callable,
    perform: Callable,
    refusal: str | None = None,
) -> HttpResponse:
    """GET: the action's form. POST: validate, call the service through ``perform`` (which
    returns the success message), and answer for the page the action was started from."""
    ctx = ActionContext.from_request(request, lead)
    if request.method == "GET":
        return _form_response(
            request, lead, spec, make_form(None), ctx, error=refusal or "", can_submit=not refusal
        )
    from_form = request.POST.get("dialog") == "1"
    form = make_form(request.POST)
    if form.is_valid():
        try:
            message = perform(form)
        except InvalidInput as invalid:
            if invalid.field not in form.fields:
                return _action_refused(request, lead, spec, form, ctx, invalid, from_form)
            form.add_error(invalid.field, invalid.message)
        except DomainError as refused:
            return _action_refused(request, lead, spec, form, ctx, refused, from_form)
        else:
            return _done(request, lead, ctx, message)
    if from_form:
        return _form_response(request, lead, spec, form, ctx)
    first = next(iter(form.errors.values()))[0]
    return _one_click_refused(request, lead, ctx, first)


def _action_refused(
    request, lead, spec, form, ctx, refused: DomainError, from_form: bool
) -> HttpResponse:
    """The service said no: in the form (dialog or page) it came from, or where it was clicked."""
    if from_form:
        return _form_response(
            request, lead, spec, form, ctx, error=refused.message, status=refused.status_code
        )
    return _one_click_refused(request, lead, ctx, refused.message)


# --- the actions ------------------------------------------------------------------------------
def _move_message(lead: Lead, to: str, form) -> str:
    reasons = REASON_LABELS.get(to)
    if reasons is not None:
        reason = reasons(form.cleaned_data["reason_code"]).label
        verb = {
            Stage.RECYCLED: "Returned to marketing"
            if lead.stage != Stage.LOST
            else "Recycled to nurture",
            Stage.DISQUALIFIED: "Disqualified",
            Stage.LOST: "Closed lost",
        }[to]
        return f"{verb}: {reason}."
    return {
        Stage.SAL: "Accepted.",
        Stage.SQL: "Qualified to SQL.",
        Stage.OPPORTUNITY: "Opportunity opened.",
        Stage.WON: "Closed won.",
    }.get(to, f"Qualified as {Stage(to).label} and handed to sales.")


@role_required(Role.REP, Role.MARKETER)
@require_http_methods(["GET", "POST"])
@_answers_out_of_sight
def lead_move(request: HttpRequest, pk: int, to: str) -> HttpResponse:
    """Move the lead to stage ``to`` (accept, qualify, return, disqualify, close…)."""
    if to not in MOVE_FORMS:
        raise Http404("No such move.")
    lead = _lead_to_act_on(request, pk)
    user = request.user
    form_class = MOVE_FORMS[to]
    with_feedback = is_rep(user) or is_manager(user)
    label = move_label(lead=lead, to=to)

    def make_form(data):
        return form_class(data, lead=lead, with_feedback=with_feedback)

    def perform(form) -> str:
        # The move and the rating given with it land together or not at all.
        with transaction.atomic():
            lead_transition(lead_id=lead.pk, actor=user, to=to, **form.move_kwargs())
            feedback = form.feedback()
            if feedback:
                moment = FEEDBACK_MOMENT.get(to, LeadFeedback.Moment.ACCEPT)
                feedback_give(lead_id=lead.pk, actor=user, moment=moment, **feedback)
        message = _move_message(lead, to, form)
        handoff = lead_open_handoff(lead=lead) if to == Stage.SAL else None
        if handoff is not None and handoff.first_touch_at is None:
            message += " Log a touch to stop the first-touch clock."
        if to == Stage.SAL and with_feedback and not feedback:
            return RatingWanted(message)  # a one-click accept: ask for the rating in the row
        return message

    spec = ActionSpec(
        title=f"{label}: {lead}", submit=label, url=reverse("leads:move", args=[lead.pk, to])
    )
    refusal = transition_refusal(lead=lead, actor=user, to=to) if request.method == "GET" else None
    return _handle_action(
        request, lead, spec=spec, make_form=make_form, perform=perform, refusal=refusal
    )


@role_required(Role.REP, Role.MARKETER)
@require_http_methods(["GET", "POST"])
@_answers_out_of_sight
def lead_touch(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a call, email or meeting; the first one stops the first-touch clock."""
    lead = _lead_to_act_on(request, pk)

    def perform(form) -> str:
        handoff = lead_open_handoff(lead=lead)
        data = form.cleaned_data
        touch = touch_log(
            lead_id=lead.pk,
            actor=request.user,
            kind=data["kind"],
            outcome=data["outcome"],
            note=data["note"],
            occurred_at=data["occurred_at"],
        )
        first = handoff is not None and handoff.first_touch_at is None
        logged = f"{touch.get_kind_display()} logged"
        return f"{logged}: the first-touch clock stopped." if first else f"{logged}."

    spec = ActionSpec(
        title=f"Log a touch: {lead}", submit="Log touch", url=reverse("leads:touch", args=[pk])
    )
    return _handle_action(
        request, lead, spec=spec, make_form=lambda data: TouchForm(data), perform=perform
    )


@role_required(Role.REP, Role.MARKETER)
@require_http_methods(["GET", "POST"])
@_answers_out_of_sight
def lead_feedback(request: HttpRequest, pk: int) -> HttpResponse:
    """A rep's lead-quality rating, for marketing's per-campaign roll-up."""
    lead = _lead_to_act_on(request, pk)

    def perform(form) -> str:
        data = form.cleaned_data
        feedback_give(
            lead_id=lead.pk,
            actor=request.user,
            rating=data["rating"],
            moment=FEEDBACK_MOMENT.get(lead.stage, LeadFeedback.Moment.ACCEPT),
            tags=data["tags"],
            comment=data["comment"],
        )
        return f"Thanks: rated {LeadFeedback.Rating(data['rating']).label.lower()}."

    spec = ActionSpec(
        title=f"Rate lead quality: {lead}",
        submit="Send rating",
        url=reverse("leads:feedback", args=[pk]),
    )
    return _handle_action(
        request, lead, spec=spec, make_form=lambda data: FeedbackForm(data), perform=perform
    )


@role_required(Role.REP, Role.MARKETER)
@require_POST
@_answers_out_of_sight
def lead_claim_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Claim this pool lead."""
    lead = _lead_to_act_on(request, pk)
    ctx = ActionContext.from_request(request, lead)
    try:
        lead_claim(lead_id=lead.pk, rep=request.user)
    except DomainError as refused:
        return _one_click_refused(request, lead, ctx, refused.message)
    return _done(request, lead, ctx, "Claimed: it is in My leads now.")


@role_required(Role.REP, Role.MARKETER)
@require_POST
@_answers_out_of_sight
def lead_note(request: HttpRequest, pk: int) -> HttpResponse:
    lead = _lead_to_act_on(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        try:
            note_add(lead_id=lead.pk, actor=request.user, body=form.cleaned_data["body"])
        except InvalidInput as invalid:
            form.add_error("body", invalid.message)
        except DomainError as refused:
            form.add_error(None, refused.message)
        else:
            if not request.htmx:
                messages.success(request, "Note added.")
                return redirect(lead)
            context = {**_timeline_context(request, lead), "note_flash": "Note added."}
            return render(request, "leads/detail.html#timeline", context)
    if request.htmx:
        return render(request, "leads/detail.html#timeline", _timeline_context(request, lead, form))
    context = _detail_context(request, lead, note_form=form)
    return render(request, "leads/detail.html", context, status=400)


urlpatterns = [
    path("<int:pk>/", lead_detail, name="detail"),
    path("<int:pk>/claim/", lead_claim_view, name="claim"),
    path("<int:pk>/move/<slug:to>/", lead_move, name="move"),
    path("<int:pk>/touch/", lead_touch, name="touch"),
    path("<int:pk>/feedback/", lead_feedback, name="feedback"),
    path("<int:pk>/note/", lead_note, name="note"),
]

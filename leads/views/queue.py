"""The lead queue: a rep's open leads and the pool, ordered by first-touch due time, with
claim and the row actions in place (htmx) or as plain POST + redirect without JavaScript.

The row pieces here (first-touch clock, the actions a user may take, one queue row) are also
used by the lead page and the action views in ``leads.views.detail``.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.functional import cached_property
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from core.errors import DomainError
from core.links import object_url
from core.roles import Role, is_manager, is_rep, role_required
from leads.forms import QueueFilterForm
from leads.models import KIND_CHOICES, QUALIFIED_STAGES, Handoff, Lead, Stage, Temperature
from leads.selectors import lead_allowed_moves, queue_counts, queue_handoffs
from leads.services import queue_claim_next
from slas.business_hours import business_between
from slas.selectors import AgreementClock, Clocks, agreement_clocks, business_duration_text

# Share of the first-touch window under which the clock turns amber.
SLA_WARN_SHARE = 0.25
QUEUE_TABS = ("mine", "pool")


# --- the first-touch clock ------------------------------------------------------------------
def duration_text(delta: timedelta) -> str:
    """A compact duration for a clock: "3d 4h", "2h 10m", "35m", "<1m"."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 1:
        return "<1m"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


@dataclass(frozen=True)
class FirstTouchClock:
    css: str  # sla-ok | sla-warn | sla-breach | sla-done
    text: str
    start: datetime
    due_at: datetime
    touched_at: datetime | None
    # Business clocks count the agreement's working hours; "" is the plain clock.
    basis: str = ""
    calendar: str = ""
    # What static/js/queue.js ticks towards (None: the clock stands still until the next
    # page load, as a business clock does outside working hours).
    tick_due: datetime | None = None
    tick_start: datetime | None = None


def first_touch_clock(
    handoff: Handoff, *, now: datetime, clock: AgreementClock | None = None
) -> FirstTouchClock:
    """Time left until the first touch is due, amber under a quarter of the window, red once
    overdue, grey once a touch was logged. With the agreement's ``clock`` the time left and
    the window are business hours of its calendar."""
    due, start = handoff.first_touch_due_at, handoff.created_at
    if handoff.first_touch_at is not None:
        return FirstTouchClock("sla-done", "touched", start, due, handoff.first_touch_at)
    if clock is not None:
        return _business_clock(start=start, due=due, now=now, clock=clock)
    left = due - now
    if left <= timedelta(0):
        return FirstTouchClock(
            "sla-breach", f"overdue {duration_text(left)}", start, due, None, "", "", due, start
        )
    css = "sla-warn" if left < (due - start) * SLA_WARN_SHARE else "sla-ok"
    return FirstTouchClock(css, f"{duration_text(left)} left", start, due, None, "", "", due, start)


def _business_clock(
    *, start: datetime, due: datetime, now: datetime, clock: AgreementClock
) -> FirstTouchClock:
    schedule = clock.schedule
    window = business_between(schedule, start, due)
    if now >= due:
        late = business_between(schedule, due, now)
        css, text, virtual_due = "sla-breach", f"overdue {business_duration_text(late)}", now - late
    else:
        left = business_between(schedule, now, due)
        css = "sla-warn" if left < window * SLA_WARN_SHARE else "sla-ok"
        text, virtual_due = f"{business_duration_text(left)} left", now + left
    # Inside working hours business time runs with the wall clock, so the page may tick
    # towards a virtual due instant; outside them the clock stands still.
    today = schedule.window(schedule.local_date(now))
    ticking = today is not None and today[0] <= now < today[1]
    return FirstTouchClock(
        css,
        text,
        start,
        due,
        None,
        "business",
        clock.calendar_name,
        virtual_due if ticking else None,
        virtual_due - window if ticking else None,
    )


# --- what a user may do with a lead ---------------------------------------------------------
MOVE_LABELS = {
    Stage.MQL: "Qualify as MQL",
    Stage.PQL: "Qualify as PQL",
    Stage.CQL: "Qualify as CQL",
    Stage.SAL: "Accept",
    Stage.SQL: "Qualify to SQL",
    Stage.OPPORTUNITY: "Open opportunity",
    Stage.WON: "Close won",
    Stage.LOST: "Close lost",
    Stage.RECYCLED: "Return to marketing",
    Stage.DISQUALIFIED: "Disqualify",
}
# The natural next step from each stage: shown as the primary button.
NEXT_STEP = {
    Stage.NEW: Stage.MQL,
    Stage.MQL: Stage.SAL,
    Stage.PQL: Stage.SAL,
    Stage.CQL: Stage.SAL,
    Stage.SAL: Stage.SQL,
    Stage.SQL: Stage.OPPORTUNITY,
    Stage.OPPORTUNITY: Stage.WON,
    Stage.RECYCLED: Stage.MQL,
}
# Moves that need no input: one click.
ONE_CLICK_MOVES = frozenset({Stage.SAL, *QUALIFIED_STAGES})


@dataclass(frozen=True)
class LeadAction:
    key: str  # "claim", "touch", "feedback" or the target stage of a move
    label: str
    url: str
    needs_input: bool  # opens a dialog with a form; otherwise a one-click POST
    primary: bool = False
    shortcut: str = ""
    shortcut_label: str = ""


def move_label(*, lead: Lead, to: str) -> str:
    if to == Stage.RECYCLED and lead.stage == Stage.LOST:
        return "Recycle to nurture"
    return MOVE_LABELS[to]


def lead_actions(*, lead: Lead, handoff: Handoff | None, user: User) -> list[LeadAction]:
    """The actions ``user`` may take on ``lead`` now, the natural next step first. Runs no
    query: the roles are cached on the user and the handoff is passed in."""
    sales = is_rep(user) or is_manager(user)
    actions: list[LeadAction] = []
    if sales and handoff is not None and handoff.status == Handoff.Status.POOL:
        actions.append(
            LeadAction(
                "claim",
                "Claim",
                object_url("leads:claim", lead.pk),
                needs_input=False,
                primary=True,
            )
        )
    for to in lead_allowed_moves(lead=lead, user=user):
        primary = NEXT_STEP.get(lead.stage) == to
        shortcut, shortcut_label = "", ""
        if to == Stage.SAL:
            shortcut, shortcut_label = "a", "Accept the lead"
        elif primary:
            shortcut, shortcut_label = "s", "Next stage: " + move_label(lead=lead, to=to)
        actions.append(
            LeadAction(
                to,
                move_label(lead=lead, to=to),
                object_url("leads:move", lead.pk, to),
                needs_input=to not in ONE_CLICK_MOVES,
                primary=primary,
                shortcut=shortcut,
                shortcut_label=shortcut_label,
            )
        )
    owns = lead.owner_id == user.pk or (handoff is not None and handoff.owner_id == user.pk)
    if handoff is not None and handoff.is_open and (is_manager(user) or (is_rep(user) and owns)):
        actions.append(
            LeadAction(
                "touch",
                "Log touch",
                object_url("leads:touch", lead.pk),
                needs_input=True,
                shortcut="t",
                shortcut_label="Log a call, email or meeting",
            )
        )
    if lead.kind and (is_manager(user) or (is_rep(user) and owns)):
        actions.append(
            LeadAction("feedback", "Rate lead", object_url("leads:feedback", lead.pk), True)
        )
    actions.sort(key=lambda a: not a.primary)  # stable: the rest keep lifecycle order
    return actions


@dataclass(frozen=True)
class ActionContext:
    """Where an action was started: which page re-renders after it (``page`` is "queue" or
    "detail"), which queue tab, and where a browser without JavaScript goes back to."""

    page: str = "detail"
    tab: str = "mine"
    next: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest, lead: Lead | None = None) -> "ActionContext":
        data = request.POST if request.method == "POST" else request.GET
        page = "queue" if data.get("ctx") == "queue" else "detail"
        tab = data.get("tab") if data.get("tab") in QUEUE_TABS else "mine"
        next_url = data.get("next", "")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = ""
        if not next_url:
            next_url = (
                f"{reverse('leads:queue')}?tab={tab}"
                if page == "queue" or lead is None
                else lead.get_absolute_url()
            )
        return cls(page=page, tab=tab, next=next_url)

    @cached_property
    def query(self) -> str:
        # Built once per page: every action link of every row carries it.
        params = QueryDict(mutable=True)
        params.update({"ctx": self.page, "tab": self.tab, "next": self.next})
        return params.urlencode()

    def target(self, lead: Lead) -> str:
        """The element an action's success response replaces."""
        return f"#lead-row-{lead.pk}" if self.page == "queue" else "#lead-detail"


# --- queue rows -------------------------------------------------------------------------------
@dataclass
class QueueRow:
    lead: Lead
    handoff: Handoff | None
    clock: FirstTouchClock | None = None
    actions: list[LeadAction] = field(default_factory=list)
    more: list[LeadAction] = field(default_factory=list)
    gone: bool = False  # the lead left this tab (claimed, returned, closed…)
    hidden: bool = False  # gone out of the user's sight: say nothing about the lead
    notice: str = ""
    error: str = ""
    rate_url: str = ""  # just accepted in one click: the row asks for a quality rating
    selected: bool = False
    waiting: str = ""  # how long a pool lead has waited
    # What the row prints, worked out once here: the template only places it.
    url: str = ""
    name: str = ""
    kind_label: str = ""
    stage_label: str = ""
    temperature_label: str = ""


_KIND_LABELS = dict(KIND_CHOICES)
_STAGE_LABELS = dict(Stage.choices)
_TEMPERATURE_LABELS = dict(Temperature.choices)


def queue_row(
    *,
    lead: Lead,
    handoff: Handoff | None,
    user: User,
    tab: str,
    now: datetime,
    notice: str = "",
    error: str = "",
    clocks: Clocks | None = None,
) -> QueueRow:
    """One row of the ``tab`` queue for ``lead``; ``gone`` when it no longer belongs there.
    ``clocks`` are the agreements' business clocks (read here, one query, when not given)."""
    in_tab = handoff is not None and (
        handoff.status == Handoff.Status.POOL if tab == "pool" else handoff.owner_id == user.pk
    )
    if not in_tab:
        return QueueRow(lead=lead, handoff=handoff, gone=True, notice=notice, error=error)
    if clocks is None and handoff.first_touch_at is None:
        clocks = agreement_clocks(starts=[handoff.created_at])
    actions = lead_actions(lead=lead, handoff=handoff, user=user)
    inline = [a for a in actions if a.primary or a.key in ("claim", "touch")]
    return QueueRow(
        lead=lead,
        handoff=handoff,
        clock=first_touch_clock(
            handoff, now=now, clock=clocks.for_start(handoff.created_at) if clocks else None
        ),
        actions=inline,
        more=[a for a in actions if a not in inline],
        waiting=duration_text(now - handoff.created_at),
        notice=notice,
        error=error,
        url=lead.get_absolute_url(),
        name=lead.full_name or lead.email,
        kind_label=_KIND_LABELS.get(handoff.kind, handoff.kind),
        stage_label=_STAGE_LABELS.get(lead.stage, lead.stage),
        temperature_label=_TEMPERATURE_LABELS.get(lead.temperature, lead.temperature),
    )


def queue_rows(*, handoffs: list[Handoff], user: User, tab: str) -> list[QueueRow]:
    now = timezone.now()
    # One query for every row's calendar and holidays; the clocks are then pure Python.
    clocks = agreement_clocks(starts=[h.created_at for h in handoffs if h.first_touch_at is None])
    return [
        queue_row(lead=h.lead, handoff=h, user=user, tab=tab, now=now, clocks=clocks)
        for h in handoffs
    ]


@dataclass(frozen=True)
class Flash:
    """A message shown at the top of a fragment htmx swaps in (full pages use messages)."""

    level: str  # success | info | warning | error
    text: str
    url: str = ""
    link: str = ""


# --- the page -----------------------------------------------------------------------------
def _queue_context(
    request: HttpRequest, form: QueueFilterForm, *, flash: Flash | None = None, selected=None
) -> dict:
    tab = form.current_tab()
    after = form.cursor()
    handoffs, next_cursor = queue_handoffs(
        rep=request.user, scope=tab, filters=form.filters(), after=after
    )
    rows = queue_rows(handoffs=handoffs, user=request.user, tab=tab)
    for row in rows:
        row.selected = row.lead.pk == selected
    back = f"{reverse('leads:queue')}?{form.query(after=after)}"
    return {
        "title": "Lead queue",
        "form": form,
        "tab": tab,
        "counts": queue_counts(rep=request.user),
        "rows": rows,
        "after": after,
        "next_query": form.query(after=next_cursor) if next_cursor else "",
        "first_query": form.query(),
        "filtered": form.is_filtered(),
        "columns": 9 if tab == "pool" else 8,
        "action_ctx": ActionContext(page="queue", tab=tab, next=back),
        "flash": flash,
    }


@role_required(Role.REP)
@require_GET
def queue_page(request: HttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET)
    context = _queue_context(request, form)
    template = "leads/queue.html"
    if request.htmx and not request.htmx.history_restore_request:
        # The filters and "Next page" swap only the results; the tabs swap the whole queue.
        template += "#results" if request.htmx.target == "queue-results" else "#queue"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request", "HX-Target"])
    return response


@role_required(Role.REP)
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    """Claim the best pool lead; the queue then shows My leads with it selected."""
    tab = request.POST.get("tab") if request.POST.get("tab") in QUEUE_TABS else "mine"
    selected = None
    try:
        lead = queue_claim_next(rep=request.user)
    except DomainError as error:
        flash = Flash("error", error.message)
    else:
        if lead is None:
            flash = Flash("info", "The pool is empty: there is no lead to claim right now.")
        else:
            tab, selected = "mine", lead.pk
            flash = Flash(
                "success",
                f"You claimed {lead}{f' ({lead.company})' if lead.company else ''}.",
                url=lead.get_absolute_url(),
                link="Open lead",
            )
    url = f"{reverse('leads:queue')}?tab={tab}"
    if not request.htmx:
        messages.add_message(request, getattr(messages, flash.level.upper()), flash.text)
        return redirect(url)
    form = QueueFilterForm(QueryDict(f"tab={tab}"))
    context = _queue_context(request, form, flash=flash, selected=selected)
    return push_url(render(request, "leads/queue.html#queue", context), url)


urlpatterns = [
    path("queue/", queue_page, name="queue"),
    path("queue/claim-next/", claim_next, name="claim_next"),
]

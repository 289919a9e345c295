"""Reads for leads: the queue, lead detail and timeline, lists. Each returns what its page
needs already joined, in a fixed number of queries whatever the number of leads."""

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.shortcuts import get_object_or_404

from core.errors import NotAllowed
from core.roles import is_manager, is_marketer, is_rep
from leads.models import (
    QUALIFIED_STAGES,
    EngagementEvent,
    Handoff,
    Lead,
    LeadAssignment,
    LeadFeedback,
    LeadNote,
    LeadStageChange,
    Stage,
    Touch,
)
from leads.pipeline import QUALIFIED
from leads.services import TRANSITIONS, transition_refusal

QUEUE_PAGE_SIZE = 25


@dataclass(frozen=True)
class QueueFilters:
    kind: str = ""
    temperature: str = ""
    campaign: int | None = None
    stage: str = ""
    search: str = ""
    min_score: int | None = None  # only leads scoring at least this


def lead_search_q(term: str, *, through: str = "") -> Q:
    """Leads whose name, email or company contains ``term`` (``through`` = "lead__" from a
    model pointing at the lead)."""
    term = term.strip()
    return (
        Q(**{f"{through}email__icontains": term})
        | Q(**{f"{through}company__icontains": term})
        | Q(**{f"{through}first_name__icontains": term})
        | Q(**{f"{through}last_name__icontains": term})
    )


def lead_visibility_q(user: User) -> Q:
    """Leads the user may open: marketing and managers see all; a rep sees their own leads,
    the pool, and leads they once owned."""
    if is_manager(user) or is_marketer(user):
        return Q()
    if not is_rep(user):
        return Q(pk__in=[])
    return (
        Q(owner=user)
        | Q(Exists(Handoff.objects.filter(lead=OuterRef("pk"), status=Handoff.Status.POOL)))
        | Q(Exists(LeadAssignment.objects.filter(lead=OuterRef("pk"), to_owner=user)))
    )


# Only what a queue row shows and its actions check: the handoff's context snapshot, the
# score's explanation and the campaign's texts stay in the database (loading every column of
# four joined models cost more than the query).
QUEUE_ROW_FIELDS = (
    *("id", "lead_id", "kind", "status", "owner_id", "created_at"),
    *("first_touch_due_at", "first_touch_at", "closed_at"),
    *("lead__id", "lead__first_name", "lead__last_name", "lead__email", "lead__company"),
    *("lead__title", "lead__stage", "lead__kind", "lead__owner_id", "lead__score"),
    *("lead__temperature", "lead__source_campaign_id"),
    *("lead__source_campaign__id", "lead__source_campaign__name"),
    *("owner__id", "owner__username", "owner__first_name", "owner__last_name"),
)


def queue_handoffs(
    *,
    rep: User,
    scope: str,
    filters: QueueFilters = QueueFilters(),
    after: str = "",
    limit: int = QUEUE_PAGE_SIZE,
) -> tuple[list[Handoff], str]:
    """One page of the rep's open leads (``scope="mine"``) or of the pool (``"pool"``),
    ordered by first-touch due time, then score, then id. Keyset pagination: pass the
    returned cursor as ``after`` for the next page ("" when there is none)."""
    if scope == "pool":
        rows = Handoff.objects.filter(status=Handoff.Status.POOL)
    else:
        rows = Handoff.objects.filter(owner=rep, closed_at__isnull=True)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.temperature:
        rows = rows.filter(lead__temperature=filters.temperature)
    if filters.campaign:
        rows = rows.filter(lead__source_campaign_id=filters.campaign)
    if filters.stage:
        rows = rows.filter(lead__stage=filters.stage)
    if filters.search:
        rows = rows.filter(lead_search_q(filters.search, through="lead__"))
    if filters.min_score is not None:
        rows = rows.filter(lead__score__gte=filters.min_score)
    cursor = _cursor_decode(after)
    if cursor:
        due, score, pk = cursor
        rows = rows.filter(
            Q(first_touch_due_at__gt=due)
            | Q(first_touch_due_at=due, lead__score__lt=score)
            | Q(first_touch_due_at=due, lead__score=score, pk__gt=pk)
        )
    page = list(
        rows.select_related("lead", "lead__source_campaign", "owner")
        .only(*QUEUE_ROW_FIELDS)
        .order_by("first_touch_due_at", "-lead__score", "pk")[: limit + 1]
    )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = _cursor_encode(page[-1]) if more else ""
    return page, next_cursor


def _cursor_encode(handoff: Handoff) -> str:
    return f"{handoff.first_touch_due_at.isoformat()}|{handoff.lead.score}|{handoff.pk}"


def _cursor_decode(raw: str) -> tuple[datetime, int, int] | None:
    try:
        due, score, pk = raw.split("|")
        return datetime.fromisoformat(due), int(score), int(pk)
    except ValueError:
        return None


QUEUE_COUNT_CAP = 999


@dataclass(frozen=True)
class TabCount:
    """A queue tab's badge: exact up to the cap, then "999+" — counting tens of thousands of
    open leads exactly cost more than the rest of the page, and no one reads past 999."""

    value: int

    def __str__(self) -> str:
        return f"{QUEUE_COUNT_CAP}+" if self.value > QUEUE_COUNT_CAP else str(self.value)


def queue_counts(*, rep: User) -> dict[str, TabCount]:
    def capped(rows: QuerySet) -> TabCount:
        # No ORDER BY: any 1,000 rows off the partial index will do (ordered by the model's
        # created_at, PostgreSQL walked that index over the whole table instead).
        return TabCount(rows.order_by()[: QUEUE_COUNT_CAP + 1].count())

    return {
        "mine": capped(Handoff.objects.filter(owner=rep, closed_at__isnull=True)),
        "pool": capped(Handoff.objects.filter(status=Handoff.Status.POOL)),
    }


def lead_get(*, lead_id: int, user: User) -> Lead:
    """The lead with what its page shows joined, or 404; NotAllowed when the user may not see
    it."""
    lead = get_object_or_404(
        Lead.objects.select_related(
            "owner", "source_campaign", "source_campaign__owner"
        ).prefetch_related("source_campaign__talking_points"),
        pk=lead_id,
    )
    if not Lead.objects.filter(lead_visibility_q(user), pk=lead_id).exists():
        raise NotAllowed("You cannot open this lead.")
    return lead


def lead_open_handoff(*, lead: Lead) -> Handoff | None:
    return (
        Handoff.objects.filter(lead=lead, closed_at__isnull=True)
        .select_related("owner", "territory")
        .first()
    )


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # stage, touch, note, feedback, assignment, engagement
    title: str
    body: str
    actor: User | None


# A lead can gather thousands of page views: the timeline shows the latest this many.
TIMELINE_EVENTS = 50


@dataclass(frozen=True)
class LeadTimeline:
    entries: list[TimelineEntry]
    # More engagement events exist than the timeline shows (the latest TIMELINE_EVENTS).
    events_cut: bool = False


TIMELINE_SHOWS = ("all", "activity", "engagement")


def lead_timeline(*, lead: Lead, show: str = "all") -> LeadTimeline:
    """What happened to the lead, newest first: with ``show`` "all", what people did (stage
    changes, touches, notes, feedback, owners: five queries) and the lead's latest engagement
    events (one query); "activity" or "engagement" for one side only."""
    entries: list[TimelineEntry] = []
    events = (
        list(
            EngagementEvent.objects.filter(lead=lead)
            .select_related("campaign")
            .only("kind", "occurred_at", "url", "source", "campaign__name")
            .order_by("-occurred_at", "-pk")[: TIMELINE_EVENTS + 1]
        )
        if show != "activity"
        else []
    )
    for event in events[:TIMELINE_EVENTS]:
        body = " · ".join(
            part for part in [event.campaign.name if event.campaign_id else "", event.url] if part
        )
        entries.append(
            TimelineEntry(event.occurred_at, "engagement", event.get_kind_display(), body, None)
        )
    if show == "engagement":
        return LeadTimeline(entries, events_cut=len(events) > TIMELINE_EVENTS)
    for change in LeadStageChange.objects.filter(lead=lead).select_related("actor"):
        title = (
            f"{Stage(change.from_stage).label} → {Stage(change.to_stage).label}"
            if change.from_stage
            else f"Created as {Stage(change.to_stage).label}"
        )
        body = " · ".join(
            part
            for part in [
                change.reason_code.replace("_", " "),
                change.note,
                ", ".join(f"{k}: {v}" for k, v in change.details.items()),
            ]
            if part
        )
        entries.append(TimelineEntry(change.created_at, "stage", title, body, change.actor))
    for touch in Touch.objects.filter(lead=lead).select_related("rep"):
        entries.append(
            TimelineEntry(
                touch.occurred_at,
                "touch",
                f"{touch.get_kind_display()} · {touch.get_outcome_display()}",
                touch.note,
                touch.rep,
            )
        )
    for note in LeadNote.objects.filter(lead=lead).select_related("author"):
        entries.append(TimelineEntry(note.created_at, "note", "Note", note.body, note.author))
    for feedback in LeadFeedback.objects.filter(lead=lead).select_related("rep"):
        tags = ", ".join(LeadFeedback.Tag(t).label for t in feedback.tags)
        entries.append(
            TimelineEntry(
                feedback.created_at,
                "feedback",
                f"{feedback.get_rating_display()} ({feedback.get_moment_display().lower()})",
                " · ".join(p for p in [tags, feedback.comment] if p),
                feedback.rep,
            )
        )
    for move in LeadAssignment.objects.filter(lead=lead).select_related("to_owner", "actor"):
        entries.append(
            TimelineEntry(
                move.created_at,
                "assignment",
                move.get_reason_display(),
                f"Owner: {move.to_owner or 'the pool'}",
                move.actor,
            )
        )
    entries.sort(key=lambda e: e.at, reverse=True)
    return LeadTimeline(entries, events_cut=len(events) > TIMELINE_EVENTS)


# Each stage's possible moves in lifecycle order (the queue asks for every row).
_MOVES_IN_ORDER = {
    stage: [to for to in Stage.values if to in moves] for stage, moves in TRANSITIONS.items()
}


def lead_allowed_moves(*, lead: Lead, user: User) -> list[str]:
    """The stages this user may move the lead to now, in lifecycle order."""
    return [
        to
        for to in _MOVES_IN_ORDER.get(lead.stage, ())
        if transition_refusal(lead=lead, actor=user, to=to) is None
    ]


def lists_own_leads_only(user: User) -> bool:
    """A rep's leads list (and the pipeline's links into it) holds the leads they own, in any
    stage; marketing and managers list every lead."""
    return not (is_marketer(user) or is_manager(user))


def stages_of(stage: str) -> tuple[str, ...]:
    """A stage filter's stages: it may name the three qualified stages at once (the
    pipeline's "Qualified" step)."""
    return tuple(QUALIFIED_STAGES) if stage == QUALIFIED else (stage,)


def lead_list(*, user: User, filters: QueueFilters = QueueFilters(), owner_id=None) -> QuerySet:
    """All leads the user may see, filtered, newest first, with what a list row shows."""
    rows = Lead.objects.filter(lead_visibility_q(user))
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.temperature:
        rows = rows.filter(temperature=filters.temperature)
    if filters.campaign:
        rows = rows.filter(source_campaign_id=filters.campaign)
    if filters.stage:
        rows = rows.filter(stage__in=stages_of(filters.stage))
    if owner_id:
        rows = rows.filter(owner_id=owner_id)
    if filters.search:
        rows = rows.filter(lead_search_q(filters.search))
    if filters.min_score is not None:
        rows = rows.filter(score__gte=filters.min_score)
    return rows.select_related("owner", "source_campaign").order_by("-created_at", "-pk")


# --- queue and detail pages
def queue_row_handoff(*, lead_id: int) -> Handoff | None:
    """The lead's open handoff joined like a ``queue_handoffs`` row, or None once it closed."""
    return (
        Handoff.objects.filter(lead_id=lead_id, closed_at__isnull=True)
        .select_related("lead", "lead__source_campaign", "owner")
        .first()
    )

"""Reads for marketing's pages: the leads list (keyset pages) and the nurture list with the
reasons sales gave when it returned leads."""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from leads.models import Handoff, Lead, LeadStageChange, ReturnReason, Stage
from leads.pipeline import Period
from leads.selectors import QueueFilters, lead_list

LIST_PAGE_SIZE = 50
NURTURE_PAGE_SIZE = 50
NO_OWNER = "none"

# sort key -> (field, descending)
LIST_SORTS = {
    "newest": ("created_at", True),
    "oldest": ("created_at", False),
    "score": ("score", True),
    "score_low": ("score", False),
}
LIST_SORT_LABELS = {
    "newest": "Newest first",
    "oldest": "Oldest first",
    "score": "Highest score",
    "score_low": "Lowest score",
}


@dataclass(frozen=True)
class LeadListQuery:
    filters: QueueFilters = field(default_factory=QueueFilters)
    owner: str = ""  # a user id, NO_OWNER, or "" for anyone
    sort: str = "newest"
    reached: str = ""  # only leads that entered this stage in ``period``
    period: Period | None = None


def lead_list_page(
    *, user: User, query: LeadListQuery, after: str = "", limit: int = LIST_PAGE_SIZE
) -> tuple[list[Lead], str]:
    """One page of the leads the user may see, filtered and sorted, with owner and campaign
    joined. Keyset pagination (no COUNT): pass the returned cursor as ``after`` for the next
    page; it is "" on the last page."""
    owner_id = int(query.owner) if query.owner.isdigit() else None
    rows = lead_list(user=user, filters=query.filters, owner_id=owner_id)
    if query.owner == NO_OWNER:
        rows = rows.filter(owner__isnull=True)
    if query.reached and query.period is not None:
        rows = rows.filter(
            Exists(
                LeadStageChange.objects.filter(
                    lead_id=OuterRef("pk"),
                    to_stage=query.reached,
                    created_at__gte=query.period.start,
                    created_at__lt=query.period.end,
                )
            )
        )
    column, descending = LIST_SORTS.get(query.sort, LIST_SORTS["newest"])
    cursor = _cursor_decode(after, column)
    if cursor is not None:
        value, pk = cursor
        beyond = "lt" if descending else "gt"
        rows = rows.filter(
            Q(**{f"{column}__{beyond}": value}) | Q(**{column: value, f"pk__{beyond}": pk})
        )
    order = [f"-{column}", "-pk"] if descending else [column, "pk"]
    page = list(rows.order_by(*order)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (_cursor_encode(page[-1], column) if more else "")


def _cursor_encode(lead: Lead, column: str) -> str:
    value = getattr(lead, column)
    return f"{value.isoformat() if isinstance(value, datetime) else value}|{lead.pk}"


def _cursor_decode(raw: str, column: str):
    try:
        value, pk = raw.rsplit("|", 1)
        parsed = datetime.fromisoformat(value) if column == "created_at" else int(value)
        return parsed, int(pk)
    except ValueError:
        return None


# --- nurture ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReasonCount:
    reason: str
    label: str
    count: int
    share: float  # of all returns in the period, for the bar


def return_reason_counts(*, period: Period) -> list[ReasonCount]:
    """How many handoffs sales returned in the period, per reason: one aggregate query."""
    rows = list(
        Handoff.objects.filter(
            status=Handoff.Status.RETURNED, closed_at__gte=period.start, closed_at__lt=period.end
        )
        .order_by()
        .values("return_reason")
        .annotate(n=Count("pk"))
        .values_list("return_reason", "n")
    )
    total = sum(n for _, n in rows) or 1
    labels = dict(ReturnReason.choices)
    counts = [
        ReasonCount(reason, str(labels.get(reason, reason or "No reason")), n, n / total)
        for reason, n in rows
    ]
    return sorted(counts, key=lambda c: (-c.count, c.label))


def nurture_leads(
    *, reason: str = "", page: int = 1, limit: int = NURTURE_PAGE_SIZE
) -> tuple[list[Lead], bool]:
    """Leads in nurture (stage recycled), most recently returned first, each annotated with
    its last return: ``return_reason`` and ``returned_at`` from the returned handoff,
    ``returned_by`` (the user who moved it, or None) from the history row. Two queries; the
    boolean says whether another page follows."""
    last_return = Handoff.objects.filter(
        lead_id=OuterRef("pk"), status=Handoff.Status.RETURNED
    ).order_by("-closed_at", "-pk")
    last_recycle = LeadStageChange.objects.filter(
        lead_id=OuterRef("pk"), to_stage=Stage.RECYCLED
    ).order_by("-created_at", "-pk")
    rows: QuerySet = (
        Lead.objects.filter(stage=Stage.RECYCLED)
        .select_related("source_campaign")
        .annotate(
            return_reason=Subquery(last_return.values("return_reason")[:1]),
            returned_at=Subquery(last_return.values("closed_at")[:1]),
            returned_by_id=Subquery(last_recycle.values("actor_id")[:1]),
        )
    )
    if reason:
        rows = rows.filter(return_reason=reason)
    offset = (max(page, 1) - 1) * limit
    leads = list(
        rows.order_by(F("returned_at").desc(nulls_last=True), "-stage_changed_at", "-pk")[
            offset : offset + limit + 1
        ]
    )
    more = len(leads) > limit
    leads = leads[:limit]
    actor_ids = {lead.returned_by_id for lead in leads if lead.returned_by_id}
    actors = User.objects.in_bulk(actor_ids) if actor_ids else {}
    labels = dict(ReturnReason.choices)
    for lead in leads:
        lead.returned_by = actors.get(lead.returned_by_id)
        lead.return_reason_label = labels.get(lead.return_reason or "", "")
    return leads, more

"""Reads for marketing's pages: the leads list (keyset pages) and its CSV export, and the
nurture list with the reasons sales gave when it returned leads."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import User
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery

from core.csv_export import CSV_CHUNK_SIZE
from leads.models import Handoff, Lead, LeadStageChange, ReturnReason, Stage
from leads.pipeline import Period
from leads.selectors import QueueFilters, lead_list, stages_of

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


def lead_list_rows(*, user: User, query: LeadListQuery) -> QuerySet[Lead]:
    """Every lead of the list the user may see, filtered and in the list's order (the sort
    column, then the id), with owner and campaign joined. Not sliced: page or stream it."""
    owner_id = int(query.owner) if query.owner.isdigit() else None
    rows = lead_list(user=user, filters=query.filters, owner_id=owner_id)
    if query.owner == NO_OWNER:
        rows = rows.filter(owner__isnull=True)
    if query.reached and query.period is not None:
        rows = rows.filter(
            Exists(
                LeadStageChange.objects.filter(
                    lead_id=OuterRef("pk"),
                    to_stage__in=stages_of(query.reached),
                    created_at__gte=query.period.start,
                    created_at__lt=query.period.end,
                )
            )
        )
    column, descending = LIST_SORTS.get(query.sort, LIST_SORTS["newest"])
    return rows.order_by(*([f"-{column}", "-pk"] if descending else [column, "pk"]))


def lead_list_page(
    *, user: User, query: LeadListQuery, after: str = "", limit: int = LIST_PAGE_SIZE
) -> tuple[list[Lead], str]:
    """One page of the leads the user may see, filtered and sorted, with owner and campaign
    joined. Keyset pagination (no COUNT): pass the returned cursor as ``after`` for the next
    page; it is "" on the last page."""
    rows = lead_list_rows(user=user, query=query)
    column, descending = LIST_SORTS.get(query.sort, LIST_SORTS["newest"])
    cursor = _cursor_decode(after, column)
    if cursor is not None:
        value, pk = cursor
        beyond = "lt" if descending else "gt"
        rows = rows.filter(
            Q(**{f"{column}__{beyond}": value}) | Q(**{column: value, f"pk__{beyond}": pk})
        )
    page = list(rows[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (_cursor_encode(page[-1], column) if more else "")


# The export's header (the leads' field names, which the import reads back) and the lookup
# each column comes from: the campaign by name, the owner by username.
LEAD_EXPORT_COLUMNS = {
    "id": "id",
    "first_name": "first_name",
    "last_name": "last_name",
    "email": "email",
    "phone": "phone",
    "title": "title",
    "company": "company",
    "company_size": "company_size",
    "industry": "industry",
    "country": "country",
    "source_channel": "source_channel",
    "source_campaign": "source_campaign__name",
    "stage": "stage",
    "kind": "kind",
    "owner": "owner__username",
    "score": "score",
    "temperature": "temperature",
    "created_at": "created_at",
    "stage_changed_at": "stage_changed_at",
}


def lead_list_export_rows(
    *, user: User, query: LeadListQuery, chunk_size: int = CSV_CHUNK_SIZE
) -> Iterator[tuple]:
    """Every lead of the list (all its pages, in its order) as tuples of
    ``LEAD_EXPORT_COLUMNS``' values. Lazy: one query, with owner and campaign joined, runs
    when the first row is read, and rows arrive ``chunk_size`` at a time (a server-side
    cursor on PostgreSQL), so memory stays flat whatever the number of leads."""
    return (
        lead_list_rows(user=user, query=query)
        .values_list(*LEAD_EXPORT_COLUMNS.values())
        .iterator(chunk_size=chunk_size)
    )


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
    ``returned_by`` (the user who moved it, or None) and ``return_note`` (the rep's comment)
    from the history row. Two queries; the
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
            return_note=Subquery(last_recycle.values("note")[:1]),
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

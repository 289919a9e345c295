"""Reads for campaigns: the calendar, the enablement library, lead lists, closed-loop results,
sales feedback, content requests and the calendar feed. Each returns what its page needs in a
fixed number of queries, whatever the number of campaigns or leads."""

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth.models import User
from django.db.models import (
    BigIntegerField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from campaigns.models import (
    CalendarFeed,
    Campaign,
    CampaignChange,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)
from campaigns.services import feed_token_hash
from core.roles import Role, has_role, is_manager, is_marketer
from leads.models import QUALIFIED_STAGES, Handoff, Lead, LeadFeedback, LeadStageChange, Stage
from leads.models import ReturnReason as LeadReturnReason
from leads.selectors import lead_search_q


# --- campaigns -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CampaignFilters:
    channel: str = ""
    owner: int | None = None
    status: str = ""
    search: str = ""
    archived: bool = False


def campaign_list(*, filters: CampaignFilters = CampaignFilters()) -> QuerySet[Campaign]:
    rows = Campaign.objects.select_related("owner").annotate(lead_count=Count("sourced_leads"))
    rows = rows.filter(archived_at__isnull=not filters.archived)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    if filters.status:
        rows = rows.filter(status=filters.status)
    if filters.search:
        rows = rows.filter(
            Q(name__icontains=filters.search) | Q(audience__icontains=filters.search)
        )
    return rows.order_by("-start_date", "name", "pk")


def campaign_get(*, campaign_id: int) -> Campaign:
    """One campaign with owner, talking points, templates, resources and recent history."""
    return get_object_or_404(
        Campaign.objects.select_related("owner").prefetch_related(
            "talking_points",
            "templates",
            "resources",
            Prefetch(
                "changes",
                queryset=CampaignChange.objects.select_related("actor").order_by(
                    "-created_at", "-id"
                ),
                to_attr="history",
            ),
        ),
        pk=campaign_id,
    )


def campaign_owners() -> QuerySet[User]:
    """People who can own a campaign: marketers and managers."""
    return User.objects.filter(
        is_active=True,
        pk__in=User.objects.filter(
            groups__name__in=[Role.MARKETER.value, Role.MANAGER.value]
        ).values("pk"),
    ).order_by("first_name", "last_name", "username")


# --- the calendar --------------------------------------------------------------------------
@dataclass(frozen=True)
class CalendarFilters:
    channel: str = ""
    owner: int | None = None


@dataclass
class Segment:
    """A run of ``span`` day columns in one lane of a week: a campaign bar, or a gap."""

    span: int
    campaign: Campaign | None = None
    starts_before: bool = False
    ends_after: bool = False


@dataclass
class CalendarDay:
    day: date
    in_range: bool
    is_today: bool


@dataclass
class CalendarWeek:
    start: date
    days: list[CalendarDay]
    lanes: list[list[Segment]]
    hidden: list[Campaign] = field(default_factory=list)


@dataclass
class Calendar:
    start: date
    end: date
    weeks: list[CalendarWeek]
    campaigns: list[Campaign]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def calendar_campaigns(
    *, start: date, end: date, filters: CalendarFilters = CalendarFilters()
) -> list[Campaign]:
    """Campaigns (not archived) running on at least one day of ``start``..``end``."""
    rows = Campaign.objects.filter(
        archived_at__isnull=True, start_date__lte=end, end_date__gte=start
    ).select_related("owner")
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    return list(rows.order_by("start_date", "-end_date", "name", "pk"))


def _week_lanes(
    campaigns: list[Campaign], monday: date, max_lanes: int | None
) -> tuple[list[list[Segment]], list[Campaign]]:
    """Pack the week's campaigns into lanes (rows) so bars never overlap; longest first."""
    sunday = monday + timedelta(days=6)
    running = [c for c in campaigns if c.start_date <= sunday and c.end_date >= monday]
    running.sort(key=lambda c: (max(c.start_date, monday), -(c.end_date - c.start_date).days))
    lanes: list[list[tuple[int, int, Campaign]]] = []
    hidden: list[Campaign] = []
    for campaign in running:
        first = (max(campaign.start_date, monday) - monday).days
        last = (min(campaign.end_date, sunday) - monday).days
        for lane in lanes:
            if lane[-1][1] < first:
                lane.append((first, last, campaign))
                break
        else:
            if max_lanes is not None and len(lanes) >= max_lanes:
                hidden.append(campaign)
            else:
                lanes.append([(first, last, campaign)])
    rows = []
    for lane in lanes:
        segments, col = [], 0
        for first, last, campaign in lane:
            if first > col:
                segments.append(Segment(span=first - col))
            segments.append(
                Segment(
                    span=last - first + 1,
                    campaign=campaign,
                    starts_before=campaign.start_date < monday,
                    ends_after=campaign.end_date > sunday,
                )
            )
            col = last + 1
        if col < 7:
            segments.append(Segment(span=7 - col))
        rows.append(segments)
    return rows, hidden


def calendar_month(
    *,
    year: int,
    month: int,
    today: date,
    filters: CalendarFilters = CalendarFilters(),
    max_lanes: int = 4,
) -> Calendar:
    """The month as whole Monday-to-Sunday weeks, campaigns packed into at most
    ``max_lanes`` bars per week (the rest listed as hidden for a "more" link). One query."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    last = following - timedelta(days=1)
    start, end = week_start(first), week_start(last) + timedelta(days=6)
    campaigns = calendar_campaigns(start=start, end=end, filters=filters)
    weeks = []
    monday = start
    while monday <= end:
        lanes, hidden = _week_lanes(campaigns, monday, max_lanes)
        days = [
            CalendarDay(
                day=monday + timedelta(days=i),
                in_range=(monday + timedelta(days=i)).month == month,
                is_today=monday + timedelta(days=i) == today,
            )
            for i in range(7)
        ]
        weeks.append(CalendarWeek(start=monday, days=days, lanes=lanes, hidden=hidden))
        monday += timedelta(days=7)
    in_month = [c for c in campaigns if c.start_date <= last and c.end_date >= first]
    return Calendar(start=first, end=last, weeks=weeks, campaigns=in_month)


def calendar_week(
    *, monday: date, today: date, filters: CalendarFilters = CalendarFilters()
) -> Calendar:
    """One week with every campaign running in it (no lane limit). One query."""
    sunday = monday + timedelta(days=6)
    campaigns = calendar_campaigns(start=monday, end=sunday, filters=filters)
    lanes, _ = _week_lanes(campaigns, monday, None)
    days = [
        CalendarDay(
            day=monday + timedelta(days=i), in_range=True, is_today=monday + timedelta(i) == today
        )
        for i in range(7)
    ]
    return Calendar(
        start=monday,
        end=sunday,
        weeks=[CalendarWeek(start=monday, days=days, lanes=lanes)],
        campaigns=campaigns,
    )


# --- the enablement library ----------------------------------------------------------------
def _with_enablement(rows: QuerySet[Campaign]) -> QuerySet[Campaign]:
    return rows.select_related("owner").prefetch_related(
        Prefetch("talking_points", queryset=TalkingPoint.objects.order_by("position")),
        Prefetch("templates", queryset=FollowUpTemplate.objects.order_by("position", "id")),
        Prefetch(
            "resources", queryset=EnablementResource.objects.order_by("kind", "position", "id")
        ),
    )


def enablement_library(*, search: str = "", today: date, upcoming_days: int = 30) -> dict:
    """Live campaigns (and those starting within ``upcoming_days``) with everything sales
    says and sends: talking points, quote, templates, collateral, personas, guidelines.
    ``search`` matches any of those texts. Five queries."""
    rows = Campaign.objects.filter(archived_at__isnull=True)
    term = search.strip()
    if term:
        rows = rows.filter(
            Q(name__icontains=term)
            | Q(quote__icontains=term)
            | Q(offer__icontains=term)
            | Q(audience__icontains=term)
            | Exists(TalkingPoint.objects.filter(campaign=OuterRef("pk"), text__icontains=term))
            | Exists(
                FollowUpTemplate.objects.filter(campaign=OuterRef("pk")).filter(
                    Q(name__icontains=term) | Q(subject__icontains=term) | Q(body__icontains=term)
                )
            )
            | Exists(
                EnablementResource.objects.filter(campaign=OuterRef("pk")).filter(
                    Q(title__icontains=term) | Q(description__icontains=term)
                )
            )
        )
    rows = rows.filter(
        Q(status=Campaign.Status.LIVE)
        | Q(
            status=Campaign.Status.PLANNED,
            start_date__gt=today,
            start_date__lte=today + timedelta(days=upcoming_days),
        )
    )
    campaigns = list(_with_enablement(rows).order_by("start_date", "name", "pk"))
    return {
        "live": [c for c in campaigns if c.status == Campaign.Status.LIVE],
        "upcoming": [c for c in campaigns if c.status == Campaign.Status.PLANNED],
    }


# --- lead lists ----------------------------------------------------------------------------
@dataclass(frozen=True)
class LeadListFilters:
    stage: str = ""
    kind: str = ""
    temperature: str = ""
    owner: int | None = None
    search: str = ""


def campaign_leads(
    *, campaign: Campaign, user: User, filters: LeadListFilters = LeadListFilters()
) -> QuerySet[Lead]:
    """The campaign's lead list: leads whose source campaign it is or who engaged with it (an
    event carrying the campaign, e.g. from its UTM tag), as far as ``user`` may see them (a
    rep: their own, the pool, leads they once owned)."""
    from leads.models import EngagementEvent
    from leads.selectors import lead_visibility_q

    engaged = EngagementEvent.objects.filter(lead=OuterRef("pk"), campaign=campaign)
    rows = Lead.objects.filter(Q(source_campaign=campaign) | Exists(engaged)).filter(
        lead_visibility_q(user)
    )
    if filters.stage:
        rows = rows.filter(stage=filters.stage)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.temperature:
        rows = rows.filter(temperature=filters.temperature)
    if filters.owner:
        rows = rows.filter(owner_id=filters.owner)
    if filters.search:
        rows = rows.filter(lead_search_q(filters.search))
    return rows.select_related("owner").order_by("-created_at", "-pk")


LEAD_CSV_COLUMNS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "source_channel",
    "stage",
    "kind",
    "temperature",
    "score",
    "owner__username",
    "deal_amount",
    "created_at",
)


# --- closed loop ---------------------------------------------------------------------------
# A lead "reached" a funnel step when its history holds a move to that step or any later one,
# so a lead counts once per step however often it cycled.
REACHED_MQL = (*QUALIFIED_STAGES, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
REACHED_SAL = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
REACHED_SQL = (Stage.SQL, Stage.OPPORTUNITY, Stage.WON)


def _reached(stages) -> Q:
    return Q(Exists(LeadStageChange.objects.filter(lead=OuterRef("pk"), to_stage__in=stages)))


def _ratio(part, whole) -> float | None:
    return None if not whole else part / whole


@dataclass
class Funnel:
    leads: int = 0
    mql: int = 0
    sal: int = 0
    sql: int = 0
    won: int = 0
    revenue: Decimal = Decimal("0")

    @property
    def mql_rate(self):  # of all leads
        return _ratio(self.mql, self.leads)

    @property
    def sal_rate(self):  # of MQLs: sales' acceptance rate
        return _ratio(self.sal, self.mql)

    @property
    def sql_rate(self):  # of SALs
        return _ratio(self.sql, self.sal)

    @property
    def won_rate(self):  # of SQLs
        return _ratio(self.won, self.sql)

    @property
    def lead_to_won(self):
        return _ratio(self.won, self.leads)


def _funnels(leads: QuerySet[Lead], key) -> dict:
    """One grouped query: funnel counts and won revenue per value of ``key``."""
    rows = (
        leads.annotate(group_key=key)
        .values("group_key")
        .annotate(
            n_leads=Count("pk"),
            n_mql=Count("pk", filter=_reached(REACHED_MQL)),
            n_sal=Count("pk", filter=_reached(REACHED_SAL)),
            n_sql=Count("pk", filter=_reached(REACHED_SQL)),
            n_won=Count("pk", filter=Q(stage=Stage.WON)),
            won_revenue=Sum("deal_amount", filter=Q(stage=Stage.WON)),
        )
        .order_by()
    )
    return {
        row["group_key"]: Funnel(
            leads=row["n_leads"],
            mql=row["n_mql"],
            sal=row["n_sal"],
            sql=row["n_sql"],
            won=row["n_won"],
            revenue=row["won_revenue"] or Decimal("0"),
        )
        for row in rows
    }


# Attribution: which campaign gets the credit for a lead. With no engagement events that
# carry a campaign yet, both touches are the lead's source campaign. When events land, the
# last touch becomes the campaign of the lead's latest event before it closed, e.g.
#   Coalesce(Subquery(Event.objects.filter(lead=OuterRef("pk"), campaign__isnull=False)
#            .order_by("-occurred_at").values("campaign")[:1]), F("source_campaign_id"))
# and the closed-loop pages pick it up unchanged.
def first_touch_campaign():
    return F("source_campaign_id")


def last_touch_campaign():
    """The campaign of the lead's latest engagement event that carried one; the source
    campaign when no event did."""
    from leads.models import EngagementEvent

    latest = (
        EngagementEvent.objects.filter(lead=OuterRef("pk"), campaign__isnull=False)
        .order_by("-occurred_at", "-pk")
        .values("campaign_id")[:1]
    )
    return Coalesce(Subquery(latest), F("source_campaign_id"), output_field=BigIntegerField())


ATTRIBUTION_MODELS = {"first_touch": first_touch_campaign, "last_touch": last_touch_campaign}
LAST_TOUCH_USES_EVENTS = True


@dataclass
class ClosedLoop:
    campaign: Campaign
    funnel: Funnel
    ratings: int = 0
    good_ratings: int = 0
    return_reasons: list[tuple[str, int]] = field(default_factory=list)
    attribution: dict[str, Funnel] = field(default_factory=dict)

    @property
    def cost(self) -> Decimal:
        return self.campaign.cost

    @property
    def revenue(self) -> Decimal:
        return self.funnel.revenue

    @property
    def roi(self) -> float | None:
        """(won revenue - cost) / cost; None when the campaign cost nothing."""
        if not self.cost:
            return None
        return float((self.revenue - self.cost) / self.cost)

    @property
    def cost_per_win(self) -> Decimal | None:
        return self.cost / self.funnel.won if self.funnel.won else None

    @property
    def quality(self) -> float | None:
        """Average sales rating over feedback rows: good = 1, poor = 0."""
        return _ratio(self.good_ratings, self.ratings)

    @property
    def top_return_reason(self) -> str:
        return self.return_reasons[0][0] if self.return_reasons else ""


def closed_loop(campaigns: QuerySet[Campaign], *, attribution: bool = False) -> list[ClosedLoop]:
    """Closed-loop figures for every campaign in ``campaigns``: 4 queries (6 with
    attribution), whatever their number."""
    campaign_list_ = list(campaigns.select_related("owner"))
    ids = campaigns.values("pk")
    leads = Lead.objects.filter(source_campaign__in=ids)
    funnels = _funnels(leads, F("source_campaign_id"))
    ratings = {
        row["lead__source_campaign"]: row
        for row in LeadFeedback.objects.filter(lead__source_campaign__in=ids)
        .values("lead__source_campaign")
        .annotate(n=Count("pk"), good=Count("pk", filter=Q(rating=LeadFeedback.Rating.GOOD)))
        .order_by()
    }
    reasons: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for row in (
        Handoff.objects.filter(lead__source_campaign__in=ids, status=Handoff.Status.RETURNED)
        .exclude(return_reason="")
        .values("lead__source_campaign", "return_reason")
        .annotate(n=Count("pk"))
        .order_by("lead__source_campaign", "-n", "return_reason")
    ):
        label = dict(LeadReturnReason.choices).get(row["return_reason"], row["return_reason"])
        reasons[row["lead__source_campaign"]].append((label, row["n"]))
    credits: dict[str, dict] = {}
    if attribution:
        for model, key in ATTRIBUTION_MODELS.items():
            credits[model] = _funnels(
                Lead.objects.annotate(credited=key()).filter(credited__in=ids), key()
            )
    results = []
    for campaign in campaign_list_:
        rating = ratings.get(campaign.pk, {})
        results.append(
            ClosedLoop(
                campaign=campaign,
                funnel=funnels.get(campaign.pk, Funnel()),
                ratings=rating.get("n", 0),
                good_ratings=rating.get("good", 0),
                return_reasons=reasons.get(campaign.pk, []),
                attribution={m: credits[m].get(campaign.pk, Funnel()) for m in credits},
            )
        )
    return results


def campaign_closed_loop(*, campaign_id: int) -> ClosedLoop:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return closed_loop(Campaign.objects.filter(pk=campaign.pk), attribution=True)[0]


COMPARISON_SORTS = {
    "name": lambda r: r.campaign.name.lower(),
    "channel": lambda r: r.campaign.get_channel_display(),
    "start": lambda r: r.campaign.start_date,
    "leads": lambda r: r.funnel.leads,
    "mql": lambda r: r.funnel.mql,
    "sal": lambda r: r.funnel.sal,
    "sql": lambda r: r.funnel.sql,
    "won": lambda r: r.funnel.won,
    "win_rate": lambda r: r.funnel.lead_to_won,
    "revenue": lambda r: r.revenue,
    "cost": lambda r: r.cost,
    "roi": lambda r: r.roi,
    "quality": lambda r: r.quality,
}


def campaign_comparison(
    *, start: date, end: date, sort: str = "revenue", descending: bool = True
) -> list[ClosedLoop]:
    """Every campaign whose run overlaps ``start``..``end`` (archived ones too: their results
    still count), with closed-loop figures over all their leads, sorted by ``sort``.
    Campaigns without a value for the sort key (ROI of a free campaign) sort last."""
    rows = closed_loop(
        Campaign.objects.filter(start_date__lte=end, end_date__gte=start).order_by("pk")
    )
    key = COMPARISON_SORTS.get(sort, COMPARISON_SORTS["revenue"])
    present = [r for r in rows if key(r) is not None]
    missing = [r for r in rows if key(r) is None]
    present.sort(key=lambda r: (key(r), r.campaign.pk), reverse=descending)
    return present + missing


# --- sales feedback for marketing ----------------------------------------------------------
SIZE_BANDS = (
    (1, 49, "1–49"),
    (50, 199, "50–199"),
    (200, 999, "200–999"),
    (1000, 4999, "1,000–4,999"),
    (5000, None, "5,000+"),
)
UNKNOWN = "Unknown"


def size_band(size: int | None) -> str:
    if size is None:
        return UNKNOWN
    for low, high, label in SIZE_BANDS:
        if size >= low and (high is None or size <= high):
            return label
    return UNKNOWN


def _size_band_expression():
    whens = [
        When(
            Q(company_size__gte=low) & (Q(company_size__lte=high) if high else Q()),
            then=Value(label),
        )
        for low, high, label in SIZE_BANDS
    ]
    return Case(*whens, default=Value(UNKNOWN))


@dataclass
class SegmentRow:
    label: str
    funnel: Funnel = field(default_factory=Funnel)
    ratings: int = 0
    good: int = 0
    tags: Counter = field(default_factory=Counter)

    @property
    def quality(self):
        return _ratio(self.good, self.ratings)

    @property
    def top_tags(self) -> list[tuple[str, int]]:
        labels = dict(LeadFeedback.Tag.choices)
        return [(labels.get(tag, tag), n) for tag, n in self.tags.most_common(3)]


def feedback_rollup(*, since: date, until: date, campaign_id: int | None = None) -> dict:
    """What sales says about the leads marketing sends, per campaign and per segment
    (industry, company size band, lead kind): ratings and reason tags given in the period,
    and the funnel of leads created in the period. Seven queries."""
    start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    stop = timezone.make_aware(datetime.combine(until + timedelta(days=1), datetime.min.time()))
    leads = Lead.objects.filter(created_at__gte=start, created_at__lt=stop)
    feedback = LeadFeedback.objects.filter(created_at__gte=start, created_at__lt=stop)
    if campaign_id:
        leads = leads.filter(source_campaign_id=campaign_id)
        feedback = feedback.filter(lead__source_campaign_id=campaign_id)
    dimensions = {
        "campaign": F("source_campaign__name"),
        "industry": F("industry"),
        "size": _size_band_expression(),
        "kind": F("kind"),
    }
    tables: dict[str, dict[str, SegmentRow]] = {}
    kind_labels = {s.value: s.label for s in QUALIFIED_STAGES}
    for name, key in dimensions.items():
        rows: dict[str, SegmentRow] = {}
        for value, funnel in _funnels(leads, key).items():
            label = _segment_label(name, value, kind_labels)
            rows.setdefault(label, SegmentRow(label=label)).funnel = funnel
        tables[name] = rows
    comments = []
    for row in feedback.select_related("lead", "lead__source_campaign", "rep").order_by(
        "-created_at", "-pk"
    ):
        values = {
            "campaign": row.lead.source_campaign.name if row.lead.source_campaign else None,
            "industry": row.lead.industry,
            "size": size_band(row.lead.company_size),
            "kind": row.lead.kind,
        }
        for name, value in values.items():
            label = _segment_label(name, value, kind_labels)
            segment = tables[name].setdefault(label, SegmentRow(label=label))
            segment.ratings += 1
            segment.good += row.rating == LeadFeedback.Rating.GOOD
            segment.tags.update(row.tags or [])
        if row.comment.strip() and len(comments) < 12:
            comments.append(row)
    order = {label: i for i, (_, _, label) in enumerate(SIZE_BANDS)}
    result = {
        name: sorted(
            rows.values(),
            key=(lambda r: (order.get(r.label, 99), r.label))
            if name == "size"
            else (lambda r: (-r.funnel.leads, -r.ratings, r.label)),
        )
        for name, rows in tables.items()
    }
    result["comments"] = comments
    return result


def _segment_label(name: str, value, kind_labels: dict) -> str:
    if name == "kind":
        return kind_labels.get(value, "Not qualified yet")
    if name == "campaign":
        return value or "No campaign"
    return value or UNKNOWN


# --- content requests ----------------------------------------------------------------------
def content_requests_visible(*, user: User) -> QuerySet[ContentRequest]:
    """Marketing and managers see every request; a rep sees the requests they made."""
    rows = ContentRequest.objects.select_related("lead", "requested_by", "taken_by", "campaign")
    if is_manager(user) or is_marketer(user):
        return rows
    return rows.filter(requested_by=user)


def content_request_board(*, user: User, scope: str) -> QuerySet[ContentRequest]:
    rows = content_requests_visible(user=user)
    open_states = [ContentRequest.Status.OPEN, ContentRequest.Status.TAKEN]
    if scope == "open":
        return rows.filter(status=ContentRequest.Status.OPEN).order_by("need_by", "pk")
    if scope == "mine":
        return rows.filter(taken_by=user, status__in=open_states).order_by("need_by", "pk")
    if scope == "active":
        return rows.filter(status__in=open_states).order_by("need_by", "pk")
    if scope == "done":
        return rows.exclude(status__in=open_states).order_by("-updated_at", "-pk")
    return rows.order_by("-created_at", "-pk")


@dataclass
class TurnaroundStats:
    delivered: int
    on_time: int
    median: timedelta | None
    p90: timedelta | None
    open: int
    overdue: int

    @property
    def on_time_rate(self):
        return _ratio(self.on_time, self.delivered)


def content_request_turnaround(
    *, since: date, until: date, requests: QuerySet[ContentRequest] | None = None
) -> TurnaroundStats:
    """Marketing's turnaround on requests delivered in the period (median, p90, share on or
    before the need-by date) and what is open or overdue now. For the board and the SLA
    audit. Two queries."""
    rows = requests if requests is not None else ContentRequest.objects.all()
    start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    stop = timezone.make_aware(datetime.combine(until + timedelta(days=1), datetime.min.time()))
    delivered = list(
        rows.filter(
            status=ContentRequest.Status.DELIVERED, delivered_at__gte=start, delivered_at__lt=stop
        ).values_list("created_at", "delivered_at", "need_by")
    )
    spans = sorted(done - asked for asked, done, _ in delivered)
    on_time = sum(1 for _, done, need_by in delivered if timezone.localdate(done) <= need_by)
    today = timezone.localdate()
    counts = rows.filter(
        status__in=[ContentRequest.Status.OPEN, ContentRequest.Status.TAKEN]
    ).aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(need_by__lt=today)))
    return TurnaroundStats(
        delivered=len(spans),
        on_time=on_time,
        median=timedelta(seconds=statistics.median(s.total_seconds() for s in spans))
        if spans
        else None,
        p90=spans[min(len(spans) - 1, int(len(spans) * 0.9))] if spans else None,
        open=counts["open"],
        overdue=counts["overdue"],
    )


# --- the iCalendar feed --------------------------------------------------------------------
def feed_user(*, token: str) -> User | None:
    """The active user whose current feed token this is, or None (wrong or rotated token)."""
    if not token or len(token) > 200:
        return None
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=feed_token_hash(token), user__is_active=True)
        .first()
    )
    return feed.user if feed else None


def feed_campaigns(*, today: date, history_days: int = 365) -> QuerySet[Campaign]:
    return (
        Campaign.objects.filter(
            archived_at__isnull=True, end_date__gte=today - timedelta(days=history_days)
        )
        .select_related("owner")
        .prefetch_related(
            Prefetch("talking_points", queryset=TalkingPoint.objects.order_by("position"))
        )
        .order_by("start_date", "pk")
    )


def feed_deadlines(*, user: User) -> QuerySet[Handoff]:
    """A rep's open first-touch deadlines: their open handoffs not touched yet."""
    if not has_role(user, Role.REP):
        return Handoff.objects.none()
    return (
        Handoff.objects.filter(owner=user, closed_at__isnull=True, first_touch_at__isnull=True)
        .select_related("lead")
        .order_by("first_touch_due_at", "pk")
    )

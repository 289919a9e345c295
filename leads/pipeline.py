"""The shared funnel: per stage, how many leads reached it in a period, how many are in it
now, conversion from the previous stage and the median time leads spend in it.

Definitions (the pipeline page prints them too):

- **reached** — distinct leads with a history row (``LeadStageChange``) *into* the stage whose
  ``created_at`` falls in the period;
- **now** — leads whose current stage is the stage (the period does not apply);
- **conversion** — a cohort measure: of the leads that reached the previous stage in the period,
  the share that reached this stage afterwards (at any time from the period's start until now);
  **drop-off** is the rest of that cohort;
- **median time in stage** — over the stays that *ended* in the period: from the history row
  that entered the stage to the next history row of the same lead (the one leaving it). Stays
  still running are not counted; final stages have none.

Every figure is one set-based query whatever the number of leads: four in all.
"""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.db import connection
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Func,
    Max,
    Q,
    Value,
    When,
)
from django.utils import timezone

from campaigns.models import Campaign
from core.roles import Role
from leads.models import QUALIFIED_STAGES, Lead, LeadStageChange, Stage

QUALIFIED = "qualified"  # the three qualified stages taken together


@dataclass(frozen=True)
class FunnelStep:
    key: str
    label: str
    stages: tuple[str, ...]
    previous: str | None = None  # key of the step it converts from
    level: int = 0  # 1: a part of the step above (MQL/PQL/CQL under "Qualified")
    side: bool = False  # a side exit: recycled, lost, disqualified

    @property
    def short_label(self) -> str:
        return self.label.split(" (")[0]

    @property
    def previous_label(self) -> str:
        return STEPS_BY_KEY[self.previous].short_label if self.previous else ""

    @property
    def list_stage(self) -> str:
        """The stage the leads list filters on: the step's one stage, or the qualified group."""
        return self.stages[0] if len(self.stages) == 1 else self.key


FUNNEL_STEPS: tuple[FunnelStep, ...] = (
    FunnelStep(Stage.NEW, "New", (Stage.NEW,)),
    FunnelStep(QUALIFIED, "Qualified (MQL + PQL + CQL)", QUALIFIED_STAGES, previous=Stage.NEW),
    FunnelStep(Stage.MQL, "MQL", (Stage.MQL,), previous=Stage.NEW, level=1),
    FunnelStep(Stage.PQL, "PQL", (Stage.PQL,), previous=Stage.NEW, level=1),
    FunnelStep(Stage.CQL, "CQL", (Stage.CQL,), previous=Stage.NEW, level=1),
    FunnelStep(Stage.SAL, "SAL", (Stage.SAL,), previous=QUALIFIED),
    FunnelStep(Stage.SQL, "SQL", (Stage.SQL,), previous=Stage.SAL),
    FunnelStep(Stage.OPPORTUNITY, "Opportunity", (Stage.OPPORTUNITY,), previous=Stage.SQL),
    FunnelStep(Stage.WON, "Won", (Stage.WON,), previous=Stage.OPPORTUNITY),
    FunnelStep(Stage.RECYCLED, "Recycled", (Stage.RECYCLED,), side=True),
    FunnelStep(Stage.LOST, "Lost", (Stage.LOST,), side=True),
    FunnelStep(Stage.DISQUALIFIED, "Disqualified", (Stage.DISQUALIFIED,), side=True),
)
STEPS_BY_KEY = {step.key: step for step in FUNNEL_STEPS}


# --- periods ----------------------------------------------------------------------------------
PERIOD_PRESETS = (
    ("90d", "Last 90 days"),
    ("this_month", "This month"),
    ("last_month", "Last month"),
    ("quarter", "This quarter"),
    ("custom", "Custom"),
)
DEFAULT_PERIOD = "90d"


@dataclass(frozen=True)
class Period:
    """Whole local days ``first`` to ``last`` (inclusive) as the half-open ``[start, end)``."""

    preset: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first, time.min))

    @property
    def end(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), time.min))

    @property
    def label(self) -> str:
        span = f"{self.first.day} {self.first:%b %Y} – {self.last.day} {self.last:%b %Y}"
        name = dict(PERIOD_PRESETS).get(self.preset, "")
        return span if self.preset == "custom" else f"{name} ({span})"


def period_resolve(
    *,
    preset: str = DEFAULT_PERIOD,
    first: date | None = None,
    last: date | None = None,
    today: date | None = None,
) -> Period:
    """The period a preset names relative to ``today``; ``custom`` takes ``first`` to ``last``."""
    today = today or timezone.localdate()
    if preset == "custom" and first and last:
        return Period("custom", min(first, last), max(first, last))
    if preset == "this_month":
        return Period(preset, today.replace(day=1), today)
    if preset == "last_month":
        last_day = today.replace(day=1) - timedelta(days=1)
        return Period(preset, last_day.replace(day=1), last_day)
    if preset == "quarter":
        month = 3 * ((today.month - 1) // 3) + 1
        return Period(preset, today.replace(month=month, day=1), today)
    return Period(DEFAULT_PERIOD, today - timedelta(days=89), today)


# --- filters ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FunnelFilters:
    campaign: int | None = None
    owner: int | None = None
    kind: str = ""

    def lead_q(self, prefix: str = "") -> Q:
        """The filters as a condition on Lead, reached through ``prefix`` (e.g. ``"lead__"``)."""
        q = Q()
        if self.campaign:
            q &= Q(**{f"{prefix}source_campaign_id": self.campaign})
        if self.owner:
            q &= Q(**{f"{prefix}owner_id": self.owner})
        if self.kind:
            q &= Q(**{f"{prefix}kind": self.kind})
        return q


def funnel_filter_choices() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Campaigns and active sales reps for the filter bar (two queries)."""
    campaigns = list(Campaign.objects.order_by("-start_date", "name").values_list("pk", "name"))
    reps = [
        (pk, f"{first} {last}".strip() or username)
        for pk, first, last, username in User.objects.filter(
            groups__name=Role.REP.value, is_active=True
        )
        .order_by("first_name", "last_name", "username")
        .values_list("pk", "first_name", "last_name", "username")
    ]
    return campaigns, reps


# --- the funnel -------------------------------------------------------------------------------
@dataclass
class FunnelRow:
    step: FunnelStep
    reached: int = 0
    now: int = 0
    cohort: int | None = None  # leads that reached the previous step in the period
    converted: int | None = None  # of the cohort, those that went on to reach this step
    median_seconds: float | None = None
    stays: int = 0  # completed stays the median is taken over
    bar: float = 0.0  # reached / the largest reached, for the chart

    @property
    def conversion(self) -> float | None:
        if not self.cohort:
            return None
        return self.converted / self.cohort

    @property
    def drop_off(self) -> int | None:
        return None if self.cohort is None else self.cohort - (self.converted or 0)

    @property
    def drop_off_rate(self) -> float | None:
        return None if self.conversion is None else 1 - self.conversion

    @property
    def conversion_pct(self) -> float | None:
        return None if self.conversion is None else round(100 * self.conversion, 1)

    @property
    def drop_off_pct(self) -> float | None:
        return None if self.drop_off_rate is None else round(100 * self.drop_off_rate, 1)

    @property
    def median_display(self) -> str:
        return "" if self.median_seconds is None else duration_short(self.median_seconds)


def duration_short(seconds: float) -> str:
    """A duration the way people say it: "45 min", "5 h 20 min", "3 d 4 h"."""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


@dataclass
class Funnel:
    period: Period
    filters: FunnelFilters
    rows: list[FunnelRow] = field(default_factory=list)

    @property
    def main(self) -> list[FunnelRow]:
        return [row for row in self.rows if not row.step.side]

    @property
    def side(self) -> list[FunnelRow]:
        return [row for row in self.rows if row.step.side]


def funnel_build(*, period: Period, filters: FunnelFilters = FunnelFilters()) -> Funnel:
    """The whole funnel for ``period`` and ``filters`` in three queries."""
    reached, converted = _reached_and_converted(period=period, filters=filters)
    now = _now(filters=filters)
    medians = stage_medians(period=period, filters=filters)
    peak = max(reached.values(), default=0) or 1
    rows = []
    for step in FUNNEL_STEPS:
        row = FunnelRow(step=step, reached=reached.get(step.key, 0))
        row.now = sum(now.get(stage, 0) for stage in step.stages)
        if step.previous:
            row.cohort = reached.get(step.previous, 0)
            row.converted = converted.get(step.key, 0)
        row.median_seconds, row.stays = medians.get(step.key, (None, 0))
        row.bar = row.reached / peak
        rows.append(row)
    return Funnel(period=period, filters=filters, rows=rows)


def _in_period(period: Period, prefix: str = "") -> Q:
    return Q(**{f"{prefix}created_at__gte": period.start, f"{prefix}created_at__lt": period.end})


def _flag(condition: Q) -> Max:
    """1 when any of the lead's rows meets ``condition``, else 0 (per-lead aggregate)."""
    return Max(Case(When(condition, then=Value(1)), default=Value(0)))


def _reached_and_converted(
    *, period: Period, filters: FunnelFilters
) -> tuple[dict[str, int], dict[str, int]]:
    """Per step, the distinct leads entering it in the period (reached), and the leads of the
    previous step's period cohort that reached it since the period began (converted): one
    pass over the history since the period began, flagged per lead, then counted."""
    flags, reached, converted = {}, {}, {}
    for step in FUNNEL_STEPS:
        flags[f"in_{step.key}"] = _flag(Q(to_stage__in=step.stages) & _in_period(period))
        flags[f"since_{step.key}"] = _flag(Q(to_stage__in=step.stages))
    for step in FUNNEL_STEPS:
        reached[step.key] = Count("lead_id", filter=Q(**{f"in_{step.key}": 1}))
        if step.previous:
            converted[step.key] = Count(
                "lead_id", filter=Q(**{f"in_{step.previous}": 1, f"since_{step.key}": 1})
            )
    per_lead = (
        LeadStageChange.objects.filter(created_at__gte=period.start)
        .filter(filters.lead_q("lead__"))
        .order_by()
        .values("lead_id")
        .annotate(**flags)
    )
    counts = per_lead.aggregate(
        **{f"r_{k}": v for k, v in reached.items()},
        **{f"c_{k}": v for k, v in converted.items()},
    )
    return (
        {k: counts[f"r_{k}"] for k in reached},
        {k: counts[f"c_{k}"] for k in converted},
    )


def _now(*, filters: FunnelFilters) -> dict[str, int]:
    """Leads in each stage at this moment: one grouped count."""
    rows = (
        Lead.objects.filter(filters.lead_q())
        .order_by()
        .values("stage")
        .annotate(n=Count("pk"))
        .values_list("stage", "n")
    )
    return dict(rows)


# --- time in stage ----------------------------------------------------------------------------
class Median(Aggregate):
    """PostgreSQL's exact median; SQLite has no percentile function (see ``stage_medians``)."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()


class EpochSeconds(Func):
    template = "EXTRACT(EPOCH FROM %(expressions)s)"
    output_field = FloatField()


def stage_exits(*, period: Period, filters: FunnelFilters = FunnelFilters()):
    """History rows in the period that took a lead *out of* a stage; each knows when that
    stay began (``stage_entered_at``)."""
    return LeadStageChange.objects.filter(_in_period(period), filters.lead_q("lead__")).exclude(
        from_stage=""
    )


def stage_medians(
    *, period: Period, filters: FunnelFilters = FunnelFilters()
) -> dict[str, tuple[float | None, int]]:
    """Per step key: (median seconds spent in it, number of stays) over the stays that ended
    in the period. One query: the median is computed in SQL on PostgreSQL; elsewhere the
    durations come back as one values_list and the median is taken in Python."""
    exits = stage_exits(period=period, filters=filters)
    if connection.vendor == "postgresql":
        seconds = EpochSeconds(
            ExpressionWrapper(F("created_at") - F("stage_entered_at"), output_field=DurationField())
        )
        aggregates = {}
        for step in FUNNEL_STEPS:
            where = Q(from_stage__in=step.stages)
            aggregates[f"{step.key}__median"] = Median(seconds, filter=where)
            aggregates[f"{step.key}__stays"] = Count("pk", filter=where)
        result = exits.aggregate(**aggregates)
        return {
            step.key: (result[f"{step.key}__median"], result[f"{step.key}__stays"])
            for step in FUNNEL_STEPS
        }
    durations: dict[str, list[float]] = defaultdict(list)
    rows = exits.values_list("from_stage", "created_at", "stage_entered_at")
    for stage, left_at, entered_at in rows:
        durations[stage].append((left_at - entered_at).total_seconds())
    medians = {}
    for step in FUNNEL_STEPS:
        values = [d for stage in step.stages for d in durations.get(stage, ())]
        medians[step.key] = (statistics.median(values) if values else None, len(values))
    return medians

"""Reads for scoring: the active rules and their history, a lead's recent engagement, rule
insights against closed-loop outcomes, the threshold what-if, and the definitions page's words.
Each runs a fixed number of queries whatever the number of leads, rules or events."""

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from leads.models import (
    CLOSED_STAGES,
    EngagementEvent,
    EngagementRule,
    EventKind,
    FitRule,
    Lead,
    LeadStageChange,
    ScoringModel,
    Stage,
    Temperature,
)
from leads.scoring import (
    FIELD_TYPES,
    EngagementSpec,
    FitSpec,
    Rules,
    fit_value_text,
    frozen_value,
)

MARKETING_STAGES = (Stage.NEW, Stage.RECYCLED)


# --- rules and versions -----------------------------------------------------------------------
def scoring_active() -> ScoringModel | None:
    """The active version with its author and rules prefetched (3 queries)."""
    return (
        ScoringModel.objects.filter(is_active=True)
        .select_related("created_by")
        .prefetch_related(
            Prefetch("fit_rules", queryset=FitRule.objects.order_by("position", "pk")),
            Prefetch("engagement_rules", queryset=EngagementRule.objects.order_by("kind")),
        )
        .first()
    )


def rules_of(version: ScoringModel) -> Rules:
    """``Rules`` from a version fetched by ``scoring_active`` (no further queries)."""
    order = {kind: i for i, kind in enumerate(EventKind.values)}
    return Rules(
        warm=version.warm_threshold,
        hot=version.hot_threshold,
        mql=version.mql_threshold,
        fit=tuple(
            FitSpec(r.field, r.operator, frozen_value(r.value), r.points, position=i)
            for i, r in enumerate(version.fit_rules.all())
        ),
        engagement=tuple(
            EngagementSpec(r.kind, r.points, r.half_life_days, r.cap)
            for r in sorted(version.engagement_rules.all(), key=lambda r: order[r.kind])
        ),
        version_id=version.pk,
        number=version.number,
    )


def scoring_versions(*, limit: int | None = 20) -> QuerySet:
    """The latest versions (all with ``limit=None``), newest first, with who saved them and how
    many rules they hold."""
    rows = (
        ScoringModel.objects.select_related("created_by")
        .annotate(
            fit_count=Count("fit_rules", distinct=True),
            engagement_count=Count("engagement_rules", distinct=True),
        )
        .order_by("-number")
    )
    return rows if limit is None else rows[:limit]


def scoring_version_get(*, number: int) -> ScoringModel | None:
    """One version by its number with its author and rules prefetched (3 queries), or None."""
    return (
        ScoringModel.objects.filter(number=number)
        .select_related("created_by")
        .prefetch_related(
            Prefetch("fit_rules", queryset=FitRule.objects.order_by("position", "pk")),
            Prefetch("engagement_rules", queryset=EngagementRule.objects.order_by("kind")),
        )
        .first()
    )


def lead_engagement_recent(*, lead_id: int, limit: int = 10) -> list[dict]:
    """The lead's latest events as plain data (what travels in a handoff)."""
    rows = (
        EngagementEvent.objects.filter(lead_id=lead_id)
        .select_related("campaign")
        .order_by("-occurred_at", "-pk")[:limit]
    )
    return [
        {
            "kind": row.kind,
            "label": row.get_kind_display(),
            "occurred_at": row.occurred_at.isoformat(),
            "url": row.url,
            "campaign": row.campaign.name if row.campaign else "",
        }
        for row in rows
    ]


# --- insights -------------------------------------------------------------------------------
# Suggested points: the lift is smoothed toward 1 with PRIOR_LEADS imaginary leads converting
# at the overall rate, so a rule seen on a handful of leads does not swing wildly; a rule that
# doubles conversion to SQL is worth a quarter of the MQL threshold.
PRIOR_LEADS = 10


@dataclass(frozen=True)
class Outcome:
    leads: int
    sql: int
    won: int

    @property
    def sql_rate(self) -> float | None:
        return self.sql / self.leads if self.leads else None

    @property
    def won_rate(self) -> float | None:
        return self.won / self.leads if self.leads else None


@dataclass(frozen=True)
class RuleInsight:
    kind: str  # fit or engagement
    label: str
    points: int
    fires: Outcome
    rest: Outcome
    sql_lift: float | None
    won_lift: float | None
    suggested: int | None

    @property
    def sql_pct(self):
        return _pct(self.fires.sql_rate)

    @property
    def rest_sql_pct(self):
        return _pct(self.rest.sql_rate)

    @property
    def won_pct(self):
        return _pct(self.fires.won_rate)

    @property
    def rest_won_pct(self):
        return _pct(self.rest.won_rate)


def _pct(rate: float | None) -> float | None:
    return None if rate is None else round(100 * rate, 1)


def _lift(fires: float | None, rest: float | None) -> float | None:
    if fires is None or not rest:
        return None
    return round(fires / rest, 2)


def suggested_points(*, fires: Outcome, rest: Outcome, overall_rate: float, mql: int) -> int | None:
    """round(MQL threshold / 4 * log2(smoothed lift)), within ±MQL threshold; None without any
    SQL to learn from. Smoothed rate = (SQLs + 10 * overall rate) / (leads + 10)."""
    if overall_rate <= 0 or overall_rate >= 1:
        return None
    prior = PRIOR_LEADS * overall_rate
    with_rate = (fires.sql + prior) / (fires.leads + PRIOR_LEADS)
    rest_rate = (rest.sql + prior) / (rest.leads + PRIOR_LEADS)
    points = round(mql / 4 * math.log2(with_rate / rest_rate))
    return max(-mql, min(mql, points))


def fit_rule_q(rule: FitSpec) -> Q:
    """The leads a fit rule fires on, as an ORM filter (the engine's SQL is in leads.scoring)."""
    name = rule.field
    if FIELD_TYPES[name] == "number":
        lookup = {"equals": "exact", "in": "in", "gte": "gte", "lte": "lte"}[rule.operator]
        return Q(**{f"{name}__{lookup}": rule.value})
    if rule.operator == FitRule.Operator.CONTAINS:
        return Q(**{f"{name}__icontains": rule.value})
    values = rule.value if rule.operator == FitRule.Operator.IN else [rule.value]
    match = Q(pk__in=[])
    for value in values:
        match |= Q(**{f"{name}__iexact": value})
    return match


def rule_insights(rules: Rules) -> tuple[list[RuleInsight], Outcome]:
    """Per rule: conversion to SQL and to won among the leads it fires on versus all other
    leads, the lift (rate with ÷ rate without) and a suggested point value. A fit rule fires
    on leads whose fields match it now; an engagement rule on leads with at least one event of
    its kind. One aggregate query over all leads."""
    reached_sql = Exists(LeadStageChange.objects.filter(lead=OuterRef("pk"), to_stage=Stage.SQL))
    rows = Lead.objects.annotate(reached_sql=reached_sql)
    conditions: list[tuple[str, str, int, Q]] = []
    for rule in rules.fit:
        conditions.append(("fit", rule.label, rule.points, fit_rule_q(rule)))
    for index, rule in enumerate(rules.engagement):
        name = f"has_{index}"
        rows = rows.annotate(
            **{name: Exists(EngagementEvent.objects.filter(lead=OuterRef("pk"), kind=rule.kind))}
        )
        conditions.append(("engagement", rule.label, rule.points, Q(**{name: True})))
    sql, won = Q(reached_sql=True), Q(stage=Stage.WON)
    aggregates = {
        "total": Count("pk"),
        "total_sql": Count("pk", filter=sql),
        "total_won": Count("pk", filter=won),
    }
    for index, (_, _, _, condition) in enumerate(conditions):
        aggregates[f"n{index}"] = Count("pk", filter=condition)
        aggregates[f"s{index}"] = Count("pk", filter=condition & sql)
        aggregates[f"w{index}"] = Count("pk", filter=condition & won)
    figures = rows.aggregate(**aggregates)
    overall = Outcome(figures["total"], figures["total_sql"], figures["total_won"])
    insights = []
    for index, (kind, label, points, _) in enumerate(conditions):
        fires = Outcome(figures[f"n{index}"], figures[f"s{index}"], figures[f"w{index}"])
        rest = Outcome(
            overall.leads - fires.leads, overall.sql - fires.sql, overall.won - fires.won
        )
        insights.append(
            RuleInsight(
                kind=kind,
                label=label,
                points=points,
                fires=fires,
                rest=rest,
                sql_lift=_lift(fires.sql_rate, rest.sql_rate),
                won_lift=_lift(fires.won_rate, rest.won_rate),
                suggested=suggested_points(
                    fires=fires,
                    rest=rest,
                    overall_rate=overall.sql_rate or 0.0,
                    mql=rules.mql,
                ),
            )
        )
    return insights, overall


@dataclass(frozen=True)
class WhatIf:
    open_leads: int
    marketing_leads: int
    hot_now: int
    hot_then: int
    warm_now: int
    warm_then: int
    mql_now: int
    mql_then: int


def threshold_what_if(*, rules: Rules, warm: int, hot: int, mql: int) -> WhatIf:
    """How many open leads would be hot / warm with thresholds ``warm``/``hot``, and how many
    leads marketing holds (new, recycled) are at or above ``mql`` — the ones that would be
    handed off — next to the same counts with the current thresholds. Scores do not depend on
    thresholds, so this is exact. One aggregate query."""
    marketing = Q(stage__in=MARKETING_STAGES)
    figures = Lead.objects.exclude(stage__in=CLOSED_STAGES).aggregate(
        open_leads=Count("pk"),
        marketing_leads=Count("pk", filter=marketing),
        hot_now=Count("pk", filter=Q(score__gte=rules.hot)),
        hot_then=Count("pk", filter=Q(score__gte=hot)),
        warm_now=Count("pk", filter=Q(score__gte=rules.warm, score__lt=rules.hot)),
        warm_then=Count("pk", filter=Q(score__gte=warm, score__lt=hot)),
        mql_now=Count("pk", filter=marketing & Q(score__gte=rules.mql)),
        mql_then=Count("pk", filter=marketing & Q(score__gte=mql)),
    )
    return WhatIf(**figures)


# --- definitions ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Definition:
    key: str
    term: str
    summary: str
    details: list[str]


def _hours(hours: int) -> str:
    return f"{hours} business hour{'s' if hours != 1 else ''}"


def fit_rule_sentence(rule: FitSpec) -> str:
    field_label = FitRule.Field(rule.field).label.lower()
    value = fit_value_text(rule.field, rule.value)
    verb = {
        "equals": "is",
        "in": "is one of",
        "contains": "contains",
        "gte": "is at least",
        "lte": "is at most",
    }[rule.operator]
    sign = "adds" if rule.points > 0 else "takes away"
    return f"{sign} {abs(rule.points)} points when the {field_label} {verb} {value}"


def engagement_rule_sentence(rule: EngagementSpec) -> str:
    days = f"{rule.half_life_days} day{'s' if rule.half_life_days != 1 else ''}"
    return (
        f"each {rule.label.lower()} adds {rule.points} points, worth half as much after "
        f"{days}; at most {rule.cap} points from {rule.label.lower()}s"
    )


def definitions(*, now: datetime) -> dict:
    """Everything the definitions page says, generated from the live rules and the SLA
    agreement in force (5 queries)."""
    from slas.services import agreement_in_force

    version = scoring_active()
    rules = rules_of(version) if version else None
    agreement = agreement_in_force(on=now)
    targets = list(agreement.targets.all()) if agreement else []
    by_kind: dict[str, list] = {}
    for target in targets:
        by_kind.setdefault(target.kind, []).append(target)

    def first_touch(kind: str) -> str:
        rows = by_kind.get(kind, [])
        specific = [t for t in rows if t.temperature]
        general = [t for t in rows if not t.temperature]
        if not rows:
            return ""
        parts = [
            f"within {_hours(t.hours)} when the lead is {Temperature(t.temperature).label.lower()}"
            for t in specific
        ]
        if general:
            parts.append(f"within {_hours(general[0].hours)}" + (" otherwise" if specific else ""))
        return f"Sales commits to a first touch {', and '.join(parts)}, counted from the handoff."

    mql_details = []
    if rules:
        mql_details.append(
            f"A lead marketing still holds (new or recycled) becomes an MQL as soon as its score "
            f"reaches {rules.mql} points; a marketer may also qualify a lead by hand."
        )
    else:
        mql_details.append(
            "No scoring rules are set yet, so every score is 0: leads become MQLs only when a "
            "marketer qualifies them by hand."
        )
    if first_touch(Stage.MQL):
        mql_details.append(first_touch(Stage.MQL))
    items = [
        Definition(
            "mql",
            "MQL — marketing-qualified lead",
            "Marketing says: this lead fits and is engaged enough for sales.",
            mql_details,
        ),
        Definition(
            "pql",
            "PQL — product-qualified lead",
            "The lead tried the product (a trial sign-up) without buying yet.",
            [
                "A trial sign-up event makes a lead marketing holds a PQL at once, whatever "
                "its score.",
                *([first_touch(Stage.PQL)] if first_touch(Stage.PQL) else []),
            ],
        ),
        Definition(
            "cql",
            "CQL — conversation-qualified lead",
            "The lead talked to us (a chat conversation).",
            [
                "A chat conversation event makes a lead marketing holds a CQL at once, "
                "whatever its score.",
                *([first_touch(Stage.CQL)] if first_touch(Stage.CQL) else []),
            ],
        ),
        Definition(
            "sal",
            "SAL — sales-accepted lead",
            "A rep accepted the handoff: sales agrees the lead is worth working.",
            [
                "A rep who does not accept returns it to marketing with a reason (bad fit, no "
                "budget, wrong contact, duplicate, not ready…)."
            ],
        ),
        Definition(
            "sql",
            "SQL — sales-qualified lead",
            "Discovery is done and the rep recorded BANT: budget, authority, need, timeline.",
            ["All four BANT answers are required to move a lead to SQL."],
        ),
    ]
    return {
        "version": version,
        "rules": rules,
        "fit_sentences": [fit_rule_sentence(r) for r in rules.fit] if rules else [],
        "engagement_sentences": [engagement_rule_sentence(r) for r in rules.engagement]
        if rules
        else [],
        "definitions": items,
        "agreement": agreement,
        "targets": targets,
    }

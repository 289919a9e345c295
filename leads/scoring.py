"""The scoring formula, once: as set-based SQL that rescores leads in the database, and as plain
Python for the reference computation, labels and the explanation text.

    score = Σ points of the fit rules the lead matches
          + Σ over event kinds: round_half_up(min(cap, Σ points * 0.5 ^ (age_days / half_life)))
          + the manual adjustment
    clamped to 0..1000.

Rounding: ``round_half_up`` (floor(x + 0.5)) is applied to each event kind's decayed and capped
total; fit points and the manual adjustment are whole numbers already. So the explanation is a
list of whole-point items that adds up exactly to the score. When the sum leaves 0..1000 the
explanation gets one more item, "kept within 0-1000", whose points are the difference.

Decay is computed in float8 from epoch seconds (``date_part('epoch', …)`` on PostgreSQL, the
same IEEE arithmetic as Python's ``datetime.timestamp()``); an event dated in the future counts
as if it happened now. Text comparisons are case-insensitive (``LOWER`` in SQL, ``str.lower``
in Python: the same for ASCII).

Temperature: hot at or above the hot threshold, warm at or above warm, else cold.
"""

# ruff: noqa: S608 -- the SQL below is assembled from constants; every value is a parameter.

import hashlib
import json
import math
import re
import time
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection

from leads.models import (
    EngagementRule,
    EventKind,
    FitRule,
    ScoringModel,
    SourceChannel,
    Stage,
    Temperature,
)

SCORE_MIN, SCORE_MAX = 0, 1000
SECONDS_PER_DAY = 86400.0
CLAMP_LABEL = f"Kept within {SCORE_MIN}–{SCORE_MAX}"
MANUAL_LABEL = "Manual adjustment"

# What a fit rule may test, and how: text compares case-insensitively; codes are exact
# choices (country, channel); numbers compare numerically.
FIELD_TYPES: dict[str, str] = {
    FitRule.Field.TITLE: "text",
    FitRule.Field.COMPANY: "text",
    FitRule.Field.INDUSTRY: "text",
    FitRule.Field.EMAIL: "text",
    FitRule.Field.COUNTRY: "code",
    FitRule.Field.SOURCE_CHANNEL: "code",
    FitRule.Field.COMPANY_SIZE: "number",
}
OPERATORS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "text": (FitRule.Operator.EQUALS, FitRule.Operator.IN, FitRule.Operator.CONTAINS),
    "code": (FitRule.Operator.EQUALS, FitRule.Operator.IN),
    "number": (
        FitRule.Operator.EQUALS,
        FitRule.Operator.IN,
        FitRule.Operator.GTE,
        FitRule.Operator.LTE,
    ),
}


def round_half_up(value: float) -> int:
    """The one rounding of the formula; SQL spells it ``FLOOR(x + 0.5)``."""
    return math.floor(value + 0.5)


# --- rules as plain values ---------------------------------------------------------------------
def frozen_value(value):
    """A rule value as stored (JSON) made hashable: lists become tuples."""
    return tuple(value) if isinstance(value, list) else value


@dataclass(frozen=True)
class FitSpec:
    field: str
    operator: str
    value: object  # str, int, or a tuple of them for ``in`` (see ``frozen_value``)
    points: int
    position: int = 0

    @property
    def label(self) -> str:
        return fit_rule_label(self.field, self.operator, self.value)


@dataclass(frozen=True)
class EngagementSpec:
    kind: str
    points: int
    half_life_days: int
    cap: int

    @property
    def label(self) -> str:
        return EventKind(self.kind).label


@dataclass(frozen=True)
class Rules:
    """One scoring version as values: what the engine and the reference compute with."""

    warm: int
    hot: int
    mql: int
    fit: tuple[FitSpec, ...] = ()
    engagement: tuple[EngagementSpec, ...] = ()
    version_id: int | None = None
    number: int = 0

    def temperature(self, score: int) -> str:
        if score >= self.hot:
            return Temperature.HOT
        if score >= self.warm:
            return Temperature.WARM
        return Temperature.COLD

    @classmethod
    def of(cls, version: ScoringModel) -> "Rules":
        fit = FitRule.objects.filter(version=version).order_by("position", "pk")
        engagement = EngagementRule.objects.filter(version=version).order_by("kind")
        return cls(
            warm=version.warm_threshold,
            hot=version.hot_threshold,
            mql=version.mql_threshold,
            fit=tuple(
                FitSpec(r.field, r.operator, frozen_value(r.value), r.points, position=i)
                for i, r in enumerate(fit)
            ),
            engagement=tuple(
                EngagementSpec(r.kind, r.points, r.half_life_days, r.cap)
                for r in _kind_ordered(engagement)
            ),
            version_id=version.pk,
            number=version.number,
        )


def _kind_ordered(rules: Iterable) -> list:
    order = {kind: i for i, kind in enumerate(EventKind.values)}
    return sorted(rules, key=lambda r: order.get(r.kind, len(order)))


def fit_value_text(field_name: str, value) -> str:
    """A rule's value as people read it: channel labels, comma-separated lists."""
    values = list(value) if isinstance(value, list | tuple) else [value]
    if field_name == FitRule.Field.SOURCE_CHANNEL:
        labels = dict(SourceChannel.choices)
        values = [labels.get(v, v) for v in values]
    elif FIELD_TYPES.get(field_name) == "number":
        values = [f"{int(v):,}" for v in values]
    elif FIELD_TYPES.get(field_name) == "text":
        values = [f"“{v}”" for v in values]
    return ", ".join(str(v) for v in values)


def fit_rule_label(field_name: str, operator: str, value) -> str:
    field_label = FitRule.Field(field_name).label
    return f"{field_label} {FitRule.Operator(operator).label} {fit_value_text(field_name, value)}"


# --- the reference: plain Python --------------------------------------------------------------
def fit_matches(rule: FitSpec, lead_value) -> bool:
    """Whether a lead's field value satisfies the rule (the SQL in ``_fit_condition``)."""
    kind = FIELD_TYPES[rule.field]
    if kind == "number":
        if lead_value is None:
            return False
        number = int(lead_value)
        if rule.operator == FitRule.Operator.IN:
            return number in {int(v) for v in rule.value}
        target = int(rule.value)
        return {
            FitRule.Operator.EQUALS: number == target,
            FitRule.Operator.GTE: number >= target,
            FitRule.Operator.LTE: number <= target,
        }[rule.operator]
    text = (lead_value or "").lower()
    if rule.operator == FitRule.Operator.IN:
        return text in {str(v).lower() for v in rule.value}
    if rule.operator == FitRule.Operator.CONTAINS:
        return str(rule.value).lower() in text
    return text == str(rule.value).lower()


@dataclass
class ScoreResult:
    score: int
    temperature: str
    items: list[dict]
    # Per event kind, the decayed sum before the cap and the rounding: how close a kind is to
    # a rounding step or to its cap (the SQL adds the same floats in another order).
    decayed: dict[str, float] = field(default_factory=dict)


def _item(type_: str, rule: str, points: int, raw=None, events: int = 0, cap=None) -> dict:
    """An explanation item. Only engagement items carry ``raw`` (the points before decay),
    ``events`` and ``cap`` (set when the cap applied): for the others they would say nothing,
    and a million stored explanations are a quarter smaller without them."""
    item = {"type": type_, "rule": rule, "points": points}
    if type_ == "engagement":
        item.update(raw=points if raw is None else raw, events=events, cap=cap)
    return item


def score_compute(
    rules: Rules,
    *,
    lead: dict,
    events: Iterable[tuple[str, datetime]],
    now: datetime,
) -> ScoreResult:
    """The formula in plain Python for one lead: ``lead`` maps field names (and
    ``score_manual_adjustment`` / ``score_manual_reason``) to values, ``events`` are
    (kind, occurred_at) pairs. Items come in the order the SQL stores them."""
    items = [
        _item("fit", rule.label, rule.points)
        for rule in sorted(rules.fit, key=lambda r: r.position)
        if fit_matches(rule, lead.get(rule.field))
    ]
    now_epoch = now.timestamp()
    by_kind: dict[str, list[datetime]] = defaultdict(list)
    for kind, occurred_at in events:
        by_kind[kind].append(occurred_at)
    decayed_by_kind = {}
    for rule in rules.engagement:
        moments = by_kind.get(rule.kind)
        if not moments:
            continue
        half_life_seconds = SECONDS_PER_DAY * rule.half_life_days
        decayed = 0.0
        for occurred_at in moments:
            age = max(now_epoch - occurred_at.timestamp(), 0.0)
            decayed += rule.points * 0.5 ** (age / half_life_seconds)
        decayed_by_kind[rule.kind] = decayed
        points = round_half_up(min(float(rule.cap), decayed))
        if points:
            items.append(
                _item(
                    "engagement",
                    rule.label,
                    points,
                    raw=rule.points * len(moments),
                    events=len(moments),
                    cap=rule.cap if decayed > rule.cap else None,
                )
            )
    manual = int(lead.get("score_manual_adjustment") or 0)
    if manual:
        reason = lead.get("score_manual_reason") or ""
        items.append(_item("manual", f"{MANUAL_LABEL}: {reason}", manual))
    total = sum(item["points"] for item in items)
    score = min(max(total, SCORE_MIN), SCORE_MAX)
    if score != total:
        items.append(_item("clamp", CLAMP_LABEL, score - total))
    return ScoreResult(score, rules.temperature(score), items, decayed_by_kind)


# --- explanation text ---------------------------------------------------------------------------
def explanation_item_text(item: dict) -> str:
    """One item as people read it: "20 Pricing page view x3 (decayed from 90, capped at 40)"."""
    points = item.get("points", 0)
    rule = item.get("rule", "")
    if item.get("type") != "engagement":
        return f"{points} {rule}"
    events = item.get("events") or 0
    text = f"{points} {rule}" + (f" \u00d7{events}" if events > 1 else "")
    notes = []
    if item.get("raw") not in (None, points):
        notes.append(f"decayed from {item['raw']}")
    if item.get("cap") is not None:
        notes.append(f"capped at {item['cap']}")
    return text + (f" ({', '.join(notes)})" if notes else "")


def explanation_text(score: int, items: list[dict]) -> str:
    """ "72 = 20 Pricing page view (decayed from 30) + 15 Title contains “VP” + …"."""
    if not items:
        return f"{score} = no rule applies"
    parts = []
    for index, item in enumerate(items):
        text = explanation_item_text(item)
        if index == 0:
            parts.append(text)
        elif text.startswith("-"):
            parts.append(f"− {text[1:]}")
        else:
            parts.append(f"+ {text}")
    return f"{score} = " + " ".join(parts)


# --- the SQL ------------------------------------------------------------------------------------
class _Params(dict):
    """Named query parameters: ``add(value)`` returns its placeholder."""

    def add(self, value) -> str:
        name = f"p{len(self)}"
        self[name] = value
        return f"%({name})s"


@dataclass(frozen=True)
class Target:
    """Which leads a statement rescores: an id range [lo, hi), or a list of ids."""

    lo: int | None = None
    hi: int | None = None
    ids: tuple[int, ...] | None = None
    only_engaged: bool = False


class _Dialect:
    def __init__(self, vendor: str):
        self.pg = vendor == "postgresql"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.pg else f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.pg else f"MIN({a}, {b})"

    def epoch(self, column: str) -> str:
        # float8 seconds since 1970; SQLite's julianday keeps milliseconds.
        if self.pg:
            return f"date_part('epoch', {column})"
        return f"((julianday({column}) - 2440587.5) * 86400.0)"

    def contains(self, haystack: str, needle: str) -> str:
        return (
            f"STRPOS({haystack}, {needle}) > 0" if self.pg else f"INSTR({haystack}, {needle}) > 0"
        )

    def json_quote(self, text: str) -> str:
        """A text expression as a JSON string literal (escaped)."""
        return f"CAST(to_jsonb(CAST({text} AS TEXT)) AS TEXT)" if self.pg else f"json_quote({text})"

    def concat(self, pieces: list[str]) -> str:
        """Texts joined, NULLs skipped."""
        if self.pg:
            return f"concat({', '.join(pieces)})"
        return " || ".join(f"COALESCE({piece}, '')" for piece in pieces)

    def json_parse(self, text: str) -> str:
        return f"CAST({text} AS JSONB)" if self.pg else f"json({text})"

    def is_distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}" if self.pg else f"{a} IS NOT {b}"

    def in_list(self, column: str, values, params: _Params) -> str:
        if self.pg:
            return f"{column} = ANY({params.add(list(values))})"
        return f"{column} IN ({', '.join(params.add(v) for v in values)})"


def _fit_condition(rule: FitSpec, d: _Dialect, params: _Params) -> str:
    column = f"b.{rule.field}"
    if FIELD_TYPES[rule.field] == "number":
        if rule.operator == FitRule.Operator.IN:
            return d.in_list(column, [int(v) for v in rule.value], params)
        operator = {"equals": "=", "gte": ">=", "lte": "<="}[rule.operator]
        return f"{column} {operator} {params.add(int(rule.value))}"
    lowered = f"b.lower_{rule.field}"  # LOWER() once per lead and field (see the batch)
    if rule.operator == FitRule.Operator.IN:
        return d.in_list(lowered, [str(v).lower() for v in rule.value], params)
    if rule.operator == FitRule.Operator.CONTAINS:
        return d.contains(lowered, params.add(str(rule.value).lower()))
    return f"{lowered} = {params.add(str(rule.value).lower())}"


def _target_where(target: Target, column: str, d: _Dialect) -> str:
    """The target as a condition on ``column``, with the target's own parameters (``ids``,
    ``lo``, ``hi``; on SQLite ``id0``, ``id1``…), so the statement's text depends only on the
    rules and the target's shape."""
    conditions = []
    if target.ids is not None:
        if d.pg:
            conditions.append(f"{column} = ANY(%(ids)s)")
        elif target.ids:
            names = ", ".join(f"%(id{i})s" for i in range(len(target.ids)))
            conditions.append(f"{column} IN ({names})")
        else:
            conditions.append("0 = 1")
    if target.lo is not None:
        conditions.append(f"{column} >= %(lo)s")
    if target.hi is not None:
        conditions.append(f"{column} < %(hi)s")
    return " AND ".join(conditions) or "1 = 1"


def _target_params(target: Target, d: _Dialect, now: datetime) -> dict:
    params = {"now_epoch": now.timestamp(), "lo": target.lo, "hi": target.hi}
    if target.ids is not None:
        if d.pg:
            params["ids"] = list(target.ids)
        else:
            params.update({f"id{i}": pk for i, pk in enumerate(target.ids)})
    return params


# The statement for a rule set and a target shape, built once per process; on SQLite the text
# depends on the number of ids, so it is built every time.
_STATEMENTS: dict[tuple, tuple[str, dict]] = {}


def final_select(rules: Rules, *, target: Target, now: datetime, vendor: str) -> tuple[str, dict]:
    """A query giving, per target lead: ``id, old_score, stage, new_score, new_temperature,
    new_items, flagged`` (its ``needs_rescore``), ``changed`` (whether score, temperature,
    explanation or version differ from the row's), on PostgreSQL also ``seen`` (the row
    version it read) — the whole formula, set-based — and its parameters."""
    d = _Dialect(vendor)
    shape = (target.ids is not None, target.lo is not None, target.hi is not None)
    key = (rules, vendor, shape, target.only_engaged)
    cached = _STATEMENTS.get(key) if d.pg else None
    if cached is None:
        cached = _final_select_build(rules, target=target, d=d)
        if d.pg:
            if len(_STATEMENTS) > 32:  # old versions' statements
                _STATEMENTS.clear()
            _STATEMENTS[key] = cached
    sql, constants = cached
    return sql, {**constants, **_target_params(target, d, now)}


def _json_item(type_: str, rule: str, points: int) -> str:
    # A constant explanation item as JSON text, with the comma that joins it to the previous.
    # Keys in jsonb's own order (shorter first), which spares it sorting them.
    item = dict(sorted(_item(type_, rule, points).items(), key=lambda kv: (len(kv[0]), kv[0])))
    return "," + json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def _final_select_build(rules: Rules, *, target: Target, d: _Dialect) -> tuple[str, dict]:
    """One row per lead, no item rows: the events are summed per lead into one column per
    engagement rule, the fit rules are one CASE each, and the explanation is written as JSON
    text and parsed once — a union of item rows grouped back per lead (``jsonb_agg``) cost
    several times more at a million leads."""
    params = _Params()
    fit = sorted(rules.fit, key=lambda r: r.position)
    engagement = rules.engagement
    # Per lead: for each engagement rule, the decayed sum (NULL without events) and the count.
    events_join = ""
    if engagement:
        age = d.greatest(
            f"CAST(%(now_epoch)s AS DOUBLE PRECISION) - {d.epoch('e.occurred_at')}", "0"
        )
        sums = []
        for i, rule in enumerate(engagement):
            kind = params.add(rule.kind)
            half_life = f"CAST({SECONDS_PER_DAY * rule.half_life_days!r} AS DOUBLE PRECISION)"
            sums.append(
                f"SUM({int(rule.points)} * POWER(CAST(0.5 AS DOUBLE PRECISION), "
                f"{age} / {half_life})) FILTER (WHERE e.kind = {kind}) AS d{i}, "
                f"COUNT(*) FILTER (WHERE e.kind = {kind}) AS n{i}"
            )
        kinds = d.in_list("e.kind", [r.kind for r in engagement], params)
        # The batch's events by the same id range or list (an index range scan).
        event_where = _target_where(target, "e.lead_id", d)
        events_join = (
            f"{'JOIN' if target.only_engaged else 'LEFT JOIN'} ("
            f"SELECT e.lead_id, {', '.join(sums)} FROM leads_engagementevent e "
            f"WHERE {event_where} AND {kinds} GROUP BY e.lead_id) k ON k.lead_id = b.id"
        )
    lead_where = _target_where(target, "l.id", d)
    if target.only_engaged and not engagement:
        lead_where += " AND 0 = 1"  # nothing decays without engagement rules
    # Subqueries, each evaluated once per row: on PostgreSQL ``OFFSET 0`` keeps the planner
    # from inlining a layer into the next, which would repeat the fit tests and the
    # explanation's text in every expression that names them.
    fence = " OFFSET 0" if d.pg else ""
    # b: the target leads with what the formula reads; text fields the rules test lowered
    # once (LOWER() in a UTF-8 database is a good part of the fit tests' cost).
    read = [
        "l.id",
        "l.score",
        "l.stage",
        "l.temperature",
        "l.score_version_id",
        "l.score_explanation",
        "l.score_manual_adjustment",
        "l.score_manual_reason",
        "l.needs_rescore",
        *(f"l.{name}" for name in sorted({r.field for r in fit})),
        *(
            f"LOWER(l.{name}) AS lower_{name}"
            for name in sorted({r.field for r in fit if FIELD_TYPES[r.field] != "number"})
        ),
    ]
    if d.pg:
        read.append("l.xmin AS seen")
    batch = f"(SELECT {', '.join(read)} FROM leads_lead l WHERE {lead_where}{fence}) b"

    # s: per lead, which fit rules match and each engagement rule's whole points.
    columns = [
        "b.id",
        "b.score AS old_score",
        "b.stage",
        "b.temperature AS old_temperature",
        "b.score_version_id AS old_version",
        "b.score_explanation AS old_items",
        "b.score_manual_adjustment AS manual",
        "b.score_manual_reason AS manual_reason",
        "b.needs_rescore AS flagged",
    ]
    if d.pg:
        columns.append("b.seen")
    for i, rule in enumerate(fit):
        columns.append(f"CASE WHEN {_fit_condition(rule, d, params)} THEN 1 ELSE 0 END AS f{i}")
    for i, rule in enumerate(engagement):
        capped = d.least(f"CAST({int(rule.cap)} AS DOUBLE PRECISION)", f"k.d{i}")
        columns += [
            # NULL without events (PostgreSQL's LEAST would skip the NULL and give the cap).
            f"CASE WHEN k.d{i} IS NOT NULL THEN CAST(FLOOR({capped} + 0.5) AS INTEGER) END AS e{i}",
            f"COALESCE(k.n{i}, 0) AS n{i}",
            f"CASE WHEN k.d{i} > {int(rule.cap)} THEN 1 ELSE 0 END AS c{i}",
        ]
    total = " + ".join(
        [f"f{i} * {int(rule.points)}" for i, rule in enumerate(fit)]
        + [f"COALESCE(e{i}, 0)" for i in range(len(engagement))]
        + ["manual"]
    )

    # The explanation as compact JSON text, parsed once: the items in order, each led by a
    # comma (the first one cut off), the same keys and values as ``score_compute``'s; an
    # absent item is NULL.
    def text(value: str) -> str:
        return f"CAST({value} AS TEXT)"

    pieces = [
        f"CASE WHEN f{i} = 1 THEN {params.add(_json_item('fit', rule.label, rule.points))} END"
        for i, rule in enumerate(fit)
    ]
    for i, rule in enumerate(engagement):
        # format()'s pattern: the item with its label, %s for the numbers, which are given in
        # the order their keys come.
        pattern = _json_item("engagement", rule.label, 0).replace("%", "%%")
        values = {
            "points": text(f"e{i}"),
            "raw": text(f"{int(rule.points)} * n{i}"),
            "events": text(f"n{i}"),
            "cap": f"CASE WHEN c{i} = 1 THEN '{int(rule.cap)}' ELSE 'null' END",
        }
        for key in values:
            pattern = re.sub(rf'"{key}":[^,}}]+', f'"{key}":%s', pattern, count=1)
        ordered = sorted(values, key=lambda key: pattern.index(f'"{key}":'))
        arguments = ", ".join(values[key] for key in ordered)
        pieces.append(f"CASE WHEN e{i} <> 0 THEN format({params.add(pattern)}, {arguments}) END")
    manual_rule = d.json_quote(f"{params.add(f'{MANUAL_LABEL}: ')} || manual_reason")
    pieces.append(
        f"""CASE WHEN manual <> 0 THEN ',{{"rule":' || {manual_rule} || """
        f"""',"type":"manual","points":' || {text("manual")} || '}}' END"""
    )
    clamp_rule = params.add(json.dumps(CLAMP_LABEL, ensure_ascii=False))
    pieces.append(
        f"""CASE WHEN new_score <> total THEN ',{{"rule":' || {clamp_rule} || """
        f"""',"type":"clamp","points":' || {text("new_score - total")} || '}}' END"""
    )
    items = d.json_parse(f"'[' || SUBSTR({d.concat(pieces)}, 2) || ']'")
    clamped = d.least(d.greatest(f"({total})", str(SCORE_MIN)), str(SCORE_MAX))
    warm, hot = params.add(rules.warm), params.add(rules.hot)
    version = params.add(rules.version_id)
    seen = ", y.seen" if d.pg else ""
    sql = f"""
SELECT y.id, y.old_score, y.stage, y.new_score, y.new_temperature, y.new_items, y.flagged,
    (y.old_score <> y.new_score OR y.old_temperature <> y.new_temperature
        OR {d.is_distinct("y.old_version", version)} OR y.old_items <> y.new_items) AS changed{seen}
FROM (
    SELECT x.*,
        CASE WHEN new_score >= {hot} THEN '{Temperature.HOT}'
            WHEN new_score >= {warm} THEN '{Temperature.WARM}'
            ELSE '{Temperature.COLD}' END AS new_temperature,
        {items} AS new_items
    FROM (
        SELECT s.*, {total} AS total, {clamped} AS new_score
        FROM (
            SELECT {", ".join(columns)}
            FROM {batch} {events_join}
        ) s{fence}
    ) x{fence}
) y"""
    return sql, dict(params)


@dataclass
class Applied:
    """What one rescore statement did: rows written, and the leads to hand off as MQLs (id,
    score): new leads at or above the threshold, recycled ones that crossed it. ``skipped``:
    rows another transaction changed between reading and writing them (PostgreSQL)."""

    changed: int = 0
    crossers: list[tuple[int, int]] = field(default_factory=list)
    skipped: int = 0
    # Where a full rescore's batch spent its time: computing the scores, writing the rows.
    compute_seconds: float = 0.0
    write_seconds: float = 0.0


def _crosser_condition(prefix: str, mql: str) -> str:
    # A lead marketing holds reaches the threshold: any new lead at or above it, a recycled
    # one only when its score crosses it again (so a returned lead does not bounce back).
    return (
        f"{prefix}new_score >= {mql} AND ({prefix}stage = '{Stage.NEW}' OR "
        f"({prefix}stage = '{Stage.RECYCLED}' AND {prefix}old_score < {mql}))"
    )


def rescore_apply(
    rules: Rules, *, target: Target, now: datetime, parallel_query: bool = True
) -> Applied:
    """Rescore the target leads in the database with ``rules``, writing only leads whose score,
    temperature, explanation or version differ; a written lead's ``needs_rescore`` flag is
    cleared (its events were all counted). Runs in the caller's transaction.
    ``parallel_query=False`` keeps PostgreSQL from adding worker processes to the statement
    (for callers that already run one batch per core).

    On PostgreSQL a row another transaction changed after this one read it is not written
    (its newer values may come from a rescore that saw later events, or its flag from an event
    this one did not count); such rows are flagged ``needs_rescore``, so the sweep recomputes
    them."""
    vendor = connection.vendor
    select, params = final_select(rules, target=target, now=now, vendor=vendor)
    params = {**params, "version": rules.version_id, "now": now, "mql": rules.mql}
    with connection.cursor() as cursor:
        if vendor == "postgresql" and target.ids is None:
            # A batch of a full rescore. Computed first into a temporary table (in a CREATE
            # TABLE AS the aggregate may run in parallel, never in an UPDATE), keeping only
            # rows to write or to hand off; JIT-compiling the large expressions costs more
            # than it saves.
            started = time.perf_counter()
            cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
            if not parallel_query:
                # Workers on cores the other batches already use only add hand-over costs.
                cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            cursor.execute("DROP TABLE IF EXISTS pg_temp.scoring_batch")
            cursor.execute(
                f"CREATE TEMP TABLE scoring_batch AS SELECT * FROM ({select}) f WHERE "
                f"f.changed OR f.flagged OR (f.stage = '{Stage.NEW}' AND f.new_score >= %(mql)s)",
                params,
            )
            computed = time.perf_counter()
            # The id range again, so the join reads only the batch's leads.
            in_range = f" AND {_target_where(target, 'l.id', _Dialect(vendor))}"
            cursor.execute(f"WITH {_pg_update_tail('scoring_batch', in_range)}", params)
            count, ids, scores, expected = cursor.fetchone()
            if count < expected:
                _flag_skipped(cursor, "scoring_batch", now)
            cursor.execute("DROP TABLE scoring_batch")
            return Applied(
                count,
                list(zip(ids or [], scores or [], strict=True)),
                skipped=expected - count,
                compute_seconds=computed - started,
                write_seconds=time.perf_counter() - computed,
            )
        if vendor == "postgresql":
            # A few leads after their events: planning would cost more than running.
            statement = f"WITH final AS ({select}),\n{_pg_update_tail('final')}"
            _execute_prepared(cursor, statement, params)
            count, ids, scores, expected = cursor.fetchone()
            if count < expected:  # only when the caller did not claim (lock) the leads
                cursor.execute(f"CREATE TEMP TABLE scoring_ids AS {select}", params)
                _flag_skipped(cursor, "scoring_ids", now)
                cursor.execute("DROP TABLE scoring_ids")
            crossers = list(zip(ids or [], scores or [], strict=True))
            return Applied(count, crossers, skipped=expected - count)
        cursor.execute("DROP TABLE IF EXISTS temp.scoring_final")
        cursor.execute(f"CREATE TEMP TABLE scoring_final AS {select}", params)
        cursor.execute(
            "UPDATE leads_lead AS l SET score = f.new_score, temperature = f.new_temperature, "
            "score_explanation = f.new_items, score_version_id = %(version)s, scored_at = %(now)s, "
            "needs_rescore = FALSE FROM temp.scoring_final AS f "
            "WHERE l.id = f.id AND (f.changed OR f.flagged)",
            {"version": rules.version_id, "now": now},
        )
        count = cursor.rowcount
        cursor.execute(
            "SELECT f.id, f.new_score FROM temp.scoring_final f "
            f"WHERE {_crosser_condition('f.', '%(mql)s')} ORDER BY f.id",
            {"mql": rules.mql},
        )
        crossers = [(row[0], row[1]) for row in cursor.fetchall()]
        cursor.execute("DROP TABLE temp.scoring_final")
        return Applied(count, crossers)


def _flag_skipped(cursor, source: str, now: datetime) -> None:
    # Rows that were to be written but changed meanwhile: not ours (scored_at is this run's).
    cursor.execute(
        f"UPDATE leads_lead l SET needs_rescore = TRUE FROM {source} f "
        "WHERE l.id = f.id AND (f.changed OR f.flagged) AND l.scored_at IS DISTINCT FROM %(now)s "
        "AND NOT l.needs_rescore",
        {"now": now},
    )


_NAMED_PARAM = re.compile(r"%\((\w+)\)s")
# Per database connection, the statements prepared on it (PREPARE outlives transactions,
# even rolled-back ones, and dies with the connection).
_PREPARED: "weakref.WeakKeyDictionary[object, set[str]]" = weakref.WeakKeyDictionary()
_POSITIONAL: dict[str, tuple[str, str, list[str]]] = {}


def _execute_prepared(cursor, sql: str, params: dict) -> None:
    """Run ``sql`` (named parameters) as a server-side prepared statement, prepared once per
    connection, so a one-lead rescore is not dominated by planning a large query."""
    if sql not in _POSITIONAL:
        names: list[str] = []

        def positional(match: re.Match) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        text = _NAMED_PARAM.sub(positional, sql)
        name = "scoring_" + hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()[:20]
        if len(_POSITIONAL) > 64:
            _POSITIONAL.clear()
        _POSITIONAL[sql] = (name, text, names)
    name, text, names = _POSITIONAL[sql]
    prepared = _PREPARED.setdefault(connection.connection, set())
    if name not in prepared:
        cursor.execute(f"PREPARE {name} AS {text}")
        prepared.add(name)
    # Left to choose, PostgreSQL plans this statement anew at each run (its parameters are
    # many); the plan is the same for any few leads, and planning costs more than running.
    cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
    cursor.execute(f"EXECUTE {name} ({', '.join(f'%({n})s' for n in names)})", params)


def _pg_update_tail(source: str, where: str = "") -> str:
    # One UPDATE … FROM the computed rows (a CTE or a table) of the rows that differ and that
    # nobody changed since they were read (``xmin`` is the row version's writer); back come
    # the rows written, the leads to hand off, and how many rows were to be written.
    return f"""updated AS (
    UPDATE leads_lead AS l SET score = f.new_score, temperature = f.new_temperature,
        score_explanation = f.new_items, score_version_id = %(version)s, scored_at = %(now)s,
        needs_rescore = FALSE
    FROM {source} f
    WHERE l.id = f.id AND (f.changed OR f.flagged) AND l.xmin = f.seen{where}
    RETURNING l.id, f.old_score, f.new_score, f.stage
)
SELECT (SELECT COUNT(*) FROM updated), array_agg(c.id ORDER BY c.id),
    array_agg(c.new_score ORDER BY c.id),
    (SELECT COUNT(*) FROM {source} WHERE changed OR flagged)
FROM (
    SELECT u.id, u.new_score FROM updated u WHERE {_crosser_condition("u.", "%(mql)s")}
    UNION
    SELECT f.id, f.new_score FROM {source} f
    WHERE f.stage = '{Stage.NEW}' AND f.new_score >= %(mql)s
) c"""

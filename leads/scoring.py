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
import math
import re
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
    return {
        "type": type_,
        "rule": rule,
        "points": points,
        "raw": points if raw is None else raw,
        "events": events,
        "cap": cap,
    }


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

    def json_object(self, **pairs: str) -> str:
        fn = "jsonb_build_object" if self.pg else "json_object"
        arguments = ", ".join(f"'{key}', {value}" for key, value in pairs.items())
        return f"{fn}({arguments})"

    def json_agg(self, obj: str, order: str) -> str:
        if self.pg:
            return f"jsonb_agg({obj} ORDER BY {order})"
        return f"json_group_array(json({obj}))"  # rows arrive ordered (see the subquery)

    def json_append(self, array: str, obj: str) -> str:
        if self.pg:
            return f"({array} || jsonb_build_array({obj}))"
        return f"json_insert({array}, '$[#]', json({obj}))"

    def empty_json_array(self) -> str:
        return "'[]'::jsonb" if self.pg else "'[]'"

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
    lowered = f"LOWER({column})"
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


FIT_COLUMNS = tuple(FIELD_TYPES)


def final_select(rules: Rules, *, target: Target, now: datetime, vendor: str) -> tuple[str, dict]:
    """A query giving, per target lead: ``id, old_score, stage, new_score, new_temperature,
    new_items`` — the whole formula, set-based — and its parameters."""
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


def _final_select_build(rules: Rules, *, target: Target, d: _Dialect) -> tuple[str, dict]:
    params = _Params()
    lead_where = _target_where(target, "l.id", d)
    if target.only_engaged:
        lead_where += " AND EXISTS (SELECT 1 FROM leads_engagementevent x WHERE x.lead_id = l.id)"
    batch = (
        "SELECT l.id, l.score, l.stage, l.score_manual_adjustment AS manual, "
        f"l.score_manual_reason AS manual_reason, {', '.join(f'l.{c}' for c in FIT_COLUMNS)} "
        f"FROM leads_lead l WHERE {lead_where}"
    )
    branches = []
    for rule in rules.fit:
        condition = _fit_condition(rule, d, params)
        branches.append(
            f"SELECT b.id AS lead_id, 1 AS grp, {int(rule.position)} AS pos, 'fit' AS type, "
            f"CAST({params.add(rule.label)} AS TEXT) AS rule, {int(rule.points)} AS points, "
            f"{int(rule.points)} AS raw, 0 AS events, CAST(NULL AS INTEGER) AS cap "
            f"FROM batch b WHERE {condition}"
        )
    if rules.engagement:
        consts = " UNION ALL ".join(
            f"SELECT CAST({params.add(r.kind)} AS VARCHAR(30)) AS kind, {pos} AS pos, "
            f"CAST({params.add(r.label)} AS TEXT) AS rule, {int(r.points)} AS points, "
            f"CAST({params.add(SECONDS_PER_DAY * r.half_life_days)} AS DOUBLE PRECISION) AS hls, "
            f"{int(r.cap)} AS cap"
            for pos, r in enumerate(rules.engagement)
        )
        age = d.greatest(
            f"CAST(%(now_epoch)s AS DOUBLE PRECISION) - {d.epoch('e.occurred_at')}", "0"
        )
        # The batch's events by the same id range or list (an index range scan).
        event_where = _target_where(target, "e.lead_id", d)
        rounded = f"FLOOR({d.least('CAST(k.cap AS DOUBLE PRECISION)', 'k.decayed')} + 0.5)"
        branches.append(
            "SELECT k.lead_id, 2 AS grp, k.pos, 'engagement' AS type, k.rule, "
            f"CAST({rounded} AS INTEGER) AS points, k.raw, k.events, "
            "CASE WHEN k.decayed > k.cap THEN k.cap END AS cap "
            "FROM (SELECT e.lead_id, r.pos, r.rule, r.cap, "
            f"SUM(r.points * POWER(CAST(0.5 AS DOUBLE PRECISION), {age} / r.hls)) AS decayed, "
            "SUM(r.points) AS raw, COUNT(*) AS events "
            f"FROM leads_engagementevent e JOIN ({consts}) r ON r.kind = e.kind "
            f"WHERE {event_where} GROUP BY e.lead_id, r.pos, r.rule, r.cap) k "
            f"WHERE {rounded} <> 0"
        )
    manual_label = params.add(f"{MANUAL_LABEL}: ")
    branches.append(
        f"SELECT b.id AS lead_id, 3 AS grp, 0 AS pos, 'manual' AS type, "
        f"{manual_label} || b.manual_reason AS rule, b.manual AS points, b.manual AS raw, "
        "0 AS events, CAST(NULL AS INTEGER) AS cap FROM batch b WHERE b.manual <> 0"
    )
    item = d.json_object(
        type="i.type", rule="i.rule", points="i.points", raw="i.raw", events="i.events", cap="i.cap"
    )
    items_source = "items i" if d.pg else "(SELECT * FROM items ORDER BY lead_id, grp, pos) i"
    clamp = d.json_object(
        type="'clamp'",
        rule=f"CAST({params.add(CLAMP_LABEL)} AS TEXT)",
        points="x.new_score - x.total",
        raw="x.new_score - x.total",
        events="0",
        cap="NULL",
    )
    warm, hot = params.add(rules.warm), params.add(rules.hot)
    materialized = "MATERIALIZED " if d.pg else ""
    sql = f"""
WITH batch AS {materialized}({batch}),
items AS ({" UNION ALL ".join(branches)}),
totals AS (
    SELECT i.lead_id, SUM(i.points) AS total, {d.json_agg(item, "i.grp, i.pos")} AS items
    FROM {items_source} GROUP BY i.lead_id
),
scored AS (
    SELECT b.id, b.score AS old_score, b.stage, COALESCE(t.total, 0) AS total,
        {d.least(d.greatest("COALESCE(t.total, 0)", str(SCORE_MIN)), str(SCORE_MAX))} AS new_score,
        COALESCE(t.items, {d.empty_json_array()}) AS items
    FROM batch b LEFT JOIN totals t ON t.lead_id = b.id
)
SELECT x.id, x.old_score, x.stage, x.new_score,
    CASE WHEN x.new_score >= {hot} THEN 'hot' WHEN x.new_score >= {warm} THEN 'warm'
        ELSE 'cold' END AS new_temperature,
    CASE WHEN x.new_score <> x.total THEN {d.json_append("x.items", clamp)} ELSE x.items END
        AS new_items
FROM scored x"""
    return sql, dict(params)


@dataclass
class Applied:
    """What one rescore statement did: rows written, and the leads to hand off as MQLs (id,
    score): new leads at or above the threshold, recycled ones that crossed it."""

    changed: int = 0
    crossers: list[tuple[int, int]] = field(default_factory=list)


def _crosser_condition(prefix: str, mql: str) -> str:
    # A lead marketing holds reaches the threshold: any new lead at or above it, a recycled
    # one only when its score crosses it again (so a returned lead does not bounce back).
    return (
        f"{prefix}new_score >= {mql} AND ({prefix}stage = '{Stage.NEW}' OR "
        f"({prefix}stage = '{Stage.RECYCLED}' AND {prefix}old_score < {mql}))"
    )


def rescore_apply(rules: Rules, *, target: Target, now: datetime) -> Applied:
    """Rescore the target leads in the database with ``rules``, writing only leads whose score,
    temperature, explanation or version differ. Runs in the caller's transaction."""
    vendor = connection.vendor
    select, params = final_select(rules, target=target, now=now, vendor=vendor)
    params = {**params, "version": rules.version_id, "now": now, "mql": rules.mql}
    changed = (
        "(l.score <> f.new_score OR l.temperature <> f.new_temperature "
        "OR l.score_version_id IS DISTINCT FROM %(version)s "
        "OR l.score_explanation <> f.new_items)"
    )
    with connection.cursor() as cursor:
        if vendor == "postgresql":
            if target.ids is None:
                # A batch of a full rescore. Computed first into a temporary table, because
                # PostgreSQL runs the aggregate in parallel in a CREATE TABLE AS but never in
                # an UPDATE; the aggregates fit in memory without spilling; JIT-compiling the
                # large expressions costs more than it saves.
                cursor.execute("SET LOCAL work_mem = '64MB'; SET LOCAL jit = off")
                cursor.execute("DROP TABLE IF EXISTS pg_temp.scoring_batch")
                cursor.execute(f"CREATE TEMP TABLE scoring_batch AS {select}", params)
                # The id range again, so the join reads only the batch's leads.
                in_range = f"{changed} AND {_target_where(target, 'l.id', _Dialect(vendor))}"
                cursor.execute(f"WITH {_pg_update_tail('scoring_batch', in_range)}", params)
                result = cursor.fetchone()
                cursor.execute("DROP TABLE scoring_batch")
            else:
                # A few leads after their events: planning would cost more than running.
                with_part, final_part = select.split("\nSELECT x.id", 1)
                statement = (
                    f"{with_part},\nfinal AS (SELECT x.id{final_part}),\n"
                    f"{_pg_update_tail('final', changed)}"
                )
                _execute_prepared(cursor, statement, params)
                result = cursor.fetchone()
            count, ids, scores = result
            return Applied(count, list(zip(ids or [], scores or [], strict=True)))
        cursor.execute("DROP TABLE IF EXISTS temp.scoring_final")
        cursor.execute(f"CREATE TEMP TABLE scoring_final AS {select}", params)
        cursor.execute(
            "UPDATE leads_lead AS l SET score = f.new_score, temperature = f.new_temperature, "
            "score_explanation = f.new_items, score_version_id = %(version)s, scored_at = %(now)s "
            f"FROM temp.scoring_final AS f WHERE l.id = f.id AND "
            f"{changed.replace('IS DISTINCT FROM', 'IS NOT')}",
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
    cursor.execute(f"EXECUTE {name} ({', '.join(f'%({n})s' for n in names)})", params)


def _pg_update_tail(source: str, changed: str) -> str:
    # One UPDATE … FROM the computed rows (a CTE or a table); back come the rows written and
    # the leads to hand off.
    return f"""updated AS (
    UPDATE leads_lead AS l SET score = f.new_score, temperature = f.new_temperature,
        score_explanation = f.new_items, score_version_id = %(version)s, scored_at = %(now)s
    FROM {source} f
    WHERE l.id = f.id AND {changed}
    RETURNING l.id, f.old_score, f.new_score, f.stage
)
SELECT (SELECT COUNT(*) FROM updated), array_agg(c.id ORDER BY c.id),
    array_agg(c.new_score ORDER BY c.id)
FROM (
    SELECT u.id, u.new_score FROM updated u WHERE {_crosser_condition("u.", "%(mql)s")}
    UNION
    SELECT f.id, f.new_score FROM {source} f
    WHERE f.stage = '{Stage.NEW}' AND f.new_score >= %(mql)s
) c"""

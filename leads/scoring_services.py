"""Writes for scoring: rules versions, engagement events, rescoring, manual adjustments.

How scores stay fresh (the database is the source of truth; tasks only say "look now"):

- Storing an event sets its lead's ``needs_rescore`` flag in the same transaction and, after
  commit, enqueues ``leads.rescore_leads`` with the lead ids.
- A rescore *claims* flagged leads (locks them) and recomputes them in one transaction, clearing
  the flag as it writes them. A burst of events for one lead enqueues several tasks, but the
  first claims the flag and the others find nothing to do: one rescore per burst, with no
  debounce timer to tune or lose. An event stored while a rescore runs waits for the claim's
  row lock and flags the lead again after it, so the next rescore sees it; a rescore that dies
  rolls back and leaves the flag set.
- ``leads.rescore_pending`` (beat, every minute) rescores whatever is still flagged, so a lost
  task delays a score by a minute at most; it also restarts a full rescore that a rules change
  asked for and that never finished.
- Saving the rules creates a version and enqueues ``leads.rescore_all``: set-based SQL in
  batches of lead-id ranges, each batch its own transaction, writing only changed rows; on
  PostgreSQL two connections take the batches in turn (one computes while the other writes).
  A batch writes a lead only if nobody changed it since the batch read it, and clears its
  ``needs_rescore`` flag (its events were all counted); a lead changed meanwhile is flagged.
- ``leads.rescore_decay`` (beat, hourly) rescores every lead with events, to apply decay.
- After each rescore, leads marketing holds whose score reached the MQL threshold are handed
  off through ``lead_transition`` one by one (bounded by the number that crossed).
"""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Min
from django.db.models.functions import Lower
from django.utils import timezone

from campaigns.models import Campaign
from core.errors import DomainError, InvalidInput, NotAllowed
from core.roles import is_manager, is_marketer
from leads.countries import ISO_COUNTRY_CODES
from leads.models import (
    EngagementEvent,
    EngagementRule,
    EventKind,
    FitRule,
    Lead,
    ScoringModel,
    SourceChannel,
    Stage,
)
from leads.scoring import (
    FIELD_TYPES,
    OPERATORS_BY_TYPE,
    SCORE_MAX,
    Applied,
    Rules,
    Target,
    rescore_apply,
)

FULL_BATCH = 50_000  # leads per committed batch of a full rescore
FULL_WORKERS = 2  # connections a full rescore runs its batches on (PostgreSQL)
PENDING_BATCH = 2_000  # flagged leads claimed at once
EVENTS_PER_REQUEST = 1_000
MAX_FIT_RULES = 50
MAX_LIST_VALUES = 50
# An event is accepted this far in the future (clock skew between systems).
FUTURE_TOLERANCE = timedelta(minutes=5)
# The full-rescore lock's key (PostgreSQL advisory lock): one full rescore at a time.
FULL_RESCORE_LOCK = 0x5C0E
EXTERNAL_ID_LOCKS = 0x5C0F  # advisory lock class of the events' external ids
EXTERNAL_ID_BUCKETS = 64  # a power of two
# Who qualifies a lead without a person: the event kinds and the stage they lead to.
QUALIFYING_EVENTS = {EventKind.TRIAL_SIGNUP: Stage.PQL, EventKind.CHAT_CONVERSATION: Stage.CQL}
MARKETING_STAGES = (Stage.NEW, Stage.RECYCLED)
# Where a lead first seen through an event came from.
KIND_SOURCE_CHANNEL = {
    EventKind.TRIAL_SIGNUP: SourceChannel.PRODUCT_SIGNUP,
    EventKind.PRODUCT_ACTIVATION: SourceChannel.PRODUCT_SIGNUP,
    EventKind.CHAT_CONVERSATION: SourceChannel.CHAT,
    EventKind.WEBINAR_REGISTERED: SourceChannel.WEBINAR,
    EventKind.WEBINAR_ATTENDED: SourceChannel.WEBINAR,
    EventKind.EMAIL_OPEN: SourceChannel.EMAIL,
    EventKind.EMAIL_CLICK: SourceChannel.EMAIL,
    EventKind.CONTENT_DOWNLOAD: SourceChannel.CONTENT,
    EventKind.EVENT_VISIT: SourceChannel.EVENT,
    EventKind.FORM_SUBMIT: SourceChannel.WEB_FORM,
    EventKind.DEMO_REQUEST: SourceChannel.WEB_FORM,
}


def _require_scoring_editor(actor: User) -> None:
    if not (is_marketer(actor) or is_manager(actor)):
        raise NotAllowed("Only marketing and managers change scoring.")


# --- validating rules (shared by the rules page and the API) ----------------------------------
def _whole(value, *, field: str, label: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"Enter the {label} as a whole number.", field=field)
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except (TypeError, ValueError):
        raise InvalidInput(f"Enter the {label} as a whole number.", field=field) from None
    if not minimum <= number <= maximum:
        raise InvalidInput(f"The {label} must be between {minimum} and {maximum}.", field=field)
    return number


def fit_rule_clean(*, field: str, operator: str, value, points) -> dict:
    """A fit rule checked and normalised; ``InvalidInput`` names the bad part (field,
    operator, value or points). ``value`` may be text ("US, CA" for a list) or JSON."""
    if field not in FIELD_TYPES:
        raise InvalidInput("Choose a lead field.", field="field")
    kind = FIELD_TYPES[field]
    allowed = OPERATORS_BY_TYPE[kind]
    if operator not in allowed:
        names = ", ".join(f"“{FitRule.Operator(o).label}”" for o in allowed)
        raise InvalidInput(
            f"{FitRule.Field(field).label} can be tested with {names}.", field="operator"
        )
    many = operator == FitRule.Operator.IN
    if many:
        raw = value.split(",") if isinstance(value, str) else value
        if not isinstance(raw, list | tuple):
            raw = [raw]
    elif isinstance(value, list | tuple):
        raise InvalidInput("Enter one value (or use “is one of”).", field="value")
    else:
        raw = [value]
    raw = [item for item in raw if item is not None and str(item).strip() != ""]
    if not raw:
        raise InvalidInput("Enter a value.", field="value")
    if len(raw) > MAX_LIST_VALUES:
        raise InvalidInput(f"List at most {MAX_LIST_VALUES} values.", field="value")
    cleaned = []
    for item in raw:
        if kind == "number":
            cleaned.append(
                _whole(item, field="value", label="value", minimum=0, maximum=10_000_000)
            )
            continue
        text = str(item).strip()
        if len(text) > 100:
            raise InvalidInput("Keep each value under 100 characters.", field="value")
        if field == FitRule.Field.COUNTRY:
            text = text.upper()
            if text not in ISO_COUNTRY_CODES:
                raise InvalidInput(
                    f"Unknown country code {text}: use ISO 3166 codes such as US, GB, DE.",
                    field="value",
                )
        elif field == FitRule.Field.SOURCE_CHANNEL:
            by_name = {v: v for v in SourceChannel.values} | {
                str(label).lower(): v for v, label in SourceChannel.choices
            }
            channel = by_name.get(text) or by_name.get(text.lower())
            if channel is None:
                raise InvalidInput(
                    f"Unknown channel {text}: use one of {', '.join(SourceChannel.values)}.",
                    field="value",
                )
            text = channel
        cleaned.append(text)
    if many:
        seen: dict = {}
        for item in cleaned:
            seen.setdefault(str(item).lower(), item)
        normalised = list(seen.values())
    else:
        normalised = cleaned[0]
    points = _whole(points, field="points", label="points", minimum=-SCORE_MAX, maximum=SCORE_MAX)
    if points == 0:
        raise InvalidInput("A rule worth 0 points does nothing: remove it instead.", field="points")
    return {"field": field, "operator": operator, "value": normalised, "points": points}


def engagement_rule_clean(*, kind: str, points, half_life_days, cap) -> dict:
    """An engagement rule checked: points 1 to 1000, half-life at least a day, cap >= points."""
    if kind not in EventKind.values:
        raise InvalidInput("Choose an event kind.", field="kind")
    points = _whole(points, field="points", label="points", minimum=1, maximum=SCORE_MAX)
    half_life = _whole(
        half_life_days, field="half_life_days", label="half-life", minimum=1, maximum=3650
    )
    cap = _whole(cap, field="cap", label="cap", minimum=1, maximum=SCORE_MAX)
    if cap < points:
        raise InvalidInput(
            f"The cap must be at least the points of one event ({points}).", field="cap"
        )
    return {"kind": kind, "points": points, "half_life_days": half_life, "cap": cap}


def thresholds_clean(*, warm, hot, mql) -> dict:
    """Warm below hot, all within 1 to 1000."""
    cleaned = {
        "warm": _whole(warm, field="warm", label="warm threshold", minimum=1, maximum=SCORE_MAX),
        "hot": _whole(hot, field="hot", label="hot threshold", minimum=1, maximum=SCORE_MAX),
        "mql": _whole(mql, field="mql", label="MQL threshold", minimum=1, maximum=SCORE_MAX),
    }
    if cleaned["hot"] <= cleaned["warm"]:
        raise InvalidInput("Hot must be above warm.", field="hot")
    return cleaned


# --- versions ----------------------------------------------------------------------------------
def _indexed(error: InvalidInput, prefix: str, index: int) -> InvalidInput:
    error.field = f"{prefix}.{index}.{error.field}"
    return error


@transaction.atomic
def scoring_version_create(
    *,
    actor: User,
    warm,
    hot,
    mql,
    fit_rules: list[dict],
    engagement_rules: list[dict],
    note: str = "",
    based_on: int | None = None,
) -> ScoringModel:
    """Save the rules as the next version, make it the active one, and rescore every lead
    after commit. ``based_on`` is the version number the editor started from: when someone
    saved in between, the save is refused rather than silently overwriting their change.
    Invalid input raises ``InvalidInput`` naming the field (``fit_rules.2.value``)."""
    _require_scoring_editor(actor)
    thresholds = thresholds_clean(warm=warm, hot=hot, mql=mql)
    if len(fit_rules) > MAX_FIT_RULES:
        raise InvalidInput(f"Keep at most {MAX_FIT_RULES} fit rules.", field="fit_rules")
    fit = []
    for index, rule in enumerate(fit_rules):
        try:
            fit.append(fit_rule_clean(**rule))
        except InvalidInput as error:
            raise _indexed(error, "fit_rules", index) from None
    engagement, kinds = [], set()
    for index, rule in enumerate(engagement_rules):
        try:
            cleaned = engagement_rule_clean(**rule)
        except InvalidInput as error:
            raise _indexed(error, "engagement_rules", index) from None
        if cleaned["kind"] in kinds:
            raise InvalidInput(
                f"{EventKind(cleaned['kind']).label} has two rules: keep one.",
                field=f"engagement_rules.{index}.kind",
            )
        kinds.add(cleaned["kind"])
        engagement.append(cleaned)
    note = (note or "").strip()
    if len(note) > 200:
        raise InvalidInput("Keep the note under 200 characters.", field="note")

    current = ScoringModel.objects.select_for_update().filter(is_active=True).first()
    if based_on is not None and (current.number if current else 0) != based_on:
        who = (
            (current.created_by.get_full_name() or current.created_by.username)
            if (current and current.created_by)
            else "someone"
        )
        raise DomainError(
            f"The rules changed while you edited them (version {current.number} by {who}). "
            "Reload the page and make your change again.",
            code="stale_rules",
        )
    number = (ScoringModel.objects.aggregate(top=Max("number"))["top"] or 0) + 1
    if current is not None:
        ScoringModel.objects.filter(pk=current.pk).update(is_active=False)
    try:
        with transaction.atomic():
            version = ScoringModel.objects.create(
                number=number,
                created_by=actor,
                created_at=timezone.now(),
                note=note,
                warm_threshold=thresholds["warm"],
                hot_threshold=thresholds["hot"],
                mql_threshold=thresholds["mql"],
                is_active=True,
            )
    except IntegrityError:  # a concurrent first save won
        raise DomainError(
            "Someone saved the rules at the same moment. Reload and try again.",
            code="stale_rules",
        ) from None
    FitRule.objects.bulk_create(
        FitRule(version=version, position=position, **rule) for position, rule in enumerate(fit)
    )
    EngagementRule.objects.bulk_create(EngagementRule(version=version, **r) for r in engagement)

    from leads.tasks import rescore_all

    transaction.on_commit(lambda: rescore_all.delay(version_id=version.pk))
    return version


def active_version() -> ScoringModel | None:
    return ScoringModel.objects.filter(is_active=True).first()


# Rules per version id: a version never changes once saved, so one read per process.
_RULES: dict[tuple, Rules] = {}


def active_rules() -> Rules | None:
    """The active version's rules (one query when this process has seen the version)."""
    # Plain SQL for two values: this runs before every one-lead rescore, and building the
    # ORM query took longer than the round trip.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, created_at FROM leads_scoringmodel WHERE is_active")
        row = cursor.fetchone()
    if row is None:
        return None
    key = (row[0], row[1])  # the time too: a rolled-back test may reuse a pk
    if key not in _RULES:
        _RULES.clear()  # only the active version is worth keeping
        _RULES[key] = Rules.of(ScoringModel.objects.get(pk=key[0]))
    return _RULES[key]


# --- rescoring ---------------------------------------------------------------------------------
@dataclass
class RescoreReport:
    leads: int = 0  # leads computed
    changed: int = 0  # rows written
    handed_off: list[int] = field(default_factory=list)
    seconds: float = 0.0
    stale: bool = False  # a newer version took over; its own rescore finishes the job
    # A full rescore's batches on PostgreSQL, summed over its connections: computing, writing.
    compute_seconds: float = 0.0
    write_seconds: float = 0.0


def _claim(*, lead_ids: list[int] | None, limit: int) -> list[int]:
    """Lock up to ``limit`` flagged leads until commit; ``rescore_apply`` then writes each of
    them and clears its flag. Leads another rescore is claiming right now are skipped: that
    rescore will see their events. (On PostgreSQL only a lock, not a write: clearing the flag
    here would be a second new row version, with its index entries, of every rescored lead.)"""
    params: dict = {"limit": limit}
    only = ""
    if lead_ids is not None:
        if connection.vendor == "postgresql":
            only, params["ids"] = "AND id = ANY(%(ids)s)", list(lead_ids)
        else:
            names = [f"id{i}" for i in range(len(lead_ids))]
            params.update(zip(names, lead_ids, strict=True))
            only = f"AND id IN ({', '.join(f'%({n})s' for n in names)})"
    flagged = (
        "SELECT id FROM leads_lead WHERE needs_rescore "  # noqa: S608 -- the ids are parameters
        f"{only} ORDER BY id LIMIT %(limit)s"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"{flagged} FOR UPDATE SKIP LOCKED", params)
        else:  # SQLite has no row locks: the write itself holds the database
            cursor.execute(
                "UPDATE leads_lead SET needs_rescore = FALSE "  # noqa: S608
                f"WHERE id IN ({flagged}) RETURNING id",
                params,
            )
        return sorted(row[0] for row in cursor.fetchall())


def scores_refresh_pending(
    *, lead_ids: list[int] | None = None, limit: int = PENDING_BATCH, hand_off: bool = True
) -> RescoreReport:
    """Rescore the leads flagged ``needs_rescore`` — only those of ``lead_ids`` when given —
    ``limit`` at a time, each claim and rescore one transaction. Without active rules the
    flags stay set until there are some. Leads reaching the MQL threshold are handed off."""
    started = time.monotonic()
    report = RescoreReport()
    rules = active_rules()
    if rules is None or lead_ids == []:
        return report
    owned = not connection.in_atomic_block
    while True:
        with transaction.atomic():
            if owned:
                _commit_without_waiting()
            claimed = _claim(lead_ids=lead_ids, limit=limit)
            if not claimed:
                break
            applied = rescore_apply(rules, target=Target(ids=tuple(claimed)), now=timezone.now())
        report.leads += len(claimed)
        report.changed += applied.changed
        if hand_off:
            report.handed_off += _hand_off(applied.crossers, rules)
        if len(claimed) < limit:
            break
    report.seconds = time.monotonic() - started
    return report


def _commit_without_waiting() -> None:
    """This transaction's commit does not wait for the disk (PostgreSQL). Only for a rescore
    that owns its transaction: lost in a crash, it leaves the flags set (or the version not
    marked applied), and the sweep does it again."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def _hand_off(crossers: list[tuple[int, int]], rules: Rules) -> list[int]:
    from leads.services import lead_transition  # the lifecycle imports scoring's hooks

    handed = []
    for lead_id, score in dict(crossers).items():
        try:
            lead_transition(
                lead_id=lead_id,
                actor=None,
                to=Stage.MQL,
                note=f"Score {score} crossed the MQL threshold {rules.mql}",
            )
        except (DomainError, Lead.DoesNotExist):
            continue  # it moved on meanwhile (a person qualified or disqualified it)
        handed.append(lead_id)
    return handed


@contextmanager
def _full_rescore_lock(*, wait: bool = True) -> Iterator[bool]:
    """One full rescore at a time (PostgreSQL advisory lock; SQLite serialises writers)."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_lock(%s)", [FULL_RESCORE_LOCK])
            acquired = True
        else:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [FULL_RESCORE_LOCK])
            acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [FULL_RESCORE_LOCK])


def scores_refresh_all(
    *,
    version_id: int | None = None,
    only_engaged: bool = False,
    batch_size: int = FULL_BATCH,
    workers: int = FULL_WORKERS,
    hand_off: bool = True,
    now: datetime | None = None,
) -> RescoreReport:
    """Rescore every lead (or, with ``only_engaged``, every lead with events) with the active
    rules: set-based SQL over lead-id ranges of ``batch_size``, each range committed on its
    own, writing only rows that changed. On PostgreSQL ``workers`` connections take the ranges
    in turn (a range is computed and written by one of them), unless the caller holds a
    transaction, whose uncommitted rows other connections could not see. ``version_id`` names
    the version a rules change asked for: when another version is active by then, or this one
    was fully applied already, it does nothing. Then hands off the leads that reached the MQL
    threshold."""
    started = time.monotonic()
    report = RescoreReport()
    with _full_rescore_lock():
        version = active_version()
        if version is None or (version_id is not None and version.pk != version_id):
            report.stale = version is not None
            return report
        if version_id is not None and version.rescored_at is not None:
            return report  # a duplicate delivery: the version was applied already
        rules = Rules.of(version)
        bounds = Lead.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
        lo, hi = bounds["lo"], bounds["hi"]
        ranges = [] if lo is None else list(range(lo, hi + 1, batch_size))
        batches = [
            Target(lo=start, hi=start + batch_size, only_engaged=only_engaged) for start in ranges
        ]
        at = now or timezone.now()
        parallel = (
            workers > 1
            and len(batches) > 1
            and connection.vendor == "postgresql"
            and not connection.in_atomic_block
        )
        if parallel:
            applied, report.stale = _batches_in_threads(rules, batches, now=at, workers=workers)
        else:
            applied, report.stale = _batches_here(rules, batches, now=at)
        crossers: list[tuple[int, int]] = []
        for one in applied:
            report.changed += one.changed
            report.compute_seconds += one.compute_seconds
            report.write_seconds += one.write_seconds
            crossers += one.crossers
        report.leads = hi - lo + 1 if lo is not None else 0
        if not report.stale and not only_engaged:
            ScoringModel.objects.filter(pk=version.pk).update(rescored_at=timezone.now())
    if hand_off and not report.stale:
        report.handed_off = _hand_off(crossers, rules)
    report.seconds = time.monotonic() - started
    return report


def _batch_rescore(
    rules: Rules, target: Target, *, now: datetime, parallel_query: bool = True
) -> Applied | None:
    """One range of a full rescore in its own transaction; None when the version was replaced
    meanwhile (the newer version's own full rescore takes over)."""
    owned = not connection.in_atomic_block
    with transaction.atomic():
        if owned:
            _commit_without_waiting()
        if not ScoringModel.objects.filter(pk=rules.version_id, is_active=True).exists():
            return None
        return rescore_apply(rules, target=target, now=now, parallel_query=parallel_query)


def _batches_here(
    rules: Rules, batches: list[Target], *, now: datetime
) -> tuple[list[Applied], bool]:
    applied = []
    for target in batches:
        one = _batch_rescore(rules, target, now=now)
        if one is None:
            return applied, True
        applied.append(one)
    return applied, False


def _batches_in_threads(
    rules: Rules, batches: list[Target], *, now: datetime, workers: int
) -> tuple[list[Applied], bool]:
    """The ranges shared by ``workers`` threads, each with its own database connection, so
    one computes while another writes: PostgreSQL runs an UPDATE on one core, and the machine
    has more. A failure or a replaced version stops the others after their current range."""
    pending = iter(batches)
    lock = threading.Lock()
    stop = threading.Event()

    def work() -> tuple[list[Applied], bool]:
        done: list[Applied] = []
        try:
            while not stop.is_set():
                with lock:
                    target = next(pending, None)
                if target is None:
                    return done, False
                one = _batch_rescore(rules, target, now=now, parallel_query=False)
                if one is None:
                    stop.set()
                    return done, True
                done.append(one)
            return done, False
        except BaseException:
            stop.set()
            raise
        finally:
            connection.close()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rescore") as pool:
        futures = [pool.submit(work) for _ in range(workers)]
        results = [future.result() for future in futures]
    applied = [one for done, _ in results for one in done]
    return applied, any(stale for _, stale in results)


def full_rescore_overdue(*, grace: timedelta = timedelta(minutes=2)) -> int | None:
    """The active version's id when its full rescore never finished (the task was lost) and
    none is running now; the sweep then asks for it again."""
    version = active_version()
    if version is None or version.rescored_at is not None:
        return None
    if version.created_at > timezone.now() - grace:
        return None
    with _full_rescore_lock(wait=False) as free:
        return version.pk if free else None


# --- events -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventIn:
    """One event as a caller sends it: the lead by ``email`` or by ``lead_id``."""

    kind: str
    occurred_at: datetime
    email: str = ""
    lead_id: int | None = None
    external_id: str = ""
    source: str = "api"
    campaign_id: int | None = None
    url: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class EventStored:
    index: int
    lead_id: int
    duplicate: bool
    lead_created: bool = False


def events_may_post(user: User) -> bool:
    """Marketing, managers, and integration users granted ``leads.add_engagementevent``."""
    return is_marketer(user) or is_manager(user) or user.has_perm("leads.add_engagementevent")


def _event_checked(index: int, event: EventIn, now: datetime) -> None:
    def bad(message: str, name: str) -> InvalidInput:
        return InvalidInput(f"Event {index}: {message}", field=f"{index}.{name}")

    if event.kind not in EventKind.values:
        raise bad("unknown kind.", "kind")
    if bool(event.email) == (event.lead_id is not None):
        raise bad("give the lead's email or its id (one of them).", "email")
    if event.occurred_at > now + FUTURE_TOLERANCE:
        raise bad("it cannot happen in the future.", "occurred_at")
    if len(event.external_id) > 200:
        raise bad("keep external_id under 200 characters.", "external_id")


def external_ids_lock(keys: list[tuple[str, str]]) -> None:
    """Serialise deliveries of the same (source, external_id) until this transaction ends, so
    a concurrent replay sees the first delivery's event and answers as its duplicate instead
    of both reporting "stored" while the unique constraint keeps one. PostgreSQL advisory
    locks on 64 buckets of the keys' hashes, taken in order (no deadlock), at most 64 per
    transaction however many events (each lock holds a slot of the server's lock table)."""
    wanted = sorted({f"{source}\x1f{external_id}" for source, external_id in keys if external_id})
    if not wanted or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, b) FROM (SELECT DISTINCT hashtext(k) & %s AS b "
            "FROM unnest(%s::text[]) AS k ORDER BY b) AS buckets",
            [EXTERNAL_ID_LOCKS, EXTERNAL_ID_BUCKETS - 1, wanted],
        )


@transaction.atomic
def events_ingest(*, actor: User | None, events: list[EventIn]) -> list[EventStored]:
    """Store engagement events, once per (source, external_id): a replayed event is reported
    as a duplicate and changes nothing. An email matches a lead case-insensitively; an unknown
    email creates a lead in stage new (source channel from the event kind, source campaign from
    the event). A trial sign-up makes a lead marketing holds a PQL, a chat conversation a CQL.
    Every lead with a new event is rescored by the worker within seconds of commit.
    ``actor`` None is the system (imports, demo); others need ``events_may_post``."""
    if actor is not None and not events_may_post(actor):
        raise NotAllowed("Your account may not post engagement events.")
    if not events:
        raise InvalidInput("Send at least one event.", field="events")
    if len(events) > EVENTS_PER_REQUEST:
        raise InvalidInput(f"Send at most {EVENTS_PER_REQUEST} events at once.", field="events")
    now = timezone.now()
    for index, event in enumerate(events):
        _event_checked(index, event, now)
    external_ids_lock([(e.source, e.external_id) for e in events])
    leads = _leads_for(events)
    campaigns = {e.campaign_id for e in events if e.campaign_id is not None}
    known = set(Campaign.objects.filter(pk__in=campaigns).values_list("pk", flat=True))
    for index, event in enumerate(events):
        if event.campaign_id is not None and event.campaign_id not in known:
            raise InvalidInput(
                f"Event {index}: no campaign {event.campaign_id}.", field=f"{index}.campaign"
            )
        if event.lead_id is not None and event.lead_id not in leads["by_id"]:
            raise InvalidInput(f"Event {index}: no lead {event.lead_id}.", field=f"{index}.lead")

    created: set[int] = set()
    resolved: list[int] = []
    for event in events:
        if event.lead_id is not None:
            resolved.append(event.lead_id)
            continue
        key = event.email.strip().lower()
        if key not in leads["by_email"]:
            lead = _lead_for_unknown_email(event)
            leads["by_email"][key] = lead.pk
            leads["stage"][lead.pk] = lead.stage
            created.add(lead.pk)
        resolved.append(leads["by_email"][key])

    seen = _existing_external_ids(events)
    rows, results = [], []
    for index, (event, lead_id) in enumerate(zip(events, resolved, strict=True)):
        key = (event.source, event.external_id)
        duplicate = bool(event.external_id) and key in seen
        if event.external_id:
            seen.add(key)
        results.append(EventStored(index, lead_id, duplicate, lead_created=lead_id in created))
        if not duplicate:
            rows.append(
                EngagementEvent(
                    lead_id=lead_id,
                    kind=event.kind,
                    occurred_at=event.occurred_at,
                    campaign_id=event.campaign_id,
                    url=event.url,
                    metadata=event.metadata,
                    source=event.source,
                    external_id=event.external_id,
                )
            )
    # A concurrent request storing the same external id is ignored by the unique constraint.
    EngagementEvent.objects.bulk_create(rows, ignore_conflicts=True)
    touched = sorted({r.lead_id for r in rows})
    # Always write the flag (not only when it is off): the row lock orders this transaction
    # after a rescore that is claiming the lead, so that rescore cannot miss these events.
    Lead.objects.filter(pk__in=touched).update(needs_rescore=True)
    _qualify_by_events(rows, stages=leads["stage"])
    if touched:
        from leads.tasks import rescore_leads

        transaction.on_commit(lambda: rescore_leads.delay(lead_ids=touched))
    return results


def _leads_for(events: list[EventIn]) -> dict:
    ids = {e.lead_id for e in events if e.lead_id is not None}
    emails = {e.email.strip().lower() for e in events if e.email}
    by_id, by_email, stage = {}, {}, {}
    if ids:
        for pk, lead_stage in Lead.objects.filter(pk__in=ids).values_list("pk", "stage"):
            by_id[pk] = pk
            stage[pk] = lead_stage
    if emails:
        rows = (
            Lead.objects.annotate(email_lower=Lower("email"))
            .filter(email_lower__in=emails)
            .values_list("pk", "email_lower", "stage")
        )
        for pk, email, lead_stage in rows:
            by_email[email] = pk
            stage[pk] = lead_stage
    return {"by_id": by_id, "by_email": by_email, "stage": stage}


def _lead_for_unknown_email(event: EventIn) -> Lead:
    from leads.services import lead_create

    channel = KIND_SOURCE_CHANNEL.get(event.kind, SourceChannel.OTHER)
    campaign = Campaign.objects.filter(pk=event.campaign_id).first() if event.campaign_id else None
    try:
        return lead_create(
            actor=None,
            email=event.email.strip(),
            source_channel=channel,
            source_campaign=campaign,
        )
    except InvalidInput:  # created concurrently by another request: use it
        return Lead.objects.get(email__iexact=event.email.strip())


def _existing_external_ids(events: list[EventIn]) -> set[tuple[str, str]]:
    by_source: dict[str, set[str]] = {}
    for event in events:
        if event.external_id:
            by_source.setdefault(event.source, set()).add(event.external_id)
    seen: set[tuple[str, str]] = set()
    for source, ids in by_source.items():
        seen.update(
            (source, x)
            for x in EngagementEvent.objects.filter(source=source, external_id__in=ids).values_list(
                "external_id", flat=True
            )
        )
    return seen


def _qualify_by_events(rows: list[EngagementEvent], *, stages: dict[int, str]) -> None:
    """Trial sign-up → PQL, chat conversation → CQL, for leads marketing still holds. The lead
    is rescored first, so the handoff carries its current score and explanation."""
    from leads.services import lead_transition

    moves: dict[int, tuple[str, EngagementEvent]] = {}
    for row in sorted(rows, key=lambda r: r.occurred_at):
        to = QUALIFYING_EVENTS.get(row.kind)
        if to and stages.get(row.lead_id) in MARKETING_STAGES and row.lead_id not in moves:
            moves[row.lead_id] = (to, row)
    if not moves:
        return
    scores_refresh_pending(lead_ids=sorted(moves), hand_off=False)
    for lead_id, (to, row) in moves.items():
        try:
            lead_transition(
                lead_id=lead_id,
                actor=None,
                to=to,
                note=f"{EventKind(row.kind).label} on {row.occurred_at:%d %b %Y}",
            )
        except DomainError:
            continue


# --- lead hooks and manual adjustments ----------------------------------------------------------
def lead_rescore_soon(*, lead_ids: list[int]) -> None:
    """Flag leads whose fit data changed and ask the worker to rescore them after commit."""
    if not lead_ids:
        return
    Lead.objects.filter(pk__in=lead_ids).update(needs_rescore=True)
    from leads.tasks import rescore_leads

    ids = list(lead_ids)
    transaction.on_commit(lambda: rescore_leads.delay(lead_ids=ids))


@transaction.atomic
def score_adjustment_set(*, lead_id: int, actor: User, points, reason: str) -> Lead:
    """Pin a manual adjustment (-1000 to 1000 points, with a reason) on a lead's score, or clear
    it with 0. The lead is rescored at once, so the page shows the new score."""
    _require_scoring_editor(actor)
    points = _whole(
        points, field="points", label="adjustment", minimum=-SCORE_MAX, maximum=SCORE_MAX
    )
    reason = (reason or "").strip()
    if points and not reason:
        raise InvalidInput("Say why the score is adjusted.", field="reason")
    if len(reason) > 200:
        raise InvalidInput("Keep the reason under 200 characters.", field="reason")
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    lead.score_manual_adjustment = points
    lead.score_manual_reason = reason if points else ""
    lead.needs_rescore = True
    lead.save(
        update_fields=[
            "score_manual_adjustment",
            "score_manual_reason",
            "needs_rescore",
            "updated_at",
        ]
    )
    scores_refresh_pending(lead_ids=[lead.pk])
    lead.refresh_from_db()
    return lead

"""Writes for the SLA: deadlines on handoffs, and the scan that warns, flags breaches and
escalates — each step exactly once per deadline, however often or concurrently it runs."""

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, Max, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from core.roles import Role, has_role, is_manager
from core.services import notification_emails_queue, notification_send_many
from leads.models import Handoff
from slas.business_hours import Schedule, business_add
from slas.models import (
    Agreement,
    AgreementChange,
    Breach,
    Deadline,
    DigestSent,
    Holiday,
    ResponseTarget,
    WorkingCalendar,
    validate_timezone,
)
from slas.selectors import digest_zone, rep_digests, sla_standing
from webhooks.events import sla_breaches_emit

# One run clears a backlog this size in one statement per step; beyond it, batch by batch.
SCAN_BATCH = 20000
# Above this many breaches in one run, managers get one summary instead of one each.
MANAGER_SUMMARY_OVER = 20


@dataclass(frozen=True)
class DeadlinePlan:
    starts_at: datetime
    warn_at: datetime
    due_at: datetime
    escalate_at: datetime | None
    agreement: Agreement | None


def agreement_in_force(*, on: datetime) -> Agreement | None:
    """The agreement covering the day (the latest-starting one if several do)."""
    day = timezone.localdate(on)
    return (
        Agreement.objects.filter(starts_on__lte=day, ends_on__gte=day)
        .select_related("calendar")
        .order_by("-starts_on", "-pk")
        .first()
    )


def _schedule(agreement: Agreement | None) -> Schedule | None:
    return agreement.calendar.schedule() if agreement else None


def first_touch_hours(*, agreement: Agreement | None, kind: str, temperature: str) -> int:
    """Business hours for the first touch: the agreement's target for kind and temperature,
    else its target for the kind, else the defaults in settings."""
    targets = None
    if agreement is not None:
        targets = {
            (t.kind, t.temperature): t.hours
            for t in ResponseTarget.objects.filter(agreement=agreement, kind=kind)
        }
    return target_hours(targets=targets, kind=kind, temperature=temperature)


def target_hours(*, targets: dict[tuple[str, str], int] | None, kind: str, temperature: str) -> int:
    """The rule of ``first_touch_hours`` over targets already read: ``{(kind, temperature):
    hours}``, or None when no agreement is in force."""
    if targets is not None:
        if (kind, temperature) in targets:
            return targets[(kind, temperature)]
        if (kind, "") in targets:
            return targets[(kind, "")]
    defaults = settings.SMARKETING["FIRST_TOUCH_HOURS"]
    key = "mql_hot" if kind == "mql" and temperature == "hot" else kind
    return defaults.get(key, defaults["mql"])


def plan_deadline(
    *, start: datetime, hours: float, agreement: Agreement | None, schedule: Schedule | None
) -> DeadlinePlan:
    """Due and warning instants for a window of ``hours`` business hours from ``start``.
    Without an agreement the window runs on the plain clock."""
    window = timedelta(hours=hours)
    warn_share = (agreement.warn_at_percent if agreement else 75) / 100
    if schedule is None or agreement is None:
        return DeadlinePlan(start, start + window * warn_share, start + window, None, agreement)
    due = business_add(schedule, start, window)
    return DeadlinePlan(
        start,
        business_add(schedule, start, window * warn_share),
        due,
        business_add(schedule, due, timedelta(hours=agreement.escalate_after_hours)),
        agreement,
    )


def first_touch_plan(*, kind: str, temperature: str, start: datetime) -> DeadlinePlan:
    agreement = agreement_in_force(on=start)
    hours = first_touch_hours(agreement=agreement, kind=kind, temperature=temperature)
    return plan_deadline(
        start=start, hours=hours, agreement=agreement, schedule=_schedule(agreement)
    )


def deadline_open_first_touch(*, handoff, plan: DeadlinePlan) -> Deadline:
    return Deadline.objects.create(
        handoff=handoff,
        lead_id=handoff.lead_id,
        owner_id=handoff.owner_id,
        agreement=plan.agreement,
        kind=Deadline.Kind.FIRST_TOUCH,
        starts_at=plan.starts_at,
        warn_at=plan.warn_at,
        due_at=plan.due_at,
        escalate_at=plan.escalate_at,
    )


def sal_idle_hours(*, agreement: Agreement, calendar: WorkingCalendar) -> float:
    """The idle limit in business hours: the agreement's days of the calendar's length."""
    day = date(2000, 1, 3)
    length = datetime.combine(day, calendar.day_end) - datetime.combine(day, calendar.day_start)
    return agreement.max_untouched_sal_days * length.total_seconds() / 3600


def deadline_open_sal_idle(*, handoff, start: datetime) -> Deadline | None:
    """An accepted lead must be touched within the agreement's idle limit (business days)."""
    agreement = agreement_in_force(on=start)
    if agreement is None:
        return None
    calendar = agreement.calendar
    plan = plan_deadline(
        start=start,
        hours=sal_idle_hours(agreement=agreement, calendar=calendar),
        agreement=agreement,
        schedule=calendar.schedule(),
    )
    deadline, _ = Deadline.objects.get_or_create(
        handoff=handoff,
        kind=Deadline.Kind.SAL_IDLE,
        defaults={
            "lead_id": handoff.lead_id,
            "owner_id": handoff.owner_id,
            "agreement": agreement,
            "starts_at": plan.starts_at,
            "warn_at": plan.warn_at,
            "due_at": plan.due_at,
            "escalate_at": plan.escalate_at,
        },
    )
    return deadline


def deadlines_meet(*, handoff_id: int, at: datetime) -> int:
    """A touch meets every pending deadline of the handoff that started before it."""
    return Deadline.objects.filter(
        handoff_id=handoff_id, met_at__isnull=True, cancelled_at__isnull=True, starts_at__lte=at
    ).update(met_at=at)


def deadlines_cancel(*, handoff_id: int, at: datetime, kinds: list[str] | None = None) -> int:
    """The lead left the stage the deadline watched: it no longer runs."""
    pending = Deadline.objects.filter(
        handoff_id=handoff_id, met_at__isnull=True, cancelled_at__isnull=True
    )
    if kinds:
        pending = pending.filter(kind__in=kinds)
    return pending.update(cancelled_at=at)


def deadlines_reassign(*, handoff_ids: list[int], owner_id: int | None) -> int:
    return (
        Deadline.objects.filter(handoff_id__in=handoff_ids)
        .filter(Q(met_at__isnull=True) & Q(cancelled_at__isnull=True))
        .update(owner_id=owner_id)
    )


# --- the scan ---------------------------------------------------------------------------------
@dataclass
class ScanResult:
    warned: int = 0
    breached: int = 0
    escalated: int = 0


def sla_scan(*, now: datetime | None = None, limit: int = SCAN_BATCH) -> ScanResult:
    """Flag breaches, warn and escalate every deadline whose moment has passed, each step
    once. A run after downtime catches up with every missed deadline at its true due time.

    Each step claims its deadlines in batches of ``limit`` (one transaction each, skipping rows
    a concurrent run holds) until a batch comes back short, so one run clears the backlog.
    A deadline already past due is breached, not warned (the breach marks it warned, so the
    warning step leaves it alone). Notification emails are queued after each batch commits."""
    now = now or timezone.now()
    breached = _in_batches(_breach, now=now, limit=limit)
    warned = _in_batches(_warn, now=now, limit=limit)
    escalated = _in_batches(_escalate, now=now, limit=limit)
    return ScanResult(warned=warned, breached=breached, escalated=escalated)


def _in_batches(step, *, now: datetime, limit: int) -> int:
    done = 0
    while True:
        claimed = step(now=now, limit=limit)
        done += claimed
        if claimed < limit:
            return done


def _set_based() -> bool:
    """PostgreSQL runs each step as one statement; SQLite walks the rows in Python. Both
    write the same rows (tests/slas/test_breach_scan.py compares them)."""
    return connection.vendor == "postgresql"


def _claim(pending: QuerySet, *, limit: int) -> list[Deadline]:
    """Lock a batch of due deadlines; concurrent scans skip each other's rows."""
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True, of=("self",))
    # Only what the messages print: full lead and user rows cost more than the scan itself.
    return list(
        pending.select_related("lead", "owner").only(
            *(f.name for f in Deadline._meta.concrete_fields),
            "lead__first_name",
            "lead__last_name",
            "lead__email",
            "owner__username",
            "owner__first_name",
            "owner__last_name",
            "owner__email",
        )[:limit]
    )


_ANY_LEAD = 2147483647


def _lead_url_parts() -> tuple[str, str]:
    """``reverse("leads:detail")`` split around the lead id: SQL puts the id in between."""
    head, _, tail = reverse("leads:detail", args=[_ANY_LEAD]).partition(str(_ANY_LEAD))
    return head, tail


def managers() -> list[User]:
    return list(User.objects.filter(groups__name=Role.MANAGER, is_active=True).order_by("pk"))


# The messages are built in SQL as in Python: str(lead) is the name stripped as Python strips
# (%(whitespace)s), else the email; the kind's label comes from %(kinds)s; the lead's page is
# reverse("leads:detail") around the id; times are in the site's zone (%(tz)s).
_WHITESPACE = "".join(c for c in map(chr, range(1, 0x3001)) if c.isspace())

# Each statement claims due deadlines in the order of their partial index (FOR UPDATE SKIP
# LOCKED: concurrent runs take disjoint rows), marks them, and writes what follows from it;
# it returns how many it claimed and the ids of the notifications it stored.
WARN_SQL = """
WITH claimed AS (
    SELECT id FROM slas_deadline
    WHERE met_at IS NULL AND cancelled_at IS NULL AND warned_at IS NULL
        AND warn_at <= %(now)s
    ORDER BY warn_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), warned AS (
    UPDATE slas_deadline AS d SET warned_at = %(now)s
    FROM claimed WHERE d.id = claimed.id
    RETURNING d.id, d.lead_id, d.owner_id, d.kind, d.warn_at, d.due_at
), sent AS (
    -- one past due but not breached yet (a concurrent run holds it) is marked, not sent
    INSERT INTO core_notification (user_id, kind, message, url, created_at, read_at, emailed_at)
    SELECT d.owner_id, %(notice_kind)s,
        left(COALESCE(%(kinds)s::jsonb ->> d.kind, d.kind) || ' for '
            || COALESCE(NULLIF(btrim(l.first_name || ' ' || l.last_name, %(whitespace)s), ''),
                l.email)
            || ' is due in '
            || floor(extract(epoch FROM d.due_at - %(now)s) / 60)::bigint || ' min.', 300),
        %(url_head)s || d.lead_id || %(url_tail)s, %(created)s, NULL, NULL
    FROM warned AS d JOIN leads_lead AS l ON l.id = d.lead_id
    WHERE d.due_at > %(now)s AND d.owner_id IS NOT NULL
    ORDER BY d.warn_at, d.id
    RETURNING id
)
SELECT (SELECT count(*) FROM warned), ARRAY(SELECT id FROM sent ORDER BY id)
"""

BREACH_SQL = """
WITH claimed AS (
    SELECT id FROM slas_deadline
    WHERE met_at IS NULL AND cancelled_at IS NULL AND breached_at IS NULL
        AND due_at <= %(now)s
    ORDER BY due_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), flagged AS (
    UPDATE slas_deadline AS d SET breached_at = %(now)s, warned_at = COALESCE(d.warned_at, %(now)s)
    FROM claimed WHERE d.id = claimed.id
    RETURNING d.id, d.lead_id, d.owner_id, d.kind, d.due_at
), recorded AS (
    -- the unique deadline is the last guard against a double
    INSERT INTO slas_breach (deadline_id, lead_id, owner_id, kind, due_at, detected_at)
    SELECT id, lead_id, owner_id, kind, due_at, %(now)s FROM flagged ORDER BY due_at, id
    ON CONFLICT (deadline_id) DO NOTHING
    RETURNING deadline_id
), batch AS (
    SELECT count(*) AS n FROM flagged
), heads AS (
    SELECT u.id FROM auth_user AS u
    WHERE u.is_active AND u.id IN (
        SELECT ug.user_id FROM auth_user_groups AS ug JOIN auth_group AS g ON g.id = ug.group_id
        WHERE g.name = %(manager_group)s
    )
), notices AS (
    -- each owner hears of their own breach; managers of each one while the batch is small
    SELECT d.due_at, d.id AS deadline_id, r.rank, r.user_id,
        left('SLA breach: ' || COALESCE(%(kinds)s::jsonb ->> d.kind, d.kind) || ' for '
            || COALESCE(NULLIF(btrim(l.first_name || ' ' || l.last_name, %(whitespace)s), ''),
                l.email)
            || ' was due '
            || to_char(d.due_at AT TIME ZONE %(tz)s, 'DD Mon HH24:MI')
            || COALESCE(' (' || o.username || ')', '') || '.', 300) AS message,
        %(url_head)s || d.lead_id || %(url_tail)s AS url
    FROM flagged AS d
    JOIN leads_lead AS l ON l.id = d.lead_id
    LEFT JOIN auth_user AS o ON o.id = d.owner_id
    CROSS JOIN LATERAL (
        SELECT d.owner_id AS user_id, 0 AS rank WHERE d.owner_id IS NOT NULL
        UNION ALL
        SELECT h.id, 1 FROM heads AS h, batch
        WHERE batch.n <= %(summary_over)s AND h.id IS DISTINCT FROM d.owner_id
    ) AS r
    UNION ALL
    -- and one summary each when a run catches many (after downtime), not a flood
    SELECT NULL, NULL, 2, h.id,
        batch.n || ' SLA deadlines were breached; the team page lists them.', %(team_url)s
    FROM heads AS h, batch
    WHERE batch.n > %(summary_over)s
), sent AS (
    INSERT INTO core_notification (user_id, kind, message, url, created_at, read_at, emailed_at)
    SELECT user_id, %(notice_kind)s, message, url, %(created)s, NULL, NULL FROM notices
    ORDER BY rank = 2, due_at, deadline_id, rank, user_id
    RETURNING id
)
SELECT (SELECT n FROM batch), ARRAY(SELECT id FROM sent ORDER BY id),
    ARRAY(SELECT deadline_id FROM recorded)
"""

ESCALATE_SQL = """
WITH claimed AS (
    SELECT id FROM slas_deadline
    WHERE met_at IS NULL AND cancelled_at IS NULL AND breached_at IS NOT NULL
        AND escalated_at IS NULL AND escalate_at <= %(now)s
    ORDER BY escalate_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE slas_deadline AS d SET escalated_at = %(now)s
FROM claimed WHERE d.id = claimed.id
RETURNING d.escalate_at, d.id, d.handoff_id, d.kind,
    (SELECT a.escalation FROM slas_agreement AS a WHERE a.id = d.agreement_id)
"""


def _statement_params(*, now: datetime, limit: int, notice_kind: str) -> dict:
    url_head, url_tail = _lead_url_parts()
    return {
        "now": now,
        "limit": limit,
        "created": timezone.now(),
        "notice_kind": notice_kind,
        "whitespace": _WHITESPACE,
        "kinds": json.dumps({value: str(label) for value, label in Deadline.Kind.choices}),
        "url_head": url_head,
        "url_tail": url_tail,
        "tz": timezone.get_current_timezone_name(),
        "manager_group": Role.MANAGER.value,
        "summary_over": MANAGER_SUMMARY_OVER,
        "team_url": reverse("slas:team"),
    }


def _run_claim(sql: str, params: dict) -> tuple[int, list[int]]:
    """Run a step's statement; queue the emails of the notifications it stored. Returns how
    many it claimed and the ids of the deadlines whose breach it recorded (breach step)."""
    with connection.cursor() as cursor:
        # A large batch's planner cost crosses jit_above_cost; compiling takes longer than
        # running these joins.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, params)
        claimed, notification_ids, *recorded = cursor.fetchone()
    notification_emails_queue(notification_ids=notification_ids)
    return claimed, (recorded[0] if recorded else [])


@transaction.atomic
def _warn(*, now: datetime, limit: int) -> int:
    if _set_based():
        return _run_claim(
            WARN_SQL,
            _statement_params(now=now, limit=limit, notice_kind=Notification.Kind.SLA_WARNING),
        )[0]
    due = _claim(
        Deadline.objects.filter(
            met_at__isnull=True,
            cancelled_at__isnull=True,
            warned_at__isnull=True,
            warn_at__lte=now,
        ).order_by("warn_at"),
        limit=limit,
    )
    Deadline.objects.filter(pk__in=[d.pk for d in due]).update(warned_at=now)
    url_head, url_tail = _lead_url_parts()
    # One past due but not breached yet (a concurrent run holds it) is marked, not sent.
    notification_send_many(
        [
            (
                [d.owner],
                Notification.Kind.SLA_WARNING,
                f"{d.get_kind_display()} for {d.lead} is due in "
                f"{int((d.due_at - now).total_seconds() // 60)} min.",
                f"{url_head}{d.lead_id}{url_tail}",
            )
            for d in sorted(due, key=lambda d: (d.warn_at, d.pk))
            if d.due_at > now and d.owner is not None
        ]
    )
    return len(due)


@transaction.atomic
def _breach(*, now: datetime, limit: int) -> int:
    if _set_based():
        claimed, breached_deadline_ids = _run_claim(
            BREACH_SQL,
            _statement_params(now=now, limit=limit, notice_kind=Notification.Kind.SLA_BREACH),
        )
        sla_breaches_emit(deadline_ids=breached_deadline_ids)
        return claimed
    due = _claim(
        Deadline.objects.filter(
            met_at__isnull=True,
            cancelled_at__isnull=True,
            breached_at__isnull=True,
            due_at__lte=now,
        ).order_by("due_at"),
        limit=limit,
    )
    if not due:
        return 0
    due.sort(key=lambda d: (d.due_at, d.pk))
    Deadline.objects.filter(pk__in=[d.pk for d in due]).update(
        breached_at=now, warned_at=Coalesce("warned_at", Value(now, DateTimeField()))
    )
    Breach.objects.bulk_create(
        [
            Breach(
                deadline=d,
                lead_id=d.lead_id,
                owner_id=d.owner_id,
                kind=d.kind,
                due_at=d.due_at,
                detected_at=now,
            )
            for d in due
        ],
        ignore_conflicts=True,  # the unique deadline is the last guard against a double
    )
    sla_breaches_emit(deadline_ids=[d.pk for d in due])
    heads = managers()
    url_head, url_tail = _lead_url_parts()
    # Each owner hears of their own breach; managers get each one while breaches are few,
    # and one summary when a run catches many (after downtime), not a flood.
    many = len(due) > MANAGER_SUMMARY_OVER
    notification_send_many(
        [
            (
                [d.owner] if many else [d.owner, *heads],
                Notification.Kind.SLA_BREACH,
                f"SLA breach: {d.get_kind_display()} for {d.lead} was due "
                f"{timezone.localtime(d.due_at):%d %b %H:%M}"
                f"{'' if d.owner is None else f' ({d.owner})'}.",
                f"{url_head}{d.lead_id}{url_tail}",
            )
            for d in due
        ]
        + (
            [
                (
                    heads,
                    Notification.Kind.SLA_BREACH,
                    f"{len(due)} SLA deadlines were breached; the team page lists them.",
                    reverse("slas:team"),
                )
            ]
            if many
            else []
        )
    )
    return len(due)


@transaction.atomic
def _escalate(*, now: datetime, limit: int) -> int:
    from leads.services import handoff_return_to_pool

    if _set_based():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")  # as in _run_claim
            cursor.execute(ESCALATE_SQL, {"now": now, "limit": limit})
            due = sorted(cursor.fetchall())
    else:
        claimed = _claim(
            Deadline.objects.filter(
                met_at__isnull=True,
                cancelled_at__isnull=True,
                breached_at__isnull=False,
                escalated_at__isnull=True,
                escalate_at__lte=now,
            ).order_by("escalate_at"),
            limit=limit,
        )
        Deadline.objects.filter(pk__in=[d.pk for d in claimed]).update(escalated_at=now)
        policies = dict(
            Agreement.objects.filter(pk__in={d.agreement_id for d in claimed}).values_list(
                "pk", "escalation"
            )
        )
        due = sorted(
            (d.escalate_at, d.pk, d.handoff_id, d.kind, policies.get(d.agreement_id))
            for d in claimed
        )
    labels = dict(Deadline.Kind.choices)
    # Bounded by the policy's delay (a few a minute), so one handoff at a time is fine.
    for _escalate_at, _pk, handoff_id, kind, policy in due:
        if policy == Agreement.Escalation.RETURN_TO_POOL:
            handoff_return_to_pool(
                handoff_id=handoff_id, why=f"{labels.get(kind, kind)} SLA breached"
            )
    return len(due)


def calendar_default() -> WorkingCalendar | None:
    return WorkingCalendar.objects.order_by("pk").first()


# --- agreements ---------------------------------------------------------------------------------
AGREEMENT_FIELDS = (
    "name",
    "starts_on",
    "ends_on",
    "calendar",
    "mqls_per_month",
    "min_acceptance_rate",
    "content_turnaround_hours",
    "follow_up_attempts",
    "max_untouched_sal_days",
    "warn_at_percent",
    "escalation",
    "escalate_after_hours",
)
# Changing any of these (or the targets) moves the due times of open deadlines.
CLOCK_FIELDS = frozenset(
    {
        "starts_on",
        "ends_on",
        "calendar",
        "max_untouched_sal_days",
        "warn_at_percent",
        "escalate_after_hours",
    }
)
TARGET_KINDS = ("mql", "pql", "cql")
TARGET_TEMPERATURES = ("", "cold", "warm", "hot")
TARGET_MAX_HOURS = 1000
KIND_LABELS = {"mql": "MQL", "pql": "PQL", "cql": "CQL"}
SIDES = ("sales", "marketing")


@dataclass(frozen=True, order=True)
class TargetSpec:
    """First touch within ``hours`` business hours for ``kind`` (and ``temperature``, "" =
    any temperature)."""

    kind: str
    temperature: str
    hours: int


@dataclass(frozen=True)
class AgreementSaved:
    agreement: Agreement
    signatures_cleared: bool = False
    deadlines_moved: int = 0


class AgreementInvalid(InvalidInput):
    """Several fields failed validation; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field = next(iter(errors))
        super().__init__(errors[field][0], field=field)
        self.errors = errors


def _require_manager(actor: User, doing: str) -> None:
    if not is_manager(actor):
        raise NotAllowed(f"Only managers {doing}.")


def _int_between(value, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def agreement_errors(
    *, values: dict, targets: list[TargetSpec] | None, agreement_id: int | None = None
) -> dict[str, list[str]]:
    """Every rule an agreement must meet, as ``{field: [messages]}`` (empty when valid).

    ``values`` holds the agreement's fields after the change; ``targets`` the new first-touch
    targets (None leaves them as they are). Forms and the API show all errors at once; the
    write services refuse with the same errors.
    """
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = (values.get("name") or "").strip()
    if not name:
        add("name", "Give the agreement a name, e.g. “Q1 2027 SLA”.")
    elif len(name) > 150:
        add("name", "Keep the name under 150 characters.")
    start, end = values.get("starts_on"), values.get("ends_on")
    if not isinstance(start, date):
        add("starts_on", "Enter the first day the agreement covers.")
    if not isinstance(end, date):
        add("ends_on", "Enter the last day the agreement covers.")
    if isinstance(start, date) and isinstance(end, date):
        if end < start:
            add("ends_on", "The period cannot end before it starts.")
        else:
            clash = (
                Agreement.objects.filter(starts_on__lte=end, ends_on__gte=start)
                .exclude(pk=agreement_id)
                .order_by("starts_on")
                .first()
            )
            if clash is not None:
                add("starts_on", _overlap_message(clash))
    if not isinstance(values.get("calendar"), WorkingCalendar):
        add("calendar", "Choose the working calendar the deadlines count in.")
    if not _int_between(values.get("mqls_per_month"), 0, 1_000_000):
        add(
            "mqls_per_month",
            "Enter how many qualified leads marketing delivers a month (0 or more).",
        )
    rate = values.get("min_acceptance_rate")
    try:
        rate = Decimal(str(rate))
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(100):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        add("min_acceptance_rate", "The acceptance rate is a percentage from 0 to 100.")
    for field, low, high, message in (
        ("content_turnaround_hours", 1, 10_000, "Give marketing at least 1 business hour."),
        ("follow_up_attempts", 1, 100, "Ask for at least 1 follow-up attempt (at most 100)."),
        ("max_untouched_sal_days", 1, 365, "An accepted lead may sit 1 to 365 business days."),
        ("warn_at_percent", 1, 99, "Warn at 1 to 99 percent of the window."),
        ("escalate_after_hours", 0, 1000, "Escalate 0 to 1000 business hours after a breach."),
    ):
        if not _int_between(values.get(field), low, high):
            add(field, message)
    if values.get("escalation") not in Agreement.Escalation.values:
        add("escalation", "Choose what happens after a breach.")
    if targets is not None:
        for message in target_errors(targets):
            add("targets", message)
    return errors


def _overlap_message(clash: Agreement) -> str:
    return (
        f"This period overlaps “{clash.name}” ({clash.starts_on:%-d %b %Y} – "
        f"{clash.ends_on:%-d %b %Y}): only one agreement can cover a day. "
        "Shorten one of them first."
    )


def target_errors(targets: list[TargetSpec]) -> list[str]:
    messages: list[str] = []
    seen: set[tuple[str, str]] = set()
    for target in targets:
        label = f"{KIND_LABELS.get(target.kind, target.kind)} ({target.temperature or 'any'})"
        if target.kind not in TARGET_KINDS:
            messages.append("Each target is for MQL, PQL or CQL leads.")
        elif target.temperature not in TARGET_TEMPERATURES:
            messages.append(f"{label}: choose any, cold, warm or hot.")
        elif (target.kind, target.temperature) in seen:
            messages.append(f"{label} has two targets: keep one.")
        seen.add((target.kind, target.temperature))
        if not _int_between(target.hours, 1, TARGET_MAX_HOURS):
            messages.append(f"{label}: the first touch is due after 1 to {TARGET_MAX_HOURS} hours.")
    for kind in TARGET_KINDS:
        temperatures = {t for k, t in seen if k == kind}
        if not temperatures:
            messages.append(f"Add a first-touch target for {KIND_LABELS[kind]} leads.")
        elif "" not in temperatures and not {"cold", "warm", "hot"} <= temperatures:
            messages.append(
                f"{KIND_LABELS[kind]} targets leave some temperatures without a deadline: "
                "add one for any temperature."
            )
    return messages


def _clean_agreement(values: dict) -> dict:
    cleaned = {name: values[name] for name in AGREEMENT_FIELDS if name in values}
    if "name" in cleaned:
        cleaned["name"] = cleaned["name"].strip()
    if "min_acceptance_rate" in cleaned:
        cleaned["min_acceptance_rate"] = Decimal(str(cleaned["min_acceptance_rate"])).quantize(
            Decimal("0.01")
        )
    return cleaned


def _targets_of(agreement: Agreement) -> list[TargetSpec]:
    return sorted(
        TargetSpec(t.kind, t.temperature, t.hours)
        for t in ResponseTarget.objects.filter(agreement=agreement)
    )


def _targets_replace(agreement: Agreement, targets: list[TargetSpec]) -> None:
    ResponseTarget.objects.filter(agreement=agreement).delete()
    ResponseTarget.objects.bulk_create(
        ResponseTarget(agreement=agreement, kind=t.kind, temperature=t.temperature, hours=t.hours)
        for t in targets
    )


def _history(agreement: Agreement, kind: str, actor: User | None, now, **details):
    AgreementChange.objects.create(
        agreement=agreement, kind=kind, actor=actor, created_at=now, details=details
    )


def _saved_or_overlap(write) -> None:
    """Run ``write`` in a savepoint; PostgreSQL's exclusion constraint catches an overlap a
    concurrent writer created after our check."""
    try:
        with transaction.atomic():
            write()
    except IntegrityError as error:
        if "agreement_periods_do_not_overlap" not in str(error):
            raise
        raise AgreementInvalid(
            {"starts_on": ["Another agreement covering these days was just saved."]}
        ) from None


@transaction.atomic
def agreement_create(*, actor: User, targets: list[TargetSpec], **values) -> AgreementSaved:
    """Create an unsigned agreement with its first-touch targets. Open deadlines that started
    within its period are recomputed under it."""
    _require_manager(actor, "write SLA agreements")
    unknown = set(values) - set(AGREEMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    defaults = {
        f.name: f.default
        for f in Agreement._meta.concrete_fields
        if f.name in AGREEMENT_FIELDS and f.has_default()
    }
    values = {**defaults, **values}
    errors = agreement_errors(values=values, targets=targets)
    if errors:
        raise AgreementInvalid(errors)
    agreement = Agreement(**_clean_agreement(values))
    _saved_or_overlap(agreement.save)
    _targets_replace(agreement, targets)
    now = timezone.now()
    _history(agreement, AgreementChange.Kind.CREATED, actor, now)
    moved = deadlines_recompute(started_from=agreement.starts_on, started_until=agreement.ends_on)
    return AgreementSaved(agreement, deadlines_moved=moved)


@transaction.atomic
def agreement_update(
    *, agreement_id: int, actor: User, targets: list[TargetSpec] | None = None, **values
) -> AgreementSaved:
    """Change fields and/or replace the targets. Any change to a signed agreement clears
    both signatures (the heads signed other terms); a change to the clock (targets, period,
    calendar, warning or escalation settings) recomputes the open deadlines it governs.
    Saving without a change changes nothing."""
    _require_manager(actor, "write SLA agreements")
    agreement = (
        Agreement.objects.select_for_update().select_related("calendar").get(pk=agreement_id)
    )
    unknown = set(values) - set(AGREEMENT_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]} cannot be edited.", field=sorted(unknown)[0])
    merged = {name: getattr(agreement, name) for name in AGREEMENT_FIELDS}
    merged.update(values)
    errors = agreement_errors(values=merged, targets=targets, agreement_id=agreement.pk)
    if errors:
        raise AgreementInvalid(errors)
    cleaned = _clean_agreement(merged)
    changed = sorted(name for name in AGREEMENT_FIELDS if cleaned[name] != getattr(agreement, name))
    before_targets = _targets_of(agreement)
    targets_changed = targets is not None and sorted(targets) != before_targets
    if not changed and not targets_changed:
        return AgreementSaved(agreement)
    old_period = (agreement.starts_on, agreement.ends_on)
    for name in changed:
        setattr(agreement, name, cleaned[name])
    now = timezone.now()
    was_signed = bool(agreement.sales_signed_at or agreement.marketing_signed_at)
    if was_signed:
        agreement.sales_head = agreement.marketing_head = None
        agreement.sales_signed_at = agreement.marketing_signed_at = None
    fields = [*changed, "updated_at"]
    if was_signed:
        fields += ["sales_head", "sales_signed_at", "marketing_head", "marketing_signed_at"]
    _saved_or_overlap(lambda: agreement.save(update_fields=fields))
    details: dict = {"fields": changed}
    if targets_changed:
        _targets_replace(agreement, targets)
        details["targets"] = {
            "before": [asdict(t) for t in before_targets],
            "after": [asdict(t) for t in sorted(targets)],
        }
    _history(agreement, AgreementChange.Kind.EDITED, actor, now, **details)
    if was_signed:
        _history(agreement, AgreementChange.Kind.SIGNATURES_CLEARED, actor, now)
    moved = 0
    if targets_changed or CLOCK_FIELDS & set(changed):
        moved = deadlines_recompute(
            started_from=min(old_period[0], agreement.starts_on),
            started_until=max(old_period[1], agreement.ends_on),
        )
    return AgreementSaved(agreement, signatures_cleared=was_signed, deadlines_moved=moved)


def _signing_forbidden(*, actor: User, side: str) -> str | None:
    """Why ``actor``'s role may not sign ``side``: the sales head is a manager, the marketing
    head a marketer or manager."""
    if side == "sales" and not is_manager(actor):
        return "Only a manager signs as the sales head."
    if side == "marketing" and not has_role(actor, Role.MARKETER):
        return "Only the marketing head (a marketer or manager) signs for marketing."
    return None


def signing_refusal(*, agreement: Agreement, actor: User, side: str) -> str | None:
    """Why ``actor`` may not sign ``side`` now, or None: the role, a side already signed, or
    the same person signing both sides."""
    if side not in SIDES:
        return "Sign as the sales head or as the marketing head."
    forbidden = _signing_forbidden(actor=actor, side=side)
    if forbidden:
        return forbidden
    if getattr(agreement, f"{side}_signed_at") is not None:
        signer = getattr(agreement, f"{side}_head")
        return f"Already signed for {side} by {_person(signer)}."
    other = "marketing" if side == "sales" else "sales"
    if getattr(agreement, f"{other}_head_id") == actor.pk:
        return f"You signed for {other}: the {side} head signs this side."
    return None


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user else "a former user"


@transaction.atomic
def agreement_sign(*, agreement_id: int, actor: User, side: str) -> Agreement:
    """Sign the agreement as the sales or marketing head: who and when is recorded. Once
    both sides signed, the agreement is in force as signed."""
    forbidden = _signing_forbidden(actor=actor, side=side)
    if forbidden:
        raise NotAllowed(forbidden)
    agreement = Agreement.objects.select_for_update().get(pk=agreement_id)
    refusal = signing_refusal(agreement=agreement, actor=actor, side=side)
    if refusal:
        raise DomainError(refusal, code="cannot_sign")
    now = timezone.now()
    setattr(agreement, f"{side}_head", actor)
    setattr(agreement, f"{side}_signed_at", now)
    agreement.save(update_fields=[f"{side}_head", f"{side}_signed_at", "updated_at"])
    _history(agreement, AgreementChange.Kind.SIGNED, actor, now, side=side)
    return agreement


# --- working calendars ----------------------------------------------------------------------------
CALENDAR_FIELDS = ("name", "timezone", "working_days", "day_start", "day_end")


def calendar_errors(*, values: dict, calendar_id: int | None = None) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    name = (values.get("name") or "").strip()
    if not name:
        add("name", "Give the calendar a name, e.g. “Berlin office”.")
    elif len(name) > 100:
        add("name", "Keep the name under 100 characters.")
    elif WorkingCalendar.objects.filter(name__iexact=name).exclude(pk=calendar_id).exists():
        add("name", "Another calendar has this name.")
    try:
        validate_timezone(values.get("timezone") or "")
    except ValidationError as error:
        add("timezone", error.messages[0])
    days = values.get("working_days")
    if not days or not all(_int_between(day, 0, 6) for day in days):
        add("working_days", "Pick at least one working day.")
    start, end = values.get("day_start"), values.get("day_end")
    if not isinstance(start, time):
        add("day_start", "Enter when the working day starts.")
    if not isinstance(end, time):
        add("day_end", "Enter when the working day ends.")
    if isinstance(start, time) and isinstance(end, time) and end <= start:
        add("day_end", "The working day must end after it starts.")
    return errors


class CalendarInvalid(AgreementInvalid):
    """A working calendar or holiday failed validation; ``errors`` per field."""


def _clean_calendar(values: dict) -> dict:
    cleaned = {name: values[name] for name in CALENDAR_FIELDS if name in values}
    cleaned["name"] = cleaned["name"].strip()
    cleaned["working_days"] = sorted({int(day) for day in cleaned["working_days"]})
    return cleaned


@transaction.atomic
def calendar_create(*, actor: User, **values) -> WorkingCalendar:
    _require_manager(actor, "edit working calendars")
    values = {"timezone": "UTC", "working_days": [0, 1, 2, 3, 4], **values}
    errors = calendar_errors(values=values)
    if errors:
        raise CalendarInvalid(errors)
    return WorkingCalendar.objects.create(**_clean_calendar(values))


@transaction.atomic
def calendar_update(*, calendar_id: int, actor: User, **values) -> int:
    """Change the calendar; open deadlines of every agreement counting in it are recomputed.
    Returns how many deadlines moved."""
    _require_manager(actor, "edit working calendars")
    calendar = WorkingCalendar.objects.select_for_update().get(pk=calendar_id)
    merged = {name: getattr(calendar, name) for name in CALENDAR_FIELDS}
    merged.update({k: v for k, v in values.items() if k in CALENDAR_FIELDS})
    errors = calendar_errors(values=merged, calendar_id=calendar.pk)
    if errors:
        raise CalendarInvalid(errors)
    cleaned = _clean_calendar(merged)
    changed = [name for name in CALENDAR_FIELDS if cleaned[name] != getattr(calendar, name)]
    if not changed:
        return 0
    for name in changed:
        setattr(calendar, name, cleaned[name])
    calendar.save(update_fields=[*changed, "updated_at"])
    if set(changed) == {"name"}:
        return 0
    return _recompute_for_calendar(calendar.pk)


@transaction.atomic
def holiday_add(*, calendar_id: int, actor: User, day: date, name: str) -> Holiday:
    """A day off on the calendar; deadlines counting in it are recomputed."""
    _require_manager(actor, "edit working calendars")
    calendar = WorkingCalendar.objects.select_for_update().get(pk=calendar_id)
    name = (name or "").strip()
    errors: dict[str, list[str]] = {}
    if not isinstance(day, date):
        errors["date"] = ["Enter the holiday's date."]
    elif Holiday.objects.filter(calendar=calendar, date=day).exists():
        errors["date"] = [f"{day:%-d %b %Y} is already a holiday on this calendar."]
    if not name:
        errors["name"] = ["Name the holiday, e.g. “New Year's Day”."]
    elif len(name) > 100:
        errors["name"] = ["Keep the name under 100 characters."]
    if errors:
        raise CalendarInvalid(errors)
    holiday = Holiday.objects.create(calendar=calendar, date=day, name=name)
    _recompute_for_calendar(calendar.pk)
    return holiday


@transaction.atomic
def holiday_remove(*, holiday_id: int, actor: User) -> int:
    _require_manager(actor, "edit working calendars")
    holiday = Holiday.objects.select_related("calendar").get(pk=holiday_id)
    WorkingCalendar.objects.select_for_update().get(pk=holiday.calendar_id)
    holiday.delete()
    return _recompute_for_calendar(holiday.calendar_id)


def _recompute_for_calendar(calendar_id: int) -> int:
    periods = Agreement.objects.filter(calendar_id=calendar_id).aggregate(
        first=Min("starts_on"), last=Max("ends_on")
    )
    if periods["first"] is None:
        return 0
    return deadlines_recompute(started_from=periods["first"], started_until=periods["last"])


# --- recomputing open deadlines ------------------------------------------------------------------
RECOMPUTE_BATCH = 500


@dataclass(frozen=True)
class AgreementTerms:
    """One agreement's clock (calendar, holidays, targets), read once for many deadlines."""

    agreement: Agreement
    schedule: Schedule
    targets: dict[tuple[str, str], int]
    sal_idle_hours: float


def agreement_terms_between(*, first: date, last: date) -> list[AgreementTerms]:
    """The terms of every agreement covering a day from ``first`` to ``last``, latest-starting
    first (three queries)."""
    agreements = (
        Agreement.objects.filter(starts_on__lte=last, ends_on__gte=first)
        .select_related("calendar")
        .prefetch_related("targets", "calendar__holidays")
        .order_by("-starts_on", "-pk")
    )
    return [
        AgreementTerms(
            agreement=a,
            schedule=a.calendar.schedule([h.date for h in a.calendar.holidays.all()]),
            targets={(t.kind, t.temperature): t.hours for t in a.targets.all()},
            sal_idle_hours=sal_idle_hours(agreement=a, calendar=a.calendar),
        )
        for a in agreements
    ]


def terms_on(terms: list[AgreementTerms], start: datetime) -> AgreementTerms | None:
    """The terms in force on the day ``start`` falls on, as ``agreement_in_force`` picks."""
    day = timezone.localdate(start)
    return next((t for t in terms if t.agreement.starts_on <= day <= t.agreement.ends_on), None)


def deadlines_recompute(*, started_from: date, started_until: date) -> int:
    """Recompute warn, due and escalation times of every pending deadline (neither met,
    cancelled nor breached) that started between the two days, under the agreement in force
    on its start day, and keep ``Handoff.first_touch_due_at`` equal to its first-touch
    deadline. Runs in the caller's transaction; the rows are updated in batches with one
    ``UPDATE … FROM (VALUES …)`` each. Returns how many deadlines moved."""
    tz = timezone.get_current_timezone()
    lower = datetime.combine(started_from, time.min, tzinfo=tz)
    upper = datetime.combine(started_until + timedelta(days=1), time.min, tzinfo=tz)
    pending = (
        Deadline.objects.filter(
            starts_at__gte=lower,
            starts_at__lt=upper,
            met_at__isnull=True,
            cancelled_at__isnull=True,
            breached_at__isnull=True,
        )
        .annotate(snapshot_temperature=KeyTextTransform("temperature", "handoff__context"))
        .values_list(
            "pk",
            "kind",
            "handoff_id",
            "handoff__kind",
            "snapshot_temperature",
            "lead__temperature",
            "starts_at",
            "warn_at",
            "due_at",
            "escalate_at",
            "agreement_id",
        )
        .order_by("pk")
    )
    rows = list(pending)
    if not rows:
        return 0
    terms = agreement_terms_between(first=started_from, last=started_until)
    changes: list[tuple] = []
    for pk, kind, handoff_id, handoff_kind, snap, temperature, start, warn, due, esc, ag in rows:
        term = terms_on(terms, start)
        if kind == Deadline.Kind.FIRST_TOUCH:
            hours = target_hours(
                targets=term.targets if term else None,
                kind=handoff_kind,
                temperature=snap or temperature,
            )
        elif term is not None:
            hours = term.sal_idle_hours
        else:
            continue  # an idle clock needs an agreement: it keeps the one it started under
        plan = plan_deadline(
            start=start,
            hours=hours,
            agreement=term.agreement if term else None,
            schedule=term.schedule if term else None,
        )
        new = (plan.warn_at, plan.due_at, plan.escalate_at, term.agreement.pk if term else None)
        if new != (warn, due, esc, ag):
            changes.append((pk, *new, handoff_id if kind == Deadline.Kind.FIRST_TOUCH else None))
    for offset in range(0, len(changes), RECOMPUTE_BATCH):
        batch = changes[offset : offset + RECOMPUTE_BATCH]
        _deadlines_bulk_move(batch)
        handoff_ids = [row[5] for row in batch if row[5] is not None]
        if handoff_ids:
            Handoff.objects.filter(pk__in=handoff_ids).update(
                first_touch_due_at=Subquery(
                    Deadline.objects.filter(
                        handoff_id=OuterRef("pk"), kind=Deadline.Kind.FIRST_TOUCH
                    ).values("due_at")[:1]
                )
            )
    return len(changes)


# Only the table name, casts and placeholders are filled in; every value is a parameter.
_BULK_MOVE_SQL = (
    "WITH moved (id, warn_at, due_at, escalate_at, agreement_id) AS (VALUES {rows}) "
    "UPDATE {table} SET warn_at = moved.warn_at{ts}, due_at = moved.due_at{ts}, "
    "escalate_at = moved.escalate_at{ts}, agreement_id = moved.agreement_id{fk} "
    "FROM moved WHERE {table}.id = moved.id{fk} AND {table}.met_at IS NULL "
    "AND {table}.cancelled_at IS NULL AND {table}.breached_at IS NULL"
)


def _deadlines_bulk_move(batch: list[tuple]) -> None:
    """One UPDATE for the batch: ``(id, warn_at, due_at, escalate_at, agreement_id, _)``.
    Rows a concurrent scan breached meanwhile keep their times (the WHERE re-checks)."""
    adapt = connection.ops.adapt_datetimefield_value
    postgres = connection.vendor == "postgresql"
    params: list = []
    for pk, warn, due, escalate, agreement_id, _ in batch:
        params += [pk, adapt(warn), adapt(due), adapt(escalate), agreement_id]
    sql = _BULK_MOVE_SQL.format(
        rows=", ".join(["(%s, %s, %s, %s, %s)"] * len(batch)),
        table=connection.ops.quote_name(Deadline._meta.db_table),
        ts="::timestamptz" if postgres else "",
        fk="::bigint" if postgres else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# --- digests -------------------------------------------------------------------------------------
def _digest_send(
    *, user: User, kind: str, period: date, subject: str, template: str, context: dict, now
) -> bool:
    """Claim the (user, kind, period) row and send in one transaction. A second or concurrent
    run finds the row and sends nothing; a failed send rolls the claim back for the retry."""
    context = {**context, "user": user, "site_url": settings.SMARKETING["SITE_URL"]}
    try:
        with transaction.atomic():
            DigestSent.objects.create(user=user, kind=kind, period=period, sent_at=now)
            message = EmailMultiAlternatives(
                subject=subject,
                body=render_to_string(f"{template}.txt", context),
                to=[user.email],
            )
            message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
            message.send()
    except IntegrityError:
        return False
    return True


def digests_reps_send(*, now: datetime | None = None) -> int:
    """The morning digest: every rep with deadlines due today or breached and untouched gets
    one email listing them, at most once per day however often this runs. Skipped on a day
    off of the calendar in force. Returns how many emails went out."""
    now = now or timezone.now()
    tz, schedule = digest_zone(on=now)
    day = now.astimezone(tz).date()
    if schedule is not None and schedule.window(day) is None:
        return 0
    day_end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    digests = [d for d in rep_digests(day_end=day_end) if d.rep.email]
    already = set(
        DigestSent.objects.filter(
            kind=DigestSent.Kind.REP_DAILY, period=day, user__in=[d.rep for d in digests]
        ).values_list("user_id", flat=True)
    )
    sent = 0
    for digest in digests:
        if digest.rep.pk in already:
            continue
        parts = []
        if digest.due_today:
            parts.append(f"{len(digest.due_today)} due today")
        if digest.breached:
            parts.append(f"{len(digest.breached)} breached")
        sent += _digest_send(
            user=digest.rep,
            kind=DigestSent.Kind.REP_DAILY,
            period=day,
            subject=f"[smarketing] Your leads for {day:%a %-d %b}: {', '.join(parts)}",
            template="slas/digest_rep",
            context={"digest": digest, "day": day, "tz": tz},
            now=now,
        )
    return sent


def digests_managers_send(*, now: datetime | None = None) -> int:
    """The weekly digest: every manager gets the SLA standing so far this month (handoffs,
    first touches within the SLA, breaches per rep), at most once per week. Returns how many
    emails went out."""
    now = now or timezone.now()
    tz, _ = digest_zone(on=now)
    local = now.astimezone(tz)
    week = local.date() - timedelta(days=local.weekday())
    since = datetime.combine(local.date().replace(day=1), time.min, tzinfo=tz)
    heads = [m for m in managers() if m.email]
    already = set(
        DigestSent.objects.filter(
            kind=DigestSent.Kind.MANAGER_WEEKLY, period=week, user__in=heads
        ).values_list("user_id", flat=True)
    )
    heads = [m for m in heads if m.pk not in already]
    if not heads:
        return 0
    standing = sla_standing(since=since, until=now)
    percent = standing.on_time_percent
    headline = "no first touches decided yet" if percent is None else f"{percent:g}% within SLA"
    return sum(
        _digest_send(
            user=head,
            kind=DigestSent.Kind.MANAGER_WEEKLY,
            period=week,
            subject=f"[smarketing] SLA so far in {local:%B}: {headline}",
            template="slas/digest_manager",
            context={"standing": standing, "month": local, "tz": tz},
            now=now,
        )
        for head in heads
    )

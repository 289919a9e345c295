"""The SLA part of the demo: a Berlin working calendar with its public holidays, a signed
agreement for the current quarter and the two before (CQL 1 h, PQL 2 h, hot MQL 4 h, MQL
24 h), and the SLA history of every demo handoff: its first-touch and idle deadlines under
the agreement in force when it started, met by the touches the demo logged (most in time,
some late), with warnings, breaches and escalations where they would have happened.

Run it after ``seed_demo`` has written the demo's handoffs and touches. Idempotent: the
calendar and agreements are keyed by name, holidays by date, and the history is derived only
for demo handoffs that have no deadline yet. Seed data is bulk-written, not replayed through
the scan: what would have happened before now is recorded as having happened (escalations
included, without moving the leads, so the demo keeps its shape), and what is still running
is left pending for the live scan.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Exists, OuterRef, Subquery
from django.db.models.fields.json import KT
from django.utils import timezone

from core.roles import Role
from leads.models import Handoff, LeadStageChange, Stage, Touch
from slas.models import Agreement, Breach, Deadline, Holiday, ResponseTarget, WorkingCalendar
from slas.services import (
    AgreementTerms,
    agreement_terms_between,
    plan_deadline,
    target_hours,
    terms_on,
)

# Mirrors seed_demo's demo lead addresses (imported there, so not imported from there).
DEMO_EMAIL_DOMAIN = "@demo.smarketing.example"
CALENDAR_NAME = "Berlin office"
TARGETS = [("cql", "", 1), ("pql", "", 2), ("mql", "hot", 4), ("mql", "", 24)]
QUARTERS = 3  # the current quarter and the two before
# The scan runs every minute: a step is recorded a minute after its moment.
SCAN_DELAY = timedelta(minutes=1)
MARKETING_SIGNS_LATER = timedelta(hours=26, minutes=30)


@dataclass(frozen=True)
class SlaDemoResult:
    agreements: int
    holidays: int
    deadlines: int
    breaches: int


def sla_demo_seed(*, now: datetime | None = None) -> SlaDemoResult:
    """Write what is missing of the SLA demo; returns what it created.

    Best called twice by ``seed_demo``: before it derives the demo's sales work, so the
    handoffs' due times and the touches drawn around them follow the agreement's business
    hours, and after, to record the deadlines and breaches of those handoffs. Either call
    alone also works."""
    now = now or timezone.now()
    with transaction.atomic():
        agreements, holidays = sla_demo_agreements(now=now)
        deadlines, breaches = _history_derive(now=now)
    return SlaDemoResult(agreements, holidays, deadlines, breaches)


def sla_demo_agreements(*, now: datetime) -> tuple[int, int]:
    """The calendar, its holidays and the three quarters' agreements (signed once the demo's
    manager and marketer exist). Returns how many agreements and holidays it created."""
    today = timezone.localdate(now)
    with transaction.atomic():
        calendar, _ = WorkingCalendar.objects.get_or_create(
            name=CALENDAR_NAME,
            defaults={
                "timezone": "Europe/Berlin",
                "working_days": [0, 1, 2, 3, 4],
                "day_start": time(9),
                "day_end": time(17),
            },
        )
        quarters = _quarters(today)
        holidays = _holidays_add(calendar, years={q[0].year for q in quarters} | {today.year + 1})
        return _agreements_add(calendar, quarters), holidays


# --- calendar and agreements --------------------------------------------------------------------
def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def berlin_holidays(year: int) -> list[tuple[date, str]]:
    """Public holidays in Berlin."""
    easter = _easter(year)
    return [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 3, 8), "International Women's Day"),
        (easter - timedelta(days=2), "Good Friday"),
        (easter + timedelta(days=1), "Easter Monday"),
        (date(year, 5, 1), "Labour Day"),
        (easter + timedelta(days=39), "Ascension Day"),
        (easter + timedelta(days=50), "Whit Monday"),
        (date(year, 10, 3), "German Unity Day"),
        (date(year, 12, 25), "Christmas Day"),
        (date(year, 12, 26), "Second Day of Christmas"),
    ]


def _holidays_add(calendar: WorkingCalendar, *, years: set[int]) -> int:
    existing = set(Holiday.objects.filter(calendar=calendar).values_list("date", flat=True))
    rows = [
        Holiday(calendar=calendar, date=day, name=name)
        for year in sorted(years)
        for day, name in berlin_holidays(year)
        if day not in existing
    ]
    Holiday.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def _quarters(today: date) -> list[tuple[date, date]]:
    """The current quarter and the ones before it, oldest first."""
    year, month = today.year, 3 * ((today.month - 1) // 3) + 1
    quarters = []
    for _ in range(QUARTERS):
        next_year, next_month = (year + 1, 1) if month == 10 else (year, month + 3)
        quarters.append((date(year, month, 1), date(next_year, next_month, 1) - timedelta(days=1)))
        year, month = (year - 1, 10) if month == 1 else (year, month - 3)
    return quarters[::-1]


def _agreements_add(calendar: WorkingCalendar, quarters: list[tuple[date, date]]) -> int:
    heads = {u.username: u for u in User.objects.filter(username__in=["manager", "marketer"])}
    sales_head = heads.get("manager")
    marketing_head = heads.get("marketer")
    if (
        marketing_head is not None
        and not marketing_head.groups.filter(
            name__in=[Role.MARKETER.value, Role.MANAGER.value]
        ).exists()
    ):
        marketing_head = None
    created = 0
    tz = timezone.get_current_timezone()
    for starts_on, ends_on in quarters:
        name = f"Q{(starts_on.month - 1) // 3 + 1} {starts_on.year} SLA"
        signed = datetime.combine(starts_on - timedelta(days=4), time(10), tzinfo=tz)
        if Agreement.objects.filter(name=name).exists():
            # Seeded before the demo users existed: the heads sign now.
            if sales_head and marketing_head:
                Agreement.objects.filter(
                    name=name, sales_signed_at__isnull=True, marketing_signed_at__isnull=True
                ).update(
                    sales_head=sales_head,
                    sales_signed_at=signed,
                    marketing_head=marketing_head,
                    marketing_signed_at=signed + MARKETING_SIGNS_LATER,
                )
            continue
        if Agreement.objects.filter(starts_on__lte=ends_on, ends_on__gte=starts_on).exists():
            continue  # someone wrote an agreement for these days: theirs stands
        agreement = Agreement.objects.create(
            name=name,
            starts_on=starts_on,
            ends_on=ends_on,
            calendar=calendar,
            mqls_per_month=30,
            min_acceptance_rate=70,
            content_turnaround_hours=16,
            follow_up_attempts=6,
            max_untouched_sal_days=5,
            warn_at_percent=75,
            escalation=Agreement.Escalation.RETURN_TO_POOL,
            escalate_after_hours=4,
            sales_head=sales_head,
            sales_signed_at=signed if sales_head else None,
            marketing_head=marketing_head,
            marketing_signed_at=signed + MARKETING_SIGNS_LATER if marketing_head else None,
        )
        ResponseTarget.objects.bulk_create(
            ResponseTarget(agreement=agreement, kind=kind, temperature=temp, hours=hours)
            for kind, temp, hours in TARGETS
        )
        created += 1
    return created


# --- the SLA history of the demo handoffs --------------------------------------------------------
def _fate(deadline: Deadline, *, end: datetime) -> None:
    """Warned, breached and escalated as the scan would have, given that the deadline stopped
    running at ``end`` (met, cancelled, or still running now)."""
    if end > deadline.warn_at + SCAN_DELAY:
        deadline.warned_at = deadline.warn_at + SCAN_DELAY
    if end > deadline.due_at + SCAN_DELAY:
        deadline.breached_at = deadline.due_at + SCAN_DELAY
        if deadline.escalate_at is not None and end > deadline.escalate_at + SCAN_DELAY:
            deadline.escalated_at = deadline.escalate_at + SCAN_DELAY


def _deadline(
    handoff: Handoff,
    *,
    kind: str,
    start: datetime,
    hours: float,
    term: AgreementTerms | None,
    met: datetime | None,
    stopped: datetime | None,
    now: datetime,
) -> Deadline:
    plan = plan_deadline(
        start=start,
        hours=hours,
        agreement=term.agreement if term else None,
        schedule=term.schedule if term else None,
    )
    deadline = Deadline(
        handoff=handoff,
        lead_id=handoff.lead_id,
        owner_id=handoff.owner_id,
        agreement=plan.agreement,
        kind=kind,
        starts_at=start,
        warn_at=plan.warn_at,
        due_at=plan.due_at,
        escalate_at=plan.escalate_at,
    )
    if met is not None and (stopped is None or met <= stopped):
        deadline.met_at = met
    elif stopped is not None:
        deadline.cancelled_at = stopped
    _fate(deadline, end=deadline.met_at or deadline.cancelled_at or now)
    return deadline


def _history_derive(*, now: datetime) -> tuple[int, int]:
    handoffs = list(
        Handoff.objects.filter(lead__email__endswith=DEMO_EMAIL_DOMAIN)
        .exclude(Exists(Deadline.objects.filter(handoff=OuterRef("pk"))))
        .annotate(snapshot_temperature=KT("context__temperature"))
        .select_related("lead")
        .order_by("pk")
    )
    if not handoffs:
        return 0, 0
    terms = agreement_terms_between(
        first=timezone.localdate(min(h.created_at for h in handoffs)),
        last=timezone.localdate(max(h.accepted_at or h.created_at for h in handoffs)),
    )
    touches: dict[int, list[datetime]] = {}
    for handoff_id, at in (
        Touch.objects.filter(handoff__in=handoffs)
        .order_by("occurred_at")
        .values_list("handoff_id", "occurred_at")
    ):
        touches.setdefault(handoff_id, []).append(at)
    left_sal: dict[int, datetime] = {}
    for lead_id, at in (
        LeadStageChange.objects.filter(
            lead_id__in=[h.lead_id for h in handoffs], from_stage=Stage.SAL
        )
        .order_by("-created_at")
        .values_list("lead_id", "created_at")
    ):
        left_sal[lead_id] = at  # the earliest wins: rows come latest first

    deadlines: list[Deadline] = []
    for handoff in handoffs:
        start = handoff.created_at
        term = terms_on(terms, start)
        times = touches.get(handoff.pk, [])
        first_touch = handoff.first_touch_at or next((t for t in times if t >= start), None)
        hours = target_hours(
            targets=term.targets if term else None,
            kind=handoff.kind,
            temperature=handoff.snapshot_temperature or handoff.lead.temperature,
        )
        deadlines.append(
            _deadline(
                handoff,
                kind=Deadline.Kind.FIRST_TOUCH,
                start=start,
                hours=hours,
                term=term,
                met=first_touch,
                stopped=handoff.closed_at,
                now=now,
            )
        )
        accepted = handoff.accepted_at
        idle_term = terms_on(terms, accepted) if accepted else None
        if accepted is not None and idle_term is not None:
            left = left_sal.get(handoff.lead_id)
            stopped = min(
                (t for t in (left, handoff.closed_at) if t is not None and t >= accepted),
                default=None,
            )
            deadlines.append(
                _deadline(
                    handoff,
                    kind=Deadline.Kind.SAL_IDLE,
                    start=accepted,
                    hours=idle_term.sal_idle_hours,
                    term=idle_term,
                    met=next((t for t in times if t >= accepted), None),
                    stopped=stopped,
                    now=now,
                )
            )
    Deadline.objects.bulk_create(deadlines, batch_size=1000)
    breaches = [
        Breach(
            deadline=d,
            lead_id=d.lead_id,
            owner_id=d.owner_id,
            kind=d.kind,
            due_at=d.due_at,
            detected_at=d.breached_at,
        )
        for d in deadlines
        if d.breached_at is not None
    ]
    Breach.objects.bulk_create(breaches, batch_size=1000)
    # Each handoff shows its first-touch deadline, as the services keep it.
    Handoff.objects.filter(pk__in=[h.pk for h in handoffs]).update(
        first_touch_due_at=Subquery(
            Deadline.objects.filter(
                handoff_id=OuterRef("pk"), kind=Deadline.Kind.FIRST_TOUCH
            ).values("due_at")[:1]
        )
    )
    return len(deadlines), len(breaches)

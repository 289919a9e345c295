"""Reads for the SLA: agreements and calendars for their pages, the clocks (an agreement's
calendar with its holidays) that the queue and the team page count business time with, the
team board, and what the digests list. Each returns what its page needs already joined, in
a fixed number of queries."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import User
from django.db.models import Count, F, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from core.roles import Role
from leads.models import Handoff
from slas.business_hours import Schedule, business_between
from slas.models import Agreement, AgreementChange, Breach, Deadline, Holiday, WorkingCalendar

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
TEAM_BREACHES_SHOWN = 100


# --- agreements and calendars -------------------------------------------------------------------
def agreement_list() -> QuerySet[Agreement]:
    return Agreement.objects.select_related("calendar", "sales_head", "marketing_head").order_by(
        "-starts_on", "-pk"
    )


def agreement_get(*, agreement_id: int) -> Agreement:
    """The agreement with its calendar, holidays, targets and signers, or 404."""
    return get_object_or_404(
        Agreement.objects.select_related(
            "calendar", "sales_head", "marketing_head"
        ).prefetch_related(
            "targets", Prefetch("calendar__holidays", queryset=Holiday.objects.order_by("date"))
        ),
        pk=agreement_id,
    )


def agreement_in_force_id(*, on: date) -> int | None:
    """The agreement covering the day (the latest-starting one, as deadlines pick it)."""
    return (
        Agreement.objects.filter(starts_on__lte=on, ends_on__gte=on)
        .order_by("-starts_on", "-pk")
        .values_list("pk", flat=True)
        .first()
    )


def agreement_history(*, agreement: Agreement, limit: int = 20) -> list[AgreementChange]:
    return list(AgreementChange.objects.filter(agreement=agreement).select_related("actor")[:limit])


def calendar_list() -> QuerySet[WorkingCalendar]:
    return WorkingCalendar.objects.annotate(
        agreement_count=Count("agreements", distinct=True),
        holiday_count=Count("holidays", distinct=True),
    ).order_by("name")


def calendar_get(*, calendar_id: int) -> WorkingCalendar:
    return get_object_or_404(
        WorkingCalendar.objects.prefetch_related(
            Prefetch("holidays", queryset=Holiday.objects.order_by("date")), "agreements"
        ),
        pk=calendar_id,
    )


def calendar_choices() -> QuerySet[WorkingCalendar]:
    return WorkingCalendar.objects.order_by("name")


def working_days_text(days: Iterable[int]) -> str:
    """The days as people say them: "Mon to Fri", "Mon, Wed, Fri", "every day"."""
    days = sorted(set(days))
    if len(days) == 7:
        return "every day"
    if len(days) > 2 and days == list(range(days[0], days[-1] + 1)):
        return f"{WEEKDAYS[days[0]]} to {WEEKDAYS[days[-1]]}"
    return ", ".join(WEEKDAYS[d] for d in days)


# --- clocks: business time for pages -----------------------------------------------------------
@dataclass(frozen=True)
class AgreementClock:
    """An agreement's period and the schedule its deadlines count in."""

    agreement_id: int
    starts_on: date
    ends_on: date
    calendar_name: str
    schedule: Schedule


@dataclass(frozen=True)
class Clocks:
    clocks: tuple[AgreementClock, ...] = ()  # latest-starting first, as agreement_in_force

    def for_start(self, start: datetime) -> AgreementClock | None:
        """The clock of the agreement in force on the day ``start`` falls on."""
        day = timezone.localdate(start)
        return next((c for c in self.clocks if c.starts_on <= day <= c.ends_on), None)

    def for_agreement(self, agreement_id: int | None) -> AgreementClock | None:
        return next((c for c in self.clocks if c.agreement_id == agreement_id), None)


def agreement_clocks(
    *, starts: Iterable[datetime] = (), agreement_ids: Iterable[int | None] = ()
) -> Clocks:
    """The clocks of the agreements in force at any of ``starts`` and of ``agreement_ids``,
    calendars and holidays included, in one query (none when there is nothing to look up)."""
    days = {timezone.localdate(start) for start in starts}
    ids = {pk for pk in agreement_ids if pk is not None}
    if not days and not ids:
        return Clocks()
    wanted = Q(pk__in=ids)
    if days:
        wanted |= Q(starts_on__lte=max(days), ends_on__gte=min(days))
    rows = (
        Agreement.objects.filter(wanted)
        .order_by("-starts_on", "-pk")
        .values_list(
            "pk",
            "starts_on",
            "ends_on",
            "calendar__name",
            "calendar__timezone",
            "calendar__working_days",
            "calendar__day_start",
            "calendar__day_end",
            "calendar__holidays__date",
        )
    )
    found: dict[int, tuple] = {}
    holidays: dict[int, set[date]] = {}
    for pk, *terms, holiday in rows:
        found.setdefault(pk, tuple(terms))
        holidays.setdefault(pk, set())
        if holiday is not None:
            holidays[pk].add(holiday)
    return Clocks(
        tuple(
            AgreementClock(
                agreement_id=pk,
                starts_on=starts_on,
                ends_on=ends_on,
                calendar_name=name,
                schedule=Schedule.build(
                    tz=tz,
                    working_days=days_,
                    day_start=day_start,
                    day_end=day_end,
                    holidays=holidays[pk],
                ),
            )
            for pk, (starts_on, ends_on, name, tz, days_, day_start, day_end) in found.items()
        )
    )


def business_duration_text(delta: timedelta) -> str:
    """Business time in hours and minutes (a business "day" is not 24 h): "26h 5m", "2h",
    "35m", "<1m"."""
    minutes = int(abs(delta).total_seconds() // 60)
    if minutes < 1:
        return "<1m"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


# --- the team page ------------------------------------------------------------------------------
@dataclass(frozen=True)
class RepStanding:
    rep: User
    open_leads: int
    due_next_hour: int
    breached_untouched: int
    breaches_this_month: int


@dataclass(frozen=True)
class CurrentBreach:
    deadline: Deadline
    late_text: str
    business: bool  # counted in the agreement's business hours (else on the plain clock)


@dataclass
class TeamBoard:
    now: datetime
    month_start: datetime
    reps: list[RepStanding] = field(default_factory=list)
    breaches: list[CurrentBreach] = field(default_factory=list)
    more_breaches: bool = False


def _count_by_owner(rows: QuerySet, owner_field: str = "owner") -> Coalesce:
    return Coalesce(
        Subquery(
            rows.filter(**{owner_field: OuterRef("pk")})
            .order_by()
            .values(owner_field)
            .annotate(n=Count("pk"))
            .values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=local.tzinfo)


def unmet_breached() -> QuerySet[Deadline]:
    """Deadlines that passed unmet and still are (no touch, lead still in sales' hands)."""
    return Deadline.objects.filter(
        breached_at__isnull=False, met_at__isnull=True, cancelled_at__isnull=True
    )


def team_board(*, now: datetime | None = None) -> TeamBoard:
    """Per rep: open leads, deadlines due within the hour, breached and still untouched,
    breaches this month; and the current breaches, most overdue first. Three queries."""
    now = now or timezone.now()
    board = TeamBoard(now=now, month_start=month_start(now))
    pending = Deadline.objects.filter(
        met_at__isnull=True, cancelled_at__isnull=True, breached_at__isnull=True
    )
    reps = (
        User.objects.filter(groups__name=Role.REP.value, is_active=True)
        .annotate(
            open_leads=_count_by_owner(Handoff.objects.filter(closed_at__isnull=True)),
            due_next_hour=_count_by_owner(
                pending.filter(due_at__gt=now, due_at__lte=now + timedelta(hours=1))
            ),
            breached_untouched=_count_by_owner(unmet_breached()),
            breaches_this_month=_count_by_owner(
                Breach.objects.filter(due_at__gte=board.month_start, due_at__lte=now)
            ),
        )
        .order_by("first_name", "last_name", "username")
    )
    board.reps = [
        RepStanding(
            rep=rep,
            open_leads=rep.open_leads,
            due_next_hour=rep.due_next_hour,
            breached_untouched=rep.breached_untouched,
            breaches_this_month=rep.breaches_this_month,
        )
        for rep in reps
    ]
    breaches = list(
        unmet_breached()
        .select_related("lead", "owner")
        .order_by("due_at", "pk")[: TEAM_BREACHES_SHOWN + 1]
    )
    board.more_breaches = len(breaches) > TEAM_BREACHES_SHOWN
    breaches = breaches[:TEAM_BREACHES_SHOWN]
    clocks = agreement_clocks(agreement_ids={d.agreement_id for d in breaches})
    for deadline in breaches:
        clock = clocks.for_agreement(deadline.agreement_id)
        if clock is None:
            late, business = now - deadline.due_at, False
        else:
            late, business = business_between(clock.schedule, deadline.due_at, now), True
        board.breaches.append(CurrentBreach(deadline, business_duration_text(late), business))
    return board


# --- digests -------------------------------------------------------------------------------------
@dataclass
class RepDigest:
    rep: User
    due_today: list[Deadline] = field(default_factory=list)
    breached: list[Deadline] = field(default_factory=list)


def rep_digests(*, day_end: datetime) -> list[RepDigest]:
    """For each owner of a deadline that is due before ``day_end`` or breached, still unmet:
    what their morning digest lists. One query."""
    rows = (
        Deadline.objects.filter(
            owner__isnull=False,
            owner__is_active=True,
            met_at__isnull=True,
            cancelled_at__isnull=True,
        )
        .filter(Q(breached_at__isnull=False) | Q(due_at__lt=day_end))
        .select_related("lead", "owner")
        .order_by("owner_id", "due_at", "pk")
    )
    digests: dict[int, RepDigest] = {}
    for deadline in rows:
        digest = digests.setdefault(deadline.owner_id, RepDigest(rep=deadline.owner))
        (digest.breached if deadline.breached_at else digest.due_today).append(deadline)
    return list(digests.values())


@dataclass(frozen=True)
class RepBreaches:
    name: str
    breaches: int


@dataclass(frozen=True)
class SlaStanding:
    since: datetime
    until: datetime
    handoffs: int
    first_touch_decided: int
    first_touch_on_time: int
    breaches: int
    per_rep: list[RepBreaches]

    @property
    def on_time_percent(self) -> float | None:
        if not self.first_touch_decided:
            return None
        return round(100 * self.first_touch_on_time / self.first_touch_decided, 1)


def sla_standing(*, since: datetime, until: datetime) -> SlaStanding:
    """The SLA from ``since`` to ``until``: handoffs, first touches decided (met or breached)
    and how many within the deadline, breaches per rep. Three queries."""
    handoffs = Handoff.objects.filter(created_at__gte=since, created_at__lt=until).count()
    first_touch = Deadline.objects.filter(
        kind=Deadline.Kind.FIRST_TOUCH, starts_at__gte=since, starts_at__lt=until
    ).aggregate(
        decided=Count("pk", filter=Q(met_at__isnull=False) | Q(breached_at__isnull=False)),
        on_time=Count("pk", filter=Q(met_at__isnull=False, met_at__lte=F("due_at"))),
    )
    per_rep = (
        Breach.objects.filter(due_at__gte=since, due_at__lt=until)
        .values("owner_id", "owner__username", "owner__first_name", "owner__last_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "owner__username")
    )
    rows = [
        RepBreaches(
            name=f"{row['owner__first_name']} {row['owner__last_name']}".strip()
            or row["owner__username"]
            or "The pool",
            breaches=row["n"],
        )
        for row in per_rep
    ]
    return SlaStanding(
        since=since,
        until=until,
        handoffs=handoffs,
        first_touch_decided=first_touch["decided"],
        first_touch_on_time=first_touch["on_time"],
        breaches=sum(row.breaches for row in rows),
        per_rep=rows,
    )


def digest_zone(*, on: datetime) -> tuple[ZoneInfo, Schedule | None]:
    """The time zone digests speak in: the calendar of the agreement in force, else the
    site's; and that calendar's schedule (None without an agreement)."""
    agreement = (
        Agreement.objects.filter(
            starts_on__lte=timezone.localdate(on), ends_on__gte=timezone.localdate(on)
        )
        .select_related("calendar")
        .order_by("-starts_on", "-pk")
        .first()
    )
    if agreement is None:
        return ZoneInfo(timezone.get_current_timezone_name()), None
    return ZoneInfo(agreement.calendar.timezone), agreement.calendar.schedule()

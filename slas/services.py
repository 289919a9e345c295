"""Writes for the SLA: deadlines on handoffs, and the scan that warns, flags breaches and
escalates — each step exactly once per deadline, however often or concurrently it runs."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.models import Notification
from core.services import notification_send_many
from slas.business_hours import Schedule, business_add
from slas.models import Agreement, Breach, Deadline, ResponseTarget, WorkingCalendar

SCAN_BATCH = 5000


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
    if agreement is not None:
        targets = {
            (t.kind, t.temperature): t.hours
            for t in ResponseTarget.objects.filter(agreement=agreement, kind=kind)
        }
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


def deadline_open_sal_idle(*, handoff, start: datetime) -> Deadline | None:
    """An accepted lead must be touched within the agreement's idle limit (business days)."""
    agreement = agreement_in_force(on=start)
    if agreement is None:
        return None
    calendar = agreement.calendar
    day_hours = (
        datetime.combine(start.date(), calendar.day_end)
        - datetime.combine(start.date(), calendar.day_start)
    ).total_seconds() / 3600
    plan = plan_deadline(
        start=start,
        hours=agreement.max_untouched_sal_days * day_hours,
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


def _claim(pending: QuerySet, *, limit: int) -> list[Deadline]:
    """Lock a batch of due deadlines; concurrent scans skip each other's rows."""
    if connection.features.has_select_for_update_skip_locked:
        pending = pending.select_for_update(skip_locked=True, of=("self",))
    return list(pending.select_related("lead", "owner")[:limit])


def managers() -> list[User]:
    return list(User.objects.filter(groups__name="Manager", is_active=True))


def sla_scan(*, now: datetime | None = None, limit: int = SCAN_BATCH) -> ScanResult:
    """Warn, flag breaches and escalate every deadline whose moment has passed, each step
    once. A run after downtime catches up with every missed deadline at its true due time."""
    now = now or timezone.now()
    result = ScanResult()
    result.warned = _warn(now=now, limit=limit)
    result.breached = _breach(now=now, limit=limit)
    result.escalated = _escalate(now=now, limit=limit)
    return result


@transaction.atomic
def _warn(*, now: datetime, limit: int) -> int:
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
    # A deadline already past due is breached rather than warned: it is marked, not sent.
    notification_send_many(
        [
            (
                [d.owner],
                Notification.Kind.SLA_WARNING,
                f"{d.get_kind_display()} for {d.lead} is due in "
                f"{int((d.due_at - now).total_seconds() // 60)} min.",
                reverse("leads:detail", args=[d.lead_id]),
            )
            for d in due
            if d.due_at > now and d.owner is not None
        ]
    )
    return len(due)


@transaction.atomic
def _breach(*, now: datetime, limit: int) -> int:
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
    Deadline.objects.filter(pk__in=[d.pk for d in due]).update(breached_at=now)
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
    heads = managers()
    notification_send_many(
        [
            (
                [d.owner, *heads],
                Notification.Kind.SLA_BREACH,
                f"SLA breach: {d.get_kind_display()} for {d.lead} was due "
                f"{timezone.localtime(d.due_at):%d %b %H:%M}"
                f"{'' if d.owner is None else f' ({d.owner})'}.",
                reverse("leads:detail", args=[d.lead_id]),
            )
            for d in due
        ]
    )
    return len(due)


@transaction.atomic
def _escalate(*, now: datetime, limit: int) -> int:
    from leads.services import handoff_return_to_pool

    due = _claim(
        Deadline.objects.filter(
            met_at__isnull=True,
            cancelled_at__isnull=True,
            breached_at__isnull=False,
            escalated_at__isnull=True,
            escalate_at__lte=now,
        ).order_by("escalate_at"),
        limit=limit,
    )
    Deadline.objects.filter(pk__in=[d.pk for d in due]).update(escalated_at=now)
    policies = dict(
        Agreement.objects.filter(pk__in={d.agreement_id for d in due}).values_list(
            "pk", "escalation"
        )
    )
    for deadline in due:
        if policies.get(deadline.agreement_id) == Agreement.Escalation.RETURN_TO_POOL:
            handoff_return_to_pool(
                handoff_id=deadline.handoff_id,
                why=f"{deadline.get_kind_display()} SLA breached",
            )
    return len(due)


def calendar_default() -> WorkingCalendar | None:
    return WorkingCalendar.objects.order_by("pk").first()

"""Reads for the manager pages: reps with their open queues, territories with their members,
absences. Each is one query (two with a prefetch) whatever the number of rows."""

from django.contrib.auth.models import User
from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from core.roles import Role
from leads.models import Handoff, RepAbsence, Territory, TerritoryMember


def sales_reps() -> QuerySet[User]:
    return User.objects.filter(groups__name=Role.REP.value, is_active=True).order_by(
        "first_name", "last_name", "username"
    )


def reps_with_queues() -> QuerySet[User]:
    """Active reps annotated with ``open_leads`` and ``unaccepted`` (still MQL/PQL/CQL)."""
    open_handoff = Q(handoffs__closed_at__isnull=True)
    return sales_reps().annotate(
        open_leads=Count("handoffs", filter=open_handoff),
        unaccepted=Count(
            "handoffs", filter=open_handoff & Q(handoffs__status=Handoff.Status.ASSIGNED)
        ),
    )


def territories_with_members() -> QuerySet[Territory]:
    return Territory.objects.order_by("priority", "name").prefetch_related(
        Prefetch("members", queryset=TerritoryMember.objects.select_related("rep"))
    )


def territory_members(*, territory: Territory) -> QuerySet[TerritoryMember]:
    return (
        TerritoryMember.objects.filter(territory=territory)
        .select_related("rep")
        .order_by("rep__first_name", "rep__username")
    )


def absences_current_and_upcoming() -> QuerySet[RepAbsence]:
    """Absences that have not ended yet, soonest first."""
    return (
        RepAbsence.objects.filter(ends_on__gte=timezone.localdate())
        .select_related("rep")
        .order_by("starts_on", "rep__username")
    )


def absences_past(*, limit: int = 20) -> list[RepAbsence]:
    return list(
        RepAbsence.objects.filter(ends_on__lt=timezone.localdate())
        .select_related("rep")
        .order_by("-ends_on")[:limit]
    )

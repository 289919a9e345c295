"""Writes for leads: the lifecycle, handoff and assignment, the queue, touches and feedback.

Every function here is one transaction. Stage moves lock the lead row, check the move against
``TRANSITIONS``, the actor's role and ownership, write the lead and its history row together,
and send notifications only after commit. A refused move raises a ``DomainError`` and writes
nothing.
"""

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, Q, Value
from django.db.models.functions import Cast, Floor
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from core.roles import is_manager, is_marketer, is_rep, primary_role
from core.services import notification_send
from leads.models import (
    QUALIFIED_STAGES,
    DisqualifyReason,
    Handoff,
    Lead,
    LeadAssignment,
    LeadFeedback,
    LeadNote,
    LeadStageChange,
    LostReason,
    RepAbsence,
    ReturnReason,
    Stage,
    Territory,
    TerritoryMember,
    Touch,
)
from leads.scoring import FIELD_TYPES as FIT_FIELDS
from leads.scoring_selectors import lead_engagement_recent
from leads.scoring_services import lead_rescore_soon
from slas import services as sla
from slas.models import Deadline
from webhooks.events import lead_stage_events_emit

# The allowed lifecycle graph: from-stage -> the stages it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    Stage.NEW: frozenset({Stage.MQL, Stage.PQL, Stage.CQL, Stage.DISQUALIFIED}),
    Stage.MQL: frozenset({Stage.SAL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.PQL: frozenset({Stage.SAL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.CQL: frozenset({Stage.SAL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SAL: frozenset({Stage.SQL, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.LOST, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.OPPORTUNITY: frozenset({Stage.WON, Stage.LOST}),
    Stage.RECYCLED: frozenset({Stage.MQL, Stage.PQL, Stage.CQL, Stage.DISQUALIFIED}),
    Stage.LOST: frozenset({Stage.RECYCLED}),
    Stage.WON: frozenset(),
    Stage.DISQUALIFIED: frozenset(),
}
# Stages in which sales holds the lead (an open handoff exists).
SALES_STAGES = frozenset({Stage.MQL, Stage.PQL, Stage.CQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})
# Moves that end sales' work on the lead and close its handoff.
HANDOFF_CLOSING = frozenset({Stage.RECYCLED, Stage.DISQUALIFIED, Stage.WON, Stage.LOST})
REASONS_REQUIRED: dict[str, type] = {
    Stage.RECYCLED: ReturnReason,
    Stage.DISQUALIFIED: DisqualifyReason,
    Stage.LOST: LostReason,
}
BANT_FIELDS = ("budget", "authority", "need", "timeline")
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "source_channel",
    "source_campaign",
)


# --- the lifecycle ------------------------------------------------------------------------
UNOWNED_ACCEPT = "Assign this lead to a rep before accepting it."


def transition_refusal(*, lead: Lead, actor: User | None, to: str) -> str | None:
    """Why ``actor`` may not move ``lead`` to ``to`` now, or None when the move is allowed.

    Pages use it to offer only the allowed next actions; ``lead_transition`` enforces it.
    """
    if to not in TRANSITIONS.get(lead.stage, ()):
        return (
            f"A lead in {Stage(lead.stage).label} cannot move to {Stage(to).label}."
            if to in Stage.values
            else f"Unknown stage {to!r}."
        )
    if actor is None:  # the system (scoring, inbound) may only qualify
        return None if to in QUALIFIED_STAGES else "Only a person can make this move."
    if to == Stage.SAL and lead.owner_id is None and is_manager(actor):
        # Accepting is the owner's promise to work the lead: someone must own it first.
        return UNOWNED_ACCEPT
    if is_manager(actor):
        return None
    if to in QUALIFIED_STAGES:
        return None if is_marketer(actor) else "Only marketing qualifies leads."
    marketing_owned = lead.stage in (Stage.NEW, Stage.RECYCLED, Stage.LOST)
    if marketing_owned:
        # Nurture is marketing's: re-nurture a lost deal, disqualify junk before handoff.
        return None if is_marketer(actor) else "Marketing owns this lead until it is handed off."
    if not is_rep(actor):
        return "Only sales can accept, qualify, return or close a lead."
    if lead.owner_id != actor.pk:
        return (
            "Claim this lead from the pool first."
            if lead.owner_id is None
            else "This lead belongs to another rep."
        )
    return None


@transaction.atomic
def lead_transition(
    *,
    lead_id: int,
    actor: User | None,
    to: str,
    reason_code: str = "",
    note: str = "",
    details: dict | None = None,
) -> Lead:
    """Move the lead to ``to`` and write its history row, or raise and write nothing.

    ``details`` carries what the move records: BANT (``budget``, ``authority``, ``need``,
    ``timeline``) for SQL, ``amount`` for opportunity and won. Recycled, disqualified and lost
    need a ``reason_code`` from their reason lists. Entering MQL/PQL/CQL opens a handoff.
    """
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    refusal = transition_refusal(lead=lead, actor=actor, to=to)
    if refusal:
        raise (
            NotAllowed(refusal)
            if _is_permission_refusal(lead, to, refusal)
            else DomainError(refusal, code="illegal_transition")
        )
    recorded = _validated_details(lead=lead, to=to, reason_code=reason_code, details=details)
    now = timezone.now()
    from_stage = lead.stage
    # When the stay now ending began (a lead made without one: since it was created).
    stage_entered_at = lead.stage_changed_at or lead.created_at
    lead.stage, lead.stage_changed_at = to, now
    fields = ["stage", "stage_changed_at", "updated_at"]
    after_commit = []

    if to in QUALIFIED_STAGES:
        lead.kind = to
        lead.owner = None
        lead.closed_at = None
        fields += ["kind", "owner", "closed_at"]
        after_commit.append(_handoff_open(lead=lead, now=now))
    elif to == Stage.SAL:
        handoff = Handoff.objects.get(lead=lead, closed_at__isnull=True)
        Handoff.objects.filter(pk=handoff.pk).update(
            status=Handoff.Status.ACCEPTED, accepted_at=now
        )
        sla.deadline_open_sal_idle(handoff=handoff, start=now)
    elif to == Stage.SQL:
        for name in BANT_FIELDS:
            setattr(lead, f"bant_{name}", recorded[name])
            fields.append(f"bant_{name}")
    if from_stage == Stage.SAL:
        # The idle clock watches the SAL stage only.
        for handoff_id in Handoff.objects.filter(lead=lead, closed_at__isnull=True).values_list(
            "pk", flat=True
        ):
            sla.deadlines_cancel(handoff_id=handoff_id, at=now, kinds=[Deadline.Kind.SAL_IDLE])
    if "amount" in recorded:
        lead.deal_amount = Decimal(recorded["amount"])
        fields.append("deal_amount")
    if to in HANDOFF_CLOSING:
        after_commit.append(_handoff_close(lead=lead, to=to, reason_code=reason_code, now=now))
        if to in (Stage.WON, Stage.LOST, Stage.DISQUALIFIED):
            lead.closed_at = now
            fields.append("closed_at")
        if to == Stage.RECYCLED:
            lead.owner = None  # back in marketing's nurture
            fields.append("owner")

    lead.save(update_fields=sorted(set(fields)))
    LeadStageChange.objects.create(
        lead=lead,
        from_stage=from_stage,
        to_stage=to,
        actor=actor,
        reason_code=reason_code,
        note=note,
        details=recorded,
        created_at=now,
        stage_entered_at=stage_entered_at,
    )
    lead_stage_events_emit(
        lead=lead, from_stage=from_stage, to=to, actor=actor, reason_code=reason_code, note=note
    )
    for notify in after_commit:
        if notify:
            transaction.on_commit(notify)
    return lead


def _is_permission_refusal(lead: Lead, to: str, refusal: str) -> bool:
    # A legal move refused for who is asking (403), not for the lead's state (409).
    return to in TRANSITIONS.get(lead.stage, ()) and refusal != UNOWNED_ACCEPT


def _validated_details(*, lead: Lead, to: str, reason_code: str, details: dict | None) -> dict:
    details = details or {}
    recorded: dict = {}
    reasons = REASONS_REQUIRED.get(to)
    if reasons is not None and reason_code not in reasons.values:
        raise InvalidInput(
            f"Choose a reason: {', '.join(str(label) for label in reasons.labels)}.",
            field="reason_code",
        )
    if to == Stage.SQL:
        for name in BANT_FIELDS:
            value = str(details.get(name) or "").strip()
            if not value:
                raise InvalidInput(f"Record the {name} (BANT) to qualify to SQL.", field=name)
            recorded[name] = value
    if to in (Stage.OPPORTUNITY, Stage.WON):
        raw = details.get("amount")
        if raw in (None, "") and to == Stage.WON and lead.deal_amount is not None:
            raw = lead.deal_amount
        try:
            amount = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            raise InvalidInput("Enter the deal amount as a number.", field="amount") from None
        if not amount.is_finite() or amount < 0 or amount >= Decimal("1e10"):
            raise InvalidInput("The amount must be between 0 and 9,999,999,999.", field="amount")
        recorded["amount"] = str(amount.quantize(Decimal("0.01")))
    return recorded


# --- handoff and assignment -----------------------------------------------------------------
def first_touch_due(*, kind: str, temperature: str, start: datetime) -> datetime:
    """The first-touch deadline of a handoff starting at ``start``: business hours of the
    SLA agreement in force, or plain hours from settings when none is."""
    return sla.first_touch_plan(kind=kind, temperature=temperature, start=start).due_at


def handoff_context_build(lead: Lead) -> dict:
    """What travels with a handoff: fit data, score, source campaign and what to say."""
    campaign = lead.source_campaign
    return {
        "fit": {
            "title": lead.title,
            "company": lead.company,
            "company_size": lead.company_size,
            "industry": lead.industry,
            "country": lead.country,
            "source_channel": lead.get_source_channel_display(),
        },
        "score": lead.score,
        "temperature": lead.temperature,
        "score_explanation": list(getattr(lead, "score_explanation", None) or []),
        "engagement": lead_engagement_recent(lead_id=lead.pk) if lead.pk else [],
        "campaign": None
        if campaign is None
        else {
            "id": campaign.pk,
            "name": campaign.name,
            "channel": campaign.get_channel_display(),
            "offer": campaign.offer,
            "landing_url": campaign.landing_url,
            "talking_points": list(campaign.talking_points.values_list("text", flat=True)),
            "quote": campaign.quote,
        },
    }


def _handoff_open(*, lead: Lead, now: datetime):
    territory = territory_for_lead(lead)
    rep = (
        _round_robin_pick(territory=territory, today=timezone.localdate(now)) if territory else None
    )
    plan = sla.first_touch_plan(kind=lead.stage, temperature=lead.temperature, start=now)
    handoff = Handoff.objects.create(
        lead=lead,
        kind=lead.stage,
        status=Handoff.Status.ASSIGNED if rep else Handoff.Status.POOL,
        owner=rep,
        territory=territory,
        context=handoff_context_build(lead),
        created_at=now,
        assigned_at=now if rep else None,
        first_touch_due_at=plan.due_at,
    )
    sla.deadline_open_first_touch(handoff=handoff, plan=plan)
    lead.owner = rep
    if rep is None:
        return None
    LeadAssignment.objects.create(
        lead=lead,
        handoff=handoff,
        to_owner=rep,
        reason=LeadAssignment.Reason.ROUND_ROBIN,
        created_at=now,
    )
    return lambda: notification_send(
        recipients=[rep],
        kind=Notification.Kind.ASSIGNED,
        message=f"New {lead.get_stage_display()} for you: {lead} ({lead.company or lead.email})",
        url=lead.get_absolute_url(),
    )


def _handoff_close(*, lead: Lead, to: str, reason_code: str, now: datetime):
    for handoff_id in Handoff.objects.filter(lead=lead, closed_at__isnull=True).values_list(
        "pk", flat=True
    ):
        sla.deadlines_cancel(handoff_id=handoff_id, at=now)
    closed = Handoff.objects.filter(lead=lead, closed_at__isnull=True).update(
        status=Handoff.Status.RETURNED if to == Stage.RECYCLED else Handoff.Status.CLOSED,
        closed_at=now,
        return_reason=reason_code if to == Stage.RECYCLED else "",
    )
    if not (closed and to == Stage.RECYCLED):  # only a return from sales tells marketing
        return None
    marketers = User.objects.filter(groups__name="Marketer", is_active=True)
    reason = ReturnReason(reason_code).label
    return lambda: notification_send(
        recipients=list(marketers),
        kind=Notification.Kind.RETURNED,
        message=f"{lead} was returned to nurture: {reason}",
        url=reverse("leads:nurture"),
    )


def territory_for_lead(lead: Lead) -> Territory | None:
    """The first active territory, by priority, whose countries and industries fit the lead."""
    for territory in Territory.objects.filter(is_active=True).order_by("priority", "name"):
        if territory.matches(lead):
            return territory
    return None


def _round_robin_pick(*, territory: Territory, today) -> User | None:
    """Fair weighted round-robin: the available member with the fewest assignments per unit
    of weight. Member rows are locked, so concurrent handoffs in a territory take turns and the
    cursor (``assigned_total``) survives restarts."""
    members = list(
        TerritoryMember.objects.select_for_update(of=("self",))
        .filter(territory=territory, is_active=True, rep__is_active=True)
        .exclude(
            Exists(
                RepAbsence.objects.filter(
                    rep=OuterRef("rep"), starts_on__lte=today, ends_on__gte=today
                )
            )
        )
        .select_related("rep")
        .order_by("pk")
    )
    if not members:
        return None
    capped = [m.rep_id for m in members if m.capacity is not None]
    open_counts = (
        dict(
            Handoff.objects.filter(owner_id__in=capped, closed_at__isnull=True)
            .values_list("owner_id")
            .annotate(n=Count("id"))
        )
        if capped
        else {}
    )
    available = [
        m for m in members if m.capacity is None or open_counts.get(m.rep_id, 0) < m.capacity
    ]
    if not available:
        return None
    chosen = min(available, key=lambda m: ((m.assigned_total + 1) / m.weight, m.pk))
    TerritoryMember.objects.filter(pk=chosen.pk).update(assigned_total=F("assigned_total") + 1)
    _skipped_keep_pace(
        territory=territory,
        level=(chosen.assigned_total + 1) / chosen.weight,
        available_pks=[m.pk for m in available],
    )
    return chosen.rep


def _skipped_keep_pace(*, territory: Territory, level: float, available_pks: list[int]) -> None:
    """A turn a member could not take (away, at capacity) is not owed later: lift the members
    skipped by this pick to the rotation's new level, so a rep back from two weeks off rejoins
    the rotation instead of taking every lead until caught up."""
    level_total = Cast(Floor(Value(level) * F("weight")), IntegerField())
    TerritoryMember.objects.filter(territory=territory, assigned_total__lt=level_total).exclude(
        pk__in=available_pks
    ).update(assigned_total=level_total)


# --- the queue ------------------------------------------------------------------------------
def _require_rep(user: User) -> None:
    if not (is_rep(user) or is_manager(user)):
        raise NotAllowed("Only sales reps work the lead queue.")


def pool_ordering() -> list:
    return ["first_touch_due_at", F("lead__score").desc(), "id"]


def queue_claim_next(*, rep: User) -> Lead | None:
    """Give ``rep`` the best pool lead (earliest first-touch due, then highest score).

    Concurrent claimers never get the same lead: PostgreSQL skips rows another claimer has
    locked; elsewhere a conditional update decides and the loser tries the next lead.
    Returns None when the pool is empty.
    """
    _require_rep(rep)
    if connection.vendor == "postgresql":
        return _claim_next_in_one_statement(rep=rep)
    for _attempt in range(20):
        with transaction.atomic():
            pool = Handoff.objects.filter(status=Handoff.Status.POOL).order_by(*pool_ordering())
            if connection.features.has_select_for_update_skip_locked:
                pool = pool.select_for_update(skip_locked=True, of=("self",))
            handoff = pool.only("pk", "lead_id").first()
            if handoff is None:
                return None
            lead = _claim(handoff_id=handoff.pk, lead_id=handoff.lead_id, rep=rep)
            if lead is not None:
                return lead
    raise DomainError("The pool is busy; try again.", code="busy")


def _claim_next_in_one_statement(*, rep: User) -> Lead | None:
    """The claim as one atomic statement: pick (skipping rows other claimers hold), assign,
    move the lead and its deadlines, write the assignment history. One round trip instead of
    six is what lets claims keep up with a team hammering "claim next"."""
    handoff, lead = Handoff._meta.db_table, Lead._meta.db_table
    deadline, assignment = Deadline._meta.db_table, LeadAssignment._meta.db_table
    sql = f"""
        WITH picked AS (
            SELECT h.id FROM {handoff} h JOIN {lead} l ON l.id = h.lead_id
            WHERE h.status = %(pool)s
            ORDER BY h.first_touch_due_at, l.score DESC, h.id
            LIMIT 1 FOR UPDATE OF h SKIP LOCKED
        ), claimed AS (
            UPDATE {handoff} h SET status = %(assigned)s, owner_id = %(rep)s, assigned_at = %(now)s
            FROM picked WHERE h.id = picked.id AND h.status = %(pool)s
            RETURNING h.id, h.lead_id
        ), owned AS (
            UPDATE {lead} l SET owner_id = %(rep)s, updated_at = %(now)s
            FROM claimed WHERE l.id = claimed.lead_id RETURNING l.id
        ), deadlines AS (
            UPDATE {deadline} d SET owner_id = %(rep)s FROM claimed
            WHERE d.handoff_id = claimed.id AND d.met_at IS NULL AND d.cancelled_at IS NULL
            RETURNING d.id
        ), history AS (
            INSERT INTO {assignment}
                (lead_id, handoff_id, from_owner_id, to_owner_id, actor_id, reason, created_at)
            SELECT lead_id, id, NULL, %(rep)s, %(rep)s, %(reason)s, %(now)s FROM claimed
            RETURNING id
        )
        SELECT lead_id FROM claimed
    """  # noqa: S608 - table names come from the models, values are parameters
    params = {
        "pool": Handoff.Status.POOL,
        "assigned": Handoff.Status.ASSIGNED,
        "rep": rep.pk,
        "now": timezone.now(),
        "reason": LeadAssignment.Reason.CLAIMED,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else Lead.objects.get(pk=row[0])


@transaction.atomic
def lead_claim(*, lead_id: int, rep: User) -> Lead:
    """Claim one particular pool lead."""
    _require_rep(rep)
    handoff = Handoff.objects.filter(lead_id=lead_id, closed_at__isnull=True).first()
    if handoff is None or handoff.status != Handoff.Status.POOL:
        raise DomainError("This lead is not in the pool any more.", code="not_in_pool")
    lead = _claim(handoff_id=handoff.pk, lead_id=lead_id, rep=rep)
    if lead is None:
        raise DomainError("Another rep claimed this lead first.", code="not_in_pool")
    return lead


def _claim(*, handoff_id: int, lead_id: int, rep: User) -> Lead | None:
    now = timezone.now()
    won = Handoff.objects.filter(pk=handoff_id, status=Handoff.Status.POOL).update(
        status=Handoff.Status.ASSIGNED, owner=rep, assigned_at=now
    )
    if not won:
        return None
    Lead.objects.filter(pk=lead_id).update(owner=rep, updated_at=now)
    sla.deadlines_reassign(handoff_ids=[handoff_id], owner_id=rep.pk)
    LeadAssignment.objects.create(
        lead_id=lead_id,
        handoff_id=handoff_id,
        to_owner=rep,
        actor=rep,
        reason=LeadAssignment.Reason.CLAIMED,
        created_at=now,
    )
    return Lead.objects.get(pk=lead_id)


@transaction.atomic
def lead_reassign(*, lead_id: int, actor: User, to_rep: User | None) -> Lead:
    """A manager gives the lead to another rep, or back to the pool (before it is accepted)."""
    if not is_manager(actor):
        raise NotAllowed("Only managers reassign leads.")
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    handoff = Handoff.objects.select_for_update().filter(lead=lead, closed_at__isnull=True).first()
    if handoff is None:
        raise DomainError("Only leads in sales' hands can be reassigned.", code="no_handoff")
    if to_rep is not None and not is_rep(to_rep):
        raise InvalidInput(f"{to_rep} is not a sales rep.", field="to_rep")
    if to_rep is None and lead.stage not in QUALIFIED_STAGES:
        raise DomainError("An accepted lead must stay with a rep.", code="accepted")
    if to_rep is not None and to_rep.pk == lead.owner_id:
        raise DomainError(f"{to_rep} already owns this lead.", code="same_owner")
    previous = lead.owner
    now = timezone.now()
    _move_ownership(handoffs=[handoff], to_rep=to_rep, actor=actor, now=now)
    lead.refresh_from_db()
    transaction.on_commit(lambda: _notify_reassigned(lead=lead, previous=previous, to_rep=to_rep))
    return lead


@transaction.atomic
def queue_reassign(*, actor: User, from_rep: User, to_rep: User | None) -> int:
    """A manager moves a rep's whole open queue to another rep (accepted leads too) or, for
    leads not yet accepted, to the pool. Returns how many leads moved."""
    if not is_manager(actor):
        raise NotAllowed("Only managers reassign leads.")
    if to_rep is not None and (not is_rep(to_rep) or to_rep.pk == from_rep.pk):
        raise InvalidInput("Choose another sales rep.", field="to_rep")
    handoffs = Handoff.objects.select_for_update().filter(owner=from_rep, closed_at__isnull=True)
    if to_rep is None:
        handoffs = handoffs.filter(lead__stage__in=QUALIFIED_STAGES)
    handoffs = list(handoffs.select_related("lead"))
    if not handoffs:
        return 0
    _move_ownership(handoffs=handoffs, to_rep=to_rep, actor=actor, now=timezone.now())
    count = len(handoffs)
    recipients = [from_rep, to_rep]
    message = f"{count} lead(s) moved from {from_rep} to {to_rep or 'the pool'} by {actor}."
    transaction.on_commit(
        lambda: notification_send(
            recipients=recipients,
            kind=Notification.Kind.REASSIGNED,
            message=message,
            url=reverse("leads:queue"),
        )
    )
    return count


def _move_ownership(
    *, handoffs: list[Handoff], to_rep: User | None, actor: User | None, now
) -> None:
    ids = [h.pk for h in handoffs]
    sla.deadlines_reassign(handoff_ids=ids, owner_id=to_rep.pk if to_rep else None)
    pool = Handoff.objects.filter(pk__in=ids)
    if to_rep is None:
        pool.update(owner=None, status=Handoff.Status.POOL, assigned_at=None)
    else:
        pool.filter(status=Handoff.Status.POOL).update(status=Handoff.Status.ASSIGNED)
        pool.update(owner=to_rep, assigned_at=now)
    Lead.objects.filter(pk__in=[h.lead_id for h in handoffs]).update(owner=to_rep, updated_at=now)
    LeadAssignment.objects.bulk_create(
        LeadAssignment(
            lead_id=h.lead_id,
            handoff_id=h.pk,
            from_owner_id=h.owner_id,
            to_owner=to_rep,
            actor=actor,
            created_at=now,
            reason=LeadAssignment.Reason.REASSIGNED if to_rep else LeadAssignment.Reason.TO_POOL,
        )
        for h in handoffs
    )


@transaction.atomic
def handoff_return_to_pool(*, handoff_id: int, why: str) -> bool:
    """SLA escalation: an unaccepted lead whose deadline was breached goes back to the pool
    for any rep to claim. Returns False (and changes nothing) once it was accepted or closed."""
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .filter(pk=handoff_id, status=Handoff.Status.ASSIGNED, closed_at__isnull=True)
        .select_related("lead", "owner")
        .first()
    )
    if handoff is None:
        return False
    previous = handoff.owner
    _move_ownership(handoffs=[handoff], to_rep=None, actor=None, now=timezone.now())
    lead = handoff.lead
    transaction.on_commit(
        lambda: notification_send(
            recipients=[previous],
            kind=Notification.Kind.REASSIGNED,
            message=f"{lead} went back to the pool: {why}.",
            url=lead.get_absolute_url(),
        )
    )
    return True


def _notify_reassigned(*, lead: Lead, previous: User | None, to_rep: User | None) -> None:
    message = f"{lead} was reassigned to {to_rep or 'the pool'}."
    notification_send(
        recipients=[previous, to_rep],
        kind=Notification.Kind.REASSIGNED,
        message=message,
        url=lead.get_absolute_url(),
    )


# --- touches, feedback, notes ---------------------------------------------------------------
def _require_owner(*, lead: Lead, actor: User, doing: str) -> None:
    if is_manager(actor):
        return
    if not is_rep(actor):
        raise NotAllowed(f"Only sales can {doing}.")
    if lead.owner_id != actor.pk:
        raise NotAllowed(
            "Claim this lead from the pool first."
            if lead.owner_id is None
            else "This lead belongs to another rep."
        )


@transaction.atomic
def touch_log(
    *,
    lead_id: int,
    actor: User,
    kind: str,
    outcome: str,
    note: str = "",
    occurred_at: datetime | None = None,
) -> Touch:
    """Log a call, email or meeting. The first touch on the open handoff stops its
    first-touch clock at ``occurred_at``."""
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    _require_owner(lead=lead, actor=actor, doing="log touches")
    if kind not in Touch.Kind.values:
        raise InvalidInput("Choose call, email or meeting.", field="kind")
    if outcome not in Touch.Outcome.values:
        raise InvalidInput("Choose an outcome.", field="outcome")
    handoff = Handoff.objects.filter(lead=lead, closed_at__isnull=True).first()
    if handoff is None:
        raise DomainError("Touches are logged while sales works the lead.", code="no_handoff")
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + timedelta(minutes=5):
        raise InvalidInput("A touch cannot happen in the future.", field="occurred_at")
    if occurred_at < handoff.created_at:
        raise InvalidInput("The touch is older than the handoff.", field="occurred_at")
    touch = Touch.objects.create(
        lead=lead,
        handoff=handoff,
        rep=actor,
        kind=kind,
        outcome=outcome,
        note=note,
        occurred_at=occurred_at,
    )
    Handoff.objects.filter(pk=handoff.pk, first_touch_at__isnull=True).update(
        first_touch_at=occurred_at
    )
    sla.deadlines_meet(handoff_id=handoff.pk, at=occurred_at)
    Lead.objects.filter(pk=lead.pk).update(updated_at=now)
    return touch


@transaction.atomic
def feedback_give(
    *,
    lead_id: int,
    actor: User,
    rating: str,
    moment: str,
    tags: list[str] | None = None,
    comment: str = "",
) -> LeadFeedback:
    """A rep's lead-quality rating, given at accept, return or close."""
    lead = Lead.objects.get(pk=lead_id)
    if not is_manager(actor):
        if not is_rep(actor):
            raise NotAllowed("Only sales rates lead quality.")
        worked = (
            lead.owner_id == actor.pk
            or Handoff.objects.filter(lead=lead)
            .filter(Q(owner=actor) | Q(assignments__to_owner=actor))
            .exists()
        )
        if not worked:
            raise NotAllowed("Rate only leads you worked.")
    if rating not in LeadFeedback.Rating.values:
        raise InvalidInput("Choose good or poor fit.", field="rating")
    if moment not in LeadFeedback.Moment.values:
        raise InvalidInput("Choose when the feedback is given.", field="moment")
    tags = list(dict.fromkeys(tags or []))
    unknown = [t for t in tags if t not in LeadFeedback.Tag.values]
    if unknown:
        raise InvalidInput(f"Unknown reason tags: {', '.join(unknown)}.", field="tags")
    return LeadFeedback.objects.create(
        lead=lead, rep=actor, rating=rating, moment=moment, tags=tags, comment=comment
    )


@transaction.atomic
def note_add(*, lead_id: int, actor: User, body: str) -> LeadNote:
    if primary_role(actor) is None:
        raise NotAllowed("Only team members add notes.")
    body = body.strip()
    if not body:
        raise InvalidInput("Write something first.", field="body")
    return LeadNote.objects.create(lead_id=lead_id, author=actor, body=body)


# --- creating and editing leads -------------------------------------------------------------
@transaction.atomic
def lead_create(*, actor: User | None, **fields) -> Lead:
    """Create a lead in stage new, with its first history row. Email is unique regardless
    of case."""
    if actor is not None and not (is_marketer(actor) or is_manager(actor)):
        raise NotAllowed("Only marketing creates leads.")
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise InvalidInput(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    email = (fields.get("email") or "").strip()
    if not email:
        raise InvalidInput("An email address is required.", field="email")
    fields["email"] = email
    if Lead.objects.filter(email__iexact=email).exists():
        raise InvalidInput("A lead with this email already exists.", field="email")
    now = timezone.now()
    try:
        with transaction.atomic():
            lead = Lead.objects.create(stage=Stage.NEW, stage_changed_at=now, **fields)
    except IntegrityError:  # a concurrent create with the same email won
        raise InvalidInput("A lead with this email already exists.", field="email") from None
    LeadStageChange.objects.create(
        lead=lead, from_stage="", to_stage=Stage.NEW, actor=actor, created_at=now
    )
    lead_rescore_soon(lead_ids=[lead.pk])  # its fit rules apply from the start
    return lead


@transaction.atomic
def lead_update(*, lead_id: int, actor: User, **fields) -> Lead:
    """Edit contact and company fields; stage, owner and score have their own services."""
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    if not (is_marketer(actor) or is_manager(actor)):
        _require_owner(lead=lead, actor=actor, doing="edit this lead")
    unknown = set(fields) - set(CONTACT_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]} cannot be edited here.", field=sorted(unknown)[0])
    if "email" in fields:
        fields["email"] = (fields["email"] or "").strip()
        if not fields["email"]:
            raise InvalidInput("An email address is required.", field="email")
        if Lead.objects.filter(email__iexact=fields["email"]).exclude(pk=lead.pk).exists():
            raise InvalidInput("A lead with this email already exists.", field="email")
    for name, value in fields.items():
        setattr(lead, name, value)
    lead.save(update_fields=[*fields, "updated_at"])
    if set(fields) & set(FIT_FIELDS):
        lead_rescore_soon(lead_ids=[lead.pk])  # fit rules read these fields
    return lead


# Contact fields another source may fill in on an existing lead (never overwriting them).
FILLABLE_FIELDS = tuple(name for name in CONTACT_FIELDS if name not in ("email", "source_channel"))


def blank_fields(lead: Lead, values: dict) -> list[str]:
    """Which of ``values`` (non-empty) would fill a field that is empty on ``lead``, in
    ``FILLABLE_FIELDS`` order."""
    filled = []
    for name in FILLABLE_FIELDS:
        value = values.get(name)
        if value in (None, ""):
            continue
        current = lead.source_campaign_id if name == "source_campaign" else getattr(lead, name)
        if current in (None, ""):
            filled.append(name)
    return filled


@transaction.atomic
def lead_fill_blanks(*, lead_id: int, values: dict) -> list[str]:
    """Copy ``values`` onto the lead's empty contact fields only, never overwriting what sales
    or marketing entered; returns the names filled. A system write (inbound payloads): no
    role check. The lead is rescored when a fit field was filled."""
    unknown = set(values) - set(FILLABLE_FIELDS)
    if unknown:
        raise InvalidInput(f"{sorted(unknown)[0]} cannot be filled in.", field=sorted(unknown)[0])
    lead = Lead.objects.select_for_update().get(pk=lead_id)
    filled = blank_fields(lead, values)
    if not filled:
        return []
    for name in filled:
        setattr(lead, name, values[name])
    lead.save(update_fields=[*filled, "updated_at"])
    if set(filled) & set(FIT_FIELDS):
        lead_rescore_soon(lead_ids=[lead.pk])
    return filled


# --- territories (manager pages) ------------------------------------------------------------
def _require_manager(actor: User, doing: str) -> None:
    if not is_manager(actor):
        raise NotAllowed(f"Only managers {doing}.")


def _small_int(value, *, field: str, label: str, minimum: int, maximum: int = 32767) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"Enter the {label} as a whole number.", field=field) from None
    if not minimum <= number <= maximum:
        raise InvalidInput(f"The {label} must be between {minimum} and {maximum}.", field=field)
    return number


def _territory_validated(
    *, name: str, priority, countries, industries, exclude_pk: int | None = None
) -> dict:
    from leads.countries import ISO_COUNTRY_CODES

    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name the territory.", field="name")
    if len(name) > 100:
        raise InvalidInput("Keep the name under 100 characters.", field="name")
    if Territory.objects.filter(name__iexact=name).exclude(pk=exclude_pk).exists():
        raise InvalidInput("Another territory has this name.", field="name")
    codes = list(dict.fromkeys(c.strip().upper() for c in countries or () if c and c.strip()))
    unknown = [c for c in codes if c not in ISO_COUNTRY_CODES]
    if unknown:
        raise InvalidInput(
            f"Unknown country code {', '.join(unknown)}: use ISO 3166 two-letter codes "
            "such as US, GB, DE.",
            field="countries",
        )
    names: dict[str, str] = {}
    for industry in industries or ():
        industry = (industry or "").strip()
        if len(industry) > 100:
            raise InvalidInput("Keep each industry under 100 characters.", field="industries")
        if industry:
            names.setdefault(industry.lower(), industry)
    return {
        "name": name,
        "priority": _small_int(priority, field="priority", label="priority", minimum=0),
        "countries": codes,
        "industries": list(names.values()),
    }


@transaction.atomic
def territory_create(
    *,
    actor: User,
    name: str,
    priority: int = 100,
    countries: list[str] | None = None,
    industries: list[str] | None = None,
    is_active: bool = True,
) -> Territory:
    """A territory for round-robin assignment. Countries are ISO 3166 alpha-2 codes (stored
    upper-case, duplicates dropped); empty countries or industries mean "any"."""
    _require_manager(actor, "configure territories")
    fields = _territory_validated(
        name=name, priority=priority, countries=countries, industries=industries
    )
    try:
        with transaction.atomic():
            return Territory.objects.create(is_active=bool(is_active), **fields)
    except IntegrityError:  # a concurrent create with the same name won
        raise InvalidInput("Another territory has this name.", field="name") from None


@transaction.atomic
def territory_update(
    *,
    territory_id: int,
    actor: User,
    name: str,
    priority: int,
    countries: list[str],
    industries: list[str],
    is_active: bool,
) -> Territory:
    """Replace the territory's settings, validated as in ``territory_create``."""
    _require_manager(actor, "configure territories")
    territory = Territory.objects.select_for_update().get(pk=territory_id)
    fields = _territory_validated(
        name=name,
        priority=priority,
        countries=countries,
        industries=industries,
        exclude_pk=territory.pk,
    )
    for key, value in {**fields, "is_active": bool(is_active)}.items():
        setattr(territory, key, value)
    try:
        with transaction.atomic():
            territory.save(update_fields=[*fields, "is_active", "updated_at"])
    except IntegrityError:
        raise InvalidInput("Another territory has this name.", field="name") from None
    return territory


def _member_validated(*, weight, capacity) -> dict:
    return {
        "weight": _small_int(weight, field="weight", label="weight", minimum=1),
        "capacity": None
        if capacity in (None, "")
        else _small_int(capacity, field="capacity", label="capacity", minimum=1, maximum=100000),
    }


def _rotation_level(*, territory_id: int, exclude_pk: int | None = None) -> float:
    """Assignments per unit of weight of the least-served active member (0 when none)."""
    levels = [
        total / weight
        for total, weight in TerritoryMember.objects.filter(
            territory_id=territory_id, is_active=True
        )
        .exclude(pk=exclude_pk)
        .values_list("assigned_total", "weight")
    ]
    return min(levels, default=0.0)


@transaction.atomic
def territory_member_add(
    *,
    actor: User,
    territory_id: int,
    rep: User | None,
    weight: int = 1,
    capacity: int | None = None,
    is_active: bool = True,
) -> TerritoryMember:
    """Add a rep to a territory's rotation. The newcomer joins at the rotation's current
    level, so it does not take every next lead until its count catches up."""
    _require_manager(actor, "configure territories")
    territory = Territory.objects.select_for_update().get(pk=territory_id)
    if rep is None or not is_rep(rep):
        raise InvalidInput("Choose a sales rep.", field="rep")
    if TerritoryMember.objects.filter(territory=territory, rep=rep).exists():
        raise InvalidInput(f"{rep} is already in {territory}.", field="rep")
    fields = _member_validated(weight=weight, capacity=capacity)
    level = _rotation_level(territory_id=territory.pk)
    return TerritoryMember.objects.create(
        territory=territory,
        rep=rep,
        is_active=bool(is_active),
        assigned_total=round(level * fields["weight"]),
        **fields,
    )


@transaction.atomic
def territory_member_update(
    *, member_id: int, actor: User, weight: int, capacity: int | None, is_active: bool
) -> TerritoryMember:
    """Change a member's weight, capacity or active flag. A member coming back from inactive
    rejoins at the rotation's current level instead of catching up on missed turns."""
    _require_manager(actor, "configure territories")
    member = TerritoryMember.objects.select_for_update().select_related("rep").get(pk=member_id)
    fields = _member_validated(weight=weight, capacity=capacity)
    if is_active and not member.is_active:
        level = _rotation_level(territory_id=member.territory_id, exclude_pk=member.pk)
        member.assigned_total = max(member.assigned_total, round(level * fields["weight"]))
    member.weight, member.capacity = fields["weight"], fields["capacity"]
    member.is_active = bool(is_active)
    member.save(update_fields=["weight", "capacity", "is_active", "assigned_total"])
    return member


def _absence_validated(*, rep: User | None, starts_on, ends_on, note: str, exclude_pk=None):
    if rep is None or not is_rep(rep):
        raise InvalidInput("Choose a sales rep.", field="rep")
    if starts_on is None:
        raise InvalidInput("Enter the first day away.", field="starts_on")
    if ends_on is None:
        raise InvalidInput("Enter the last day away.", field="ends_on")
    if ends_on < starts_on:
        raise InvalidInput("The last day cannot be before the first day.", field="ends_on")
    note = (note or "").strip()
    if len(note) > 200:
        raise InvalidInput("Keep the note under 200 characters.", field="note")
    overlapping = (
        RepAbsence.objects.filter(rep=rep, starts_on__lte=ends_on, ends_on__gte=starts_on)
        .exclude(pk=exclude_pk)
        .first()
    )
    if overlapping:
        first, last = overlapping.starts_on, overlapping.ends_on
        away = f"{first.day} {first:%b} to {last.day} {last:%b %Y}"
        raise InvalidInput(f"{rep} is already away {away}.", field="starts_on")
    return note


@transaction.atomic
def rep_absence_create(
    *, actor: User, rep: User | None, starts_on, ends_on, note: str = ""
) -> RepAbsence:
    """Out of office, both days included: round-robin skips the rep on those days. Refuses
    a range overlapping another absence of the same rep."""
    _require_manager(actor, "record absences")
    note = _absence_validated(rep=rep, starts_on=starts_on, ends_on=ends_on, note=note)
    return RepAbsence.objects.create(rep=rep, starts_on=starts_on, ends_on=ends_on, note=note)


@transaction.atomic
def rep_absence_update(
    *, absence_id: int, actor: User, starts_on, ends_on, note: str = ""
) -> RepAbsence:
    _require_manager(actor, "record absences")
    absence = RepAbsence.objects.select_for_update().select_related("rep").get(pk=absence_id)
    absence.note = _absence_validated(
        rep=absence.rep, starts_on=starts_on, ends_on=ends_on, note=note, exclude_pk=absence.pk
    )
    absence.starts_on, absence.ends_on = starts_on, ends_on
    absence.save(update_fields=["starts_on", "ends_on", "note"])
    return absence


@transaction.atomic
def rep_absence_delete(*, absence_id: int, actor: User) -> None:
    """Cancel an absence (the rep is back in the rotation on those days)."""
    _require_manager(actor, "record absences")
    RepAbsence.objects.filter(pk=absence_id).delete()

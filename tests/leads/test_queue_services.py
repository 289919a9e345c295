"""The sales queue's writes: claiming, touches, reassignment."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from leads.models import Handoff, Lead, LeadAssignment, Stage, Touch
from leads.services import (
    lead_claim,
    lead_reassign,
    queue_claim_next,
    queue_reassign,
    touch_log,
)
from tests.leads.factories import HandoffFactory, LeadFactory, owned_lead, pool_lead

pytestmark = pytest.mark.django_db


def _pool_lead_due_in(hours: float, score: int) -> Lead:
    lead = LeadFactory(stage=Stage.MQL, kind=Stage.MQL, score=score)
    HandoffFactory(lead=lead, first_touch_due_at=timezone.now() + timedelta(hours=hours))
    return lead


# --- claiming -------------------------------------------------------------------------------
def test_claim_next_takes_the_earliest_due_then_the_highest_score(rep):
    # given a pool where two leads share the earliest deadline and a hotter one is due later
    later_but_hot = _pool_lead_due_in(5, score=99)
    early_low = _pool_lead_due_in(1, score=40)
    early_high = _pool_lead_due_in(1, score=80)
    early_high.handoffs.update(first_touch_due_at=early_low.handoffs.get().first_touch_due_at)
    # when the rep claims three times
    claimed = [queue_claim_next(rep=rep) for _ in range(3)]
    # then the order is due time first, score second
    assert [lead.pk for lead in claimed] == [early_high.pk, early_low.pk, later_but_hot.pk]


def test_claiming_makes_the_rep_the_owner_and_writes_the_assignment(rep):
    lead = pool_lead()
    claimed = queue_claim_next(rep=rep)
    assert claimed.pk == lead.pk and claimed.owner == rep
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.owner, handoff.closed_at) == (
        Handoff.Status.ASSIGNED,
        rep,
        None,
    )
    assert handoff.assigned_at is not None
    assignment = LeadAssignment.objects.get(lead=lead)
    assert (assignment.reason, assignment.to_owner, assignment.actor, assignment.handoff) == (
        LeadAssignment.Reason.CLAIMED,
        rep,
        rep,
        handoff,
    )


def test_claiming_from_an_empty_pool_returns_none(rep, other_rep):
    owned_lead(other_rep)  # someone else's lead is not in the pool
    assert queue_claim_next(rep=rep) is None
    assert not LeadAssignment.objects.filter(to_owner=rep).exists()


def test_claim_next_runs_the_same_queries_whatever_the_pool_size(rep):
    pool_lead()
    pool_lead()
    queue_claim_next(rep=rep)  # the rep's roles are read once, then cached
    with CaptureQueriesContext(connection) as small:
        queue_claim_next(rep=rep)
    for _ in range(30):
        pool_lead()
    with CaptureQueriesContext(connection) as large:
        queue_claim_next(rep=rep)
    assert len(large) == len(small)


def test_claiming_a_lead_someone_already_claimed_is_refused_with_a_message(rep, other_rep):
    lead = pool_lead()
    lead_claim(lead_id=lead.pk, rep=other_rep)
    with pytest.raises(DomainError, match="not in the pool any more"):
        lead_claim(lead_id=lead.pk, rep=rep)
    assert Lead.objects.get(pk=lead.pk).owner == other_rep
    assert LeadAssignment.objects.filter(lead=lead).count() == 1


def test_claiming_a_particular_pool_lead(rep):
    pool_lead()
    wanted = pool_lead()
    assert lead_claim(lead_id=wanted.pk, rep=rep).owner == rep
    assert Handoff.objects.filter(status=Handoff.Status.POOL).count() == 1


def test_marketer_cannot_claim(marketer):
    lead = pool_lead()
    with pytest.raises(NotAllowed, match="Only sales reps"):
        queue_claim_next(rep=marketer)
    with pytest.raises(NotAllowed, match="Only sales reps"):
        lead_claim(lead_id=lead.pk, rep=marketer)
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.POOL


def test_manager_may_claim(manager):
    lead = pool_lead()
    assert queue_claim_next(rep=manager).pk == lead.pk


# --- touches --------------------------------------------------------------------------------
def test_first_touch_stops_the_clock_and_later_touches_do_not_move_it(rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    handoff = lead.handoffs.get()
    first_at = handoff.created_at + timedelta(minutes=1)
    # when the rep logs a first touch and then two more
    touch_log(lead_id=lead.pk, actor=rep, kind="call", outcome="no_answer", occurred_at=first_at)
    touch_log(lead_id=lead.pk, actor=rep, kind="email", outcome="replied")
    touch_log(
        lead_id=lead.pk,
        actor=rep,
        kind="meeting",
        outcome="meeting_booked",
        occurred_at=first_at + timedelta(seconds=30),
    )
    # then the first one stopped the clock, and only it
    handoff.refresh_from_db()
    assert handoff.first_touch_at == first_at
    assert Touch.objects.filter(handoff=handoff).count() == 3


@pytest.mark.parametrize(
    "when",
    [
        lambda handoff: timezone.now() + timedelta(hours=1),
        lambda handoff: handoff.created_at - timedelta(minutes=1),
    ],
    ids=["in-the-future", "before-the-handoff"],
)
def test_touch_in_the_future_or_before_the_handoff_is_refused(rep, when):
    lead = owned_lead(rep, stage=Stage.SAL)
    handoff = lead.handoffs.get()
    with pytest.raises(InvalidInput) as refused:
        touch_log(
            lead_id=lead.pk, actor=rep, kind="call", outcome="connected", occurred_at=when(handoff)
        )
    assert refused.value.field == "occurred_at"
    assert not Touch.objects.exists()
    handoff.refresh_from_db()
    assert handoff.first_touch_at is None


def test_only_the_owner_logs_touches(rep, other_rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    with pytest.raises(NotAllowed, match="another rep"):
        touch_log(lead_id=lead.pk, actor=other_rep, kind="call", outcome="connected")


# --- reassignment ---------------------------------------------------------------------------
def test_manager_reassigns_a_lead_to_another_rep(rep, other_rep, manager):
    lead = owned_lead(rep, stage=Stage.SAL)
    moved = lead_reassign(lead_id=lead.pk, actor=manager, to_rep=other_rep)
    assert moved.owner == other_rep
    handoff = lead.handoffs.get()
    assert (handoff.owner, handoff.status) == (other_rep, Handoff.Status.ACCEPTED)
    row = LeadAssignment.objects.get(lead=lead)
    assert (row.from_owner, row.to_owner, row.actor, row.reason) == (
        rep,
        other_rep,
        manager,
        LeadAssignment.Reason.REASSIGNED,
    )


def test_manager_puts_an_unaccepted_lead_back_in_the_pool_but_not_an_accepted_one(rep, manager):
    fresh = owned_lead(rep, stage=Stage.MQL)
    accepted = owned_lead(rep, stage=Stage.SAL)
    lead_reassign(lead_id=fresh.pk, actor=manager, to_rep=None)
    handoff = fresh.handoffs.get()
    assert (handoff.status, handoff.owner, handoff.assigned_at) == (Handoff.Status.POOL, None, None)
    assert Lead.objects.get(pk=fresh.pk).owner is None
    with pytest.raises(DomainError, match="must stay with a rep"):
        lead_reassign(lead_id=accepted.pk, actor=manager, to_rep=None)
    assert Lead.objects.get(pk=accepted.pk).owner == rep


def test_rep_cannot_reassign(rep, other_rep):
    lead = owned_lead(rep)
    with pytest.raises(NotAllowed, match="Only managers"):
        lead_reassign(lead_id=lead.pk, actor=rep, to_rep=other_rep)
    with pytest.raises(NotAllowed, match="Only managers"):
        queue_reassign(actor=rep, from_rep=rep, to_rep=other_rep)


def test_manager_moves_a_reps_whole_queue_to_another_rep(rep, other_rep, manager):
    leads = [owned_lead(rep, stage=stage) for stage in (Stage.MQL, Stage.SAL, Stage.SQL)]
    untouched = owned_lead(other_rep)
    assert queue_reassign(actor=manager, from_rep=rep, to_rep=other_rep) == 3
    for lead in leads:
        lead.refresh_from_db()
        assert lead.owner == other_rep
        assert lead.handoffs.get().owner == other_rep
    assert not Handoff.objects.filter(owner=rep, closed_at__isnull=True).exists()
    assert LeadAssignment.objects.filter(reason="reassigned", from_owner=rep).count() == 3
    assert Lead.objects.get(pk=untouched.pk).owner == other_rep


def test_manager_empties_a_queue_into_the_pool_keeping_accepted_leads(rep, manager):
    fresh = [owned_lead(rep, stage=Stage.MQL), owned_lead(rep, stage=Stage.PQL, kind="pql")]
    accepted = owned_lead(rep, stage=Stage.SAL)
    assert queue_reassign(actor=manager, from_rep=rep, to_rep=None) == 2
    assert set(Handoff.objects.filter(status="pool").values_list("lead_id", flat=True)) == {
        lead.pk for lead in fresh
    }
    assert Lead.objects.get(pk=accepted.pk).owner == rep
    assert LeadAssignment.objects.filter(reason="to_pool").count() == 2

"""The lifecycle service: every allowed move, a table of illegal ones, history, roles."""

import pytest
from django.core import mail

from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from leads.models import Handoff, Lead, LeadStageChange, Stage
from leads.services import TRANSITIONS, lead_create, lead_transition
from tests.leads.factories import LeadFactory, owned_lead, pool_lead

BANT = {"budget": "40k", "authority": "VP signs", "need": "Routing", "timeline": "Q1"}

# Every allowed move with who makes it and what it needs.
ALLOWED = [
    (Stage.NEW, Stage.MQL, "marketer", {}),
    (Stage.NEW, Stage.PQL, "system", {}),
    (Stage.NEW, Stage.CQL, "system", {}),
    (Stage.NEW, Stage.DISQUALIFIED, "marketer", {"reason_code": "spam"}),
    (Stage.MQL, Stage.SAL, "owner", {}),
    (Stage.PQL, Stage.SAL, "owner", {}),
    (Stage.CQL, Stage.SAL, "owner", {}),
    (Stage.MQL, Stage.RECYCLED, "owner", {"reason_code": "not_ready"}),
    (Stage.PQL, Stage.RECYCLED, "owner", {"reason_code": "bad_fit"}),
    (Stage.CQL, Stage.RECYCLED, "owner", {"reason_code": "wrong_contact"}),
    (Stage.MQL, Stage.DISQUALIFIED, "owner", {"reason_code": "competitor"}),
    (Stage.PQL, Stage.DISQUALIFIED, "owner", {"reason_code": "student"}),
    (Stage.CQL, Stage.DISQUALIFIED, "owner", {"reason_code": "duplicate"}),
    (Stage.SAL, Stage.SQL, "owner", {"details": BANT}),
    (Stage.SAL, Stage.RECYCLED, "owner", {"reason_code": "no_budget"}),
    (Stage.SAL, Stage.DISQUALIFIED, "owner", {"reason_code": "not_a_fit"}),
    (Stage.SQL, Stage.OPPORTUNITY, "owner", {"details": {"amount": "25000"}}),
    (Stage.SQL, Stage.LOST, "owner", {"reason_code": "timing"}),
    (Stage.SQL, Stage.RECYCLED, "owner", {"reason_code": "not_ready"}),
    (Stage.SQL, Stage.DISQUALIFIED, "owner", {"reason_code": "other"}),
    (Stage.OPPORTUNITY, Stage.WON, "owner", {"details": {"amount": "31000.50"}}),
    (Stage.OPPORTUNITY, Stage.LOST, "owner", {"reason_code": "price"}),
    (Stage.RECYCLED, Stage.MQL, "marketer", {}),
    (Stage.RECYCLED, Stage.PQL, "system", {}),
    (Stage.RECYCLED, Stage.CQL, "marketer", {}),
    (Stage.RECYCLED, Stage.DISQUALIFIED, "marketer", {"reason_code": "spam"}),
    (Stage.LOST, Stage.RECYCLED, "marketer", {"reason_code": "not_ready"}),
]


def _lead_in(stage, owner):
    if stage in (Stage.NEW, Stage.RECYCLED, Stage.LOST, Stage.WON, Stage.DISQUALIFIED):
        return LeadFactory(stage=stage)
    return owned_lead(owner, stage=stage)


def test_the_table_covers_every_edge_of_the_graph():
    edges = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert edges == {(a, b) for a, b, _, _ in ALLOWED}


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to", "who", "extra"), ALLOWED)
def test_every_allowed_move_updates_the_lead_and_writes_history(
    start, to, who, extra, rep, marketer
):
    # given a lead in the start stage
    lead = _lead_in(start, rep)
    actor = {"owner": rep, "marketer": marketer, "system": None}[who]
    # when the right person moves it
    moved = lead_transition(lead_id=lead.pk, actor=actor, to=to, note="why", **extra)
    # then the lead is in the new stage and one history row says who, from, to, why
    assert moved.stage == to
    assert Lead.objects.get(pk=lead.pk).stage == to
    history = LeadStageChange.objects.get(lead=lead)
    assert (history.from_stage, history.to_stage, history.actor) == (start, to, actor)
    assert history.reason_code == extra.get("reason_code", "")
    assert history.note == "why"


ILLEGAL = [
    (Stage.NEW, Stage.SAL),
    (Stage.NEW, Stage.WON),
    (Stage.NEW, Stage.RECYCLED),
    (Stage.MQL, Stage.SQL),
    (Stage.MQL, Stage.WON),
    (Stage.MQL, Stage.PQL),
    (Stage.SAL, Stage.OPPORTUNITY),
    (Stage.SAL, Stage.WON),
    (Stage.SAL, Stage.MQL),
    (Stage.SQL, Stage.WON),
    (Stage.OPPORTUNITY, Stage.SAL),
    (Stage.OPPORTUNITY, Stage.RECYCLED),
    (Stage.WON, Stage.LOST),
    (Stage.WON, Stage.RECYCLED),
    (Stage.LOST, Stage.WON),
    (Stage.DISQUALIFIED, Stage.MQL),
    (Stage.RECYCLED, Stage.SAL),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "to"), ILLEGAL)
def test_illegal_moves_are_refused_and_nothing_is_written(start, to, manager):
    # given a lead (even a manager may not break the graph)
    lead = _lead_in(start, manager)
    before = Lead.objects.values().get(pk=lead.pk)
    # when the move is attempted
    with pytest.raises(DomainError) as refused:
        lead_transition(
            lead_id=lead.pk,
            actor=manager,
            to=to,
            reason_code="other",
            details={**BANT, "amount": "1"},
        )
    # then a clear message names both stages and nothing changed
    assert Stage(start).label in refused.value.message
    assert Stage(to).label in refused.value.message
    assert refused.value.status_code == 409
    assert Lead.objects.values().get(pk=lead.pk) == before
    assert not LeadStageChange.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_unknown_stage_is_refused(manager):
    lead = LeadFactory()
    with pytest.raises(DomainError, match="Unknown stage"):
        lead_transition(lead_id=lead.pk, actor=manager, to="customer")


@pytest.mark.django_db
def test_rep_cannot_accept_another_reps_lead(rep, other_rep):
    lead = owned_lead(other_rep)
    with pytest.raises(NotAllowed, match="another rep"):
        lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SAL)
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


@pytest.mark.django_db
def test_rep_must_claim_a_pool_lead_before_accepting(rep):
    lead = pool_lead()
    with pytest.raises(NotAllowed, match="Claim this lead"):
        lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SAL)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stage", "to", "extra"),
    [
        (Stage.MQL, Stage.SAL, {}),
        (Stage.OPPORTUNITY, Stage.WON, {"details": {"amount": "5"}}),
        (Stage.SQL, Stage.LOST, {"reason_code": "price"}),
        (Stage.SAL, Stage.SQL, {"details": BANT}),
    ],
)
def test_marketer_cannot_accept_qualify_or_close(stage, to, extra, rep, marketer):
    lead = owned_lead(rep, stage=stage)
    with pytest.raises(NotAllowed, match="Only sales"):
        lead_transition(lead_id=lead.pk, actor=marketer, to=to, **extra)


@pytest.mark.django_db
def test_rep_cannot_qualify_a_new_lead(rep):
    lead = LeadFactory()
    with pytest.raises(NotAllowed, match="Only marketing"):
        lead_transition(lead_id=lead.pk, actor=rep, to=Stage.MQL)


@pytest.mark.django_db
def test_manager_may_act_on_any_reps_lead(rep, manager):
    lead = owned_lead(rep)
    assert lead_transition(lead_id=lead.pk, actor=manager, to=Stage.SAL).stage == Stage.SAL


@pytest.mark.django_db
def test_a_manager_cannot_accept_a_pool_lead_that_nobody_owns(manager):
    # given a lead waiting in the pool
    lead = pool_lead()
    # when a manager tries to accept it, the move is refused as a conflict with its state
    with pytest.raises(DomainError, match="Assign this lead to a rep") as refused:
        lead_transition(lead_id=lead.pk, actor=manager, to=Stage.SAL)
    assert refused.value.status_code == 409
    # then it is still in the pool, where a rep can claim it, and no history was written
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.POOL
    assert not LeadStageChange.objects.filter(lead=lead, to_stage=Stage.SAL).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("stage", "to", "field"),
    [
        (Stage.MQL, Stage.RECYCLED, "reason_code"),
        (Stage.SAL, Stage.DISQUALIFIED, "reason_code"),
        (Stage.SQL, Stage.LOST, "reason_code"),
        (Stage.SAL, Stage.SQL, "budget"),
        (Stage.SQL, Stage.OPPORTUNITY, "amount"),
    ],
)
def test_moves_that_need_a_reason_or_data_name_the_missing_field(stage, to, field, rep):
    lead = owned_lead(rep, stage=stage)
    with pytest.raises(InvalidInput) as refused:
        lead_transition(lead_id=lead.pk, actor=rep, to=to, reason_code="")
    assert refused.value.field == field
    assert Lead.objects.get(pk=lead.pk).stage == stage


@pytest.mark.django_db
def test_negative_or_garbage_amounts_are_refused(rep):
    lead = owned_lead(rep, stage=Stage.SQL)
    for amount in ("-5", "lots", "1e12", "NaN"):
        with pytest.raises(InvalidInput, match=r"amount|number"):
            lead_transition(
                lead_id=lead.pk, actor=rep, to=Stage.OPPORTUNITY, details={"amount": amount}
            )


@pytest.mark.django_db
def test_sql_records_bant_and_won_keeps_the_amount(rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SQL, details=BANT)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.OPPORTUNITY, details={"amount": "120"})
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.WON)
    lead.refresh_from_db()
    assert (lead.bant_budget, lead.bant_authority, lead.bant_need, lead.bant_timeline) == (
        "40k",
        "VP signs",
        "Routing",
        "Q1",
    )
    assert str(lead.deal_amount) == "120.00"
    assert lead.closed_at is not None
    assert not Handoff.objects.filter(lead=lead, closed_at__isnull=True).exists()


@pytest.mark.django_db
def test_qualifying_opens_a_handoff_with_context_in_the_pool(marketer):
    from tests.campaigns.factories import CampaignFactory, TalkingPointFactory

    campaign = CampaignFactory(name="Webinar X", quote="Say this")
    TalkingPointFactory(campaign=campaign, position=1, text="Point one")
    TalkingPointFactory(campaign=campaign, position=2, text="Point two")
    lead = LeadFactory(source_campaign=campaign, company="Acme")
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL, note="Asked for a demo")
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.status == Handoff.Status.POOL
    assert handoff.owner is None
    assert handoff.kind == Stage.MQL
    assert handoff.context["campaign"]["talking_points"] == ["Point one", "Point two"]
    assert handoff.context["campaign"]["quote"] == "Say this"
    assert handoff.context["fit"]["company"] == "Acme"
    assert handoff.first_touch_due_at > handoff.created_at


@pytest.mark.django_db
def test_returning_a_lead_closes_the_handoff_and_tells_marketing(
    rep, marketer, django_capture_on_commit_callbacks
):
    lead = owned_lead(rep, stage=Stage.SAL)
    with django_capture_on_commit_callbacks(execute=True):
        lead_transition(lead_id=lead.pk, actor=rep, to=Stage.RECYCLED, reason_code="no_budget")
    lead.refresh_from_db()
    assert lead.owner is None
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.return_reason) == (Handoff.Status.RETURNED, "no_budget")
    note = Notification.objects.get(user=marketer)
    assert "No budget" in note.message
    assert mail.outbox and marketer.email in mail.outbox[0].to


@pytest.mark.django_db
def test_a_recycled_lead_can_be_qualified_again_with_a_new_handoff(rep, marketer):
    lead = owned_lead(rep, stage=Stage.SAL)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.RECYCLED, reason_code="not_ready")
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.PQL)
    assert Handoff.objects.filter(lead=lead).count() == 2
    assert Handoff.objects.get(lead=lead, closed_at__isnull=True).kind == Stage.PQL


@pytest.mark.django_db
def test_create_refuses_a_duplicate_email_whatever_its_case(marketer):
    lead_create(actor=marketer, email="Ada@Example.com", first_name="Ada")
    with pytest.raises(InvalidInput) as refused:
        lead_create(actor=marketer, email="ada@example.COM")
    assert refused.value.field == "email"
    assert Lead.objects.count() == 1
    assert LeadStageChange.objects.get().to_stage == Stage.NEW

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Sum

from campaigns.models import (
    Campaign,
    ContentRequest,
    EnablementResource,
    FollowUpTemplate,
    TalkingPoint,
)
from core.models import Notification
from leads.models import (
    QUALIFIED_STAGES,
    Handoff,
    Lead,
    LeadAssignment,
    LeadFeedback,
    LeadNote,
    LeadStageChange,
    RepAbsence,
    Stage,
    Territory,
    TerritoryMember,
    Touch,
)
from leads.services import SALES_STAGES, first_touch_due, queue_claim_next

COUNTED = [
    User,
    Campaign,
    TalkingPoint,
    FollowUpTemplate,
    EnablementResource,
    ContentRequest,
    Lead,
    LeadStageChange,
    Handoff,
    LeadAssignment,
    Touch,
    LeadFeedback,
    LeadNote,
    Territory,
    TerritoryMember,
    RepAbsence,
    Notification,
]


def _counts():
    counts = {model.__name__: model.objects.count() for model in COUNTED}
    counts["cursor"] = TerritoryMember.objects.aggregate(n=Sum("assigned_total"))["n"]
    return counts


@pytest.fixture
def demo(db):
    call_command("seed_demo", password="demo-pass-0")


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_counts():
    # given a seeded demo
    call_command("seed_demo", password="demo-pass-1")
    first = _counts()
    # when it is seeded again
    call_command("seed_demo", password="demo-pass-1")
    # then nothing changed
    assert _counts() == first
    assert first["Lead"] == 200
    assert all(first[model.__name__] > 0 for model in COUNTED)


@pytest.mark.django_db
def test_seed_demo_users_log_in_with_the_given_password_in_their_roles(client):
    call_command("seed_demo", password="demo-pass-2")
    roles = {
        "manager": "Manager",
        "marketer": "Marketer",
        "rep1": "Sales rep",
        "rep2": "Sales rep",
        "rep3": "Sales rep",
    }
    for username, role in roles.items():
        user = User.objects.get(username=username)
        assert user.check_password("demo-pass-2")
        assert list(user.groups.values_list("name", flat=True)) == [role]


@pytest.mark.django_db
def test_seed_demo_spreads_leads_over_every_stage_with_history():
    call_command("seed_demo", password="demo-pass-3")
    stages = set(Lead.objects.values_list("stage", flat=True))
    assert stages == set(Stage.values)
    # every lead's history is a walk along the graph that ends at its current stage
    for lead in Lead.objects.prefetch_related("stage_changes"):
        history = list(lead.stage_changes.all())
        assert history[-1].to_stage == lead.stage
        assert [row.from_stage for row in history[1:]] == [row.to_stage for row in history[:-1]]
        # and each move knows when the stay it ended began
        assert [row.stage_entered_at for row in history[1:]] == [
            row.created_at for row in history[:-1]
        ]


def test_every_lead_in_sales_has_exactly_one_open_handoff_matching_stage_and_owner(demo):
    for lead in Lead.objects.prefetch_related("handoffs"):
        open_handoffs = [h for h in lead.handoffs.all() if h.closed_at is None]
        if lead.stage not in SALES_STAGES:
            assert open_handoffs == [], lead.stage
            continue
        assert len(open_handoffs) == 1, lead.email
        handoff = open_handoffs[0]
        assert handoff.owner_id == lead.owner_id
        assert handoff.kind == lead.kind
        if lead.stage in QUALIFIED_STAGES:
            expected = Handoff.Status.POOL if lead.owner_id is None else Handoff.Status.ASSIGNED
        else:
            expected = Handoff.Status.ACCEPTED
            assert handoff.accepted_at is not None
        assert handoff.status == expected
        assert handoff.first_touch_due_at == first_touch_due(
            kind=handoff.kind, temperature=lead.temperature, start=handoff.created_at
        )
        assert handoff.context["score"] == lead.score


def test_closed_leads_that_passed_through_sales_have_a_closed_handoff(demo):
    for lead in Lead.objects.filter(
        stage__in=[Stage.WON, Stage.LOST, Stage.DISQUALIFIED, Stage.RECYCLED]
    ).prefetch_related("handoffs", "stage_changes"):
        (handoff,) = lead.handoffs.all()
        closing = list(lead.stage_changes.all())[-1]
        assert handoff.closed_at == closing.created_at
        if lead.stage == Stage.RECYCLED:
            # returned with the reason marketing sees, and back in nurture without an owner
            assert handoff.status == Handoff.Status.RETURNED
            assert handoff.return_reason == closing.reason_code != ""
            assert lead.owner_id is None
        else:
            assert handoff.status == Handoff.Status.CLOSED
            assert handoff.return_reason == ""
        assert handoff.owner is not None


def test_the_pool_has_about_a_dozen_leads_some_hot_and_a_rep_can_claim_one(demo):
    pool = Handoff.objects.filter(status=Handoff.Status.POOL)
    assert 8 <= pool.count() <= 20
    assert all(h.lead.owner_id is None for h in pool.select_related("lead"))
    assert pool.filter(lead__temperature="hot").exists()
    # no territory covers a pool lead, so the rule could not assign it
    assert not pool.filter(territory__isnull=False).exists()
    lead = queue_claim_next(rep=User.objects.get(username="rep2"))
    assert lead is not None
    assert lead.owner.username == "rep2"


def test_owned_handoffs_have_their_assignment_and_the_cursor_counts_the_rule(demo):
    owned = Handoff.objects.filter(owner__isnull=False)
    assert LeadAssignment.objects.count() == owned.count()
    for handoff in owned.prefetch_related("assignments"):
        (assignment,) = handoff.assignments.all()
        assert assignment.to_owner_id == handoff.owner_id
        assert assignment.lead_id == handoff.lead_id
        assert assignment.created_at == handoff.assigned_at
        assert handoff.created_at <= handoff.assigned_at
    by_rule = LeadAssignment.objects.filter(reason=LeadAssignment.Reason.ROUND_ROBIN).count()
    cursor = TerritoryMember.objects.aggregate(n=Sum("assigned_total"))["n"]
    assert by_rule == cursor > 0
    assert LeadAssignment.objects.filter(reason=LeadAssignment.Reason.CLAIMED).exists()


def test_territories_cover_north_america_and_europe_with_the_three_reps(demo):
    territories = {t.name: t for t in Territory.objects.all()}
    assert territories["North America"].countries == ["US", "CA"]
    assert set(territories["Europe"].countries) == {"GB", "DE", "FR", "NL", "SE", "ES", "IE"}
    members = TerritoryMember.objects.values_list("territory__name", "rep__username", "weight")
    assert {rep for _, rep, _ in members} == {"rep1", "rep2", "rep3"}
    assert any(weight == 2 for *_, weight in members)


def test_most_accepted_leads_were_touched_some_late_and_the_first_touch_stops_the_clock(demo):
    accepted = Handoff.objects.filter(accepted_at__isnull=False).prefetch_related("touches")
    touched = [h for h in accepted if h.first_touch_at is not None]
    assert len(touched) >= 0.7 * accepted.count()
    for handoff in touched:
        times = sorted(t.occurred_at for t in handoff.touches.all())
        assert handoff.first_touch_at == times[0]
        assert handoff.created_at <= times[0]
        assert times[-1] <= (handoff.closed_at or times[-1])
        assert {t.rep_id for t in handoff.touches.all()} == {handoff.owner_id}
    late = [h for h in touched if h.first_touch_at > h.first_touch_due_at]
    assert 0 < len(late) < len(touched)
    assert not Touch.objects.filter(handoff__accepted_at__isnull=True).exists()


def test_feedback_comes_from_the_rep_who_worked_the_lead(demo):
    rows = LeadFeedback.objects.select_related("lead")
    assert rows.count() >= 10
    for row in rows:
        assert row.lead.handoffs.filter(owner_id=row.rep_id).exists()
        assert set(row.tags) <= set(LeadFeedback.Tag.values)
    assert rows.filter(moment=LeadFeedback.Moment.RETURN, rating="poor").exists()

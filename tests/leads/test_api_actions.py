"""The leads API's actions: transition, the queue and claims, reassignment, touches, feedback
and history, with the domain error format (400 / 403 / 409)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leads.models import Handoff, Lead, LeadFeedback, LeadStageChange, Stage, Touch
from leads.services import lead_claim, lead_create, lead_reassign
from tests.leads.factories import LeadFactory, owned_lead, pool_lead

pytestmark = pytest.mark.django_db

BANT = {"budget": "40k", "authority": "VP signs", "need": "Routing", "timeline": "Q1"}


@pytest.fixture
def api_as():
    def login(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


def url(route, lead):
    return reverse(route, args=[lead.pk])


def once_owned_lead(*, rep, other_rep, manager):
    """A lead ``rep`` claimed and a manager then gave to ``other_rep``."""
    lead = pool_lead()
    lead_claim(lead_id=lead.pk, rep=rep)
    return lead_reassign(lead_id=lead.pk, actor=manager, to_rep=other_rep)


# --- transition -----------------------------------------------------------------------------
def test_rep_accepts_own_lead_and_the_move_is_in_the_history(api_as, rep):
    # given an MQL assigned to the rep
    lead = owned_lead(rep, stage=Stage.MQL)
    # when the rep accepts it
    response = api_as(rep).post(
        url("api-lead-transition", lead), {"to": "sal", "note": "Fits our ICP"}, format="json"
    )
    # then the lead comes back in SAL and one history row records who, from, to, why
    assert response.status_code == 200
    assert response.json()["stage"] == "sal"
    change = LeadStageChange.objects.get(lead=lead)
    assert (change.from_stage, change.to_stage, change.actor, change.note) == (
        "mql",
        "sal",
        rep,
        "Fits our ICP",
    )


def test_qualifying_to_sql_records_bant(api_as, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    response = api_as(rep).post(
        url("api-lead-transition", lead), {"to": "sql", **BANT}, format="json"
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.stage, lead.bant_budget, lead.bant_timeline) == (Stage.SQL, "40k", "Q1")


def test_rep_returns_a_lead_with_a_reason(api_as, rep):
    lead = owned_lead(rep, stage=Stage.MQL)
    response = api_as(rep).post(
        url("api-lead-transition", lead), {"to": "recycled", "reason": "not_ready"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["owner"]) == ("recycled", None)
    assert LeadStageChange.objects.get(lead=lead).reason_code == "not_ready"


def test_an_illegal_transition_answers_409_with_the_message_and_changes_nothing(api_as, marketer):
    # given a new lead
    lead = LeadFactory(stage=Stage.NEW)
    # when the marketer tries to mark it won
    response = api_as(marketer).post(url("api-lead-transition", lead), {"to": "won"}, format="json")
    # then 409 with the reason, and neither the lead nor the history changed
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A lead in New cannot move to Won.",
        "code": "illegal_transition",
    }
    assert Lead.objects.get(pk=lead.pk).stage == Stage.NEW
    assert not LeadStageChange.objects.filter(lead=lead).exists()


def test_rep_cannot_move_another_reps_lead(api_as, rep, other_rep, manager):
    # given a lead the rep once owned, now other_rep's
    lead = once_owned_lead(rep=rep, other_rep=other_rep, manager=manager)
    # when the rep tries to accept it
    response = api_as(rep).post(url("api-lead-transition", lead), {"to": "sal"}, format="json")
    # then 403 and the lead stays where it was
    assert response.status_code == 403
    assert response.json() == {"detail": "This lead belongs to another rep.", "code": "forbidden"}
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


def test_rep_must_claim_a_pool_lead_before_accepting_it(api_as, rep):
    lead = pool_lead()
    response = api_as(rep).post(url("api-lead-transition", lead), {"to": "sal"}, format="json")
    assert response.status_code == 403
    assert response.json()["detail"] == "Claim this lead from the pool first."


@pytest.mark.parametrize(
    ("start", "body", "field"),
    [
        (Stage.MQL, {"to": "recycled"}, "reason"),
        (Stage.MQL, {"to": "disqualified", "reason": "bored"}, "reason"),
        (Stage.SAL, {"to": "sql", **BANT, "need": ""}, "need"),
        (Stage.SAL, {"to": "sql", "budget": "40k"}, "authority"),
        (Stage.SQL, {"to": "opportunity"}, "amount"),
        (Stage.SQL, {"to": "opportunity", "amount": "-5"}, "amount"),
        (Stage.SQL, {"to": "opportunity", "amount": "lots"}, "amount"),
        (Stage.MQL, {"to": "customer"}, "to"),
        (Stage.MQL, {}, "to"),
    ],
    ids=[
        "no-reason",
        "unknown-reason",
        "blank-bant",
        "missing-bant",
        "no-amount",
        "negative-amount",
        "text-amount",
        "unknown-stage",
        "no-stage",
    ],
)
def test_a_move_missing_what_it_needs_answers_400_on_that_field(api_as, rep, start, body, field):
    lead = owned_lead(rep, stage=start)
    response = api_as(rep).post(url("api-lead-transition", lead), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert Lead.objects.get(pk=lead.pk).stage == start


# --- the queue and claims -------------------------------------------------------------------
def test_rep_claims_from_the_queue_then_gets_204_when_the_pool_is_empty(api_as, rep):
    # given one lead in the pool
    lead = pool_lead()
    client = api_as(rep)
    # when the rep claims twice
    first = client.post(reverse("api-queue-claim"))
    second = client.post(reverse("api-queue-claim"))
    # then the first claim gives the lead, the second finds the pool empty
    assert first.status_code == 200
    assert (first.json()["id"], first.json()["owner"]) == (lead.pk, rep.pk)
    assert Handoff.objects.get(lead=lead).owner == rep
    assert second.status_code == 204
    assert second.content == b""


def test_only_sales_claims_from_the_queue(api_as, marketer):
    lead = pool_lead()
    response = api_as(marketer).post(reverse("api-queue-claim"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.POOL


def test_rep_claims_a_particular_pool_lead(api_as, rep):
    pool_lead()
    wanted = pool_lead()
    response = api_as(rep).post(url("api-lead-claim", wanted))
    assert response.status_code == 200
    assert response.json()["owner"] == rep.pk
    assert Lead.objects.get(pk=wanted.pk).owner == rep


def test_claiming_a_lead_no_longer_in_the_pool_answers_409(api_as, rep):
    lead = owned_lead(rep)
    response = api_as(rep).post(url("api-lead-claim", lead))
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This lead is not in the pool any more.",
        "code": "not_in_pool",
    }


# --- reassignment ---------------------------------------------------------------------------
def test_manager_reassigns_a_lead_to_another_rep(api_as, manager, rep, other_rep):
    lead = owned_lead(rep)
    response = api_as(manager).post(
        url("api-lead-reassign", lead), {"to": other_rep.pk}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["owner"] == other_rep.pk
    assert Handoff.objects.get(lead=lead).owner == other_rep


def test_manager_puts_an_unaccepted_lead_back_in_the_pool(api_as, manager, rep):
    lead = owned_lead(rep)
    response = api_as(manager).post(url("api-lead-reassign", lead), {"to": None}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] is None
    assert Handoff.objects.get(lead=lead).status == Handoff.Status.POOL


def test_rep_cannot_reassign_leads(api_as, rep, other_rep):
    lead = owned_lead(rep)
    response = api_as(rep).post(url("api-lead-reassign", lead), {"to": other_rep.pk}, format="json")
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).owner == rep


@pytest.mark.parametrize("to", ["marketer", 999999, "missing"])
def test_reassigning_to_someone_not_a_rep_is_a_field_error_on_to(
    api_as, manager, rep, marketer, to
):
    lead = owned_lead(rep)
    body = {} if to == "missing" else {"to": marketer.pk if to == "marketer" else to}
    response = api_as(manager).post(url("api-lead-reassign", lead), body, format="json")
    assert response.status_code == 400
    assert "to" in response.json()
    assert Lead.objects.get(pk=lead.pk).owner == rep


# --- touches --------------------------------------------------------------------------------
def test_the_first_touch_stops_the_handoffs_first_touch_clock(api_as, rep):
    # given an accepted lead of the rep's, not touched yet
    lead = owned_lead(rep, stage=Stage.SAL)
    # whole seconds, so the JSON round trip keeps it exact; after the handoff's creation
    called_at = (timezone.now() + timedelta(seconds=1)).replace(microsecond=0)
    client = api_as(rep)
    # when the rep logs a call, and later an email
    response = client.post(
        url("api-lead-touches", lead),
        {"kind": "call", "outcome": "connected", "note": "Booked a demo", "occurred_at": called_at},
        format="json",
    )
    later = client.post(
        url("api-lead-touches", lead), {"kind": "email", "outcome": "replied"}, format="json"
    )
    # then both are logged, and the handoff's first touch is the call's time
    assert (response.status_code, later.status_code) == (201, 201)
    assert response.json()["kind"] == "call"
    assert response.json()["rep"] == rep.pk
    assert Touch.objects.filter(lead=lead).count() == 2
    assert Handoff.objects.get(lead=lead).first_touch_at == called_at


@pytest.mark.parametrize("route", ["api-lead-touches", "api-lead-history"])
@pytest.mark.parametrize("n", [2, 12])
def test_a_leads_touches_and_history_take_four_queries(django_assert_num_queries, rep, route, n):
    # given a lead with n touches and n history rows
    lead = owned_lead(rep)
    now = timezone.now()
    for _ in range(n):
        Touch.objects.create(lead=lead, rep=rep, kind="call", outcome="connected", occurred_at=now)
        LeadStageChange.objects.create(lead=lead, to_stage="mql", actor=rep, created_at=now)
    client = APIClient()
    client.force_authenticate(rep)
    # when the rep reads them: roles, the lead, the count, the page
    with django_assert_num_queries(4):
        response = client.get(url(route, lead))
    # then all are listed
    assert response.json()["count"] == n


def test_touches_lists_the_leads_touches_newest_first(api_as, rep):
    lead = owned_lead(rep)
    client = api_as(rep)
    now = timezone.now()
    for minutes, kind in [(2, "call"), (1, "email")]:
        client.post(
            url("api-lead-touches", lead),
            {"kind": kind, "outcome": "no_answer", "occurred_at": now + timedelta(minutes=minutes)},
            format="json",
        )
    body = client.get(url("api-lead-touches", lead)).json()
    assert [row["kind"] for row in body["results"]] == ["call", "email"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "fax", "outcome": "connected"}, "kind"),
        ({"kind": "call", "outcome": "great"}, "outcome"),
        ({"kind": "call", "outcome": "connected", "occurred_at": "2999-01-01T00:00:00Z"}, None),
    ],
)
def test_a_bad_touch_is_a_field_error(api_as, rep, body, field):
    lead = owned_lead(rep)
    response = api_as(rep).post(url("api-lead-touches", lead), body, format="json")
    assert response.status_code == 400
    assert (field or "occurred_at") in response.json()
    assert not Touch.objects.exists()


def test_rep_cannot_log_a_touch_on_another_reps_lead(api_as, rep, other_rep, manager):
    lead = once_owned_lead(rep=rep, other_rep=other_rep, manager=manager)
    response = api_as(rep).post(
        url("api-lead-touches", lead), {"kind": "call", "outcome": "connected"}, format="json"
    )
    assert response.status_code == 403
    assert not Touch.objects.exists()


def test_marketer_cannot_log_touches(api_as, marketer, rep):
    lead = owned_lead(rep)
    response = api_as(marketer).post(
        url("api-lead-touches", lead), {"kind": "call", "outcome": "connected"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Only sales can log touches."


# --- feedback -------------------------------------------------------------------------------
def test_rep_rates_the_quality_of_a_lead_they_worked(api_as, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    response = api_as(rep).post(
        url("api-lead-feedback", lead),
        {
            "rating": "good",
            "moment": "accept",
            "tags": ["has_budget", "right_persona", "has_budget"],
            "comment": "Spot on",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["tags"] == ["right_persona", "has_budget"]
    feedback = LeadFeedback.objects.get(lead=lead)
    assert (feedback.rep, feedback.rating, feedback.comment) == (rep, "good", "Spot on")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rating": "good", "moment": "accept", "tags": ["shiny"]}, "tags"),
        ({"rating": "good", "moment": "accept", "tags": "has_budget"}, "tags"),
        ({"rating": "meh", "moment": "accept"}, "rating"),
        ({"rating": "poor", "moment": "lunch"}, "moment"),
    ],
)
def test_bad_feedback_is_a_field_error(api_as, rep, body, field):
    lead = owned_lead(rep)
    response = api_as(rep).post(url("api-lead-feedback", lead), body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not LeadFeedback.objects.exists()


def test_rep_cannot_rate_a_lead_they_never_worked(api_as, rep):
    lead = pool_lead()
    response = api_as(rep).post(
        url("api-lead-feedback", lead), {"rating": "poor", "moment": "accept"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["detail"] == "Rate only leads you worked."


# --- history --------------------------------------------------------------------------------
def test_history_lists_the_stage_changes_oldest_first(api_as, marketer, manager):
    # given a lead created by marketing, qualified to MQL and then disqualified by a manager
    lead = lead_create(actor=marketer, email="hist@prospect.example")
    client = api_as(marketer)
    client.post(url("api-lead-transition", lead), {"to": "mql", "note": "Hot"}, format="json")
    api_as(manager).post(
        url("api-lead-transition", lead), {"to": "disqualified", "reason": "spam"}, format="json"
    )
    # when the marketer reads its history
    body = client.get(url("api-lead-history", lead)).json()
    # then creation, qualification and disqualification come back in order
    assert [(row["from_stage"], row["to_stage"], row["reason"]) for row in body["results"]] == [
        ("", "new", ""),
        ("new", "mql", ""),
        ("mql", "disqualified", "spam"),
    ]
    assert body["results"][1]["actor"] == marketer.pk
    assert body["results"][1]["note"] == "Hot"

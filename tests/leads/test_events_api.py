"""POST /api/v1/events/: one event or a list, idempotent by (source, external_id), per-item
errors, leads matched or created by email, PQL/CQL qualification, rescoring after commit."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from leads.models import (
    EngagementEvent,
    EventKind,
    Handoff,
    Lead,
    LeadStageChange,
    SourceChannel,
    Stage,
    Temperature,
)
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
URL = "/api/v1/events/"
PRICING = {"kind": EventKind.PRICING_VIEW, "points": 30, "half_life_days": 7, "cap": 40}


@pytest.fixture
def api_as():
    def login(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


@pytest.fixture
def integration(db):
    """An account with no role that may only post events (the documented integration set-up)."""
    user = UserFactory(username="website-integration")
    user.user_permissions.add(Permission.objects.get(codename="add_engagementevent"))
    return user


def test_the_route_is_the_stable_surface():
    assert reverse("api-events") == URL
    assert reverse("api-scoring") == "/api/v1/scoring/"


def test_one_event_by_email_is_accepted_and_rescores_its_lead_after_commit(
    api_as, marketer, django_capture_on_commit_callbacks
):
    # given rules and a lead known by another spelling of its email
    scoring_version(engagement=[PRICING], warm=20, hot=30)
    lead = LeadFactory(email="Ada@Example.com", title="Analyst")
    # when an integration posts one pricing view
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_as(marketer).post(
            URL,
            {"email": "ada@example.COM", "kind": "pricing_view", "external_id": "pv-1"},
            format="json",
        )
    # then it is accepted, stored against that lead, and the worker's rescore ran
    assert response.status_code == 202, response.json()
    assert response.json() == {
        "accepted": 1,
        "stored": 1,
        "duplicates": 0,
        "events": [{"index": 0, "lead": lead.pk, "duplicate": False, "lead_created": False}],
    }
    assert len(callbacks) == 1
    lead.refresh_from_db()
    assert (lead.score, lead.temperature, lead.needs_rescore) == (30, Temperature.HOT, False)
    assert EngagementEvent.objects.get().source == "api"


def test_replaying_an_external_id_changes_nothing(
    api_as, marketer, django_capture_on_commit_callbacks
):
    scoring_version(engagement=[PRICING])
    lead = LeadFactory(title="Analyst")
    body = {"lead": lead.pk, "kind": "pricing_view", "external_id": "abc", "source": "web"}
    with django_capture_on_commit_callbacks(execute=True):
        api_as(marketer).post(URL, body, format="json")
    lead.refresh_from_db()
    first = (lead.score, lead.scored_at)
    # when the same event arrives again (a retried webhook)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api_as(marketer).post(URL, [body, body], format="json")
    # then both copies are duplicates: one row, the same score, nothing enqueued
    assert response.status_code == 202
    assert response.json()["duplicates"] == 2
    assert EngagementEvent.objects.count() == 1
    assert callbacks == []
    lead.refresh_from_db()
    assert (lead.score, lead.scored_at) == first
    # while the same external id from another source is another event
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(marketer).post(URL, {**body, "source": "crm"}, format="json")
    assert response.json()["stored"] == 1


def test_a_list_with_invalid_items_stores_nothing_and_names_each_bad_item(api_as, marketer):
    lead = LeadFactory()
    response = api_as(marketer).post(
        URL,
        [
            {"lead": lead.pk, "kind": "page_view"},
            {"lead": lead.pk, "kind": "telepathy"},
            {"kind": "page_view"},
            {
                "lead": lead.pk,
                "kind": "page_view",
                "occurred_at": (timezone.now() + timedelta(days=1)).isoformat(),
            },
            "not an object",
        ],
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "4 of 5 events are invalid; none was stored."
    errors = {e["index"]: e for e in body["errors"]}
    assert set(errors) == {1, 2, 3, 4}
    assert "kind" in errors[1]
    assert errors[2]["email"] == ["Give the lead's email or its id (one of them)."]
    assert errors[3]["occurred_at"] == ["It cannot happen in the future."]
    assert errors[4]["non_field_errors"] == ["Each event is a JSON object."]
    assert not EngagementEvent.objects.exists()


def test_an_unknown_lead_or_campaign_is_an_item_error(api_as, marketer):
    lead = LeadFactory()
    response = api_as(marketer).post(
        URL,
        [{"lead": lead.pk, "kind": "page_view"}, {"lead": 10**9, "kind": "page_view"}],
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"index": 1, "lead": ["Event 1: no lead 1000000000."]}]
    response = api_as(marketer).post(
        URL, {"lead": lead.pk, "kind": "page_view", "campaign": 10**9}, format="json"
    )
    assert response.json()["errors"][0]["campaign"] == ["Event 0: no campaign 1000000000."]
    assert not EngagementEvent.objects.exists()


def test_an_unknown_email_creates_a_new_lead_from_the_event(
    api_as, integration, django_capture_on_commit_callbacks
):
    campaign = CampaignFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(integration).post(
            URL,
            {
                "email": "new.person@prospect.example",
                "kind": "webinar_attended",
                "campaign": campaign.pk,
                "url": "https://example.com/webinar",
                "metadata": {"webinar": "Pipeline 101", "minutes_watched": 42},
            },
            format="json",
        )
    assert response.status_code == 202
    assert response.json()["events"][0]["lead_created"] is True
    lead = Lead.objects.get(email="new.person@prospect.example")
    assert (lead.stage, lead.source_channel, lead.source_campaign) == (
        Stage.NEW,
        SourceChannel.WEBINAR,
        campaign,
    )
    assert LeadStageChange.objects.filter(lead=lead, to_stage=Stage.NEW, actor=None).exists()
    event = lead.events.get()
    assert (event.campaign, event.url) == (campaign, "https://example.com/webinar")
    assert event.metadata == {"webinar": "Pipeline 101", "minutes_watched": 42}


def test_a_trial_signup_makes_a_pql_and_a_chat_a_cql(
    api_as, marketer, django_capture_on_commit_callbacks
):
    scoring_version(engagement=[{**PRICING, "kind": "trial_signup"}], mql=500)
    trial, chat = LeadFactory(), LeadFactory(stage=Stage.RECYCLED)
    taken = LeadFactory(stage=Stage.SAL)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(marketer).post(
            URL,
            [
                {"lead": trial.pk, "kind": "trial_signup"},
                {"lead": chat.pk, "kind": "chat_conversation"},
                {"lead": taken.pk, "kind": "chat_conversation"},
            ],
            format="json",
        )
    assert response.status_code == 202
    trial.refresh_from_db()
    chat.refresh_from_db()
    taken.refresh_from_db()
    assert (trial.stage, trial.kind, chat.stage, chat.kind, taken.stage) == (
        Stage.PQL,
        Stage.PQL,
        Stage.CQL,
        Stage.CQL,
        Stage.SAL,
    )
    change = LeadStageChange.objects.get(lead=trial, to_stage=Stage.PQL)
    assert change.actor is None and change.note.startswith("Trial sign-up on ")
    handoff = Handoff.objects.get(lead=trial)
    # the handoff carries the fresh score, its explanation and the engagement
    assert handoff.context["score"] == 30
    assert handoff.context["score_explanation"][0]["rule"] == "Trial sign-up"
    assert handoff.context["engagement"][0]["kind"] == "trial_signup"
    assert Handoff.objects.filter(lead=chat, kind=Stage.CQL).exists()


def test_who_may_post_events(api_as, rep, manager, integration):
    lead = LeadFactory()
    body = {"lead": lead.pk, "kind": "page_view"}
    refused = api_as(rep).post(URL, body, format="json")
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Your account may not post engagement events."
    assert APIClient().post(URL, body, format="json").status_code in (401, 403)
    assert api_as(manager).post(URL, body, format="json").status_code == 202
    assert api_as(integration).post(URL, body, format="json").status_code == 202


def test_too_many_or_no_events_are_refused(api_as, marketer):
    lead = LeadFactory()
    too_many = [{"lead": lead.pk, "kind": "page_view"}] * 1001
    assert api_as(marketer).post(URL, too_many, format="json").status_code == 400
    assert api_as(marketer).post(URL, [], format="json").status_code == 400
    assert not EngagementEvent.objects.exists()

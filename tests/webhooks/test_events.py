"""Emitting: each of the four domain events stores one delivery per active endpoint that
subscribes to it, in the transaction of the change, and queues the posts after commit."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings

from campaigns.services import campaign_set_live
from leads.models import Handoff, Stage
from leads.services import lead_transition
from slas.services import sla_scan
from tests.campaigns.factories import campaign_with_points
from tests.leads.factories import LeadFactory, TerritoryMemberFactory, owned_lead
from tests.slas.factories import AgreementFactory
from tests.webhooks.factories import WebhookEndpointFactory
from webhooks.models import EventType, WebhookDelivery
from webhooks.services import webhook_events_emit

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)
SITE = settings.SMARKETING["SITE_URL"]


@pytest.fixture
def endpoints(db):
    """One endpoint per event, one for all four, and an inactive one for all four."""
    every = [e.value for e in EventType if e != EventType.TEST]
    return {
        "handoff": WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED]),
        "returned": WebhookEndpointFactory(events=[EventType.LEAD_RETURNED]),
        "breach": WebhookEndpointFactory(events=[EventType.SLA_BREACHED]),
        "launch": WebhookEndpointFactory(events=[EventType.CAMPAIGN_LAUNCHED]),
        "all": WebhookEndpointFactory(events=every),
        "off": WebhookEndpointFactory(events=every, is_active=False),
    }


def _deliveries(event_type: str) -> list[WebhookDelivery]:
    return list(
        WebhookDelivery.objects.filter(event_type=event_type)
        .select_related("endpoint")
        .order_by("endpoint_id")
    )


def _received_by(deliveries) -> set[int]:
    return {d.endpoint_id for d in deliveries}


@pytest.mark.django_db
def test_a_handoff_reaches_the_endpoints_subscribed_to_it(endpoints, marketer, rep):
    # given a lead that routing will give to rep
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    lead = LeadFactory(country="DE", first_name="Ada", last_name="Lovelace", score=72)
    # when marketing qualifies it
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL)
    # then the handoff and the all-events endpoints got one event, with the same id
    deliveries = _deliveries(EventType.HANDOFF_CREATED)
    assert _received_by(deliveries) == {endpoints["handoff"].pk, endpoints["all"].pk}
    assert len({d.event_id for d in deliveries}) == 1
    assert all(d.status == "pending" and d.next_attempt_at for d in deliveries)
    handoff = Handoff.objects.get(lead=lead)
    payload = deliveries[0].payload
    assert payload["id"] == str(deliveries[0].event_id)
    assert payload["type"] == "handoff.created"
    assert payload["data"]["lead"] == {
        "id": lead.pk,
        "email": lead.email,
        "name": "Ada Lovelace",
        "company": lead.company,
        "stage": "mql",
        "kind": "mql",
        "score": 72,
        "temperature": lead.temperature,
        "owner": rep.username,
        "url": f"{SITE}/leads/{lead.pk}/",
    }
    assert payload["data"]["handoff"]["id"] == handoff.pk
    assert payload["data"]["handoff"]["owner"] == rep.username
    assert payload["data"]["handoff"]["status"] == "assigned"
    assert payload["data"]["from_stage"] == "new"


@pytest.mark.django_db
def test_a_return_to_marketing_reaches_the_endpoints_subscribed_to_it(endpoints, rep):
    # given a lead rep owns
    lead = owned_lead(rep)
    # when rep returns it to marketing
    lead_transition(
        lead_id=lead.pk, actor=rep, to=Stage.RECYCLED, reason_code="no_budget", note="Q3 maybe"
    )
    # then only the returned and all-events endpoints heard of it, with the reason
    deliveries = _deliveries(EventType.LEAD_RETURNED)
    assert _received_by(deliveries) == {endpoints["returned"].pk, endpoints["all"].pk}
    data = deliveries[0].payload["data"]
    assert data["lead"]["stage"] == "recycled" and data["lead"]["owner"] is None
    assert data["return"]["reason"] == "no_budget"
    assert data["return"]["reason_label"] == "No budget"
    assert data["return"]["note"] == "Q3 maybe"
    assert data["return"]["returned_by"] == rep.username
    assert data["handoff"]["status"] == "returned"
    assert not _deliveries(EventType.HANDOFF_CREATED)


@pytest.mark.django_db
def test_other_stage_moves_emit_nothing(endpoints, rep):
    lead = owned_lead(rep)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SAL)
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_an_sla_breach_reaches_the_endpoints_subscribed_to_it(endpoints, marketer, rep):
    # given a CQL handed to rep on Monday 10:00, due within the hour
    AgreementFactory()
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    lead = LeadFactory(country="DE")
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.CQL)
    WebhookDelivery.objects.all().delete()
    # when the scan runs after the deadline, twice
    sla_scan(now=MONDAY_10 + timedelta(hours=2))
    sla_scan(now=MONDAY_10 + timedelta(hours=3))
    # then each subscribed endpoint got the breach once
    deliveries = _deliveries(EventType.SLA_BREACHED)
    assert _received_by(deliveries) == {endpoints["breach"].pk, endpoints["all"].pk}
    breach = lead.breaches.get()
    data = deliveries[0].payload["data"]
    assert data["breach"] == {
        "id": breach.pk,
        "deadline_id": breach.deadline_id,
        "handoff_id": breach.deadline.handoff_id,
        "kind": "first_touch",
        "kind_label": "First touch",
        "due_at": "2026-11-23T10:00:00Z",
        "detected_at": "2026-11-23T11:00:00Z",
        "owner": rep.username,
    }
    assert data["lead"]["id"] == lead.pk and data["lead"]["owner"] == rep.username


@pytest.mark.django_db
def test_a_campaign_launch_reaches_the_endpoints_subscribed_to_it(endpoints, marketer):
    # given a planned campaign
    campaign = campaign_with_points("Lead with ROI.", "Offer the trial.", status="planned")
    # when marketing sets it live
    campaign_set_live(campaign_id=campaign.pk, actor=marketer)
    # then the launch endpoints heard of it, with the talking points
    deliveries = _deliveries(EventType.CAMPAIGN_LAUNCHED)
    assert _received_by(deliveries) == {endpoints["launch"].pk, endpoints["all"].pk}
    data = deliveries[0].payload["data"]["campaign"]
    assert data["id"] == campaign.pk and data["name"] == campaign.name
    assert data["talking_points"] == ["Lead with ROI.", "Offer the trial."]
    assert data["status"] == "live"
    assert data["leads_url"] == f"{SITE}/campaigns/{campaign.pk}/leads/"


@pytest.mark.django_db
def test_nobody_listening_costs_one_query_and_builds_no_payload(django_assert_num_queries):
    # given an inactive endpoint and one for another event
    WebhookEndpointFactory(is_active=False, events=[EventType.SLA_BREACHED])
    WebhookEndpointFactory(events=[EventType.LEAD_RETURNED])

    def payloads():
        raise AssertionError("the payload was built")

    # when a breach is emitted
    with django_assert_num_queries(1):
        ids = webhook_events_emit(event_type=EventType.SLA_BREACHED, payloads=payloads)
    # then nothing was stored
    assert ids == [] and not WebhookDelivery.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("events", [1, 40])
def test_emitting_takes_two_queries_however_many_events(events, django_assert_num_queries):
    # given two endpoints listening
    WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED])
    WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED])
    # when many events are emitted: the endpoints, one insert
    with django_assert_num_queries(2):
        ids = webhook_events_emit(
            event_type=EventType.HANDOFF_CREATED, payloads=[{"n": n} for n in range(events)]
        )
    # then one delivery per event and endpoint, one event id per event
    assert len(ids) == 2 * events
    assert WebhookDelivery.objects.values("event_id").distinct().count() == events


@pytest.mark.django_db
def test_posts_are_queued_only_after_commit(django_capture_on_commit_callbacks, monkeypatch):
    # given an endpoint listening and a broker that records what is queued
    WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED])
    queued = []
    monkeypatch.setattr("webhooks.tasks.deliver.delay", queued.append)
    # when an event is emitted
    with django_capture_on_commit_callbacks() as callbacks:
        [delivery_id] = webhook_events_emit(
            event_type=EventType.HANDOFF_CREATED, payloads=[{"n": 1}]
        )
        # then nothing is queued before the transaction commits
        assert queued == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [delivery_id]

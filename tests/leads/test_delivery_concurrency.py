"""The same delivery arriving several times at once (a sender's retry racing its first try) on
PostgreSQL: real threads and connections. One delivery stores, every other one answers as a
duplicate of it, and exactly one event is kept."""

import uuid

import pytest
from django.utils import timezone

from leads.inbound_services import InboundIn, inbound_receive
from leads.models import EngagementEvent, Lead
from leads.scoring_services import EventIn, events_ingest
from tests.leads.factories import LeadFactory
from tests.leads.test_claim_concurrency import _run_in_threads

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.xdist_group("claim-concurrency"),
]

THREADS = 8


def test_an_inbound_payload_delivered_eight_times_at_once_is_stored_once():
    # given one sign-up payload with an external id, sent eight times at the same moment
    external_id = f"signup-{uuid.uuid4().hex}"
    payload = InboundIn(
        source="signup",
        email="Racing.Person@example.com",
        occurred_at=timezone.now(),
        contact={"first_name": "Ada", "company": "Racecar"},
        external_id=external_id,
    )
    # when the eight deliveries run concurrently
    results = _run_in_threads(lambda: inbound_receive(actor=None, payload=payload), [()] * THREADS)
    # then one delivery stored the lead and its event, the seven others answered as its duplicates
    assert [r.duplicate for r in results].count(False) == 1
    first = next(r for r in results if not r.duplicate)
    assert first.created is True
    assert {(r.lead_id, r.created) for r in results} == {(first.lead_id, True)}
    assert Lead.objects.filter(email__iexact="racing.person@example.com").count() == 1
    assert EngagementEvent.objects.filter(external_id=external_id).count() == 1


def test_an_event_posted_eight_times_at_once_is_reported_stored_once():
    # given a lead and one event with an external id, posted eight times at the same moment
    lead = LeadFactory()
    event = EventIn(
        kind="pricing_view",
        occurred_at=timezone.now(),
        lead_id=lead.pk,
        source="website",
        external_id=f"pv-{uuid.uuid4().hex}",
    )
    # when the eight posts run concurrently
    results = _run_in_threads(lambda: events_ingest(actor=None, events=[event]), [()] * THREADS)
    # then exactly one says stored, and one event is kept
    assert [stored.duplicate for [stored] in results].count(False) == 1
    assert EngagementEvent.objects.filter(external_id=event.external_id).count() == 1

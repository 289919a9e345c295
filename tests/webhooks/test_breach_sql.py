"""The SLA scan's set-based path (PostgreSQL) stores the breach events set-based too: one
INSERT … SELECT per scan batch, the same payloads the row-by-row path builds."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import transaction

from leads.models import Stage
from leads.services import lead_transition
from slas import services as sla_services
from slas.models import Breach
from slas.services import sla_scan
from tests.leads.factories import LeadFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory
from tests.webhooks.factories import WebhookEndpointFactory
from webhooks import events as webhook_events
from webhooks.events import sla_breaches_emit
from webhooks.models import EventType, WebhookDelivery

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)


@pytest.fixture
def cqls(marketer, rep):
    """CQLs handed off Monday 10:00 (due 11:00): a few to rep, one unnamed, one in the pool."""
    AgreementFactory()
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    leads = [LeadFactory(country="DE") for _ in range(4)]
    leads.append(LeadFactory(country="DE", first_name=" ", last_name=""))
    leads.append(LeadFactory(country="FR"))  # no territory: the pool
    with time_machine.travel(MONDAY_10, tick=False):
        for lead in leads:
            lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.CQL)
    return leads


def _events() -> list[dict]:
    """Every breach delivery, its event id and time left out, ordered by deadline and endpoint."""
    rows = WebhookDelivery.objects.filter(event_type=EventType.SLA_BREACHED).values_list(
        "endpoint_id", "event_id", "payload"
    )
    out = []
    for endpoint_id, event_id, payload in rows:
        assert payload["id"] == str(event_id) and payload["type"] == "sla.breached"
        data = {**payload["data"], "breach": dict(payload["data"]["breach"])}
        data["breach"].pop("id")  # sequences do not roll back
        out.append((data["breach"]["deadline_id"], endpoint_id, data))
    return sorted(out, key=lambda row: row[:2])


def test_the_set_based_scan_stores_one_event_per_breach_and_endpoint(
    cqls, django_capture_on_commit_callbacks
):
    # given two endpoints for breaches and one for another event
    every = WebhookEndpointFactory(events=[EventType.SLA_BREACHED, EventType.LEAD_RETURNED])
    breaches = WebhookEndpointFactory(events=[EventType.SLA_BREACHED])
    WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED])
    # when the set-based scan runs after the deadlines
    with django_capture_on_commit_callbacks() as callbacks:
        result = sla_scan(now=MONDAY_10 + timedelta(hours=2))
    # then each breach is one event, delivered to both breach endpoints
    assert result.breached == len(cqls) == Breach.objects.count()
    deliveries = WebhookDelivery.objects.filter(event_type=EventType.SLA_BREACHED)
    assert deliveries.count() == 2 * len(cqls)
    assert set(deliveries.values_list("endpoint_id", flat=True)) == {every.pk, breaches.pk}
    assert deliveries.values("event_id").distinct().count() == len(cqls)
    for delivery in deliveries:
        breach = Breach.objects.get(pk=delivery.payload["data"]["breach"]["id"])
        assert delivery.payload["data"]["lead"]["id"] == breach.lead_id
        assert (delivery.status, delivery.attempts) == ("pending", 0)
    # and their posts are queued after commit
    assert callbacks


def test_set_based_payloads_equal_the_row_by_row_ones(cqls, monkeypatch):
    WebhookEndpointFactory(events=[EventType.SLA_BREACHED])
    WebhookEndpointFactory(events=[EventType.SLA_BREACHED])
    at = MONDAY_10 + timedelta(hours=2)
    # when the scan runs row by row, is undone, then runs set-based
    with transaction.atomic():
        monkeypatch.setattr(sla_services, "_set_based", lambda: False)
        monkeypatch.setattr(webhook_events, "_set_based", lambda: False)
        sla_scan(now=at)
        row_by_row = _events()
        transaction.set_rollback(True)
    monkeypatch.setattr(sla_services, "_set_based", lambda: True)
    monkeypatch.setattr(webhook_events, "_set_based", lambda: True)
    sla_scan(now=at)
    set_based = _events()
    # then both stored the same payloads
    assert len(set_based) == 2 * len(cqls)
    assert set_based == row_by_row
    names = {data["lead"]["name"] for _, _, data in set_based}
    assert "" in names  # the lead without a name


def test_breach_events_take_two_queries_however_many_breaches(
    cqls, marketer, django_assert_num_queries
):
    # given breaches recorded without endpoints listening
    WebhookEndpointFactory(events=[EventType.HANDOFF_CREATED])
    sla_scan(now=MONDAY_10 + timedelta(hours=2))
    deadline_ids = list(Breach.objects.values_list("deadline_id", flat=True))
    # when an endpoint listens and the breaches are emitted: the endpoints, one insert
    WebhookEndpointFactory(events=[EventType.SLA_BREACHED])
    with django_assert_num_queries(2):
        sla_breaches_emit(deadline_ids=deadline_ids[:1])
    with django_assert_num_queries(2):
        sla_breaches_emit(deadline_ids=deadline_ids[1:])
    assert WebhookDelivery.objects.filter(event_type="sla.breached").count() == len(cqls)


def test_no_endpoint_listening_costs_the_scan_one_query(cqls, django_assert_num_queries):
    sla_scan(now=MONDAY_10 + timedelta(hours=2))
    deadline_ids = list(Breach.objects.values_list("deadline_id", flat=True))
    with django_assert_num_queries(1):
        sla_breaches_emit(deadline_ids=deadline_ids)
    assert not WebhookDelivery.objects.exists()

"""Breach detection: exactly once per deadline, across repeated, late and concurrent runs."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connections

from core.models import Notification
from leads.models import Handoff, Lead, Stage
from leads.services import lead_transition, touch_log
from slas.models import Breach, Deadline
from slas.services import sla_scan
from slas.tasks import sla_scan_task
from tests.leads.factories import LeadFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)


@pytest.fixture
def agreement(db):
    return AgreementFactory()


@pytest.fixture
def routed_rep(rep):
    TerritoryMemberFactory(rep=rep, territory__countries=["DE", "US"])
    return rep


def _handoff(marketer, *, stage=Stage.MQL, at=MONDAY_10, **lead_fields) -> Handoff:
    lead = LeadFactory(country="DE", **lead_fields)
    with time_machine.travel(at, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=stage)
    return Handoff.objects.get(lead=lead)


@pytest.mark.django_db
def test_first_touch_deadline_counts_business_hours_of_the_agreement(
    agreement, marketer, routed_rep
):
    # given a warm MQL handed off on Monday 10:00 with a 24-business-hour target
    handoff = _handoff(marketer)
    # then it is due on Thursday 10:00 Berlin (7 + 8 + 8 + 1 working hours later)
    deadline = Deadline.objects.get(handoff=handoff, kind=Deadline.Kind.FIRST_TOUCH)
    assert deadline.due_at == datetime(2026, 11, 26, 10, tzinfo=BERLIN)
    assert handoff.first_touch_due_at == deadline.due_at
    assert deadline.owner == routed_rep


@pytest.mark.django_db
def test_hot_mql_and_cql_use_their_own_targets(agreement, marketer, routed_rep):
    hot = _handoff(marketer, temperature="hot")
    cql = _handoff(marketer, stage=Stage.CQL)
    assert hot.first_touch_due_at == datetime(2026, 11, 23, 14, tzinfo=BERLIN)
    assert cql.first_touch_due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)


@pytest.mark.django_db
def test_a_breach_is_flagged_once_however_often_the_scan_runs(
    agreement, marketer, manager, routed_rep, django_capture_on_commit_callbacks
):
    handoff = _handoff(marketer, stage=Stage.CQL)
    # when the scan runs before the deadline, nothing is flagged
    with time_machine.travel(datetime(2026, 11, 23, 10, 59, tzinfo=BERLIN), tick=False):
        sla_scan()
    assert not Breach.objects.exists()
    # when it runs after the deadline, three times
    with (
        time_machine.travel(datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        results = [sla_scan(), sla_scan(), sla_scan_task()]
    # then exactly one breach, at its true due time, and one notice each to rep and manager
    breach = Breach.objects.get()
    assert breach.due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)
    assert breach.owner == routed_rep
    assert [r.breached for r in results[:2]] == [1, 0]
    assert Notification.objects.filter(kind="sla_breach", user=routed_rep).count() == 1
    assert Notification.objects.filter(kind="sla_breach", user=manager).count() == 1
    assert handoff.lead.pk == breach.lead_id


@pytest.mark.django_db
def test_a_touch_before_the_deadline_prevents_the_breach(agreement, marketer, routed_rep):
    handoff = _handoff(marketer, stage=Stage.CQL)
    with time_machine.travel(datetime(2026, 11, 23, 10, 40, tzinfo=BERLIN), tick=False):
        touch_log(lead_id=handoff.lead_id, actor=routed_rep, kind="call", outcome="connected")
    with time_machine.travel(datetime(2026, 11, 24, 12, tzinfo=BERLIN), tick=False):
        assert sla_scan().breached == 0
    assert Deadline.objects.get(handoff=handoff).met_at is not None


@pytest.mark.django_db
def test_worker_down_for_a_day_then_catches_every_missed_deadline(agreement, marketer, routed_rep):
    # given deadlines falling due at 11:00, 12:00 and 14:00 on Monday
    cql = _handoff(marketer, stage=Stage.CQL)
    pql = _handoff(marketer, stage=Stage.PQL)
    hot = _handoff(marketer, temperature="hot")
    # when nothing scans until Tuesday afternoon
    with time_machine.travel(datetime(2026, 11, 24, 15, tzinfo=BERLIN), tick=False):
        result = sla_scan()
    # then every one is breached with its true due time
    assert result.breached == 3
    dues = dict(Breach.objects.values_list("lead_id", "due_at"))
    assert dues == {
        cql.lead_id: datetime(2026, 11, 23, 11, tzinfo=BERLIN),
        pql.lead_id: datetime(2026, 11, 23, 12, tzinfo=BERLIN),
        hot.lead_id: datetime(2026, 11, 23, 14, tzinfo=BERLIN),
    }


@pytest.mark.django_db
def test_the_rep_is_warned_once_at_three_quarters_of_the_window(
    agreement, marketer, routed_rep, django_capture_on_commit_callbacks
):
    _handoff(marketer, temperature="hot")  # due 14:00, 75% at 13:00
    with (
        time_machine.travel(datetime(2026, 11, 23, 13, 5, tzinfo=BERLIN), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_scan().warned == 1
        assert sla_scan().warned == 0
    warning = Notification.objects.get(kind="sla_warning")
    assert warning.user == routed_rep
    assert "55 min" in warning.message


@pytest.mark.django_db
def test_escalation_returns_an_untouched_lead_to_the_pool_once(agreement, marketer, routed_rep):
    handoff = _handoff(marketer, stage=Stage.CQL)  # due 11:00, escalates 4 business h later
    with time_machine.travel(datetime(2026, 11, 23, 11, 30, tzinfo=BERLIN), tick=False):
        sla_scan()
    assert Handoff.objects.get(pk=handoff.pk).owner == routed_rep
    with time_machine.travel(datetime(2026, 11, 23, 15, 1, tzinfo=BERLIN), tick=False):
        assert sla_scan().escalated == 1
        assert sla_scan().escalated == 0
    handoff.refresh_from_db()
    assert (handoff.status, handoff.owner) == (Handoff.Status.POOL, None)
    assert Lead.objects.get(pk=handoff.lead_id).owner is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_never_double_a_breach(agreement, marketer, manager, routed_rep):
    # given 30 deadlines that passed
    for _ in range(30):
        _handoff(marketer, stage=Stage.CQL)
    barrier = threading.Barrier(4)
    counts = []

    def scan():
        try:
            barrier.wait()
            counts.append(sla_scan(now=MONDAY_10 + timedelta(hours=3)).breached)
        finally:
            connections.close_all()

    # when four scans run at once
    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then each deadline was breached by exactly one of them
    assert sum(counts) == 30
    assert Breach.objects.count() == 30
    assert Deadline.objects.filter(breached_at__isnull=False).count() == 30

"""Digests: a morning email to each rep with the leads due today and those breached, and a
weekly one to managers with the SLA standing so far this month; each once per period."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail

from leads.models import Handoff, Stage
from leads.services import lead_transition, touch_log
from slas.models import DigestSent
from slas.services import digests_managers_send, digests_reps_send, sla_scan
from slas.tasks import digest_managers_task, digest_reps_task
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, TerritoryFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory, HolidayFactory

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 11, 23, 10, tzinfo=BERLIN)
TUESDAY_7 = datetime(2026, 11, 24, 7, tzinfo=BERLIN)

pytestmark = pytest.mark.django_db


@pytest.fixture
def agreement(db):
    return AgreementFactory()


def _handoff(marketer, *, country: str, at: datetime, stage=Stage.MQL, **lead_fields) -> Handoff:
    lead = LeadFactory(country=country, **lead_fields)
    with time_machine.travel(at, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=stage)
    return Handoff.objects.select_related("lead").get(lead=lead)


@pytest.fixture
def two_reps(rep, other_rep):
    """rep works Germany, other_rep France."""
    TerritoryMemberFactory(rep=rep, territory=TerritoryFactory(countries=["DE"]))
    TerritoryMemberFactory(rep=other_rep, territory=TerritoryFactory(countries=["FR"]))
    return rep, other_rep


def test_each_rep_gets_one_morning_email_with_their_due_and_breached_leads(
    agreement, marketer, two_reps
):
    rep, other_rep = two_reps
    # given for rep: a hot MQL handed off Monday 15:00 (due Tuesday 11:00), a CQL handed off
    # Monday 10:00 that breached at 11:00, and a warm MQL due Thursday
    due = _handoff(
        marketer,
        country="DE",
        at=MONDAY.replace(hour=15),
        temperature="hot",
        first_name="Due",
        last_name="Today",
    )
    breached = _handoff(
        marketer, country="DE", at=MONDAY, stage=Stage.CQL, first_name="Was", last_name="Breached"
    )
    _handoff(marketer, country="DE", at=MONDAY, first_name="Not", last_name="Yet")
    # and for other_rep a PQL due Tuesday 10:00
    theirs = _handoff(
        marketer,
        country="FR",
        at=MONDAY.replace(hour=16),
        stage=Stage.PQL,
        first_name="Other",
        last_name="Rep",
    )
    with time_machine.travel(MONDAY.replace(hour=12), tick=False):
        sla_scan()
    # when the morning digest runs on Tuesday at 07:00
    with time_machine.travel(TUESDAY_7, tick=False):
        sent = digests_reps_send()
    # then each rep gets one email listing their own leads only
    assert sent == 2
    emails = {message.to[0]: message for message in mail.outbox}
    assert set(emails) == {rep.email, other_rep.email}
    mine = emails[rep.email]
    assert mine.subject == "[smarketing] Your leads for Tue 24 Nov: 1 due today, 1 breached"
    assert "Due Today" in mine.body and "Was Breached" in mine.body
    assert "Not Yet" not in mine.body and "Other Rep" not in mine.body
    assert f"/leads/{due.lead_id}/" in mine.body and f"/leads/{breached.lead_id}/" in mine.body
    assert "due 11:00" in mine.body  # in the calendar's time zone
    assert "Due Today" in mine.alternatives[0][0]  # and an HTML part
    theirs_email = emails[other_rep.email]
    assert "Other Rep" in theirs_email.body and "Due Today" not in theirs_email.body
    assert f"/leads/{theirs.lead_id}/" in theirs_email.body


def test_the_morning_digest_goes_out_once_a_day_even_when_the_task_runs_twice(
    agreement, marketer, two_reps
):
    rep, _ = two_reps
    _handoff(marketer, country="DE", at=MONDAY.replace(hour=15), temperature="hot")
    # when the task runs twice on Tuesday morning (a retry or a second beat)
    with time_machine.travel(TUESDAY_7, tick=False):
        digest_reps_task.delay()
        digest_reps_task.delay()
    # then the rep got one email, and it is recorded for the day
    assert [m.to for m in mail.outbox] == [[rep.email]]
    assert DigestSent.objects.filter(user=rep, kind="rep_daily").count() == 1
    # and the next working day brings the next one (the lead is still waiting)
    with time_machine.travel(datetime(2026, 11, 25, 7, tzinfo=BERLIN), tick=False):
        digest_reps_task.delay()
    assert len(mail.outbox) == 2


def test_no_morning_digest_on_a_holiday_or_a_weekend(agreement, marketer, two_reps):
    HolidayFactory(calendar=agreement.calendar, date=TUESDAY_7.date(), name="Office closed")
    _handoff(marketer, country="DE", at=MONDAY.replace(hour=15), temperature="hot")
    with time_machine.travel(TUESDAY_7, tick=False):
        assert digests_reps_send() == 0
    with time_machine.travel(datetime(2026, 11, 28, 7, tzinfo=BERLIN), tick=False):  # Saturday
        assert digests_reps_send() == 0
    assert mail.outbox == []


def test_a_rep_with_nothing_due_today_gets_no_digest(agreement, marketer, two_reps):
    _handoff(marketer, country="DE", at=MONDAY)  # warm MQL due Thursday
    with time_machine.travel(TUESDAY_7, tick=False):
        assert digests_reps_send() == 0
    assert mail.outbox == []


def test_managers_get_the_months_sla_standing_once_a_week(agreement, marketer, manager, two_reps):
    rep, _ = two_reps
    head = UserFactory(role="Manager", username="manager-b")
    # given this month: a CQL touched in time, a CQL breached, and a warm MQL still running
    on_time = _handoff(marketer, country="DE", at=MONDAY, stage=Stage.CQL)
    _handoff(marketer, country="DE", at=MONDAY, stage=Stage.CQL)
    _handoff(marketer, country="DE", at=MONDAY)
    with time_machine.travel(MONDAY.replace(hour=10, minute=30), tick=False):
        touch_log(lead_id=on_time.lead_id, actor=rep, kind="call", outcome="connected")
    with time_machine.travel(MONDAY.replace(hour=12), tick=False):
        sla_scan()
    mail.outbox.clear()  # the breach notices
    # when the weekly digest runs twice on Monday 30 November at 07:30
    with time_machine.travel(datetime(2026, 11, 30, 7, 30, tzinfo=BERLIN), tick=False):
        digest_managers_task.delay()
        assert digests_managers_send() == 0
    # then each manager got one email: 3 handoffs, 1 of 2 decided first touches in time,
    # one breach, by rep
    assert sorted(m.to[0] for m in mail.outbox) == sorted([manager.email, head.email])
    message = mail.outbox[0]
    assert message.subject == "[smarketing] SLA so far in November: 50% within SLA"
    assert "Handoffs to sales: 3" in message.body
    assert "50.0% (1 of 2)" in message.body
    assert f"- {rep.get_full_name()}: 1" in message.body
    assert DigestSent.objects.filter(kind="manager_weekly").count() == 2

"""The queue's first-touch clock in business hours of the agreement's calendar: time left,
colour by urgency, standing still outside working hours."""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from leads.models import Handoff, Stage
from leads.services import lead_transition, touch_log
from leads.views.queue import first_touch_clock
from slas.selectors import agreement_clocks, business_duration_text
from tests.leads.factories import LeadFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory, HolidayFactory

BERLIN = ZoneInfo("Europe/Berlin")
# A hot MQL (4 business hours) handed off on Friday 14:00: 3 hours on Friday, 1 on Monday.
FRIDAY_14 = datetime(2026, 11, 27, 14, tzinfo=BERLIN)
MONDAY_10 = datetime(2026, 11, 30, 10, tzinfo=BERLIN)

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed_rep(rep):
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    return rep


def _handoff(marketer, *, at=FRIDAY_14, stage=Stage.MQL, temperature="hot") -> Handoff:
    lead = LeadFactory(country="DE", temperature=temperature, first_name="Ada", last_name="Hot")
    with time_machine.travel(at, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=stage)
    return Handoff.objects.select_related("lead").get(lead=lead)


def _clock(handoff: Handoff, at: datetime):
    clocks = agreement_clocks(starts=[handoff.created_at])
    return first_touch_clock(handoff, now=at, clock=clocks.for_start(handoff.created_at))


def test_friday_afternoon_shows_the_business_hours_left_until_monday(marketer, routed_rep):
    # given the Q4 agreement (Berlin, Mon-Fri 9-17) and a hot MQL handed off Friday 14:00
    AgreementFactory()
    handoff = _handoff(marketer)
    assert handoff.first_touch_due_at == MONDAY_10
    # when the clock is read on Friday at 16:00
    clock = _clock(handoff, datetime(2026, 11, 27, 16, tzinfo=BERLIN))
    # then 2 business hours are left (Friday 16-17 and Monday 9-10), not 2 days and 18 hours
    assert (clock.css, clock.text, clock.basis) == ("sla-ok", "2h left", "business")
    assert clock.calendar == "Berlin office"
    # and while the office is open the page may tick towards a virtual due two hours away,
    # whose window is the four business hours
    assert clock.tick_due == datetime(2026, 11, 27, 18, tzinfo=BERLIN)
    assert clock.tick_due - clock.tick_start == timedelta(hours=4)


def test_the_clock_stands_still_over_the_weekend(marketer, routed_rep):
    AgreementFactory()
    handoff = _handoff(marketer)
    clock = _clock(handoff, datetime(2026, 11, 28, 12, tzinfo=BERLIN))  # Saturday noon
    assert (clock.css, clock.text) == ("sla-ok", "1h left")
    assert clock.tick_due is None  # nothing to tick: no business time passes


def test_the_clock_turns_amber_under_a_quarter_of_the_business_window(marketer, routed_rep):
    AgreementFactory()
    handoff = _handoff(marketer)
    clock = _clock(handoff, datetime(2026, 11, 30, 9, 30, tzinfo=BERLIN))
    assert (clock.css, clock.text) == ("sla-warn", "30m left")


def test_an_overdue_clock_counts_business_hours_late(marketer, routed_rep):
    AgreementFactory()
    handoff = _handoff(marketer)
    # Monday 10:00 due; Monday 17:00 to Tuesday 9:30 is not business time
    clock = _clock(handoff, datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN))
    assert (clock.css, clock.text) == ("sla-breach", "overdue 7h 30m")


def test_a_holiday_on_monday_keeps_the_clock_still_until_tuesday(marketer, routed_rep):
    agreement = AgreementFactory()
    HolidayFactory(calendar=agreement.calendar, date=MONDAY_10.date(), name="Company day")
    handoff = _handoff(marketer)
    assert handoff.first_touch_due_at == datetime(2026, 12, 1, 10, tzinfo=BERLIN)
    clock = _clock(handoff, datetime(2026, 11, 30, 16, tzinfo=BERLIN))
    assert (clock.css, clock.text) == ("sla-ok", "1h left")


def test_a_touched_lead_shows_touched(marketer, routed_rep):
    AgreementFactory()
    handoff = _handoff(marketer)
    with time_machine.travel(datetime(2026, 11, 27, 15, tzinfo=BERLIN), tick=False):
        touch_log(lead_id=handoff.lead_id, actor=routed_rep, kind="call", outcome="connected")
    handoff.refresh_from_db()
    clock = _clock(handoff, datetime(2026, 11, 27, 16, tzinfo=BERLIN))
    assert (clock.css, clock.text) == ("sla-done", "touched")


def test_the_queue_row_shows_the_business_clock(client, marketer, routed_rep):
    # given the hot MQL in the rep's queue on Friday at 16:00
    AgreementFactory()
    handoff = _handoff(marketer)
    client.force_login(routed_rep)
    with time_machine.travel(datetime(2026, 11, 27, 16, tzinfo=BERLIN), tick=False):
        response = client.get(reverse("leads:queue"))
    # then its row says 2h left in business hours, green, and ticks while the office is open
    row = re.search(
        rf'<tr id="lead-row-{handoff.lead_id}".*?</tr>', response.content.decode(), re.S
    ).group(0)
    assert re.search(r'class="sla-ok"[^>]*>2h left</time> <span[^>]*>\(business\)</span>', row)
    assert 'data-clock-due="2026-11-27T17:00:00+00:00"' in row  # 18:00 Berlin, virtual
    assert "counting business hours of Berlin office" in row


def test_without_an_agreement_the_queue_keeps_the_plain_clock(client, marketer, routed_rep):
    handoff = _handoff(marketer)  # settings: hot MQL 4 h around the clock
    client.force_login(routed_rep)
    with time_machine.travel(datetime(2026, 11, 27, 16, tzinfo=BERLIN), tick=False):
        response = client.get(reverse("leads:queue"))
    body = response.content.decode()
    assert re.search(rf'id="lead-row-{handoff.lead_id}"', body)
    assert re.search(r'class="sla-ok"[^>]*>2h 0m left</time>', body)
    assert "(business)" not in body


def test_business_durations_count_hours_not_days():
    assert [
        business_duration_text(timedelta(seconds=30)),
        business_duration_text(timedelta(minutes=35)),
        business_duration_text(timedelta(hours=2)),
        business_duration_text(timedelta(hours=26, minutes=5)),
    ] == ["<1m", "35m", "2h", "26h 5m"]

"""Agreement and calendar pages: validation with field errors, the handshake of both heads,
signatures cleared by an edit, open deadlines recomputed when the terms change, roles."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import Handoff, Stage
from leads.services import lead_transition, touch_log
from slas.models import Agreement, AgreementChange, Deadline, ResponseTarget
from slas.services import (
    TargetSpec,
    agreement_create,
    agreement_sign,
    agreement_update,
    deadlines_recompute,
    holiday_add,
    sla_scan,
)
from tests.leads.factories import LeadFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory, HolidayFactory, WorkingCalendarFactory

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)
USUAL_TARGETS = [("cql", "", 1), ("pql", "", 2), ("mql", "hot", 4), ("mql", "", 24)]

pytestmark = pytest.mark.django_db


def agreement_data(calendar, *, targets=USUAL_TARGETS, initial=0, **fields) -> dict:
    """What the agreement form posts: its fields and the targets formset."""
    data = {
        "name": "Q1 2027 SLA",
        "starts_on": "2027-01-01",
        "ends_on": "2027-03-31",
        "calendar": calendar.pk,
        "mqls_per_month": 120,
        "min_acceptance_rate": "70",
        "content_turnaround_hours": 16,
        "follow_up_attempts": 6,
        "max_untouched_sal_days": 5,
        "warn_at_percent": 75,
        "escalation": "return_to_pool",
        "escalate_after_hours": 4,
        "targets-TOTAL_FORMS": len(targets),
        "targets-INITIAL_FORMS": initial,
        "targets-MIN_NUM_FORMS": 0,
        "targets-MAX_NUM_FORMS": 24,
    }
    for i, (kind, temperature, hours) in enumerate(targets):
        data |= {
            f"targets-{i}-kind": kind,
            f"targets-{i}-temperature": temperature,
            f"targets-{i}-hours": hours,
        }
    return data | fields


@pytest.fixture
def calendar(db):
    return WorkingCalendarFactory()


@pytest.fixture
def routed_rep(rep):
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    return rep


def _handoff(marketer, *, at=MONDAY_10, stage=Stage.MQL, **lead_fields) -> Handoff:
    lead = LeadFactory(country="DE", **lead_fields)
    with time_machine.travel(at, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=stage)
    return Handoff.objects.get(lead=lead)


# --- validation ----------------------------------------------------------------------------
def test_manager_creates_an_agreement_with_its_targets(client_for, manager, calendar):
    # when a manager fills in the form with the usual four targets
    response = client_for(manager).post(reverse("slas:agreement_new"), agreement_data(calendar))
    # then the agreement exists, unsigned, with its targets and a history row
    agreement = Agreement.objects.get(name="Q1 2027 SLA")
    assert response.status_code == 302
    assert response["Location"] == reverse("slas:agreement", args=[agreement.pk])
    assert sorted(agreement.targets.values_list("kind", "temperature", "hours")) == sorted(
        USUAL_TARGETS
    )
    assert not agreement.is_signed
    assert AgreementChange.objects.filter(agreement=agreement, kind="created").count() == 1


def test_a_period_ending_before_it_starts_is_refused_on_the_end_date(client_for, manager, calendar):
    response = client_for(manager).post(
        reverse("slas:agreement_new"), agreement_data(calendar, ends_on="2026-12-31")
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "ends_on": ["The period cannot end before it starts."]
    }
    assert not Agreement.objects.exists()


def test_an_agreement_overlapping_another_is_refused_with_a_clear_message(
    client_for, manager, calendar
):
    # given the Q4 2026 agreement
    AgreementFactory(calendar=calendar)
    # when a manager writes one from 15 December
    response = client_for(manager).post(
        reverse("slas:agreement_new"), agreement_data(calendar, starts_on="2026-12-15")
    )
    # then it is refused, naming the agreement it overlaps
    errors = response.context["form"].errors
    assert list(errors) == ["starts_on"]
    assert errors["starts_on"][0].startswith(
        "This period overlaps “Q4 2026 SLA” (1 Oct 2026 – 31 Dec 2026)"
    )
    assert "Please fix the highlighted fields." in response.content.decode()
    assert Agreement.objects.count() == 1


def test_every_lead_kind_needs_a_first_touch_target(client_for, manager, calendar):
    response = client_for(manager).post(
        reverse("slas:agreement_new"),
        agreement_data(calendar, targets=[("cql", "", 1), ("mql", "", 24)]),
    )
    assert response.context["targets"].non_form_errors() == [
        "Add a first-touch target for PQL leads."
    ]
    assert "Add a first-touch target for PQL leads." in response.content.decode()
    assert not Agreement.objects.exists()


def test_a_target_of_zero_hours_is_refused_on_its_row(client_for, manager, calendar):
    response = client_for(manager).post(
        reverse("slas:agreement_new"),
        agreement_data(calendar, targets=[("cql", "", 0), ("pql", "", 2), ("mql", "", 24)]),
    )
    assert response.context["targets"].errors[0] == {
        "hours": ["Ensure this value is greater than or equal to 1."]
    }
    assert not Agreement.objects.exists()


def test_acceptance_rate_is_a_percentage(client_for, manager, calendar):
    response = client_for(manager).post(
        reverse("slas:agreement_new"), agreement_data(calendar, min_acceptance_rate="120")
    )
    assert "min_acceptance_rate" in response.context["form"].errors


def test_the_service_refuses_what_the_form_would(manager, calendar):
    # the API and the pages share the rules: the service refuses on its own, every field
    from slas.services import AgreementInvalid

    with pytest.raises(AgreementInvalid) as refused:
        agreement_create(
            actor=manager,
            targets=[TargetSpec("mql", "hot", 4)],
            name=" ",
            starts_on=date(2027, 3, 1),
            ends_on=date(2027, 1, 1),
            calendar=calendar,
            mqls_per_month=10,
            min_acceptance_rate=50,
        )
    assert set(refused.value.errors) == {"name", "ends_on", "targets"}


def test_the_calendar_time_zone_is_validated(client_for, manager):
    response = client_for(manager).post(
        reverse("slas:calendar_new"),
        {
            "name": "Mars base",
            "timezone": "Mars/Olympus_Mons",
            "working_days": ["0", "1"],
            "day_start": "09:00",
            "day_end": "17:00",
        },
    )
    assert response.context["form"].errors == {
        "timezone": ["Mars/Olympus_Mons is not a known time zone (e.g. Europe/Berlin)."]
    }


def test_manager_creates_a_calendar_and_adds_and_removes_a_holiday(client_for, manager):
    client = client_for(manager)
    client.post(
        reverse("slas:calendar_new"),
        {
            "name": "New York office",
            "timezone": "America/New_York",
            "working_days": ["0", "1", "2", "3", "4"],
            "day_start": "08:30",
            "day_end": "17:30",
        },
    )
    from slas.models import Holiday, WorkingCalendar

    office = WorkingCalendar.objects.get(name="New York office")
    assert office.working_days == [0, 1, 2, 3, 4]
    client.post(
        reverse("slas:holiday_add", args=[office.pk]),
        {"holiday-date": "2026-11-26", "holiday-name": "Thanksgiving"},
    )
    holiday = Holiday.objects.get(calendar=office)
    page = client.get(reverse("slas:calendar", args=[office.pk])).content.decode()
    assert "Thanksgiving" in page
    # the same date twice is refused on the date field
    again = client.post(
        reverse("slas:holiday_add", args=[office.pk]),
        {"holiday-date": "2026-11-26", "holiday-name": "Thanksgiving"},
    )
    assert again.status_code == 400
    assert "26 Nov 2026 is already a holiday on this calendar." in again.content.decode()
    client.post(reverse("slas:holiday_delete", args=[holiday.pk]))
    assert not Holiday.objects.exists()


# --- the handshake -------------------------------------------------------------------------
def test_both_heads_sign_and_the_agreement_records_who_and_when(client, manager, marketer):
    agreement = AgreementFactory()
    sign = reverse("slas:agreement_sign", args=[agreement.pk])
    # when the sales head (a manager) and the marketing head (a marketer) sign
    with time_machine.travel(datetime(2026, 9, 28, 10, tzinfo=BERLIN), tick=False):
        client.force_login(manager)
        client.post(sign, {"side": "sales"})
    with time_machine.travel(datetime(2026, 9, 29, 15, tzinfo=BERLIN), tick=False):
        client.force_login(marketer)
        response = client.post(sign, {"side": "marketing"}, follow=True)
    # then both signatures are recorded with who and when
    agreement.refresh_from_db()
    assert agreement.is_signed
    assert (agreement.sales_head, agreement.marketing_head) == (manager, marketer)
    assert agreement.sales_signed_at == datetime(2026, 9, 28, 10, tzinfo=BERLIN)
    assert agreement.marketing_signed_at == datetime(2026, 9, 29, 15, tzinfo=BERLIN)
    assert "Signed as marketing head." in response.content.decode()
    assert AgreementChange.objects.filter(agreement=agreement, kind="signed").count() == 2


def test_one_person_cannot_sign_both_sides(client_for, manager):
    agreement = AgreementFactory()
    client = client_for(manager)
    client.post(reverse("slas:agreement_sign", args=[agreement.pk]), {"side": "sales"})
    response = client.post(
        reverse("slas:agreement_sign", args=[agreement.pk]), {"side": "marketing"}, follow=True
    )
    agreement.refresh_from_db()
    assert agreement.marketing_signed_at is None
    assert "You signed for sales: the marketing head signs this side." in (
        response.content.decode()
    )


def test_a_marketer_cannot_sign_for_sales_and_a_rep_cannot_sign(client, marketer, rep):
    agreement = AgreementFactory()
    sign = reverse("slas:agreement_sign", args=[agreement.pk])
    client.force_login(marketer)
    assert client.post(sign, {"side": "sales"}).status_code == 403
    client.force_login(rep)
    assert client.post(sign, {"side": "marketing"}).status_code == 403
    agreement.refresh_from_db()
    assert agreement.sales_signed_at is None and agreement.marketing_signed_at is None


def test_editing_a_signed_agreement_clears_both_signatures_and_says_so(
    client_for, manager, marketer
):
    # given an agreement both heads signed
    agreement = AgreementFactory()
    agreement_sign(agreement_id=agreement.pk, actor=manager, side="sales")
    agreement_sign(agreement_id=agreement.pk, actor=marketer, side="marketing")
    # when a manager raises the MQL target
    data = agreement_data(
        agreement.calendar,
        name=agreement.name,
        starts_on="2026-10-01",
        ends_on="2026-12-31",
        mqls_per_month=150,
        targets=USUAL_TARGETS,
        initial=4,
    )
    response = client_for(manager).post(
        reverse("slas:agreement_edit", args=[agreement.pk]), data, follow=True
    )
    # then both signatures are gone, and the page says why
    agreement.refresh_from_db()
    assert agreement.mqls_per_month == 150
    assert (agreement.sales_head, agreement.sales_signed_at) == (None, None)
    assert (agreement.marketing_head, agreement.marketing_signed_at) == (None, None)
    assert "both signatures were cleared" in response.content.decode()
    kinds = list(AgreementChange.objects.filter(agreement=agreement).values_list("kind", flat=True))
    assert "signatures_cleared" in kinds


def test_saving_an_unchanged_agreement_keeps_its_signatures(manager, marketer):
    agreement = AgreementFactory()
    agreement_sign(agreement_id=agreement.pk, actor=manager, side="sales")
    saved = agreement_update(
        agreement_id=agreement.pk,
        actor=manager,
        targets=[TargetSpec(*t) for t in USUAL_TARGETS],
        mqls_per_month=agreement.mqls_per_month,
    )
    agreement.refresh_from_db()
    assert not saved.signatures_cleared
    assert agreement.sales_head == manager


# --- roles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_reps_and_marketers_cannot_edit_agreements(client_for, request, who, calendar):
    agreement = AgreementFactory(calendar=calendar)
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("slas:agreement_new")).status_code == 403
    assert client.post(reverse("slas:agreement_new"), agreement_data(calendar)).status_code == 403
    assert client.get(reverse("slas:agreement_edit", args=[agreement.pk])).status_code == 403
    assert client.get(reverse("slas:calendars")).status_code == 403
    assert Agreement.objects.count() == 1


@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_reps_and_marketers_read_the_agreement_in_force(client_for, request, who):
    agreement = AgreementFactory()
    client = client_for(request.getfixturevalue(who))
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=BERLIN), tick=False):
        response = client.get(reverse("slas:agreement_current"), follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == reverse("slas:agreement", args=[agreement.pk])
    assert "Q4 2026 SLA" in body and "In force" in body
    assert "24 business hours" in body
    assert reverse("slas:agreement_edit", args=[agreement.pk]) not in body


def test_managers_see_agreements_in_the_navigation(client_for, manager):
    assert 'href="/slas/agreements/"' in client_for(manager).get("/slas/team/").content.decode()


def test_a_longer_working_day_moves_open_deadlines(client_for, manager, marketer, routed_rep):
    # given a warm MQL handed off Monday 10:00, due Thursday 10:00 on a 9-17 calendar
    agreement = AgreementFactory()
    warm = _handoff(marketer)
    # when the manager makes the working day end at 18:00
    response = client_for(manager).post(
        reverse("slas:calendar", args=[agreement.calendar_id]),
        {
            "name": "Berlin office",
            "timezone": "Europe/Berlin",
            "working_days": ["0", "1", "2", "3", "4"],
            "day_start": "09:00",
            "day_end": "18:00",
        },
        follow=True,
    )
    # then it is due Wednesday 16:00 (8 + 9 + 7 h), and the page says one deadline moved
    assert Handoff.objects.get(pk=warm.pk).first_touch_due_at == datetime(
        2026, 11, 25, 16, tzinfo=BERLIN
    )
    assert "1 open deadline moved." in response.content.decode()


# --- query counts ---------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 4])
def test_the_agreement_list_runs_a_fixed_number_of_queries(
    n, client_for, manager, marketer, django_assert_num_queries
):
    for year in range(n):
        agreement = AgreementFactory(
            name=f"SLA {2030 + year}",
            starts_on=date(2030 + year, 1, 1),
            ends_on=date(2030 + year, 12, 31),
        )
        agreement_sign(agreement_id=agreement.pk, actor=manager, side="sales")
        agreement_sign(agreement_id=agreement.pk, actor=marketer, side="marketing")
    client = client_for(manager)
    # session, user, groups, unread count, the agreements with calendar and signers, in force
    with django_assert_num_queries(6):
        response = client.get(reverse("slas:agreements"))
    assert len(response.context["agreements"]) == n


@pytest.mark.parametrize("edits", [0, 5])
def test_the_agreement_page_runs_a_fixed_number_of_queries(
    edits, client_for, manager, marketer, django_assert_num_queries
):
    agreement = AgreementFactory()
    HolidayFactory(calendar=agreement.calendar)
    for i in range(edits):
        agreement_update(agreement_id=agreement.pk, actor=manager, mqls_per_month=100 + i)
    agreement_sign(agreement_id=agreement.pk, actor=manager, side="sales")
    client = client_for(marketer)
    # session, user, groups, unread count, the agreement with calendar and signers, its
    # targets, the calendar's holidays, the history with actors
    with django_assert_num_queries(8):
        response = client.get(reverse("slas:agreement", args=[agreement.pk]))
    assert "Sign as marketing head" in response.content.decode()


# --- recomputing open deadlines ----------------------------------------------------------------
def test_a_target_change_moves_open_first_touch_deadlines_and_their_handoffs(
    manager, marketer, routed_rep
):
    # given the Q4 agreement and, handed off on Monday 23 November 10:00:
    agreement = AgreementFactory()
    warm = _handoff(marketer)  # a warm MQL, 24 h: due Thursday 10:00, still open
    touched = _handoff(marketer)  # another, touched at 11:00: met
    cql = _handoff(marketer, stage=Stage.CQL)  # a CQL due at 11:00, breached at noon
    with time_machine.travel(datetime(2026, 11, 23, 11, tzinfo=BERLIN), tick=False):
        touch_log(lead_id=touched.lead_id, actor=routed_rep, kind="call", outcome="connected")
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=BERLIN), tick=False):
        sla_scan()
    assert warm.first_touch_due_at == datetime(2026, 11, 26, 10, tzinfo=BERLIN)
    # when on Monday at 14:00 the managers cut the MQL target to 8 business hours
    targets = [TargetSpec("cql", "", 1), TargetSpec("pql", "", 2), TargetSpec("mql", "", 8)]
    with time_machine.travel(datetime(2026, 11, 23, 14, tzinfo=BERLIN), tick=False):
        saved = agreement_update(agreement_id=agreement.pk, actor=manager, targets=targets)
    # then the open warm MQL is due Tuesday 10:00 (7 + 1 h), warned at 75% (6 h: Monday 16:00)
    # and escalated 4 business hours after (Tuesday 14:00); its handoff shows the new due
    deadline = Deadline.objects.get(handoff=warm, kind="first_touch")
    assert (deadline.warn_at, deadline.due_at, deadline.escalate_at) == (
        datetime(2026, 11, 23, 16, tzinfo=BERLIN),
        datetime(2026, 11, 24, 10, tzinfo=BERLIN),
        datetime(2026, 11, 24, 14, tzinfo=BERLIN),
    )
    assert Handoff.objects.get(pk=warm.pk).first_touch_due_at == deadline.due_at
    # and what was decided stays as it was
    assert Deadline.objects.get(handoff=touched).due_at == datetime(2026, 11, 26, 10, tzinfo=BERLIN)
    assert Deadline.objects.get(handoff=cql).due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)
    assert saved.deadlines_moved == 1


def test_a_new_holiday_moves_open_deadlines_past_it(manager, marketer, routed_rep):
    agreement = AgreementFactory()
    warm = _handoff(marketer)  # due Thursday 26 November 10:00
    holiday_add(calendar_id=agreement.calendar_id, actor=manager, day=date(2026, 11, 24), name="X")
    # Monday 7 h, Tuesday off, Wednesday 8 h, Thursday 8 h, Friday 1 h
    assert Handoff.objects.get(pk=warm.pk).first_touch_due_at == datetime(
        2026, 11, 27, 10, tzinfo=BERLIN
    )


def test_a_new_agreement_takes_over_deadlines_opened_before_it_existed(
    manager, marketer, routed_rep, calendar
):
    # given a CQL handed off with no agreement in force: 1 hour on the plain clock
    cql = _handoff(marketer, stage=Stage.CQL, at=datetime(2026, 11, 27, 16, 30, tzinfo=BERLIN))
    assert cql.first_touch_due_at == datetime(2026, 11, 27, 17, 30, tzinfo=BERLIN)
    # when the Q4 agreement is written
    agreement_create(
        actor=manager,
        targets=[TargetSpec(*t) for t in USUAL_TARGETS],
        name="Q4 2026 SLA",
        starts_on=date(2026, 10, 1),
        ends_on=date(2026, 12, 31),
        calendar=calendar,
        mqls_per_month=120,
        min_acceptance_rate=70,
    )
    # then it counts business hours: 30 minutes on Friday, 30 on Monday
    deadline = Deadline.objects.get(handoff=cql)
    assert deadline.due_at == datetime(2026, 11, 30, 9, 30, tzinfo=BERLIN)
    assert deadline.agreement.name == "Q4 2026 SLA"
    assert Handoff.objects.get(pk=cql.pk).first_touch_due_at == deadline.due_at


def test_recompute_keeps_the_temperature_the_lead_was_handed_off_with(
    manager, marketer, routed_rep
):
    # given a hot MQL handed off Monday 10:00 (4 h: due 14:00) that has cooled down since
    from leads.models import Lead

    agreement = AgreementFactory()
    hot = _handoff(marketer, temperature="hot")
    Lead.objects.filter(pk=hot.lead_id).update(temperature="warm")
    # when the hot target becomes 3 hours
    agreement_update(
        agreement_id=agreement.pk,
        actor=manager,
        targets=[TargetSpec(*t) for t in USUAL_TARGETS if t[1] != "hot"]
        + [TargetSpec("mql", "hot", 3)],
    )
    # then it follows the hot target it was handed off under, not the warm one
    assert Handoff.objects.get(pk=hot.pk).first_touch_due_at == datetime(
        2026, 11, 23, 13, tzinfo=BERLIN
    )


@pytest.mark.parametrize("n", [3, 12])
def test_recompute_runs_the_same_queries_however_many_deadlines_move(
    n, manager, marketer, routed_rep
):
    # given ``n`` open MQL deadlines under the agreement
    agreement = AgreementFactory()
    for _ in range(n):
        _handoff(marketer)
    ResponseTarget.objects.filter(agreement=agreement, kind="mql", temperature="").update(hours=8)
    # when they are recomputed
    with CaptureQueriesContext(connection) as queries:
        moved = deadlines_recompute(
            started_from=date(2026, 10, 1), started_until=date(2026, 12, 31)
        )
    # then every one moved, in the same number of statements (read, terms, one batch update)
    assert moved == n
    assert len(queries) == 6
    assert Deadline.objects.filter(due_at=datetime(2026, 11, 24, 10, tzinfo=BERLIN)).count() == n


@pytest.mark.postgres
def test_recompute_updates_in_one_statement_on_postgres(manager, marketer, routed_rep):
    agreement = AgreementFactory()
    warm = _handoff(marketer)
    agreement_update(
        agreement_id=agreement.pk,
        actor=manager,
        targets=[TargetSpec("cql", "", 1), TargetSpec("pql", "", 2), TargetSpec("mql", "", 8)],
    )
    assert Handoff.objects.get(pk=warm.pk).first_touch_due_at == datetime(
        2026, 11, 24, 10, tzinfo=BERLIN
    )


@pytest.mark.postgres
def test_postgres_refuses_overlapping_agreements_even_without_the_service(calendar):
    from django.db import IntegrityError, transaction

    AgreementFactory(calendar=calendar)
    with pytest.raises(IntegrityError), transaction.atomic():
        AgreementFactory(calendar=calendar, name="Clash", starts_on=date(2026, 12, 1))


# --- the demo ------------------------------------------------------------------------------------
def test_the_sla_demo_signs_three_quarters_and_records_six_months_of_history():
    from datetime import UTC

    from django.core.management import call_command
    from django.db.models import F

    from slas.demo import sla_demo_seed
    from slas.models import Breach, Holiday

    # given the demo seeded (seed_demo calls the SLA demo before and after the sales work)
    with time_machine.travel(datetime(2026, 11, 18, 12, tzinfo=UTC), tick=False):
        call_command("seed_demo", password="demo-pass-sla")
        # then the current quarter and the two before are signed by both heads
        agreements = Agreement.objects.order_by("starts_on")
        assert [a.name for a in agreements] == ["Q2 2026 SLA", "Q3 2026 SLA", "Q4 2026 SLA"]
        assert {(a.sales_head.username, a.marketing_head.username) for a in agreements} == {
            ("manager", "marketer")
        }
        assert sorted(agreements[0].targets.values_list("kind", "temperature", "hours")) == sorted(
            USUAL_TARGETS
        )
        # on a Berlin calendar with its public holidays
        holidays = set(Holiday.objects.values_list("date", flat=True))
        assert {date(2026, 4, 3), date(2026, 10, 3), date(2026, 12, 25)} <= holidays
        # and every demo handoff has its first-touch deadline, which its due time shows,
        # across six months
        first_touch = Deadline.objects.filter(kind="first_touch")
        assert first_touch.count() == Handoff.objects.count() > 100
        assert not first_touch.exclude(due_at=F("handoff__first_touch_due_at")).exists()
        assert (
            len({(d.year, d.month) for d in first_touch.values_list("starts_at", flat=True)}) >= 6
        )
        # most first touches came in time, some late; breaches are recorded once each
        touched = first_touch.filter(met_at__isnull=False)
        on_time = touched.filter(met_at__lte=F("due_at")).count()
        assert touched.count() * 0.6 < on_time < touched.count()
        assert Breach.objects.count() > 0
        assert Breach.objects.count() == Deadline.objects.filter(breached_at__isnull=False).count()
        # when it runs again, nothing changes
        assert sla_demo_seed().__dict__ == {
            "agreements": 0,
            "holidays": 0,
            "deadlines": 0,
            "breaches": 0,
        }


def test_easter_based_holidays_fall_on_the_right_days():
    from slas.demo import berlin_holidays

    days = {name: day for day, name in berlin_holidays(2027)}
    assert days["Good Friday"] == date(2027, 3, 26)
    assert days["Easter Monday"] == date(2027, 3, 29)
    assert days["Ascension Day"] == date(2027, 5, 6)
    assert days["Whit Monday"] == date(2027, 5, 17)

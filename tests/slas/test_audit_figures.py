"""The monthly SLA audit's figures against a hand-built month with known rates and medians.

May 2026, a Berlin calendar (Mon-Fri 9-17, 1 May a holiday), times in UTC (Berlin is UTC+2
in May). Eight handoffs are created in May (H1-H8), one in April (H9) and one on each side of
the month's edges (HB1 late on 30 April UTC, HB2 early on 1 June). ``build_may`` documents
every row; the tests assert the figures worked out by hand from it.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from campaigns.models import ContentRequest
from leads.models import Handoff, Lead, Stage, Touch
from slas.audit import AuditMonth, audit_figures, percentile_cont
from slas.business_hours import business_add
from slas.models import Agreement, Breach, Deadline, Holiday
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, stage_history
from tests.slas.factories import AgreementFactory, WorkingCalendarFactory

MAY = AuditMonth(date(2026, 5, 1))
NOW = datetime(2026, 6, 2, 12, tzinfo=UTC)  # H8's deadline (due 3 June) is still running


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Month:
    alice: object
    bob: object
    webinar: object
    ebook: object
    agreement: Agreement
    handoffs: dict


history = stage_history


def handoff(
    *,
    lead: Lead,
    created: datetime,
    due: datetime,
    agreement: Agreement | None,
    kind: str = Stage.MQL,
    owner=None,
    status: str | None = None,
    met: datetime | None = None,
    cancelled: datetime | None = None,
    breached: datetime | None = None,
    accepted: datetime | None = None,
    closed: datetime | None = None,
    return_reason: str = "",
) -> Handoff:
    """A handoff with its first-touch deadline (and its breach and touch, if any)."""
    status = status or (Handoff.Status.ASSIGNED if owner else Handoff.Status.POOL)
    made = Handoff.objects.create(
        lead=lead,
        kind=kind,
        status=status,
        owner=owner,
        created_at=created,
        assigned_at=created if owner else None,
        accepted_at=accepted,
        first_touch_due_at=due,
        first_touch_at=met,
        closed_at=closed,
        return_reason=return_reason,
    )
    deadline = Deadline.objects.create(
        handoff=made,
        lead=lead,
        owner=owner,
        agreement=agreement,
        kind=Deadline.Kind.FIRST_TOUCH,
        starts_at=created,
        warn_at=created,
        due_at=due,
        met_at=met,
        cancelled_at=cancelled,
        breached_at=breached,
    )
    if breached:
        Breach.objects.create(
            deadline=deadline,
            lead=lead,
            owner=owner,
            kind=deadline.kind,
            due_at=due,
            detected_at=breached,
        )
    if met:
        Touch.objects.create(
            lead=lead, handoff=made, rep=owner, kind="call", outcome="connected", occurred_at=met
        )
    return made


def sal_idle(
    made: Handoff,
    *,
    starts: datetime,
    due: datetime,
    breached: datetime | None = None,
    met: datetime | None = None,
) -> Deadline:
    deadline = Deadline.objects.create(
        handoff=made,
        lead=made.lead,
        owner=made.owner,
        kind=Deadline.Kind.SAL_IDLE,
        starts_at=starts,
        warn_at=starts,
        due_at=due,
        met_at=met,
        breached_at=breached,
    )
    if breached:
        Breach.objects.create(
            deadline=deadline,
            lead=made.lead,
            owner=made.owner,
            kind=deadline.kind,
            due_at=due,
            detected_at=breached,
        )
    return deadline


def build_may(*, with_agreement: bool = True) -> Month:
    calendar = WorkingCalendarFactory()
    Holiday.objects.create(calendar=calendar, date=date(2026, 5, 1), name="Labour Day")
    agreement = (
        AgreementFactory(
            name="Q2 2026 SLA",
            starts_on=date(2026, 4, 1),
            ends_on=date(2026, 6, 30),
            calendar=calendar,
            mqls_per_month=10,
            min_acceptance_rate=60,
            content_turnaround_hours=16,
            max_untouched_sal_days=5,
        )
        if with_agreement
        else None
    )
    schedule = calendar.schedule()

    def due(start: datetime, hours: int) -> datetime:
        return business_add(schedule, start, timedelta(hours=hours))

    alice = UserFactory(username="alice", first_name="Alice", last_name="Archer", role="Sales rep")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Baker", role="Sales rep")
    webinar = CampaignFactory(name="Webinar")
    ebook = CampaignFactory(name="Ebook")
    h = {}

    def lead(campaign=None, **fields) -> Lead:
        return LeadFactory(source_campaign=campaign, **fields)

    # H1 Mon 4 May 11:00 Berlin, hot MQL (4 h): touched after 1 business hour; on to won.
    l1 = lead(webinar, stage=Stage.WON, kind=Stage.MQL)
    h["H1"] = handoff(
        lead=l1, agreement=agreement, created=utc(5, 4, 9), due=utc(5, 4, 13), owner=alice,
        status=Handoff.Status.CLOSED, met=utc(5, 4, 10), accepted=utc(5, 4, 12),
        closed=utc(5, 20, 9),
    )  # fmt: skip
    history(
        l1, ("new", utc(4, 28, 9)), ("mql", utc(5, 4, 9)), ("sal", utc(5, 4, 12)),
        ("sql", utc(5, 6, 9)), ("opportunity", utc(5, 10, 9)), ("won", utc(5, 20, 9)),
    )  # fmt: skip
    # H2 Tue 5 May 10:00 Berlin, MQL (24 h): touched after 2 business hours; on to SQL.
    l2 = lead(webinar, stage=Stage.SQL, kind=Stage.MQL)
    h["H2"] = handoff(
        lead=l2, agreement=agreement, created=utc(5, 5, 8), due=due(utc(5, 5, 8), 24),
        owner=alice, status=Handoff.Status.ACCEPTED, met=utc(5, 5, 10),
        accepted=utc(5, 5, 10, 30),
    )  # fmt: skip
    history(
        l2, ("new", utc(5, 1, 9)), ("mql", utc(5, 5, 8)), ("sal", utc(5, 5, 10, 30)),
        ("sql", utc(5, 12, 9)),
    )  # fmt: skip
    # H3 Fri 8 May 16:00 Berlin, PQL (2 h, due Mon 10:00): touched Mon 11:00 Berlin — 3
    # business hours (67 on the plain clock), late: a first-touch breach. Accepted, then left
    # untouched in SAL past 5 business days: a sal_idle breach, still open.
    l3 = lead(ebook, stage=Stage.SAL, kind=Stage.PQL)
    h["H3"] = handoff(
        lead=l3, agreement=agreement, kind=Stage.PQL, created=utc(5, 8, 14),
        due=utc(5, 11, 8), owner=bob, status=Handoff.Status.ACCEPTED, met=utc(5, 11, 9),
        breached=utc(5, 11, 8, 1), accepted=utc(5, 11, 9, 30),
    )  # fmt: skip
    assert due(utc(5, 8, 14), 2) == utc(5, 11, 8)
    sal_idle(
        h["H3"], starts=utc(5, 11, 9, 30), due=due(utc(5, 11, 9, 30), 40),
        breached=utc(5, 18, 9, 31),
    )  # fmt: skip
    history(l3, ("new", utc(5, 2, 9)), ("pql", utc(5, 8, 14)), ("sal", utc(5, 11, 9, 30)))
    # H4 Wed 13 May 09:00 Berlin, CQL (1 h): touched after 4 business hours (late: breach),
    # then returned. The lead's earlier cycle reached SAL in February — before this handoff.
    l4 = lead(ebook, stage=Stage.RECYCLED, kind=Stage.CQL)
    old = handoff(
        lead=l4, agreement=None, created=utc(2, 2, 9), due=utc(2, 3, 9), owner=alice,
        status=Handoff.Status.RETURNED, met=utc(2, 2, 10), accepted=utc(2, 3, 9),
        closed=utc(2, 10, 9), return_reason="not_ready",
    )  # fmt: skip
    h["H4"] = handoff(
        lead=l4, agreement=agreement, kind=Stage.CQL, created=utc(5, 13, 7),
        due=utc(5, 13, 8), owner=bob, status=Handoff.Status.RETURNED, met=utc(5, 13, 11),
        breached=utc(5, 13, 8, 1), closed=utc(5, 13, 12), return_reason="bad_fit",
    )  # fmt: skip
    history(
        l4, ("new", utc(2, 1, 9)), ("mql", utc(2, 2, 9)), ("sal", utc(2, 3, 9)),
        ("recycled", utc(2, 10, 9)), ("cql", utc(5, 13, 7)), ("recycled", utc(5, 13, 12)),
    )  # fmt: skip
    assert old.created_at.month == 2
    # H5 Fri 1 May (a holiday) 10:00 Berlin, MQL: touched Tue 5 May 11:00 Berlin — 10 business
    # hours (Monday's 8 and Tuesday's 2), within its 24. On to SQL, then lost.
    l5 = lead(None, stage=Stage.LOST, kind=Stage.MQL)
    h["H5"] = handoff(
        lead=l5, agreement=agreement, created=utc(5, 1, 8), due=due(utc(5, 1, 8), 24),
        owner=alice, status=Handoff.Status.CLOSED, met=utc(5, 5, 9), accepted=utc(5, 5, 9, 30),
        closed=utc(5, 25, 9),
    )  # fmt: skip
    history(
        l5, ("new", utc(4, 30, 9)), ("mql", utc(5, 1, 8)), ("sal", utc(5, 5, 9, 30)),
        ("sql", utc(5, 8, 9)), ("lost", utc(5, 25, 9)),
    )  # fmt: skip
    # H6 Mon 18 May, MQL in the pool, never touched: breached (owner: nobody).
    l6 = lead(webinar, stage=Stage.MQL, kind=Stage.MQL)
    h6_due = due(utc(5, 18, 10), 24)
    h["H6"] = handoff(
        lead=l6, agreement=agreement, created=utc(5, 18, 10), due=h6_due,
        breached=h6_due + timedelta(minutes=1),
    )  # fmt: skip
    history(l6, ("new", utc(5, 18, 9)), ("mql", utc(5, 18, 10)))
    # H7 Wed 20 May, MQL disqualified an hour later: its deadline was cancelled before due.
    l7 = lead(webinar, stage=Stage.DISQUALIFIED, kind=Stage.MQL)
    h["H7"] = handoff(
        lead=l7, agreement=agreement, created=utc(5, 20, 10), due=due(utc(5, 20, 10), 24),
        owner=alice, status=Handoff.Status.CLOSED, cancelled=utc(5, 20, 11),
        closed=utc(5, 20, 11),
    )  # fmt: skip
    history(l7, ("new", utc(5, 20, 9)), ("mql", utc(5, 20, 10)), ("disqualified", utc(5, 20, 11)))
    # H8 Fri 29 May, MQL due Wed 3 June: still running on 2 June.
    l8 = lead(ebook, stage=Stage.MQL, kind=Stage.MQL)
    h["H8"] = handoff(
        lead=l8, agreement=agreement, created=utc(5, 29, 10), due=due(utc(5, 29, 10), 24),
        owner=alice,
    )  # fmt: skip
    history(l8, ("new", utc(5, 29, 9)), ("mql", utc(5, 29, 10)))
    # H9 April: accepted 22 April, its sal_idle deadline fell due (breached) on 4 May and was
    # met by a late touch on 6 May. Its lead reached SQL in May: not May's cohort.
    l9 = lead(webinar, stage=Stage.SQL, kind=Stage.MQL)
    h["H9"] = handoff(
        lead=l9, agreement=agreement, created=utc(4, 20, 8), due=due(utc(4, 20, 8), 24),
        owner=alice, status=Handoff.Status.ACCEPTED, met=utc(4, 20, 9),
        accepted=utc(4, 22, 8),
    )  # fmt: skip
    sal_idle(
        h["H9"], starts=utc(4, 22, 8), due=utc(5, 4, 10), breached=utc(5, 4, 10, 1),
        met=utc(5, 6, 8),
    )  # fmt: skip
    history(
        l9, ("new", utc(4, 19, 9)), ("mql", utc(4, 20, 8)), ("sal", utc(4, 22, 8)),
        ("sql", utc(5, 7, 9)),
    )  # fmt: skip
    # HB1 30 April 23:30 UTC = 1 May 01:30 Berlin; HB2 1 June 00:30 UTC. Both touched in time.
    lb1 = lead(webinar, stage=Stage.SAL, kind=Stage.MQL)
    h["HB1"] = handoff(
        lead=lb1, agreement=agreement, created=utc(4, 30, 23, 30),
        due=due(utc(4, 30, 23, 30), 24), owner=alice, status=Handoff.Status.ACCEPTED,
        met=utc(5, 4, 8), accepted=utc(5, 4, 8, 30),
    )  # fmt: skip
    history(lb1, ("new", utc(4, 30, 9)), ("mql", utc(4, 30, 23, 30)), ("sal", utc(5, 4, 8, 30)))
    lb2 = lead(ebook, stage=Stage.MQL, kind=Stage.MQL)
    h["HB2"] = handoff(
        lead=lb2, agreement=agreement, created=utc(6, 1, 0, 30), due=due(utc(6, 1, 0, 30), 24),
        owner=alice, met=utc(6, 1, 8),
    )  # fmt: skip
    history(lb2, ("new", utc(5, 31, 9)), ("mql", utc(6, 1, 0, 30)))

    # Content requests: 10 h (on time) and 30 h (a day late) delivered in May; one in April.
    for asked, delivered, need_by in (
        (utc(5, 4, 8), utc(5, 4, 18), date(2026, 5, 5)),
        (utc(5, 10, 0), utc(5, 11, 6), date(2026, 5, 10)),
        (utc(4, 1, 8), utc(4, 2, 8), date(2026, 4, 3)),
    ):
        request = ContentRequest.objects.create(
            lead=l2, requested_by=alice, kind=ContentRequest.Kind.CASE_STUDY, need_by=need_by,
            description="Case study", status=ContentRequest.Status.DELIVERED,
            taken_at=asked, delivered_at=delivered, delivery_url="https://example.com/case",
        )  # fmt: skip
        ContentRequest.objects.filter(pk=request.pk).update(created_at=asked)
    return Month(alice, bob, webinar, ebook, agreement, h)


@pytest.fixture
def may(db):
    return build_may()


@pytest.fixture
def figures(may):
    return audit_figures(month=MAY, now=NOW)


# --- marketing ----------------------------------------------------------------------------------
def test_mqls_delivered_are_the_handoffs_created_in_the_month_by_kind(figures):
    marketing = figures["marketing"]
    assert marketing["mqls_delivered"] == 8  # H1-H8; not H9, HB1 (April) or HB2 (June)
    assert marketing["by_kind"] == {"mql": 6, "pql": 1, "cql": 1}
    assert marketing["mqls_target"] == 10
    assert marketing["mqls_target_met"] is False


def test_acceptance_rate_is_the_accepted_share_of_handoffs_sales_decided(figures):
    marketing = figures["marketing"]
    # accepted: H1, H2, H3, H5; returned without accepting: H4; undecided: H6, H7, H8
    assert (marketing["accepted"], marketing["returned"], marketing["decided"]) == (4, 1, 5)
    assert marketing["undecided"] == 3
    assert marketing["acceptance_rate"] == 80.0
    assert marketing["min_acceptance_rate"] == 60.0
    assert marketing["acceptance_met"] is True


def test_content_request_turnaround_is_shown_against_the_commitment(figures):
    assert figures["content_requests"] == {
        "delivered": 2,
        "on_time": 1,
        "on_time_rate": 50.0,
        "median_hours": 20.0,
        "p90_hours": 30.0,
        "commitment_hours": 16,
        "median_within_commitment": False,
    }


# --- sales --------------------------------------------------------------------------------------
def test_touched_within_sla_leaves_out_cancelled_and_running_deadlines(figures):
    first_touch = figures["sales"]["first_touch"]
    assert first_touch["started"] == 8
    assert first_touch["cancelled_before_due"] == 1  # H7
    assert first_touch["running"] == 1  # H8
    assert first_touch["counted"] == 6
    assert first_touch["within_sla"] == 3  # H1, H2, H5
    assert first_touch["missed"] == 3  # H3, H4 late; H6 never touched
    assert first_touch["within_sla_rate"] == 50.0


def test_median_and_p90_time_to_first_touch_count_business_hours(figures):
    first_touch = figures["sales"]["first_touch"]
    # touched after 1, 2, 3 (over a weekend), 4 and 10 (over a holiday) business hours
    assert figures["sales"]["clock"] == "business"
    assert first_touch["touched"] == 5
    assert first_touch["median_hours"] == 3.0
    assert first_touch["p90_hours"] == 7.6  # 4 + 0.6 * (10 - 4)


def test_breaches_count_by_due_month_owner_and_kind(figures):
    sales = figures["sales"]
    assert sales["breaches"] == {"total": 5, "first_touch": 3, "sal_idle": 2}
    # sal_idle breaches in May: H9 (touched later) and H3 (still untouched)
    assert sales["untouched_sal"] == {"breached": 2, "still_open": 1, "limit_days": 5}


def test_per_rep_table(figures, may):
    reps = {row["name"]: row for row in figures["sales"]["reps"]}
    assert list(reps) == ["Alice Archer", "Bob Baker", "Unassigned (pool)"]
    assert reps["Alice Archer"] == {
        "rep_id": may.alice.pk,
        "name": "Alice Archer",
        "handoffs": 5,  # H1, H2, H5, H7 (cancelled), H8 (running)
        "counted": 3,
        "within_sla": 3,
        "within_sla_rate": 100.0,
        "touched": 3,
        "median_hours": 2.0,  # 1, 2, 10
        "p90_hours": 8.4,  # 2 + 0.8 * (10 - 2)
        "breaches": 1,
        "breaches_first_touch": 0,
        "breaches_sal_idle": 1,  # H9
    }
    bob = reps["Bob Baker"]
    assert (bob["handoffs"], bob["counted"], bob["within_sla"], bob["within_sla_rate"]) == (
        2,
        2,
        0,
        0.0,
    )
    assert (bob["median_hours"], bob["p90_hours"]) == (3.5, 3.9)
    assert (bob["breaches"], bob["breaches_first_touch"], bob["breaches_sal_idle"]) == (3, 2, 1)
    pool = reps["Unassigned (pool)"]
    assert pool["rep_id"] is None
    assert (pool["handoffs"], pool["within_sla_rate"], pool["median_hours"]) == (1, 0.0, None)
    assert pool["breaches_first_touch"] == 1


# --- the funnel ---------------------------------------------------------------------------------
def test_funnel_counts_stages_reached_after_the_handoff(figures):
    # SAL: H1, H2, H3, H5 (H4's lead reached SAL only in February, before its May handoff)
    assert figures["funnel"] == {
        "mql": 8,
        "sal": 4,
        "sql": 3,  # H1, H2, H5
        "won": 1,  # H1
        "sal_rate": 50.0,
        "sql_rate": 75.0,
        "won_rate": 33.3,
        "mql_to_won_rate": 12.5,
    }


def test_by_campaign_delivery_acceptance_and_funnel(figures, may):
    rows = {row["name"]: row for row in figures["campaigns"]}
    assert [row["name"] for row in figures["campaigns"]] == ["Webinar", "Ebook", "No campaign"]
    webinar, ebook, none = rows["Webinar"], rows["Ebook"], rows["No campaign"]
    assert webinar["campaign_id"] == may.webinar.pk
    assert (webinar["mqls"], webinar["decided"], webinar["accepted"]) == (4, 2, 2)
    assert (webinar["acceptance_rate"], webinar["sal"], webinar["sql"], webinar["won"]) == (
        100.0,
        2,
        2,
        1,
    )
    assert ebook["by_kind"] == {"mql": 1, "pql": 1, "cql": 1}
    assert (ebook["mqls"], ebook["decided"], ebook["accepted"], ebook["acceptance_rate"]) == (
        3,
        2,
        1,
        50.0,
    )
    assert (ebook["sal"], ebook["sql"], ebook["won"], ebook["sal_rate"]) == (1, 0, 0, 33.3)
    assert none["campaign_id"] is None
    assert (none["mqls"], none["accepted"], none["sal"], none["sql"], none["won"]) == (
        1,
        1,
        1,
        1,
        0,
    )


# --- the trend ----------------------------------------------------------------------------------
def test_six_month_trend(figures):
    trend = {row["month"]: row for row in figures["trend"]}
    assert list(trend) == ["2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05"]
    assert trend["2025-12"] == {
        "month": "2025-12",
        "label": "Dec 2025",
        "mqls": 0,
        "mqls_target": None,
        "counted": 0,
        "within_sla_rate": None,
        "breaches": 0,
        "breaches_first_touch": 0,
        "breaches_sal_idle": 0,
    }
    assert (trend["2026-02"]["mqls"], trend["2026-02"]["within_sla_rate"]) == (1, 100.0)
    assert trend["2026-04"]["mqls"] == 2  # H9 and HB1
    assert trend["2026-04"]["mqls_target"] == 10
    assert trend["2026-04"]["within_sla_rate"] == 100.0
    may_row = trend["2026-05"]
    assert (may_row["mqls"], may_row["within_sla_rate"], may_row["breaches"]) == (8, 50.0, 5)
    assert (may_row["breaches_first_touch"], may_row["breaches_sal_idle"]) == (3, 2)


# --- edges --------------------------------------------------------------------------------------
def test_month_edges_follow_the_site_time_zone(may, settings):
    # given the site runs on Berlin time
    settings.TIME_ZONE = "Europe/Berlin"
    # when the audit reads May
    figures = audit_figures(month=MAY, now=NOW)
    # then HB1 (30 April 23:30 UTC = 1 May 01:30 Berlin) belongs to May, not April
    assert figures["period"]["start"] == "2026-05-01T00:00:00+02:00"
    assert figures["marketing"]["mqls_delivered"] == 9
    assert figures["sales"]["first_touch"]["started"] == 9
    assert figures["trend"][-2]["mqls"] == 1


def test_without_an_agreement_there_are_no_targets_and_times_run_on_the_plain_clock(db):
    build_may(with_agreement=False)
    figures = audit_figures(month=MAY, now=NOW)
    assert figures["agreement"] is None
    assert figures["marketing"]["mqls_target"] is None
    assert figures["marketing"]["acceptance_met"] is None
    assert figures["sales"]["clock"] == "wall"
    # plain-clock hours: 1, 2, 4, 67 (H3 over the weekend), 97 (H5 over the long weekend)
    assert figures["sales"]["first_touch"]["median_hours"] == 4.0
    assert figures["sales"]["first_touch"]["p90_hours"] == 85.0  # 67 + 0.6 * (97 - 67)


def test_a_month_without_data_has_zeros_and_no_rates(db):
    figures = audit_figures(month=AuditMonth(date(2024, 2, 1)), now=NOW)
    assert figures["marketing"]["mqls_delivered"] == 0
    assert figures["marketing"]["acceptance_rate"] is None
    assert figures["sales"]["first_touch"]["within_sla_rate"] is None
    assert figures["sales"]["first_touch"]["median_hours"] is None
    assert figures["sales"]["reps"] == []
    assert figures["campaigns"] == []
    assert [row["mqls"] for row in figures["trend"]] == [0] * 6


@pytest.mark.parametrize(
    ("value", "first"),
    [("2026-05", date(2026, 5, 1)), (" 2026-5 ", date(2026, 5, 1)), ("2000-01", date(2000, 1, 1))],
)
def test_a_month_is_given_as_year_and_month(value, first):
    assert AuditMonth.parse(value).first == first


@pytest.mark.parametrize("value", ["", "May", "2026-13", "2026-00", "1999-12", "2100-01", "26-05"])
def test_an_unusable_month_is_refused_with_a_reason(value):
    with pytest.raises(ValueError, match=r"\S"):
        AuditMonth.parse(value)


def test_month_arithmetic_crosses_years():
    december = AuditMonth(date(2025, 12, 1))
    assert december.shift(1).key == "2026-01"
    assert december.shift(-12).key == "2024-12"
    assert december.last == date(2025, 12, 31)
    assert AuditMonth.before(date(2026, 1, 15)).key == "2025-12"


def test_percentile_interpolates_like_postgres():
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([5.0], 0.9) == 5.0
    assert percentile_cont([1.0, 2.0, 3.0, 4.0, 10.0], 0.9) == pytest.approx(7.6)
    assert percentile_cont([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5

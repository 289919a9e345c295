"""The shared funnel: counts, conversion, time in stage, filters, periods and query counts."""

from datetime import date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leads.models import Stage
from leads.pipeline import FunnelFilters, duration_short, funnel_build, period_resolve
from leads.services import lead_transition
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import LeadFactory, stage_history

JANUARY = period_resolve(preset="custom", first=date(2026, 1, 1), last=date(2026, 1, 31))
HOUR = 3600


def at(day: int, hour: int = 0, month: int = 1, year: int = 2026) -> datetime:
    return timezone.make_aware(datetime(year, month, day, hour))


history = stage_history


@pytest.fixture
def world(rep, other_rep):
    """Six leads with known paths around January 2026.

    A  C1 rep        new 2 Jan 00h → mql +10h → sal +24h → sql +48h → opp +5d → won +10d
    B  C1 other_rep  new 4 Jan 00h → pql +2h → sal +4h → recycled +4d
    C  C2            new 10 Jan 00h → mql +6h (still MQL)
    D  —             new 15 Jan (still new)
    E  C2            new 20 Dec → cql 30 Dec → disqualified 2 Jan (3 days in CQL)
    F  —             new 10 Feb (outside January)
    """
    c1, c2 = CampaignFactory(name="C1"), CampaignFactory(name="C2")
    a = LeadFactory(stage=Stage.WON, kind=Stage.MQL, source_campaign=c1, owner=rep)
    history(
        a,
        (Stage.NEW, at(2)),
        (Stage.MQL, at(2, 10)),
        (Stage.SAL, at(3, 10)),
        (Stage.SQL, at(5, 10)),
        (Stage.OPPORTUNITY, at(10, 10)),
        (Stage.WON, at(20, 10)),
    )
    b = LeadFactory(stage=Stage.RECYCLED, kind=Stage.PQL, source_campaign=c1, owner=other_rep)
    history(
        b,
        (Stage.NEW, at(4)),
        (Stage.PQL, at(4, 2)),
        (Stage.SAL, at(4, 6)),
        (Stage.RECYCLED, at(8, 6)),
    )
    c = LeadFactory(stage=Stage.MQL, kind=Stage.MQL, source_campaign=c2)
    history(c, (Stage.NEW, at(10)), (Stage.MQL, at(10, 6)))
    d = LeadFactory(stage=Stage.NEW)
    history(d, (Stage.NEW, at(15)))
    e = LeadFactory(stage=Stage.DISQUALIFIED, kind=Stage.CQL, source_campaign=c2)
    history(
        e,
        (Stage.NEW, at(20, month=12, year=2025)),
        (Stage.CQL, at(30, month=12, year=2025)),
        (Stage.DISQUALIFIED, at(2)),
    )
    f = LeadFactory(stage=Stage.NEW)
    history(f, (Stage.NEW, at(10, month=2)))
    return {"c1": c1, "c2": c2, "leads": (a, b, c, d, e, f)}


def rows(funnel):
    return {row.step.key: row for row in funnel.rows}


@pytest.mark.django_db
def test_reached_counts_distinct_leads_entering_each_stage_in_the_period(world):
    # given the hand-built world
    # when the funnel is built for January
    funnel = rows(funnel_build(period=JANUARY))
    # then each stage counts the leads that entered it in January, once each
    reached = {key: row.reached for key, row in funnel.items()}
    assert reached == {
        "new": 4,
        "qualified": 3,
        "mql": 2,
        "pql": 1,
        "cql": 0,
        "sal": 2,
        "sql": 1,
        "opportunity": 1,
        "won": 1,
        "recycled": 1,
        "lost": 0,
        "disqualified": 1,
    }


@pytest.mark.django_db
def test_in_stage_now_counts_current_stages_whatever_the_period(world):
    funnel = rows(funnel_build(period=JANUARY))
    now = {key: row.now for key, row in funnel.items() if row.now}
    assert now == {
        "new": 2,
        "qualified": 1,
        "mql": 1,
        "won": 1,
        "recycled": 1,
        "disqualified": 1,
    }


@pytest.mark.django_db
def test_conversion_is_the_share_of_the_previous_stages_cohort_that_went_on(world):
    funnel = rows(funnel_build(period=JANUARY))
    # new → qualified: A, B, C of A, B, C, D
    assert (funnel["qualified"].cohort, funnel["qualified"].converted) == (4, 3)
    assert funnel["qualified"].conversion_pct == 75.0
    assert (funnel["mql"].converted, funnel["pql"].converted, funnel["cql"].converted) == (2, 1, 0)
    # qualified → SAL: A and B of A, B, C; the drop-off is C
    assert (funnel["sal"].cohort, funnel["sal"].converted) == (3, 2)
    assert funnel["sal"].conversion_pct == 66.7
    assert (funnel["sal"].drop_off, funnel["sal"].drop_off_pct) == (1, 33.3)
    assert (funnel["sql"].cohort, funnel["sql"].converted) == (2, 1)
    assert funnel["opportunity"].conversion_pct == 100.0
    assert funnel["won"].conversion_pct == 100.0
    # the first stage and the side exits have no previous stage
    assert funnel["new"].conversion is None
    assert funnel["recycled"].conversion is None


@pytest.mark.django_db
def test_median_time_in_stage_is_over_stays_that_ended_in_the_period(world):
    funnel = rows(funnel_build(period=JANUARY))
    medians = {key: (row.median_seconds, row.stays) for key, row in funnel.items()}
    # new: A 10 h, B 2 h, C 6 h (D is still new; E left new in December)
    assert medians["new"] == (6 * HOUR, 3)
    # qualified: A 24 h in MQL, B 4 h in PQL, E 72 h in CQL (C is still an MQL)
    assert medians["qualified"] == (24 * HOUR, 3)
    assert medians["mql"] == (24 * HOUR, 1)
    assert medians["pql"] == (4 * HOUR, 1)
    assert medians["cql"] == (72 * HOUR, 1)
    # SAL: A 48 h, B 96 h: the median of two is their mean
    assert medians["sal"] == (72 * HOUR, 2)
    assert medians["sql"] == (5 * 24 * HOUR, 1)
    assert medians["opportunity"] == (10 * 24 * HOUR, 1)
    # final stages and stays still running have no median
    assert medians["won"] == (None, 0)
    assert medians["recycled"] == (None, 0)
    assert funnel["sal"].median_display == "3 d"


@pytest.mark.django_db
def test_campaign_filter_keeps_only_the_campaigns_leads(world):
    funnel = rows(funnel_build(period=JANUARY, filters=FunnelFilters(campaign=world["c1"].pk)))
    assert [funnel[k].reached for k in ("new", "qualified", "sal", "sql", "won", "recycled")] == [
        2,
        2,
        2,
        1,
        1,
        1,
    ]
    assert funnel["new"].now == 0


@pytest.mark.django_db
def test_owner_filter_keeps_only_the_owners_leads(world, rep, other_rep):
    mine = rows(funnel_build(period=JANUARY, filters=FunnelFilters(owner=rep.pk)))
    theirs = rows(funnel_build(period=JANUARY, filters=FunnelFilters(owner=other_rep.pk)))
    assert (mine["won"].reached, mine["recycled"].reached, mine["new"].reached) == (1, 0, 1)
    assert (theirs["won"].reached, theirs["recycled"].reached, theirs["pql"].reached) == (0, 1, 1)
    assert mine["sal"].median_seconds == 24 * HOUR * 2


@pytest.mark.django_db
def test_kind_filter_keeps_only_leads_qualified_that_way(world):
    funnel = rows(funnel_build(period=JANUARY, filters=FunnelFilters(kind=Stage.PQL)))
    assert {k: r.reached for k, r in funnel.items() if r.reached} == {
        "new": 1,
        "qualified": 1,
        "pql": 1,
        "sal": 1,
        "recycled": 1,
    }
    assert funnel["sal"].conversion_pct == 100.0


@pytest.mark.django_db
def test_the_period_decides_what_counts(world):
    # given February holds only F's creation and December E's first two moves
    february = period_resolve(preset="custom", first=date(2026, 2, 1), last=date(2026, 2, 28))
    december = period_resolve(preset="custom", first=date(2025, 12, 1), last=date(2025, 12, 31))
    feb, dec = rows(funnel_build(period=february)), rows(funnel_build(period=december))
    # then each period counts its own moves
    assert {k: r.reached for k, r in feb.items() if r.reached} == {"new": 1}
    assert {k: r.reached for k, r in dec.items() if r.reached} == {
        "new": 1,
        "qualified": 1,
        "cql": 1,
    }
    # and conversion follows the December cohort into January: E reached CQL, not SAL
    assert dec["cql"].conversion_pct == 100.0
    assert dec["sal"].conversion_pct == 0.0


def test_period_presets_cover_whole_local_days():
    today = date(2026, 3, 15)
    spans = {
        preset: (p.first, p.last)
        for preset in ("90d", "this_month", "last_month", "quarter")
        for p in [period_resolve(preset=preset, today=today)]
    }
    assert spans == {
        "90d": (date(2025, 12, 16), today),
        "this_month": (date(2026, 3, 1), today),
        "last_month": (date(2026, 2, 1), date(2026, 2, 28)),
        "quarter": (date(2026, 1, 1), today),
    }
    custom = period_resolve(preset="custom", first=date(2026, 2, 3), last=date(2026, 2, 1))
    assert (custom.first, custom.last) == (date(2026, 2, 1), date(2026, 2, 3))
    assert custom.end - custom.start == timedelta(days=3)
    # a custom period without both days falls back to the default
    assert period_resolve(preset="custom", first=date(2026, 2, 3), today=today).preset == "90d"


def test_durations_read_the_way_people_say_them():
    assert [duration_short(s) for s in (45 * 60, 5 * HOUR + 20 * 60, 26 * HOUR, 76 * HOUR)] == [
        "45 min",
        "5 h 20 min",
        "26 h",
        "3 d 4 h",
    ]


@pytest.mark.django_db
def test_funnel_counts_moves_made_through_the_lifecycle_service(marketer, rep):
    # given a lead a marketer qualified and the rep (who claimed it) accepted, today
    from leads.services import lead_claim

    created = timezone.now() - timedelta(hours=3)
    lead = LeadFactory(stage=Stage.NEW, stage_changed_at=created)
    history(lead, (Stage.NEW, created))
    lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL, note="asked for a demo")
    lead_claim(lead_id=lead.pk, rep=rep)
    lead_transition(lead_id=lead.pk, actor=rep, to=Stage.SAL)
    # when the default period (last 90 days) is read
    funnel = rows(funnel_build(period=period_resolve()))
    # then the lead reached new, MQL and SAL and sits in SAL now
    assert [funnel[k].reached for k in ("new", "mql", "sal", "sql")] == [1, 1, 1, 0]
    assert funnel["sal"].now == 1
    assert funnel["sal"].conversion_pct == 100.0
    assert funnel["new"].stays == 1
    assert 2.9 * HOUR < funnel["new"].median_seconds < 3.1 * HOUR


def _leads_with_history(n: int, campaign) -> None:
    for i in range(n):
        lead = LeadFactory(stage=Stage.SAL, kind=Stage.MQL, source_campaign=campaign)
        history(
            lead,
            (Stage.NEW, at(2 + i % 20)),
            (Stage.MQL, at(2 + i % 20, 5)),
            (Stage.SAL, at(3 + i % 20, 1)),
        )


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, 30])
def test_funnel_takes_three_queries_whatever_the_number_of_leads(n, django_assert_num_queries):
    # given n leads with histories
    _leads_with_history(n, CampaignFactory())
    # when the funnel is built, then it takes three queries: reached and converted, now, medians
    with django_assert_num_queries(3):
        funnel = rows(funnel_build(period=JANUARY))
    assert funnel["sal"].reached == n


@pytest.mark.django_db
@pytest.mark.parametrize("n", [3, 30])
def test_pipeline_page_takes_a_fixed_number_of_queries(
    n, client_for, marketer, django_assert_num_queries
):
    # given n leads and a marketer
    campaign = CampaignFactory()
    _leads_with_history(n, campaign)
    client = client_for(marketer)
    url = reverse("leads:pipeline") + "?period=custom&start=2026-01-01&end=2026-01-31"
    # when the page is opened with every filter set, then the query count does not grow:
    # session, user, roles, campaigns, reps, 3 funnel queries, unread notifications
    with django_assert_num_queries(9):
        response = client.get(f"{url}&campaign={campaign.pk}&kind=mql")
    assert response.status_code == 200
    assert response.context["funnel"].rows[5].reached == n


@pytest.mark.django_db
def test_pipeline_page_draws_bars_and_links_each_stage_to_its_leads(world, client_for, marketer):
    # given the world and a marketer
    client = client_for(marketer)
    # when they open January's funnel for campaign C1
    c1 = world["c1"].pk
    response = client.get(
        reverse("leads:pipeline"),
        {"period": "custom", "start": "2026-01-01", "end": "2026-01-31", "campaign": c1},
    )
    html = response.content.decode()
    # then it draws inline SVG bars and links stages to the leads list with the filters
    assert response.status_code == 200
    assert "<svg" in html and 'class="bar' in html
    assert 'style="' not in html.split("<main", 1)[1]
    list_url = reverse("leads:list")
    assert f"{list_url}?stage=sal&amp;campaign={c1}" in html
    assert (
        f"{list_url}?reached=sal&amp;period=custom&amp;start=2026-01-01&amp;end=2026-01-31"
        f"&amp;campaign={c1}"
    ) in html


@pytest.mark.django_db
def test_reps_see_the_same_funnel_and_each_stage_opens_the_leads_they_own_in_it(
    world, client_for, rep
):
    # given the world, where the rep owns lead A (won) and another rep owns B (recycled)
    client = client_for(rep)
    january = {"period": "custom", "start": "2026-01-01", "end": "2026-01-31"}
    # when the rep opens January's funnel
    response = client.get(reverse("leads:pipeline"), january)
    # then the figures are the team's, as marketing sees them
    assert response.status_code == 200
    funnel = rows(response.context["funnel"])
    assert (funnel["won"].reached, funnel["sal"].reached) == (1, 2)
    html = response.content.decode()
    assert "a figure's link lists the leads of it that you own" in html
    # and following SAL's "reached" link lists the one of the two that is theirs
    sal = next(r for r in response.context["main_rows"] if r["row"].step.key == "sal")
    listed = client.get(sal["href"].replace("&amp;", "&"))
    assert [lead.pk for lead in listed.context["leads"]] == [world["leads"][0].pk]


@pytest.mark.django_db
def test_the_qualified_step_opens_the_leads_in_mql_pql_or_cql(world, client_for, marketer):
    client = client_for(marketer)
    january = {"period": "custom", "start": "2026-01-01", "end": "2026-01-31"}
    response = client.get(reverse("leads:pipeline"), january)
    qualified = next(r for r in response.context["main_rows"] if r["row"].step.key == "qualified")
    # the "now" link lists C (MQL), the "reached" link A, B and C (E went CQL in December)
    a, b, c, *_ = world["leads"]
    now = client.get(qualified["now_href"])
    assert [lead.pk for lead in now.context["leads"]] == [c.pk]
    reached = client.get(qualified["href"])
    assert {lead.pk for lead in reached.context["leads"]} == {a.pk, b.pk, c.pk}
    assert "entered MQL, PQL or CQL in" in reached.content.decode()


@pytest.mark.django_db
def test_a_custom_period_without_days_says_so_and_shows_the_default(client_for, marketer):
    response = client_for(marketer).get(reverse("leads:pipeline"), {"period": "custom"})
    assert response.status_code == 200
    assert "Choose both days of a custom period." in response.content.decode()
    assert response.context["period"].preset == "90d"

"""Closed loop per campaign and the comparison of campaigns, against a hand-built data set."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.selectors import campaign_closed_loop, campaign_comparison
from leads.models import Handoff, Lead, LeadFeedback, LeadStageChange
from tests.campaigns.factories import CampaignFactory, history
from tests.leads.factories import HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def returned(lead, reason: str) -> None:
    HandoffFactory(
        lead=lead,
        status=Handoff.Status.RETURNED,
        closed_at=lead.created_at,
        return_reason=reason,
    )


@pytest.fixture
def data(rep):
    """Campaign A (cost 1,000) brought five leads:
    L1 new · L2 mql→recycled (bad fit) · L3 mql→sal→sql→opportunity→won 3,000
    L4 pql→sal→sql→opportunity→lost · L5 mql→sal→recycled (no budget).
    Ratings: L3 good, L4 poor, L5 good. Campaign B (cost 0) won 500 from one lead.
    Campaign C brought nothing. One lead has no campaign (won 9,999: counted nowhere)."""
    a = CampaignFactory(name="A", cost=Decimal("1000"), start_date=D(2026, 9, 1))
    b = CampaignFactory(name="B", cost=Decimal("0"), start_date=D(2026, 10, 1))
    c = CampaignFactory(name="C", cost=Decimal("250"), start_date=D(2026, 10, 15))
    l1 = LeadFactory(source_campaign=a)
    history(l1)
    l2 = LeadFactory(source_campaign=a, stage="recycled", kind="mql")
    history(l2, "mql", "recycled")
    returned(l2, "bad_fit")
    l3 = LeadFactory(source_campaign=a, stage="won", kind="mql", deal_amount=Decimal("3000"))
    history(l3, "mql", "sal", "sql", "opportunity", "won")
    l4 = LeadFactory(source_campaign=a, stage="lost", kind="pql", deal_amount=Decimal("800"))
    history(l4, "pql", "sal", "sql", "opportunity", "lost")
    l5 = LeadFactory(source_campaign=a, stage="recycled", kind="mql")
    history(l5, "mql", "sal", "recycled")
    returned(l5, "no_budget")
    for lead, rating in ((l3, "good"), (l4, "poor"), (l5, "good")):
        LeadFeedback.objects.create(lead=lead, rep=rep, rating=rating, moment="close")
    lb = LeadFactory(source_campaign=b, stage="won", kind="cql", deal_amount=Decimal("500"))
    history(lb, "cql", "sal", "sql", "opportunity", "won")
    orphan = LeadFactory(source_campaign=None, stage="won", deal_amount=Decimal("9999"))
    history(orphan, "mql", "sal", "sql", "opportunity", "won")
    return {"a": a, "b": b, "c": c}


def test_closed_loop_figures_match_the_hand_built_data_set(data):
    loop = campaign_closed_loop(campaign_id=data["a"].pk)
    f = loop.funnel
    assert (f.leads, f.mql, f.sal, f.sql, f.won) == (5, 4, 3, 2, 1)
    assert f.revenue == Decimal("3000")
    assert loop.cost == Decimal("1000")
    assert loop.roi == pytest.approx(2.0)  # (3000 - 1000) / 1000
    assert (f.mql_rate, f.sal_rate, f.sql_rate, f.won_rate) == pytest.approx(
        (4 / 5, 3 / 4, 2 / 3, 1 / 2)
    )
    assert f.lead_to_won == pytest.approx(1 / 5)
    assert loop.quality == pytest.approx(2 / 3)  # good=1, poor=0 over three ratings
    assert sorted(loop.return_reasons) == [("Bad fit", 1), ("No budget", 1)]


def test_first_and_last_touch_both_credit_the_source_campaign_until_events_exist(data):
    loop = campaign_closed_loop(campaign_id=data["a"].pk)
    first, last = loop.attribution["first_touch"], loop.attribution["last_touch"]
    assert (first.leads, first.won, first.revenue) == (5, 1, Decimal("3000"))
    assert (last.leads, last.won, last.revenue) == (first.leads, first.won, first.revenue)


def test_a_free_campaign_has_no_roi_and_an_empty_one_has_zeros(data):
    b = campaign_closed_loop(campaign_id=data["b"].pk)
    assert (b.funnel.won, b.revenue, b.roi) == (1, Decimal("500"), None)
    c = campaign_closed_loop(campaign_id=data["c"].pk)
    assert (c.funnel.leads, c.revenue, c.quality, c.funnel.mql_rate) == (0, 0, None, None)
    assert c.roi == pytest.approx(-1.0)


def test_a_lead_that_cycled_twice_counts_once_per_step(data):
    lead = Lead.objects.get(
        source_campaign=data["a"], stage="recycled", handoffs__return_reason="bad_fit"
    )
    LeadStageChange.objects.create(
        lead=lead,
        from_stage="recycled",
        to_stage="mql",
        created_at=lead.created_at,
        stage_entered_at=lead.created_at,
    )
    assert campaign_closed_loop(campaign_id=data["a"].pk).funnel.mql == 4


def test_comparison_covers_campaigns_in_the_period_sorted_by_roi(data):
    rows = campaign_comparison(start=D(2026, 9, 1), end=D(2026, 12, 31), sort="roi")
    # A: +200%, C: -100%, B: no cost so no ROI, last
    assert [r.campaign.name for r in rows] == ["A", "C", "B"]
    rows = campaign_comparison(
        start=D(2026, 10, 1), end=D(2026, 10, 20), sort="name", descending=False
    )
    assert [r.campaign.name for r in rows] == ["A", "B", "C"]  # A runs until 1 Oct
    rows = campaign_comparison(start=D(2026, 10, 10), end=D(2026, 10, 20), sort="revenue")
    assert [r.campaign.name for r in rows] == ["B", "C"]


def test_results_page_shows_the_figures_and_states_the_attribution_honestly(
    client_for, marketer, data
):
    response = client_for(marketer).get(reverse("campaigns:results", args=[data["a"].pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "3,000" in html and "200.0%" in html and "66.7%" in html
    assert "latest engagement event that carried one" in html
    assert "<svg" in html and 'style="' not in html


def test_comparison_page_sorts_and_draws_bars(client_for, marketer, data):
    response = client_for(marketer).get(
        reverse("campaigns:comparison"),
        {"from": "2026-09-01", "to": "2026-12-31", "sort": "revenue", "dir": "desc"},
    )
    html = response.content.decode()
    assert [r["loop"].campaign.name for r in response.context["rows"]] == ["A", "B", "C"]
    assert 'aria-sort="descending"' in html and 'class="revenue"' in html
    assert 'style="' not in html


def test_rep_cannot_open_results(client_for, rep, data):
    assert client_for(rep).get(reverse("campaigns:comparison")).status_code == 403
    assert client_for(rep).get(reverse("campaigns:results", args=[data["a"].pk])).status_code == 403


def _campaigns_with_leads(n: int) -> None:
    campaigns = Campaign.objects.bulk_create(
        Campaign(
            name=f"Bulk {i}",
            start_date=D(2026, 10, 1),
            end_date=D(2026, 10, 31),
            cost=Decimal(100 + i),
        )
        for i in range(n)
    )
    leads = Lead.objects.bulk_create(
        Lead(
            email=f"bulk{c.pk}@example.com",
            source_campaign=c,
            stage="won",
            deal_amount=Decimal("1000"),
        )
        for c in campaigns
    )
    LeadStageChange.objects.bulk_create(
        LeadStageChange(lead=lead, to_stage=stage, created_at=lead.created_at)
        for lead in leads
        for stage in ("new", "mql", "sal", "sql", "opportunity", "won")
    )


def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


def test_comparison_renders_500_campaigns_in_a_fixed_number_of_queries(
    client_for, marketer, django_assert_num_queries
):
    client = client_for(marketer)
    url, params = reverse("campaigns:comparison"), {"from": "2026-10-01", "to": "2026-10-31"}
    _campaigns_with_leads(5)
    baseline = _queries(client, url, params)
    _campaigns_with_leads(45)
    with django_assert_num_queries(baseline):
        client.get(url, params)
    _campaigns_with_leads(450)
    with django_assert_num_queries(baseline):
        response = client.get(url, params)
    assert len(response.context["rows"]) == 500
    assert response.context["totals"]["won"] == 500


def test_campaign_results_page_query_count_does_not_grow_with_leads(
    client_for, marketer, django_assert_num_queries
):
    campaign = CampaignFactory()
    client = client_for(marketer)
    url = reverse("campaigns:results", args=[campaign.pk])
    baseline = _queries(client, url, {})
    for _ in range(30):
        lead = LeadFactory(source_campaign=campaign, stage="won", deal_amount=Decimal(10))
        history(lead, "mql", "sal", "sql", "opportunity", "won")
        LeadFeedback.objects.create(lead=lead, rating="good", moment="close")
    with django_assert_num_queries(baseline):
        response = client.get(url)
    assert response.context["loop"].funnel.won == 30


@pytest.mark.django_db
def test_last_touch_credits_the_campaign_of_the_latest_engagement(marketer):
    from django.utils import timezone

    from campaigns.selectors import campaign_closed_loop, campaign_leads
    from leads.models import EngagementEvent
    from tests.campaigns.factories import CampaignFactory
    from tests.leads.factories import LeadFactory

    # given a lead sourced by the webinar that later clicked the newsletter's link
    webinar, newsletter = CampaignFactory(name="Webinar"), CampaignFactory(name="Newsletter")
    lead = LeadFactory(source_campaign=webinar)
    now = timezone.now()
    EngagementEvent.objects.create(
        lead=lead, kind="webinar_attended", occurred_at=now, campaign=webinar
    )
    EngagementEvent.objects.create(
        lead=lead,
        kind="email_click",
        occurred_at=now + timezone.timedelta(days=2),
        campaign=newsletter,
    )
    # then first touch stays with the webinar and last touch goes to the newsletter
    webinar_loop = campaign_closed_loop(campaign_id=webinar.pk)
    newsletter_loop = campaign_closed_loop(campaign_id=newsletter.pk)
    assert webinar_loop.attribution["first_touch"].leads == 1
    assert webinar_loop.attribution["last_touch"].leads == 0
    assert newsletter_loop.attribution["last_touch"].leads == 1
    # and the newsletter's lead list includes the lead it engaged
    assert list(campaign_leads(campaign=newsletter, user=marketer)) == [lead]

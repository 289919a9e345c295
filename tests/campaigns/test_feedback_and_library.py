"""Sales feedback rolled up for marketing; the enablement library."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from campaigns.selectors import feedback_rollup, size_band
from leads.models import LeadFeedback
from tests.campaigns.factories import (
    CampaignFactory,
    EnablementResourceFactory,
    FollowUpTemplateFactory,
    campaign_with_points,
    history,
)
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def rate(lead, rating, *tags, comment=""):
    return LeadFeedback.objects.create(
        lead=lead, rating=rating, moment="close", tags=list(tags), comment=comment
    )


def test_feedback_is_rolled_up_per_campaign_industry_size_and_kind(rep):
    webinar = CampaignFactory(name="Webinar")
    fintech = LeadFactory(
        source_campaign=webinar, industry="Fintech", company_size=40, kind="mql", stage="sql"
    )
    history(fintech, "mql", "sal", "sql")
    retail = LeadFactory(
        source_campaign=webinar, industry="Retail", company_size=2500, kind="pql", stage="won"
    )
    history(retail, "pql", "sal", "sql", "opportunity", "won")
    rate(fintech, "poor", "too_small", "no_budget", comment="Said 'just looking'")
    rate(fintech, "poor", "too_small")
    rate(retail, "good", "has_budget")
    today = timezone.localdate()
    rollup = feedback_rollup(since=today - datetime.timedelta(days=7), until=today)

    [by_campaign] = rollup["campaign"]
    assert (by_campaign.label, by_campaign.ratings, by_campaign.good) == ("Webinar", 3, 1)
    assert by_campaign.quality == pytest.approx(1 / 3)
    assert (by_campaign.funnel.leads, by_campaign.funnel.sql, by_campaign.funnel.won) == (2, 2, 1)
    industry = {row.label: row for row in rollup["industry"]}
    assert industry["Fintech"].top_tags[0] == ("Company too small", 2)
    assert industry["Retail"].quality == 1.0
    sizes = [row.label for row in rollup["size"]]
    assert sizes == ["1–49", "1,000–4,999"]
    kinds = {row.label: (row.ratings, row.funnel.won) for row in rollup["kind"]}
    assert kinds == {"MQL": (2, 0), "PQL": (1, 1)}
    assert [fb.comment for fb in rollup["comments"]] == ["Said 'just looking'"]


def test_size_bands():
    assert [size_band(n) for n in (None, 1, 49, 50, 999, 1000, 5000)] == [
        "Unknown",
        "1–49",
        "1–49",
        "50–199",
        "200–999",
        "1,000–4,999",
        "5,000+",
    ]


def test_feedback_page_renders_for_marketing_only(client_for, marketer, rep):
    rate(LeadFactory(source_campaign=CampaignFactory()), "good", comment="Great fit")
    response = client_for(marketer).get(reverse("campaigns:feedback"))
    assert response.status_code == 200 and "Great fit" in response.content.decode()
    assert client_for(rep).get(reverse("campaigns:feedback")).status_code == 403


def test_library_shows_live_campaigns_with_points_templates_and_collateral(client_for, rep):
    live = campaign_with_points("Ask about routing.", "Offer the audit.", name="Live one")
    FollowUpTemplateFactory(campaign=live, name="After the webinar")
    EnablementResourceFactory(campaign=live, title="Battlecard")
    campaign_with_points(name="Finished", status="done")
    response = client_for(rep).get(reverse("campaigns:enablement"))
    html = response.content.decode()
    assert [c.name for c in response.context["live"]] == ["Live one"]
    for text in ("Ask about routing.", live.quote, "After the webinar", "Battlecard"):
        assert text in html
    assert "Finished" not in html


def test_library_search_finds_campaigns_by_any_of_their_texts(client_for, rep):
    by_point = campaign_with_points("Mention SOC 2 compliance.", "Two.", name="Security")
    by_resource = campaign_with_points(name="Partners")
    EnablementResourceFactory(campaign=by_resource, title="Integration one-pager")
    campaign_with_points(name="Unrelated")
    client = client_for(rep)
    found = client.get(reverse("campaigns:enablement"), {"q": "soc 2"}).context["live"]
    assert [c.name for c in found] == [by_point.name]
    found = client.get(reverse("campaigns:enablement"), {"q": "integration"}).context["live"]
    assert [c.name for c in found] == ["Partners"]


def test_library_query_count_does_not_grow_with_campaigns(
    client_for, rep, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(rep)
    for _ in range(3):
        FollowUpTemplateFactory(campaign=campaign_with_points())
    with CaptureQueriesContext(connection) as baseline:
        client.get(reverse("campaigns:enablement"))
    for _ in range(20):
        EnablementResourceFactory(campaign=campaign_with_points())
    with django_assert_num_queries(len(baseline)):
        client.get(reverse("campaigns:enablement"))

"""A campaign's lead list: filters, what a rep may see, streaming CSV export."""

import csv
import io

import pytest
from django.urls import reverse

from tests.campaigns.factories import campaign_with_points
from tests.leads.factories import LeadFactory, owned_lead, pool_lead

pytestmark = pytest.mark.django_db


def csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_lead_list_shows_the_campaigns_leads_and_filters_by_stage(client_for, marketer):
    campaign = campaign_with_points()
    sql = LeadFactory(source_campaign=campaign, stage="sql", email="sql@x.example")
    LeadFactory(source_campaign=campaign, stage="new", email="new@x.example")
    LeadFactory(source_campaign=campaign_with_points(), email="other@x.example")
    client = client_for(marketer)
    page = client.get(reverse("campaigns:leads", args=[campaign.pk]))
    assert {lead.email for lead in page.context["page"].object_list} == {
        "sql@x.example",
        "new@x.example",
    }
    page = client.get(reverse("campaigns:leads", args=[campaign.pk]), {"stage": "sql"})
    assert list(page.context["page"].object_list) == [sql]


def test_rep_sees_only_leads_they_may_work(client_for, rep, other_rep):
    campaign = campaign_with_points()
    mine = owned_lead(rep, source_campaign=campaign)
    in_pool = pool_lead(source_campaign=campaign)
    owned_lead(other_rep, source_campaign=campaign)
    page = client_for(rep).get(reverse("campaigns:leads", args=[campaign.pk]))
    assert set(page.context["page"].object_list) == {mine, in_pool}


def test_csv_export_streams_the_filtered_list_and_neutralises_formulas(client_for, marketer):
    campaign = campaign_with_points()
    LeadFactory(source_campaign=campaign, stage="mql", company="=HYPERLINK(1)", email="a@x.example")
    LeadFactory(source_campaign=campaign, stage="new", email="b@x.example")
    response = client_for(marketer).get(
        reverse("campaigns:leads_csv", args=[campaign.pk]), {"stage": "mql"}
    )
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response)
    assert header[:4] == ["id", "first_name", "last_name", "email"]
    assert [row[3] for row in rows] == ["a@x.example"]
    assert rows[0][header.index("company")] == "'=HYPERLINK(1)"


def test_lead_list_query_count_does_not_grow_with_leads(
    client_for, marketer, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    campaign = campaign_with_points()
    client = client_for(marketer)
    url = reverse("campaigns:leads", args=[campaign.pk])
    LeadFactory(source_campaign=campaign, owner=marketer)
    with CaptureQueriesContext(connection) as baseline:
        client.get(url)
    for _ in range(20):
        LeadFactory(source_campaign=campaign, owner=marketer)
    with django_assert_num_queries(len(baseline)):
        client.get(url)

"""List and detail pages whose query count must not grow with their rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leads.models import LeadFeedback
from tests.campaigns.factories import (
    ContentRequestFactory,
    EnablementResourceFactory,
    FollowUpTemplateFactory,
    campaign_with_points,
)
from tests.leads.factories import LeadFactory, owned_lead

pytestmark = pytest.mark.django_db


def count(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_campaign_list_queries_do_not_grow_with_campaigns(
    client_for, marketer, django_assert_num_queries
):
    client = client_for(marketer)
    campaign_with_points(owner=marketer)
    baseline = count(client, reverse("campaigns:list"))
    for _ in range(15):
        LeadFactory(source_campaign=campaign_with_points(owner=marketer))
    with django_assert_num_queries(baseline):
        client.get(reverse("campaigns:list"))


def test_campaign_detail_queries_do_not_grow_with_templates_resources_and_leads(
    client_for, marketer, django_assert_num_queries
):
    client = client_for(marketer)
    campaign = campaign_with_points()
    FollowUpTemplateFactory(campaign=campaign)
    baseline = count(client, campaign.get_absolute_url())
    for _ in range(5):
        FollowUpTemplateFactory(campaign=campaign)
        EnablementResourceFactory(campaign=campaign)
        LeadFactory(source_campaign=campaign)
    with django_assert_num_queries(baseline):
        client.get(campaign.get_absolute_url())


def test_content_board_queries_do_not_grow_with_requests(
    client_for, marketer, rep, django_assert_num_queries
):
    client = client_for(marketer)
    ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    baseline = count(client, reverse("campaigns:content_requests"))
    for _ in range(10):
        ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    with django_assert_num_queries(baseline):
        client.get(reverse("campaigns:content_requests"))


def test_feedback_page_queries_do_not_grow_with_feedback(
    client_for, marketer, django_assert_num_queries
):
    client = client_for(marketer)
    campaign = campaign_with_points()
    LeadFeedback.objects.create(
        lead=LeadFactory(source_campaign=campaign), rating="good", moment="close", comment="ok"
    )
    baseline = count(client, reverse("campaigns:feedback"))
    for i in range(10):
        LeadFeedback.objects.create(
            lead=LeadFactory(source_campaign=campaign_with_points(), industry=f"I{i}"),
            rating="poor",
            moment="return",
            tags=["too_small"],
            comment=f"Said {i}",
        )
    with django_assert_num_queries(baseline):
        client.get(reverse("campaigns:feedback"))

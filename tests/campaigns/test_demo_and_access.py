"""The demo seed for campaigns, and who may open which campaign page."""

import pytest
from django.urls import reverse

from campaigns.demo import campaigns_demo_seed
from campaigns.models import Campaign, ContentRequest, EnablementResource, FollowUpTemplate
from tests.campaigns.factories import ContentRequestFactory, campaign_with_points
from tests.factories import UserFactory
from tests.leads.factories import owned_lead

pytestmark = pytest.mark.django_db

REP, MARKETER, MANAGER = "Sales rep", "Marketer", "Manager"


def snapshot():
    return (
        list(Campaign.objects.order_by("pk").values_list("name", "status", "start_date")),
        FollowUpTemplate.objects.count(),
        EnablementResource.objects.count(),
        ContentRequest.objects.count(),
    )


def test_demo_seed_spreads_campaigns_over_months_and_a_second_run_changes_nothing(
    marketer, rep, other_rep
):
    owned_lead(rep)
    owned_lead(other_rep)
    campaigns = campaigns_demo_seed(marketer=marketer, reps=[rep, other_rep])
    statuses = {c.status for c in campaigns}
    assert statuses == {"planned", "live", "done"}
    assert all(2 <= c.talking_points.count() <= 3 and c.quote for c in campaigns)
    assert all(c.templates.exists() for c in campaigns)
    months = {(c.start_date.year, c.start_date.month) for c in campaigns}
    assert len(months) >= 4
    first = snapshot()
    campaigns_demo_seed(marketer=marketer, reps=[rep, other_rep])
    assert snapshot() == first
    assert ContentRequest.objects.count() == 3


PAGES = {
    # url name: (needs a campaign id, roles that may open it)
    "campaigns:list": (False, {REP, MARKETER, MANAGER}),
    "campaigns:calendar": (False, {REP, MARKETER, MANAGER}),
    "campaigns:calendar_feed": (False, {REP, MARKETER, MANAGER}),
    "campaigns:enablement": (False, {REP, MARKETER, MANAGER}),
    "campaigns:content_requests": (False, {REP, MARKETER, MANAGER}),
    "campaigns:comparison": (False, {MARKETER, MANAGER}),
    "campaigns:feedback": (False, {MARKETER, MANAGER}),
    "campaigns:new": (False, {MARKETER, MANAGER}),
    "campaigns:detail": (True, {REP, MARKETER, MANAGER}),
    "campaigns:leads": (True, {REP, MARKETER, MANAGER}),
    "campaigns:results": (True, {MARKETER, MANAGER}),
    "campaigns:edit": (True, {MARKETER, MANAGER}),
    "campaigns:template_new": (True, {MARKETER, MANAGER}),
    "campaigns:resource_new": (True, {MARKETER, MANAGER}),
}


@pytest.mark.parametrize("role", [REP, MARKETER, MANAGER])
@pytest.mark.parametrize("url_name", sorted(PAGES))
def test_each_role_opens_only_its_campaign_pages(client, role, url_name):
    needs_id, allowed = PAGES[url_name]
    campaign = campaign_with_points()
    client.force_login(UserFactory(role=role))
    url = reverse(url_name, args=[campaign.pk] if needs_id else [])
    assert client.get(url).status_code == (200 if role in allowed else 403)


def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("campaigns:calendar"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_rep_opens_the_request_they_made(client_for, rep):
    request = ContentRequestFactory(lead=owned_lead(rep), requested_by=rep)
    assert client_for(rep).get(request.get_absolute_url()).status_code == 200

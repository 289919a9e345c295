"""/api/v1/campaigns/: list, create, read, update, lead list; field-level errors; marketing
writes, reps read."""

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from tests.campaigns.factories import campaign_with_points
from tests.leads.factories import LeadFactory, owned_lead

pytestmark = pytest.mark.django_db

URL = "/api/v1/campaigns/"


@pytest.fixture
def api():
    def as_user(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return as_user


def payload(**overrides):
    data = {
        "name": "API webinar",
        "channel": "webinar",
        "status": "planned",
        "start_date": "2026-12-01",
        "end_date": "2026-12-02",
        "audience": "RevOps",
        "offer": "Free audit",
        "landing_url": "https://example.com/api",
        "cost": "2500.00",
        "talking_points": ["First point", "Second point"],
        "quote": "It just works.",
    }
    data.update(overrides)
    return data


def test_marketer_creates_a_campaign_and_reads_it_back(api, marketer):
    response = api(marketer).post(URL, payload(owner=marketer.pk), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["talking_points"] == ["First point", "Second point"]
    assert body["quote"] == "It just works." and body["cost"] == "2500.00"
    assert body["owner"] == marketer.pk and body["archived"] is False
    read = api(marketer).get(f"{URL}{body['id']}/").json()
    for field in (
        "name",
        "channel",
        "status",
        "start_date",
        "end_date",
        "audience",
        "offer",
        "landing_url",
        "cost",
        "talking_points",
        "quote",
    ):
        assert read[field] == body[field]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"end_date": "2026-11-30"}, "end_date"),
        ({"talking_points": ["only one"]}, "talking_points"),
        ({"talking_points": ["a", "b", "c", "d"]}, "talking_points"),
        ({"talking_points": ["a", ""]}, "talking_points"),
        ({"landing_url": "nope"}, "landing_url"),
        ({"cost": "-5"}, "cost"),
        ({"channel": "carrier pigeon"}, "channel"),
    ],
)
def test_invalid_campaign_gets_a_field_level_400(api, marketer, overrides, field):
    response = api(marketer).post(URL, payload(**overrides), format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Campaign.objects.exists()


def test_missing_talking_points_is_a_field_error(api, marketer):
    data = payload()
    del data["talking_points"]
    response = api(marketer).post(URL, data, format="json")
    assert response.status_code == 400 and "talking_points" in response.json()


def test_partial_update_changes_points_and_validates_dates_against_the_stored_ones(api, marketer):
    campaign = campaign_with_points(status="planned")
    client = api(marketer)
    response = client.patch(
        f"{URL}{campaign.pk}/", {"talking_points": ["x", "y", "z"]}, format="json"
    )
    assert response.status_code == 200 and response.json()["talking_points"] == ["x", "y", "z"]
    response = client.patch(f"{URL}{campaign.pk}/", {"end_date": "2026-01-01"}, format="json")
    assert response.status_code == 400 and "end_date" in response.json()


def test_illegal_status_move_is_a_field_error(api, marketer):
    campaign = campaign_with_points(status="done")
    response = api(marketer).patch(f"{URL}{campaign.pk}/", {"status": "planned"}, format="json")
    assert response.status_code == 400 and "status" in response.json()


def test_rep_reads_but_cannot_write(api, rep):
    campaign = campaign_with_points()
    client = api(rep)
    assert client.get(URL).status_code == 200
    assert client.get(f"{URL}{campaign.pk}/").status_code == 200
    assert client.post(URL, payload(), format="json").status_code == 403
    assert client.patch(f"{URL}{campaign.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"{URL}{campaign.pk}/").status_code in (403, 405)


def test_list_hides_archived_unless_asked_and_filters_by_channel(api, marketer):
    campaign_with_points(name="Email", channel="email")
    campaign_with_points(name="Webinar", channel="webinar")
    old = campaign_with_points(name="Old", channel="email")
    old.archived_at = old.created_at
    old.save()
    client = api(marketer)
    names = [c["name"] for c in client.get(URL, {"channel": "email"}).json()["results"]]
    assert names == ["Email"]
    names = [c["name"] for c in client.get(URL, {"archived": "true"}).json()["results"]]
    assert names == ["Old"]


def test_lead_list_endpoint_respects_what_a_rep_may_see(api, rep, other_rep, marketer):
    campaign = campaign_with_points()
    mine = owned_lead(rep, source_campaign=campaign)
    owned_lead(other_rep, source_campaign=campaign)
    LeadFactory(source_campaign=campaign, stage="new")
    body = api(rep).get(f"{URL}{campaign.pk}/leads/").json()
    assert [lead["id"] for lead in body["results"]] == [mine.pk]
    assert api(marketer).get(f"{URL}{campaign.pk}/leads/").json()["count"] == 3
    filtered = api(marketer).get(f"{URL}{campaign.pk}/leads/", {"stage": "new"}).json()
    assert filtered["count"] == 1


def test_campaign_endpoints_are_in_the_openapi_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/campaigns/{id}/leads/" in text and "talking_points" in text

"""GET/PUT /api/v1/scoring/ (the active rules; a change is a new version and a full rescore),
and the leads list sorted and filtered by score."""

import pytest
from rest_framework.test import APIClient

from leads.models import Lead, ScoringModel
from tests.leads.factories import LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
URL = "/api/v1/scoring/"
RULES = {
    "note": "First cut",
    "thresholds": {"warm": 30, "hot": 60, "mql": 50},
    "fit_rules": [
        {"field": "title", "operator": "contains", "value": "VP", "points": 20},
        {"field": "country", "operator": "in", "value": ["us", "CA"], "points": 5},
        {"field": "company_size", "operator": "gte", "value": 200, "points": 10},
    ],
    "engagement_rules": [
        {"kind": "pricing_view", "points": 30, "half_life_days": 7, "cap": 40},
    ],
}


@pytest.fixture
def api_as():
    def login(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


def test_without_rules_the_scoring_endpoint_says_so(api_as, rep):
    response = api_as(rep).get(URL)
    assert response.status_code == 404
    assert response.json()["code"] == "no_rules"


def test_putting_rules_creates_a_version_and_rescores_every_lead(
    api_as, marketer, django_capture_on_commit_callbacks
):
    # given a lead the new rules will score
    lead = LeadFactory(title="VP Sales", country="US", company_size=10)
    # when a marketer puts the rules
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(marketer).put(URL, RULES, format="json")
    # then version 1 is active, normalised (country codes upper-case), and the lead scored
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 1
    assert body["created_by"] == marketer.username
    assert body["fit_rules"][1]["value"] == ["US", "CA"]
    assert body["thresholds"] == {"warm": 30, "hot": 60, "mql": 50}
    assert body["rescored_at"] is None  # the worker rescores after the response
    lead.refresh_from_db()
    assert (lead.score, lead.score_version.number) == (25, 1)
    # and a reader gets the same rules back, now applied to every lead
    read = api_as(marketer).get(URL).json()
    assert read.pop("rescored_at") is not None
    assert read == {key: value for key, value in body.items() if key != "rescored_at"}


def test_a_second_put_is_the_next_version(api_as, manager, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        api_as(manager).put(URL, RULES, format="json")
        response = api_as(manager).put(
            URL, {**RULES, "thresholds": {"warm": 10, "hot": 20, "mql": 90}}, format="json"
        )
    assert response.json()["version"] == 2
    assert list(ScoringModel.objects.values_list("number", "is_active")) == [
        (2, True),
        (1, False),
    ]


def test_a_put_based_on_an_outdated_version_is_refused_and_changes_nothing(
    api_as, marketer, manager, django_capture_on_commit_callbacks
):
    # given two editors who both read version 1
    with django_capture_on_commit_callbacks(execute=True):
        api_as(marketer).put(URL, RULES, format="json")
    # when the manager saves version 2 from it, then the marketer saves from version 1 too
    with django_capture_on_commit_callbacks(execute=True):
        first = api_as(manager).put(
            URL, {**RULES, "based_on": 1, "note": "Manager's cut"}, format="json"
        )
        late = api_as(marketer).put(
            URL, {**RULES, "based_on": 1, "note": "Marketer's cut"}, format="json"
        )
    # then the manager's save stands and the marketer hears why theirs did not
    assert first.status_code == 200 and first.json()["version"] == 2
    assert late.status_code == 409
    assert "changed while you edited them (version 2" in late.json()["detail"]
    assert ScoringModel.objects.get(is_active=True).note == "Manager's cut"
    assert ScoringModel.objects.count() == 2


def test_invalid_rules_answer_field_level_errors(api_as, marketer):
    body = {
        **RULES,
        "thresholds": {"warm": 60, "hot": 30, "mql": 50},
        "fit_rules": [
            {"field": "company_size", "operator": "contains", "value": "big", "points": 5},
            {"field": "country", "operator": "equals", "value": "Narnia", "points": 5},
            {"field": "title", "operator": "equals", "value": "CEO", "points": 0},
        ],
        "engagement_rules": [
            {"kind": "pricing_view", "points": 30, "half_life_days": 0, "cap": 10},
            {"kind": "demo_request", "points": 30, "half_life_days": 7, "cap": 10},
        ],
    }
    response = api_as(marketer).put(URL, body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert errors["thresholds"] == {"hot": ["Hot must be above warm."]}
    # list items' errors are keyed by their index
    assert "operator" in errors["fit_rules"]["0"]
    assert errors["fit_rules"]["1"]["value"][0].startswith("Unknown country code NARNIA")
    assert "points" in errors["fit_rules"]["2"]
    assert "half_life_days" in errors["engagement_rules"]["0"]
    assert errors["engagement_rules"]["1"] == {
        "cap": ["The cap must be at least the points of one event (30)."]
    }
    assert not ScoringModel.objects.exists()


def test_duplicate_kinds_are_refused(api_as, marketer):
    rule = {"kind": "pricing_view", "points": 30, "half_life_days": 7, "cap": 40}
    response = api_as(marketer).put(URL, {**RULES, "engagement_rules": [rule, rule]}, format="json")
    assert response.status_code == 400
    assert response.json()["engagement_rules"] == {"1": {"kind": ["One rule per kind."]}}


def test_reps_read_the_rules_but_cannot_change_them(api_as, rep):
    scoring_version()
    assert api_as(rep).get(URL).status_code == 200
    assert api_as(rep).put(URL, RULES, format="json").status_code == 403
    assert ScoringModel.objects.count() == 1


def test_the_leads_list_sorts_and_filters_by_score(api_as, marketer):
    scores = [5, 80, 40, 95]
    for score in scores:
        LeadFactory(score=score)
    client = api_as(marketer)
    listed = client.get("/api/v1/leads/", {"ordering": "-score"}).json()["results"]
    assert [row["score"] for row in listed] == sorted(scores, reverse=True)
    listed = client.get("/api/v1/leads/", {"ordering": "score", "min_score": 40}).json()
    assert [row["score"] for row in listed["results"]] == [40, 80, 95]
    assert client.get("/api/v1/leads/", {"min_score": 2000}).status_code == 400
    assert Lead.objects.count() == 4

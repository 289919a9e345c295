"""GET /api/v1/slas/audit/?month=YYYY-MM: the audit page's figures as JSON, for managers."""

import json
from datetime import date, timedelta

import pytest
import time_machine
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from slas.audit import ROLLUP_MAX_AGE
from slas.audit_services import audit_signoff_create
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory
from tests.slas.test_audit_figures import MAY, NOW, build_may, handoff, utc

pytestmark = pytest.mark.django_db
URL = "/api/v1/slas/audit/"


@pytest.fixture
def at_now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def may(db):
    return build_may()


@pytest.fixture
def api(manager):
    client = APIClient()
    client.force_authenticate(manager)
    return client


def test_the_api_returns_the_figures_the_page_shows(api, client_for, manager, may, at_now):
    body = api.get(URL, {"month": "2026-05"}).json()
    page = client_for(manager).get("/slas/audit/", {"month": "2026-05"})
    # JSON round trip: the page's figures as a JSON client would read them
    assert body["figures"] == json.loads(json.dumps(page.context["figures"]))
    assert body["month"] == "2026-05"
    assert body["status"] == "open"
    assert body["signoffs"] == []
    assert body["live_figures_differ"] is False
    assert body["figures"]["marketing"]["mqls_delivered"] == 8
    assert body["figures"]["sales"]["first_touch"]["p90_hours"] == 7.6


def test_the_api_shows_signed_figures_with_the_signoffs_and_differences(api, manager, may, at_now):
    audit_signoff_create(month=MAY, side="sales", actor=manager, comment="Fine.", now=NOW)
    handoff(lead=LeadFactory(), agreement=may.agreement, created=utc(5, 27, 9),
            due=utc(5, 28, 9), owner=may.bob)  # fmt: skip
    with time_machine.travel(NOW + ROLLUP_MAX_AGE + timedelta(seconds=1), tick=False):
        body = api.get(URL, {"month": "2026-05"}).json()
    assert body["status"] == "partly_signed"
    assert body["figures"]["marketing"]["mqls_delivered"] == 8
    assert body["signoffs"] == [
        {
            "side": "sales",
            "signed_by": manager.username,
            "signed_by_name": manager.get_full_name(),
            "signed_at": "2026-06-02T12:00:00Z",
            "comment": "Fine.",
        }
    ]
    assert body["live_figures_differ"] is True
    assert {"figure": "MQLs delivered", "signed": 8, "now": 9} in body["differences"]


def test_the_month_defaults_to_last_month(api):
    with time_machine.travel(utc(3, 15, 12), tick=False):
        body = api.get(URL).json()
    assert body["month"] == "2026-02"
    assert body["figures"]["period"]["start"] == "2026-02-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("month", "message"),
    [
        ("2026-13", "The month must be between 01 and 12."),
        ("May", "Give the month as YYYY-MM, for example 2026-05."),
        ("1999-12", "The year must be between 2000 and 2099."),
        ("2026-05-01", "Ensure this field has no more than 7 characters."),
    ],
)
def test_a_bad_month_is_a_400_with_a_field_error(api, month, message):
    response = api.get(URL, {"month": month})
    assert response.status_code == 400
    assert response.json() == {"month": [message]}


@pytest.mark.parametrize("role", ["Sales rep", "Marketer"])
def test_reps_and_marketers_get_403(role):
    client = APIClient()
    client.force_authenticate(UserFactory(role=role))
    response = client.get(URL, {"month": "2026-05"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only managers read the SLA audit."}


def test_anonymous_callers_are_refused():
    assert APIClient().get(URL).status_code in (401, 403)


def test_a_manager_token_works(manager, may, at_now):
    token = Token.objects.create(user=manager)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.get(URL, {"month": "2026-05"})
    assert response.status_code == 200
    assert response.json()["figures"]["period"]["start"].startswith(MAY.first.isoformat())


def test_the_endpoint_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/slas/audit/"]["get"]
    assert [p["name"] for p in operation["parameters"]] == ["month"]
    assert set(operation["responses"]) == {"200", "400", "403"}


def test_far_months_answer_without_data(api):
    body = api.get(URL, {"month": "2099-12"}).json()
    assert body["figures"]["marketing"]["mqls_delivered"] == 0
    assert body["figures"]["trend"][0]["month"] == "2099-07"
    assert date.fromisoformat(body["figures"]["period"]["start"][:10]) == date(2099, 12, 1)

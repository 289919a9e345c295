"""The leads API: authentication, the list (filters, search, pages, visibility, queries),
create / read / update with field errors, and the OpenAPI schema."""

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.api import api_exception_handler
from core.errors import InvalidInput
from leads.models import Lead, LeadStageChange, Stage, Temperature
from leads.services import lead_claim, lead_reassign
from tests.campaigns.factories import CampaignFactory
from tests.leads.factories import LeadFactory, owned_lead, pool_lead

pytestmark = pytest.mark.django_db

LEAD_FIELDS = {
    "id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "company_size",
    "industry",
    "country",
    "source_channel",
    "source_campaign",
    "stage",
    "kind",
    "owner",
    "score",
    "temperature",
    "created_at",
    "updated_at",
}


@pytest.fixture
def api_as():
    def login(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


def lead_url(lead):
    return reverse("api-lead-detail", args=[lead.pk])


def once_owned_lead(*, rep, other_rep, manager):
    """A lead ``rep`` claimed and a manager then gave to ``other_rep``."""
    lead = pool_lead()
    lead_claim(lead_id=lead.pk, rep=rep)
    return lead_reassign(lead_id=lead.pk, actor=manager, to_rep=other_rep)


# --- authentication -------------------------------------------------------------------------
def test_token_auth_lets_an_integration_call_the_api(marketer):
    # given the marketer's API token
    token = Token.objects.create(user=marketer)
    LeadFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    # when it lists leads with the token only
    response = client.get(reverse("api-lead-list"))
    # then it is let in
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_a_wrong_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert client.get(reverse("api-lead-list")).status_code in (401, 403)


@pytest.mark.parametrize(
    ("method", "route"),
    [
        ("get", "api-lead-list"),
        ("post", "api-lead-list"),
        ("get", "api-lead-detail"),
        ("patch", "api-lead-detail"),
        ("post", "api-lead-transition"),
        ("post", "api-lead-claim"),
        ("post", "api-lead-reassign"),
        ("get", "api-lead-touches"),
        ("post", "api-lead-touches"),
        ("post", "api-lead-feedback"),
        ("get", "api-lead-history"),
        ("post", "api-queue-claim"),
    ],
)
def test_anonymous_callers_are_refused_everywhere(method, route):
    lead = pool_lead()
    args = [] if route in ("api-lead-list", "api-queue-claim") else [lead.pk]
    response = getattr(APIClient(), method)(reverse(route, args=args), {}, format="json")
    assert response.status_code in (401, 403)
    assert Lead.objects.get(pk=lead.pk).owner is None


# --- the list -------------------------------------------------------------------------------
def test_marketer_lists_every_lead_newest_first(api_as, marketer):
    # given three leads
    first, second, third = LeadFactory(), LeadFactory(), LeadFactory()
    # when the marketer lists leads
    body = api_as(marketer).get(reverse("api-lead-list")).json()
    # then all three come back, newest first, with the documented fields
    assert [row["id"] for row in body["results"]] == [third.pk, second.pk, first.pk]
    assert set(body["results"][0]) == LEAD_FIELDS


@pytest.fixture
def filterable_leads(rep, other_rep):
    spring, autumn = CampaignFactory(), CampaignFactory()
    owned_lead(
        rep, first_name="Ada", temperature=Temperature.HOT, source_campaign=spring, kind="mql"
    )
    owned_lead(
        other_rep,
        stage=Stage.SAL,
        first_name="Bob",
        temperature=Temperature.WARM,
        source_campaign=autumn,
        kind="pql",
    )
    LeadFactory(first_name="Cy", temperature=Temperature.COLD)
    return {"rep": rep, "spring": spring, "autumn": autumn}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (lambda w: {"stage": "sal"}, ["Bob"]),
        (lambda w: {"kind": "mql"}, ["Ada"]),
        (lambda w: {"temperature": "cold"}, ["Cy"]),
        (lambda w: {"owner": w["rep"].pk}, ["Ada"]),
        (lambda w: {"campaign": w["autumn"].pk}, ["Bob"]),
        (lambda w: {"campaign": w["spring"].pk, "temperature": "hot"}, ["Ada"]),
        (lambda w: {"stage": "won"}, []),
    ],
    ids=["stage", "kind", "temperature", "owner", "campaign", "combined", "none-match"],
)
def test_list_filters_by_stage_kind_temperature_owner_and_campaign(
    api_as, manager, filterable_leads, query, expected
):
    response = api_as(manager).get(reverse("api-lead-list"), query(filterable_leads))
    assert response.status_code == 200
    assert [row["first_name"] for row in response.json()["results"]] == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [("lovelace", ["Ada"]), ("ANALYTICAL", ["Ada"]), ("construct", ["Bob"]), ("bob@", ["Bob"])],
)
def test_search_matches_name_email_and_company_ignoring_case(api_as, marketer, term, expected):
    LeadFactory(
        first_name="Ada",
        last_name="Lovelace",
        email="ada@analytical.example",
        company="Engines Ltd",
    )
    LeadFactory(
        first_name="Bob", last_name="Builder", email="bob@site.example", company="Construct"
    )
    response = api_as(marketer).get(reverse("api-lead-list"), {"search": term})
    assert [row["first_name"] for row in response.json()["results"]] == expected


def test_an_unknown_filter_value_is_a_field_error(api_as, marketer):
    response = api_as(marketer).get(reverse("api-lead-list"), {"stage": "customer"})
    assert response.status_code == 400
    assert "stage" in response.json()


def test_the_list_is_paginated_fifty_a_page(api_as, marketer):
    # given 51 leads
    LeadFactory.create_batch(51)
    client = api_as(marketer)
    # when the marketer reads the first and the second page
    first = client.get(reverse("api-lead-list")).json()
    second = client.get(reverse("api-lead-list"), {"page": 2}).json()
    # then the first holds fifty and links to the second, which holds the last one
    assert first["count"] == 51
    assert len(first["results"]) == 50
    assert first["next"].endswith("page=2")
    assert len(second["results"]) == 1
    assert second["next"] is None


def test_rep_lists_only_own_pool_and_once_owned_leads(api_as, rep, other_rep, manager):
    # given the rep's own lead, a pool lead, a lead the rep once owned, another rep's lead
    # and a lead still with marketing
    own = owned_lead(rep)
    pool = pool_lead()
    once_owned = once_owned_lead(rep=rep, other_rep=other_rep, manager=manager)
    owned_lead(other_rep)
    LeadFactory()
    # when the rep lists leads
    body = api_as(rep).get(reverse("api-lead-list")).json()
    # then only the first three come back
    assert {row["id"] for row in body["results"]} == {own.pk, pool.pk, once_owned.pk}


@pytest.mark.parametrize(
    ("method", "route"),
    [("get", "api-lead-detail"), ("patch", "api-lead-detail"), ("post", "api-lead-transition")],
)
def test_rep_gets_404_for_a_lead_they_cannot_see(api_as, rep, other_rep, method, route):
    lead = owned_lead(other_rep)
    response = getattr(api_as(rep), method)(
        reverse(route, args=[lead.pk]), {"to": "sal", "phone": "1"}, format="json"
    )
    assert response.status_code == 404
    assert Lead.objects.get(pk=lead.pk).stage == Stage.MQL


@pytest.mark.parametrize("n", [5, 30])
def test_the_list_takes_three_queries_whatever_the_number_of_leads(
    django_assert_num_queries, rep, n
):
    # given n leads of the rep's, each with a campaign
    for _ in range(n):
        owned_lead(rep, source_campaign=CampaignFactory())
    client = APIClient()
    client.force_authenticate(rep)
    # when the rep lists them: roles, count, the page
    with django_assert_num_queries(3):
        response = client.get(reverse("api-lead-list"))
    # then every lead is there
    assert response.json()["count"] == n


def test_reading_one_lead_takes_two_queries(django_assert_num_queries, rep):
    lead = owned_lead(rep, source_campaign=CampaignFactory())
    client = APIClient()
    client.force_authenticate(rep)
    # roles, then the visible lead with its joins
    with django_assert_num_queries(2):
        response = client.get(lead_url(lead))
    assert response.status_code == 200


# --- create, read, update -------------------------------------------------------------------
def test_marketer_creates_a_lead_in_stage_new_with_its_first_history_row(api_as, marketer):
    campaign = CampaignFactory()
    payload = {
        "first_name": "Grace",
        "last_name": "Hopper",
        "email": "grace@navy.example",
        "phone": "+1 555 0100",
        "title": "Rear Admiral",
        "company": "US Navy",
        "company_size": 5000,
        "industry": "Government",
        "country": "us",
        "source_channel": "webinar",
        "source_campaign": campaign.pk,
        # read-only fields are ignored
        "stage": "won",
        "score": 999,
        "owner": marketer.pk,
    }
    response = api_as(marketer).post(reverse("api-lead-list"), payload, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["stage"], body["score"], body["owner"]) == ("new", 0, None)
    assert (body["country"], body["source_campaign"]) == ("US", campaign.pk)
    lead = Lead.objects.get(pk=body["id"])
    assert lead.email == "grace@navy.example"
    history = LeadStageChange.objects.get(lead=lead)
    assert (history.from_stage, history.to_stage, history.actor) == ("", "new", marketer)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("company_size", -5),
        ("source_channel", "carrier_pigeon"),
        ("country", "USA"),
        ("country", "D3"),
        ("country", "XX"),
        ("source_campaign", 999999),
        ("first_name", "x" * 101),
    ],
)
def test_create_answers_a_field_error_for_bad_input(api_as, marketer, field, value):
    payload = {"email": "ok@prospect.example", field: value}
    response = api_as(marketer).post(reverse("api-lead-list"), payload, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Lead.objects.exists()


def test_create_without_an_email_is_a_field_error(api_as, marketer):
    response = api_as(marketer).post(reverse("api-lead-list"), {"company": "X"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_create_refuses_a_duplicate_email_whatever_its_case(api_as, marketer):
    # given a lead with this email
    LeadFactory(email="Ada@Example.com")
    # when the marketer creates another with the same email in other case
    response = api_as(marketer).post(
        reverse("api-lead-list"), {"email": "ada@example.COM"}, format="json"
    )
    # then a field error on email, in the domain error format, and no second lead
    assert response.status_code == 400
    assert response.json() == {
        "detail": "A lead with this email already exists.",
        "code": "invalid",
        "email": ["A lead with this email already exists."],
    }
    assert Lead.objects.count() == 1


def test_rep_cannot_create_leads(api_as, rep):
    response = api_as(rep).post(
        reverse("api-lead-list"), {"email": "new@prospect.example"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Only marketing creates leads.", "code": "forbidden"}
    assert not Lead.objects.exists()


def test_rep_reads_own_lead(api_as, rep):
    lead = owned_lead(rep, company="Initech")
    response = api_as(rep).get(lead_url(lead))
    assert response.status_code == 200
    assert response.json()["company"] == "Initech"
    assert response.json()["owner"] == rep.pk


def test_a_missing_lead_is_404(api_as, marketer):
    assert api_as(marketer).get(reverse("api-lead-detail", args=[424242])).status_code == 404


def test_marketer_patches_contact_fields_but_not_the_stage(api_as, marketer):
    lead = LeadFactory(company="Old Co", stage=Stage.NEW)
    response = api_as(marketer).patch(
        lead_url(lead), {"company": "New Co", "company_size": 12, "stage": "won"}, format="json"
    )
    assert response.status_code == 200
    lead.refresh_from_db()
    assert (lead.company, lead.company_size, lead.stage) == ("New Co", 12, Stage.NEW)


def test_put_needs_the_email(api_as, marketer):
    lead = LeadFactory()
    response = api_as(marketer).put(lead_url(lead), {"company": "New Co"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()


def test_update_cannot_take_another_leads_email(api_as, marketer):
    LeadFactory(email="taken@prospect.example")
    lead = LeadFactory()
    response = api_as(marketer).patch(
        lead_url(lead), {"email": "TAKEN@prospect.example"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["email"] == ["A lead with this email already exists."]


def test_rep_edits_own_lead(api_as, rep):
    lead = owned_lead(rep)
    response = api_as(rep).patch(lead_url(lead), {"phone": "+49 30 1234"}, format="json")
    assert response.status_code == 200
    assert Lead.objects.get(pk=lead.pk).phone == "+49 30 1234"


def test_rep_cannot_edit_another_reps_lead(api_as, rep, other_rep, manager):
    # given a lead the rep once owned, now other_rep's (so the rep still sees it)
    lead = once_owned_lead(rep=rep, other_rep=other_rep, manager=manager)
    # when the rep edits it
    response = api_as(rep).patch(lead_url(lead), {"phone": "+49 30 1234"}, format="json")
    # then 403 and nothing changes
    assert response.status_code == 403
    assert response.json()["detail"] == "This lead belongs to another rep."
    assert Lead.objects.get(pk=lead.pk).phone == ""


# --- the error format -----------------------------------------------------------------------
def test_a_domain_error_naming_a_field_answers_with_detail_code_and_the_field():
    error = InvalidInput("Choose a reason.", field="reason")
    response = api_exception_handler(error, {})
    assert response.status_code == 400
    assert response.data == {
        "detail": "Choose a reason.",
        "code": "invalid",
        "reason": ["Choose a reason."],
    }


def test_a_row_that_vanished_mid_request_answers_404():
    response = api_exception_handler(Lead.DoesNotExist("Lead matching query does not exist."), {})
    assert response.status_code == 404
    assert response.data == {"detail": "Not found."}


# --- the schema -----------------------------------------------------------------------------
def test_schema_documents_the_lead_actions_and_the_queue(api_as, rep):
    schema = api_as(rep).get(reverse("api-schema"), {"format": "json"}).json()
    transition = schema["paths"]["/api/v1/leads/{id}/transition/"]["post"]
    assert transition["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LeadTransition"
    }
    assert {"200", "400", "403", "404", "409"} <= set(transition["responses"])
    claim = schema["paths"]["/api/v1/queue/claim/"]["post"]
    assert {"200", "204", "403"} <= set(claim["responses"])
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/leads/{id}/touches/"])


def test_the_openapi_schema_generates_without_warnings(tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml")
    )
    assert "/api/v1/leads/{id}/transition/" in (tmp_path / "schema.yml").read_text()

"""POST /api/v1/inbound/: a form, sign-up or chat payload creates or matches its lead by email,
fills only empty fields, records one event (sign-up → PQL, chat → CQL), replays idempotently."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from rest_framework.test import APIClient

from leads.models import (
    EngagementEvent,
    EventKind,
    Handoff,
    Lead,
    LeadStageChange,
    SourceChannel,
    Stage,
)
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
URL = "/api/v1/inbound/"


@pytest.fixture
def api_as():
    def login(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return login


@pytest.fixture
def integration(db):
    """The documented integration set-up: no role, may post events and add leads."""
    user = UserFactory(username="website-inbound")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_engagementevent", "add_lead"])
    )
    return user


def test_the_route_is_the_stable_surface():
    assert reverse("api-inbound") == URL


def test_a_form_for_an_unknown_email_creates_the_lead_with_its_history_and_event(
    api_as, integration, django_capture_on_commit_callbacks
):
    # given a campaign
    campaign = CampaignFactory()
    # when the website posts a form submission for a new person
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(integration).post(
            URL,
            {
                "source": "form",
                "email": "Grace@Navy.example",
                "first_name": "Grace",
                "company": "Navy",
                "company_size": 5000,
                "country": "us",
                "campaign": campaign.pk,
                "message": "Please call me about pricing.",
                "metadata": {"page": "/pricing"},
            },
            format="json",
        )
    # then the lead is created in stage new, from the web form and the campaign
    assert response.status_code == 201, response.json()
    lead = Lead.objects.get()
    assert response.json() == {
        "lead": lead.pk,
        "created": True,
        "filled": ["first_name", "company", "company_size", "country", "source_campaign"],
        "event": "stored",
    }
    assert (lead.email, lead.stage, lead.source_channel, lead.source_campaign, lead.country) == (
        "Grace@Navy.example",
        Stage.NEW,
        SourceChannel.WEB_FORM,
        campaign,
        "US",
    )
    assert LeadStageChange.objects.filter(lead=lead, from_stage="", to_stage=Stage.NEW).exists()
    # and one form submission is recorded with the message in its metadata
    event = EngagementEvent.objects.get()
    assert (event.lead, event.kind, event.campaign, event.source) == (
        lead,
        EventKind.FORM_SUBMIT,
        campaign,
        "inbound:form",
    )
    assert event.metadata["message"] == "Please call me about pricing."
    assert event.metadata["page"] == "/pricing"


def test_a_known_email_in_another_case_matches_and_fills_only_empty_fields(api_as, marketer):
    # given a lead marketing already edited, with some fields empty
    lead = LeadFactory(email="ada@example.com", first_name="Ada", company="", phone="", title="CTO")
    # when a payload arrives with other values for filled fields and values for empty ones
    response = api_as(marketer).post(
        URL,
        {
            "source": "form",
            "email": "ADA@Example.COM",
            "first_name": "Augusta",
            "title": "Intern",
            "company": "Analytical Engines",
            "phone": "+44 20 7946 0000",
        },
        format="json",
    )
    # then it answers 200 with the same lead and only the empty fields were filled
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "lead": lead.pk,
        "created": False,
        "filled": ["phone", "company"],
        "event": "stored",
    }
    lead.refresh_from_db()
    assert (lead.first_name, lead.title, lead.company, lead.phone, lead.email) == (
        "Ada",
        "CTO",
        "Analytical Engines",
        "+44 20 7946 0000",
        "ada@example.com",
    )
    assert Lead.objects.count() == 1
    assert lead.events.get().kind == EventKind.FORM_SUBMIT


def test_a_replay_with_the_same_external_id_answers_the_same_and_writes_nothing(
    api_as, marketer, django_capture_on_commit_callbacks
):
    body = {
        "source": "signup",
        "email": "linus@example.org",
        "company": "Kernel",
        "external_id": "signup-42",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = api_as(marketer).post(URL, body, format="json")
    assert first.status_code == 201
    lead = Lead.objects.get()
    changes = LeadStageChange.objects.count()
    # when the same delivery arrives again (a retried webhook), even with other values
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = api_as(marketer).post(URL, {**body, "title": "CEO"}, format="json")
    # then the answer is the first one, marked duplicate, and nothing was written
    assert again.status_code == 201
    assert again.json() == {**first.json(), "event": "duplicate"}
    assert first.json()["event"] == "stored"
    assert EngagementEvent.objects.count() == 1
    assert LeadStageChange.objects.count() == changes
    lead.refresh_from_db()
    assert lead.title == ""
    assert callbacks == []
    # while the same external id from another source is another payload
    other = api_as(marketer).post(URL, {**body, "source": "chat"}, format="json")
    assert other.status_code == 200
    assert other.json()["event"] == "stored"


def test_a_signup_makes_a_pql_and_a_chat_makes_a_cql_with_a_handoff(
    api_as, integration, django_capture_on_commit_callbacks
):
    # given rules where neither event alone reaches the MQL threshold
    scoring_version(
        engagement=[{"kind": "trial_signup", "points": 30, "half_life_days": 7, "cap": 40}],
        mql=500,
    )
    chatter = LeadFactory(email="chat@example.com", stage=Stage.RECYCLED)
    # when a product sign-up and a chat arrive
    with django_capture_on_commit_callbacks(execute=True):
        signup = api_as(integration).post(
            URL, {"source": "signup", "email": "trial@example.com"}, format="json"
        )
        chat = api_as(integration).post(
            URL, {"source": "chat", "email": "chat@example.com"}, format="json"
        )
    # then the new sign-up lead is a PQL and the recycled chatter a CQL, both handed off
    assert (signup.status_code, chat.status_code) == (201, 200)
    trial = Lead.objects.get(pk=signup.json()["lead"])
    chatter.refresh_from_db()
    assert (trial.stage, trial.kind, trial.source_channel) == (
        Stage.PQL,
        Stage.PQL,
        SourceChannel.PRODUCT_SIGNUP,
    )
    assert (chatter.stage, chatter.kind) == (Stage.CQL, Stage.CQL)
    handoff = Handoff.objects.get(lead=trial)
    assert handoff.kind == Stage.PQL and handoff.context["score"] == 30
    assert Handoff.objects.filter(lead=chatter, kind=Stage.CQL).exists()


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"source": "form", "email": "not-an-email"}, "email", "Enter a valid email address."),
        ({"source": "form"}, "email", "This field is required."),
        ({"email": "a@example.com"}, "source", "This field is required."),
        ({"source": "fax", "email": "a@example.com"}, "source", '"fax" is not a valid choice.'),
        (
            {"source": "form", "email": "a@example.com", "company_size": -3},
            "company_size",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            {"source": "form", "email": "a@example.com", "country": "XX"},
            "country",
            "Unknown country code XX: use an ISO 3166 code such as US, GB, DE.",
        ),
        (
            {"source": "form", "email": "a@example.com", "occurred_at": "2999-01-01T00:00:00Z"},
            "occurred_at",
            "It cannot happen in the future.",
        ),
        (
            {"source": "form", "email": "a@example.com", "metadata": {"inbound": 1}},
            "metadata",
            "The key 'inbound' is reserved: send the message as message.",
        ),
        (
            {"source": "form", "email": "a@example.com", "campaign": 10**9},
            "campaign",
            "No campaign 1000000000.",
        ),
    ],
)
def test_bad_payloads_get_field_errors_and_write_nothing(api_as, marketer, body, field, message):
    response = api_as(marketer).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()[field] == [message]
    assert not Lead.objects.exists()
    assert not EngagementEvent.objects.exists()


def test_who_may_post_inbound(api_as, rep, manager, integration):
    body = {"source": "form", "email": "who@example.com"}
    events_only = UserFactory(username="events-only")
    events_only.user_permissions.add(Permission.objects.get(codename="add_engagementevent"))
    # no credentials, a rep, an account that may only post events: refused
    assert APIClient().post(URL, body, format="json").status_code in (401, 403)
    for user in (rep, events_only):
        refused = api_as(user).post(URL, body, format="json")
        assert refused.status_code == 403
        assert refused.json()["detail"] == "Your account may not post inbound leads."
    assert not Lead.objects.exists()
    # a manager and the integration account: accepted
    assert api_as(manager).post(URL, body, format="json").status_code == 201
    assert api_as(integration).post(URL, body, format="json").status_code == 200


def test_a_token_authenticates_the_integration(integration):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=integration)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    response = client.post(URL, {"source": "chat", "email": "t@example.com"}, format="json")
    assert response.status_code == 201


def test_the_endpoint_is_in_the_openapi_schema(client, marketer):
    client.force_login(marketer)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/inbound/"]["post"]
    assert set(operation["responses"]) >= {"200", "201", "400", "403"}
    request = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][request.rsplit("/", 1)[1]]
    assert {"source", "email"} <= set(component["required"])
    assert {"company_size", "campaign", "external_id", "message", "metadata"} <= set(
        component["properties"]
    )

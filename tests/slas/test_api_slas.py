"""/api/v1/slas/: agreements with their targets nested; everyone in a role reads, managers
write, the heads sign; validation errors come back per field."""

import pytest
from rest_framework.test import APIClient

from slas.models import Agreement
from tests.slas.factories import AgreementFactory, WorkingCalendarFactory

pytestmark = pytest.mark.django_db

AGREEMENTS = "/api/v1/slas/"
USUAL_TARGETS = [
    {"kind": "cql", "temperature": "", "hours": 1},
    {"kind": "pql", "hours": 2},
    {"kind": "mql", "temperature": "hot", "hours": 4},
    {"kind": "mql", "temperature": "", "hours": 24},
]


@pytest.fixture
def api():
    def as_user(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    return as_user


def payload(calendar, **fields) -> dict:
    return {
        "name": "Q1 2027 SLA",
        "starts_on": "2027-01-01",
        "ends_on": "2027-03-31",
        "calendar": calendar.pk,
        "mqls_per_month": 120,
        "min_acceptance_rate": "70.00",
        "targets": USUAL_TARGETS,
        **fields,
    }


@pytest.mark.parametrize("who", ["rep", "marketer", "manager"])
def test_everyone_in_a_role_reads_agreements_with_their_targets(api, request, who):
    agreement = AgreementFactory()
    client = api(request.getfixturevalue(who))
    listing = client.get(AGREEMENTS)
    detail = client.get(f"{AGREEMENTS}{agreement.pk}/")
    assert listing.status_code == detail.status_code == 200
    assert [row["id"] for row in listing.json()["results"]] == [agreement.pk]
    body = detail.json()
    assert body["name"] == "Q4 2026 SLA"
    assert body["min_acceptance_rate"] == "70.00"
    assert {(t["kind"], t["temperature"], t["hours"]) for t in body["targets"]} == {
        ("cql", "", 1),
        ("pql", "", 2),
        ("mql", "hot", 4),
        ("mql", "", 24),
    }
    assert body["sales_signature"] == {"head": None, "head_name": None, "signed_at": None}
    assert body["is_signed"] is False


def test_anonymous_callers_are_refused(client):
    assert client.get(AGREEMENTS).status_code in (401, 403)


def test_a_manager_creates_an_agreement(api, manager):
    calendar = WorkingCalendarFactory()
    response = api(manager).post(AGREEMENTS, payload(calendar), format="json")
    assert response.status_code == 201, response.json()
    agreement = Agreement.objects.get()
    assert response.json()["id"] == agreement.pk
    assert agreement.targets.count() == 4
    assert agreement.warn_at_percent == 75  # the model's defaults fill what was left out


@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_reps_and_marketers_cannot_write_agreements(api, request, who):
    agreement = AgreementFactory()
    client = api(request.getfixturevalue(who))
    created = client.post(AGREEMENTS, payload(agreement.calendar), format="json")
    changed = client.patch(f"{AGREEMENTS}{agreement.pk}/", {"mqls_per_month": 1}, format="json")
    assert created.status_code == changed.status_code == 403
    assert Agreement.objects.get().mqls_per_month == 120


def test_an_end_before_the_start_is_a_field_error(api, manager):
    calendar = WorkingCalendarFactory()
    response = api(manager).post(AGREEMENTS, payload(calendar, ends_on="2026-12-01"), format="json")
    assert response.status_code == 400
    assert response.json() == {"ends_on": ["The period cannot end before it starts."]}


def test_an_overlapping_period_is_refused_on_the_start_date(api, manager):
    existing = AgreementFactory()
    response = api(manager).post(
        AGREEMENTS, payload(existing.calendar, starts_on="2026-12-01"), format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["starts_on"]
    assert "overlaps “Q4 2026 SLA”" in response.json()["starts_on"][0]


def test_targets_must_cover_every_kind_and_give_at_least_one_hour(api, manager):
    calendar = WorkingCalendarFactory()
    client = api(manager)
    missing = client.post(AGREEMENTS, payload(calendar, targets=USUAL_TARGETS[1:]), format="json")
    zero = client.post(
        AGREEMENTS,
        payload(calendar, targets=[*USUAL_TARGETS[:3], {"kind": "mql", "hours": 0}]),
        format="json",
    )
    assert missing.status_code == zero.status_code == 400
    assert missing.json() == {"targets": ["Add a first-touch target for CQL leads."]}
    # the row's error, keyed by its index
    assert zero.json() == {
        "targets": {"3": {"hours": ["Ensure this value is greater than or equal to 1."]}}
    }


def test_a_change_to_a_signed_agreement_clears_both_signatures(api, manager, marketer):
    agreement = AgreementFactory()
    assert (
        api(manager).post(f"{AGREEMENTS}{agreement.pk}/sign/", {"side": "sales"}).status_code == 200
    )
    signed = api(marketer).post(f"{AGREEMENTS}{agreement.pk}/sign/", {"side": "marketing"})
    assert signed.json()["is_signed"] is True
    assert signed.json()["marketing_signature"]["head"] == marketer.pk
    response = api(manager).patch(
        f"{AGREEMENTS}{agreement.pk}/", {"min_acceptance_rate": "75.5"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["min_acceptance_rate"] == "75.50"
    assert body["is_signed"] is False
    assert body["sales_signature"]["signed_at"] is None


def test_signing_rules_answer_403_or_409(api, manager, marketer, rep):
    agreement = AgreementFactory()
    sign = f"{AGREEMENTS}{agreement.pk}/sign/"
    assert api(rep).post(sign, {"side": "marketing"}).status_code == 403
    assert api(marketer).post(sign, {"side": "sales"}).status_code == 403
    api(manager).post(sign, {"side": "sales"})
    both = api(manager).post(sign, {"side": "marketing"})
    assert both.status_code == 409
    assert both.json()["detail"] == "You signed for sales: the marketing head signs this side."


@pytest.mark.parametrize("n", [1, 3])
def test_the_list_runs_a_fixed_number_of_queries(api, rep, django_assert_num_queries, n):
    for year in range(n):
        AgreementFactory(
            name=f"SLA {2030 + year}",
            starts_on=f"{2030 + year}-01-01",
            ends_on=f"{2030 + year}-12-31",
        )
    client = api(rep)
    # groups (roles), the count, the page with its signers, and its targets
    with django_assert_num_queries(4):
        assert len(client.get(AGREEMENTS).json()["results"]) == n

import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_token_endpoint_exchanges_password_for_a_working_token(client, rep):
    response = client.post(
        reverse("api-token"),
        {"username": rep.username, "password": "correct-horse-battery"},
        content_type="application/json",
    )
    assert response.status_code == 200
    token = response.json()["token"]
    assert (
        client.post(
            reverse("api-token"),
            {"username": rep.username, "password": "correct-horse-battery"},
            content_type="application/json",
        ).json()["token"]
        == token
    )


@pytest.mark.django_db
def test_token_endpoint_rejects_a_wrong_password_with_a_clear_error(client, rep):
    response = client.post(
        reverse("api-token"),
        {"username": rep.username, "password": "nope"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "Unable to log in" in str(response.json())


@pytest.mark.django_db
def test_openapi_schema_and_docs_are_served(client, rep):
    client.force_login(rep)
    schema = client.get(reverse("api-schema"))
    assert schema.status_code == 200
    assert b"/api/v1/auth/token/" in schema.content
    assert client.get(reverse("api-docs")).status_code == 200

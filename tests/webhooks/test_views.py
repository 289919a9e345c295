"""The manager pages: endpoints, create/edit, secret rotation, disable/enable, test event,
the delivery log with "Retry now". Everyone but managers gets 403."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.webhooks.factories import WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks.models import WebhookDelivery, WebhookEndpoint

PAGES = [
    ("webhooks:endpoints", False),
    ("webhooks:endpoint_new", False),
    ("webhooks:endpoint", True),
    ("webhooks:deliveries", True),
]
ACTIONS = ["webhooks:endpoint_rotate", "webhooks:endpoint_active", "webhooks:endpoint_test"]


def _url(name: str, endpoint: WebhookEndpoint, with_pk: bool = True) -> str:
    return reverse(name, args=[endpoint.pk] if with_pk else [])


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_reps_and_marketers_cannot_open_or_use_the_webhook_pages(request, client_for, who):
    # given an endpoint with a failed delivery
    endpoint = WebhookEndpointFactory()
    failed = WebhookDeliveryFactory(endpoint=endpoint, status="failed", next_attempt_at=None)
    client = client_for(request.getfixturevalue(who))
    # then every page and action is forbidden, and nothing changed
    for name, with_pk in PAGES:
        assert client.get(_url(name, endpoint, with_pk)).status_code == 403
    for name in ACTIONS:
        assert client.post(_url(name, endpoint), {"active": "0"}).status_code == 403
    retry = client.post(reverse("webhooks:delivery_retry", args=[failed.pk]))
    assert retry.status_code == 403
    create = client.post(
        reverse("webhooks:endpoint_new"),
        {"url": "https://x.example.com/", "events": ["handoff.created"]},
    )
    assert create.status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.count() == 1
    assert WebhookDelivery.objects.get().status == "failed"


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_log_in(client):
    response = client.get(reverse("webhooks:endpoints"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.django_db
def test_managers_open_every_page_and_see_webhooks_in_the_navigation(client_for, manager):
    endpoint = WebhookEndpointFactory()
    client = client_for(manager)
    for name, with_pk in PAGES:
        assert client.get(_url(name, endpoint, with_pk)).status_code == 200
    assert reverse("webhooks:endpoints") in client.get(reverse("home"), follow=True).text


@pytest.mark.django_db
def test_others_do_not_see_webhooks_in_the_navigation(client_for, marketer):
    page = client_for(marketer).get(reverse("leads:pipeline"))
    assert reverse("webhooks:endpoints") not in page.text


@pytest.mark.django_db
def test_unknown_endpoints_and_deliveries_are_404(client_for, manager):
    client = client_for(manager)
    assert client.get(reverse("webhooks:endpoint", args=[999])).status_code == 404
    assert client.get(reverse("webhooks:deliveries", args=[999])).status_code == 404
    assert client.post(reverse("webhooks:delivery_retry", args=[999])).status_code == 404


@pytest.mark.django_db
def test_actions_need_post_and_a_csrf_token(manager):
    endpoint = WebhookEndpointFactory()
    client = Client(enforce_csrf_checks=True)
    client.force_login(manager)
    assert client.get(reverse("webhooks:endpoint_rotate", args=[endpoint.pk])).status_code == 405
    response = client.post(reverse("webhooks:endpoint_rotate", args=[endpoint.pk]))
    assert response.status_code == 403
    assert WebhookEndpoint.objects.get().secret == endpoint.secret


@pytest.mark.django_db
def test_manager_creates_an_endpoint_and_sees_its_secret_once(client_for, manager):
    client = client_for(manager)
    # when a manager creates an endpoint
    response = client.post(
        reverse("webhooks:endpoint_new"),
        {
            "url": " https://crm.example.com/hooks ",
            "description": "Sales ops",
            "events": ["sla.breached", "handoff.created"],
            "is_active": "on",
        },
    )
    # then it exists with a generated secret, shown on this response only
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.url, endpoint.description) == ("https://crm.example.com/hooks", "Sales ops")
    assert endpoint.events == ["handoff.created", "sla.breached"]
    assert endpoint.created_by == manager and endpoint.is_active
    assert len(endpoint.secret) > 40
    assert response.status_code == 200 and endpoint.secret in response.text
    assert "no-store" in response["Cache-Control"]
    for name, with_pk in PAGES:
        assert endpoint.secret not in client.get(_url(name, endpoint, with_pk)).text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data, field, message",
    [
        ({"url": "", "events": ["handoff.created"]}, "url", "This field is required."),
        ({"url": "https://x.example.com/"}, "events", "Choose at least one event."),
        (
            {"url": "ftp://x.example.com/", "events": ["handoff.created"]},
            "url",
            "Only http:// and https:// URLs",
        ),
        (
            {"url": "https://u:p@x.example.com/", "events": ["handoff.created"]},
            "url",
            "Leave credentials out of the URL",
        ),
        (
            {"url": "https://x.example.com/", "events": ["webhook.test"]},
            "events",
            "Select a valid choice.",
        ),
    ],
)
def test_the_form_shows_errors_on_their_fields(client_for, manager, data, field, message):
    response = client_for(manager).post(reverse("webhooks:endpoint_new"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert 'class="field-error"' in response.text
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_manager_edits_an_endpoint(client_for, manager):
    endpoint = WebhookEndpointFactory(events=["handoff.created"])
    response = client_for(manager).post(
        reverse("webhooks:endpoint", args=[endpoint.pk]),
        {"url": "https://new.example.com/h", "description": "", "events": ["lead.returned"]},
    )
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://new.example.com/h"
    assert endpoint.events == ["lead.returned"] and not endpoint.is_active


@pytest.mark.django_db
def test_rotating_the_secret_shows_the_new_one_once(client_for, manager):
    endpoint = WebhookEndpointFactory()
    old = endpoint.secret
    response = client_for(manager).post(reverse("webhooks:endpoint_rotate", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.secret != old and endpoint.secret_rotated_at
    assert endpoint.secret in response.text and old not in response.text


@pytest.mark.django_db
def test_manager_disables_and_enables_an_endpoint(client_for, manager):
    endpoint = WebhookEndpointFactory()
    client = client_for(manager)
    client.post(reverse("webhooks:endpoint_active", args=[endpoint.pk]), {"active": "0"})
    endpoint.refresh_from_db()
    assert not endpoint.is_active
    client.post(reverse("webhooks:endpoint_active", args=[endpoint.pk]), {"active": "1"})
    endpoint.refresh_from_db()
    assert endpoint.is_active


@pytest.mark.django_db
def test_send_test_event_posts_a_signed_test_delivery(
    client_for, manager, receiver, django_capture_on_commit_callbacks
):
    # given an endpoint that subscribes to another event only
    endpoint = WebhookEndpointFactory(url=receiver.url, events=["sla.breached"])
    receiver.secret = endpoint.secret
    # when the manager sends a test event
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(reverse("webhooks:endpoint_test", args=[endpoint.pk]))
    # then the receiver got it, signed, and the log shows it succeeded
    assert response.status_code == 302
    [request] = receiver.requests
    assert request.signed and request.json["type"] == "webhook.test"
    assert WebhookDelivery.objects.get().status == "succeeded"
    log = client_for(manager).get(response["Location"]).text
    assert "webhook.test" in log and "Succeeded" in log


@pytest.mark.django_db
def test_a_disabled_endpoint_gets_no_test_event(client_for, manager):
    endpoint = WebhookEndpointFactory(is_active=False)
    response = client_for(manager).post(
        reverse("webhooks:endpoint_test", args=[endpoint.pk]), follow=True
    )
    assert "Enable the endpoint" in response.text
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_retry_now_gives_a_failed_delivery_one_more_attempt(
    client_for, manager, receiver, django_capture_on_commit_callbacks
):
    # given a delivery that failed for good
    endpoint = WebhookEndpointFactory(url=receiver.url)
    receiver.secret = endpoint.secret
    failed = WebhookDeliveryFactory(
        endpoint=endpoint, status="failed", attempts=6, next_attempt_at=None, last_error="HTTP 500"
    )
    client = client_for(manager)
    log = client.get(reverse("webhooks:deliveries", args=[endpoint.pk])).text
    assert "Retry now" in log and "HTTP 500" in log
    # when the manager clicks "Retry now"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("webhooks:delivery_retry", args=[failed.pk]))
    # then it was posted again and succeeded
    assert len(receiver.requests) == 1
    failed.refresh_from_db()
    assert (failed.status, failed.attempts, failed.last_error) == ("succeeded", 7, "")


@pytest.mark.django_db
def test_only_a_failed_delivery_can_be_retried(client_for, manager):
    delivery = WebhookDeliveryFactory()
    response = client_for(manager).post(
        reverse("webhooks:delivery_retry", args=[delivery.pk]), follow=True
    )
    assert "Only a failed delivery can be retried." in response.text


@pytest.mark.django_db
def test_the_log_shows_the_payload_and_filters_by_status(client_for, manager):
    endpoint = WebhookEndpointFactory()
    WebhookDeliveryFactory(endpoint=endpoint, payload={"data": {"marker": "first-payload"}})
    WebhookDeliveryFactory(
        endpoint=endpoint,
        status="failed",
        next_attempt_at=None,
        payload={"data": {"marker": "failed-payload"}},
    )
    url = reverse("webhooks:deliveries", args=[endpoint.pk])
    everything = client_for(manager).get(url).text
    assert "first-payload" in everything and "failed-payload" in everything
    failed_only = client_for(manager).get(url, {"status": "failed"}).text
    assert "failed-payload" in failed_only and "first-payload" not in failed_only


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.mark.django_db
def test_the_endpoint_list_takes_a_fixed_number_of_queries(client_for, manager):
    # given one endpoint with a failed delivery
    client = client_for(manager)
    WebhookDeliveryFactory(status="failed", next_attempt_at=None)
    url = reverse("webhooks:endpoints")
    one = _queries(client, url)
    # when there are 30 endpoints with deliveries of every status
    for _ in range(29):
        endpoint = WebhookEndpointFactory(created_by=manager)
        WebhookDeliveryFactory(endpoint=endpoint)
        WebhookDeliveryFactory(endpoint=endpoint, status="failed", next_attempt_at=None)
    # then the page takes as many queries
    assert _queries(client, url) == one
    page = client.get(url)
    assert page.context["endpoints"][0].failed_count == 1
    assert page.context["endpoints"][0].pending_count == 1


@pytest.mark.django_db
def test_the_delivery_log_takes_a_fixed_number_of_queries(client_for, manager):
    client = client_for(manager)
    endpoint = WebhookEndpointFactory()
    WebhookDeliveryFactory(endpoint=endpoint)
    url = reverse("webhooks:deliveries", args=[endpoint.pk])
    one = _queries(client, url)
    for _ in range(29):
        WebhookDeliveryFactory(endpoint=endpoint, status="failed", next_attempt_at=None)
    assert _queries(client, url) == one
    # and it is paginated
    assert len(client.get(url).context["page"].object_list) == 25

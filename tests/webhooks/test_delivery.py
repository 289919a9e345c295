"""Delivering: a signed POST to a real receiver on 127.0.0.1; 2xx succeeds, anything else
retries with backoff and finally fails, telling the managers; the minute sweep re-queues due
deliveries a lost task left; running a task twice posts once."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import override_settings

from core.models import Notification
from tests.factories import UserFactory
from tests.webhooks.factories import WebhookDeliveryFactory, WebhookEndpointFactory
from webhooks.destinations import destination_refusal
from webhooks.models import EventType, WebhookDelivery
from webhooks.services import BACKOFF, MAX_ATTEMPTS, webhook_events_emit
from webhooks.tasks import deliver, sweep

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
def endpoint(receiver, manager):
    endpoint = WebhookEndpointFactory(
        url=receiver.url, created_by=manager, events=[EventType.HANDOFF_CREATED]
    )
    receiver.secret = endpoint.secret
    return endpoint


def _pending(endpoint, at=T0) -> WebhookDelivery:
    return WebhookDeliveryFactory(endpoint=endpoint, created_at=at)


@pytest.mark.django_db
def test_a_delivery_is_posted_signed_and_succeeds(endpoint, receiver):
    # given a pending delivery
    with time_machine.travel(T0, tick=False):
        delivery = _pending(endpoint)
        # when the task runs
        deliver(delivery.pk)
    # then the receiver got one signed JSON POST with the event headers
    [request] = receiver.requests
    assert request.signed
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Smarketing-Event"] == "webhook.test"
    assert request.headers["X-Smarketing-Delivery"] == str(delivery.event_id)
    assert request.headers["X-Smarketing-Signature"].startswith(f"t={int(T0.timestamp())},v1=")
    assert request.json == delivery.payload
    # and the delivery succeeded
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.delivered_at == T0
    assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 200, "")
    assert delivery.next_attempt_at is None


@pytest.mark.django_db
def test_an_emitted_event_is_delivered_after_commit(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    # when an event is emitted and its transaction commits (tasks run inline in tests)
    with django_capture_on_commit_callbacks(execute=True):
        [delivery_id] = webhook_events_emit(
            event_type=EventType.HANDOFF_CREATED, payloads=[{"lead": {"id": 7}}]
        )
    # then the receiver has it
    [request] = receiver.requests
    assert request.signed and request.json["data"] == {"lead": {"id": 7}}
    assert WebhookDelivery.objects.get(pk=delivery_id).status == "succeeded"


@pytest.mark.django_db
def test_running_the_task_twice_posts_once(endpoint, receiver):
    delivery = _pending(endpoint, at=datetime.now(UTC))
    deliver(delivery.pk)
    deliver(delivery.pk)
    assert len(receiver.requests) == 1
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.status == "succeeded"


@pytest.mark.django_db
def test_a_server_error_schedules_a_retry_with_backoff(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    # given a receiver that fails once
    receiver.answers = [500]
    with time_machine.travel(T0, tick=False):
        delivery = _pending(endpoint)
        # when the task runs
        deliver(delivery.pk)
    # then the delivery waits a minute, with what the receiver said
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at == T0 + BACKOFF[0] == T0 + timedelta(minutes=1)
    assert delivery.last_status_code == 500
    assert "HTTP 500" in delivery.last_error and "receiver says no" in delivery.last_error
    # when a duplicate task or the sweep comes before the minute is over, nothing is posted
    with time_machine.travel(T0 + timedelta(seconds=50), tick=False):
        deliver(delivery.pk)
        with django_capture_on_commit_callbacks(execute=True):
            sweep()
    assert len(receiver.requests) == 1
    # when the sweep runs after it, the retry goes out and succeeds
    with (
        time_machine.travel(T0 + timedelta(seconds=61), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sweep()
    assert len(receiver.requests) == 2 and all(r.signed for r in receiver.requests)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 2


@pytest.mark.django_db
def test_the_last_failed_attempt_fails_the_delivery_and_tells_managers_once(
    endpoint, receiver, manager, rep
):
    # given a receiver that always fails, a second manager and an inactive one
    receiver.answers = [503] * (2 * MAX_ATTEMPTS)
    other = UserFactory(role="Manager", username="manager-b")
    UserFactory(role="Manager", username="manager-gone", is_active=False)
    at = T0
    with time_machine.travel(at, tick=False):
        first, second = _pending(endpoint), _pending(endpoint)
    waits = []
    # when both are tried at each retry time
    for attempt in range(1, MAX_ATTEMPTS + 1):
        with time_machine.travel(at, tick=False):
            deliver(first.pk)
            deliver(second.pk)
        first.refresh_from_db()
        if attempt < MAX_ATTEMPTS:
            assert first.status == "pending"
            waits.append(first.next_attempt_at - at)
            at = first.next_attempt_at
    # then the waits were 1 min, 5 min, 30 min, 2 h, 12 h and both failed after 6 attempts
    assert waits == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=12),
    ]
    for delivery in (first, second):
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
        assert delivery.next_attempt_at is None and delivery.last_status_code == 503
    assert len(receiver.requests) == 2 * MAX_ATTEMPTS
    # and each active manager heard of it once (the endpoint is down: one notice, not two)
    notices = Notification.objects.filter(kind=Notification.Kind.WEBHOOK_FAILED)
    assert sorted(notices.values_list("user__username", flat=True)) == sorted(
        [manager.username, other.username]
    )
    assert endpoint.url in notices.first().message
    assert notices.first().url == f"/webhooks/{endpoint.pk}/deliveries/?status=failed"
    # and a task that comes later does nothing
    deliver(first.pk)
    assert len(receiver.requests) == 2 * MAX_ATTEMPTS


@pytest.mark.django_db
def test_a_redirect_is_an_answer_not_a_new_destination(endpoint, receiver):
    receiver.answers = [302]
    delivery = _pending(endpoint, at=datetime.now(UTC))
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code == 302
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_an_unreachable_receiver_is_retried(manager):
    # given an endpoint on a port nothing listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint = WebhookEndpointFactory(url=f"http://127.0.0.1:{port}/x", created_by=manager)
    delivery = _pending(endpoint, at=datetime.now(UTC))
    deliver(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert delivery.last_error.startswith("Connection failed")


@pytest.mark.django_db
def test_the_sweep_requeues_a_due_delivery_whose_task_was_lost(
    endpoint, receiver, django_capture_on_commit_callbacks
):
    # given a delivery queued ten minutes ago whose task never ran, one queued just now,
    # and one on a disabled endpoint
    now = datetime.now(UTC)
    lost = _pending(endpoint, at=now - timedelta(minutes=10))
    fresh = _pending(endpoint, at=now)
    paused = _pending(WebhookEndpointFactory(url=receiver.url, is_active=False), at=now)
    WebhookDelivery.objects.filter(pk=paused.pk).update(dispatched_at=None)
    # when the sweep runs
    with django_capture_on_commit_callbacks(execute=True):
        sweep()
    # then only the lost one was posted
    assert [r.headers["X-Smarketing-Delivery"] for r in receiver.requests] == [str(lost.event_id)]
    statuses = dict(WebhookDelivery.objects.values_list("pk", "status"))
    assert statuses == {lost.pk: "succeeded", fresh.pk: "pending", paused.pk: "pending"}


@pytest.mark.django_db
def test_the_sweep_prunes_successes_older_than_30_days(endpoint):
    now = datetime.now(UTC)

    def delivered(days: int, status: str = "succeeded") -> WebhookDelivery:
        at = now - timedelta(days=days)
        return WebhookDeliveryFactory(
            endpoint=endpoint,
            created_at=at,
            status=status,
            next_attempt_at=None,
            delivered_at=at if status == "succeeded" else None,
        )

    old, recent, old_failure = delivered(31), delivered(29), delivered(40, "failed")
    sweep()
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {
        recent.pk,
        old_failure.pk,
    }
    assert not WebhookDelivery.objects.filter(pk=old.pk).exists()


@pytest.mark.django_db
@override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE_HOSTS=False)
def test_in_production_a_private_destination_is_never_posted(endpoint, receiver):
    # given an endpoint whose host is (now) loopback
    delivery = _pending(endpoint, at=datetime.now(UTC))
    # when its task runs
    deliver(delivery.pk)
    # then nothing was sent and the log says why
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.last_error.startswith("Not sent:")


@pytest.mark.django_db
@override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE_HOSTS=False)
def test_a_name_that_resolves_inside_at_connect_time_is_cut_off(endpoint, receiver, monkeypatch):
    # given a host name that looked public when checked, and now resolves to loopback (DNS
    # rebinding: the check's answer is simulated, the connection is real)
    monkeypatch.setattr("webhooks.services.destination_refusal", lambda url: None)
    delivery = _pending(endpoint, at=datetime.now(UTC))
    # when its task runs
    deliver(delivery.pk)
    # then the connection is dropped before the request is sent, and the log says why
    assert receiver.requests == []
    delivery.refresh_from_db()
    assert delivery.status == "pending"
    assert delivery.last_error.startswith("Not sent: 127.0.0.1 is a private")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "https://user:pw@example.com/hook",
        "https://token@example.com/hook",
        "http://127.0.0.1:8000/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost/hook",
        "http://0.0.0.0/hook",
        "https:///nohost",
        "not a url",
    ],
)
@override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE_HOSTS=False)
def test_in_production_unsafe_destinations_are_refused(url):
    assert destination_refusal(url)


@override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE_HOSTS=False)
def test_in_production_a_public_address_is_allowed():
    assert destination_refusal("https://93.184.216.34/hook") is None


@override_settings(DEBUG=False, WEBHOOKS_ALLOW_PRIVATE_HOSTS=True)
def test_the_setting_allows_private_hosts_but_never_credentials_or_other_schemes():
    assert destination_refusal("http://127.0.0.1:9000/hook") is None
    assert destination_refusal("http://u:p@127.0.0.1:9000/hook")
    assert destination_refusal("file:///etc/passwd")

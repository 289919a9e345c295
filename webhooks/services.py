"""Writes for outbound webhooks: endpoints, emitting events, delivering them, the sweep.

Emitting (``webhook_events_emit``) inserts one delivery row per event and subscribed active
endpoint in the caller's transaction and queues the posts after commit, so an event exists
exactly when the domain change that caused it committed. A delivery is posted by
``webhook_delivery_attempt``: a short transaction claims it (row locked, skipping rows another
worker holds; the claim leases it for ``LEASE``), the POST runs outside any transaction, and a
second short transaction records the outcome: 2xx succeeded, anything else a retry after
``BACKOFF`` or, after the last attempt, failed (managers are told). The minute sweep queues
due retries and whatever a lost task left pending, and prunes old successes.
"""

import json
import logging
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotAllowed
from core.models import Notification
from core.roles import Role, is_manager
from core.services import notification_send
from webhooks.destinations import (
    CheckedHTTPHandler,
    CheckedHTTPSHandler,
    InternalAddressError,
    destination_refusal,
)
from webhooks.models import SUBSCRIBABLE, EventType, WebhookDelivery, WebhookEndpoint
from webhooks.selectors import endpoints_subscribed
from webhooks.signing import HEADER as SIGNATURE_HEADER
from webhooks.signing import signature_header

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
# Waits after the 1st, 2nd … failed attempt; the attempt after the last wait is the final one.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claimed delivery is not due again for this long: longer than a POST can take.
LEASE = timedelta(minutes=2)
# A queued task that has not claimed its delivery by then is taken as lost.
REDISPATCH_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 5000
KEEP_SUCCEEDED = timedelta(days=30)
# Ids per on-commit callback that queues delivery tasks.
DISPATCH_CHUNK = 500
ERROR_MAX = 500
FAILURE_NOTICE_EVERY = timedelta(hours=1)
USER_AGENT = "smarketing-webhooks/1"


def iso(moment: datetime | None) -> str | None:
    """Times in payloads: UTC to the second, ``2026-11-23T09:00:00Z`` (the SQL path matches)."""
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(*, event_id: uuid.UUID, event_type: str, created_at: datetime, data: dict) -> dict:
    return {"id": str(event_id), "type": event_type, "created_at": iso(created_at), "data": data}


# --- emitting --------------------------------------------------------------------------------
Payloads = Iterable[dict] | Callable[[], Iterable[dict]]


def webhook_events_emit(
    *, event_type: str, payloads: Payloads, endpoint_ids: list[int] | None = None
) -> list[int]:
    """Store one delivery per event (each item of ``payloads`` is an event's ``data``) and
    active endpoint subscribed to ``event_type`` (or the given ``endpoint_ids``), in the
    caller's transaction; the posts are queued after commit. Each event gets one id, the same
    for every endpoint. ``payloads`` may be a callable: it is called only when an endpoint
    listens, so an event nobody subscribed to costs one query. Two queries otherwise (the
    endpoints, one insert), however many events. Returns the delivery ids."""
    if endpoint_ids is None:
        endpoint_ids = endpoints_subscribed(event_type=event_type)
    if not endpoint_ids:
        return []
    if callable(payloads):
        payloads = payloads()
    now = timezone.now()
    rows = []
    for data in payloads:
        event_id = uuid.uuid4()
        body = envelope(event_id=event_id, event_type=event_type, created_at=now, data=data)
        rows += [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_type=event_type,
                event_id=event_id,
                payload=body,
                next_attempt_at=now,
                dispatched_at=now,
                created_at=now,
            )
            for endpoint_id in endpoint_ids
        ]
    if not rows:
        return []
    created = WebhookDelivery.objects.bulk_create(rows)
    ids = [d.pk for d in created]
    deliveries_dispatch(delivery_ids=ids)
    return ids


def deliveries_dispatch(*, delivery_ids: list[int]) -> None:
    """After commit, queue one ``webhooks.deliver`` task per delivery, in chunks. A broker
    failure is logged, not raised: the rows are pending and the sweep re-queues them."""
    ids = list(delivery_ids)
    for start in range(0, len(ids), DISPATCH_CHUNK):
        transaction.on_commit(lambda chunk=ids[start : start + DISPATCH_CHUNK]: _queue(chunk))


def _queue(delivery_ids: list[int]) -> None:
    from webhooks.tasks import deliver

    try:
        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)
    except Exception:  # the broker is down: the sweep re-queues within REDISPATCH_AFTER
        if getattr(deliver.app.conf, "task_always_eager", False):
            raise
        logger.exception("could not queue webhook deliveries %s", delivery_ids[:10])


# --- delivering ------------------------------------------------------------------------------
def webhook_delivery_attempt(*, delivery_id: int) -> str:
    """Post the delivery if it is pending and due (a duplicate or late task does nothing) and
    record the outcome. Returns ``succeeded``, ``retry``, ``failed`` or ``skipped``."""
    claimed = _delivery_claim(delivery_id=delivery_id)
    if claimed is None:
        return "skipped"
    delivery, url, secret = claimed
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    refusal = destination_refusal(url)
    if refusal:
        status_code, error = None, f"Not sent: {refusal}"
    else:
        status_code, error = _post(
            url,
            body,
            {
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Smarketing-Event": delivery.event_type,
                "X-Smarketing-Delivery": str(delivery.event_id),
                SIGNATURE_HEADER: signature_header(secret, body),
            },
        )
    return _delivery_record(
        delivery_id=delivery.pk,
        attempt=delivery.attempts,
        status_code=status_code,
        error=error,
    )


@transaction.atomic
def _delivery_claim(*, delivery_id: int) -> tuple[WebhookDelivery, str, str] | None:
    now = timezone.now()
    due = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=now,
        endpoint__is_active=True,
    )
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True, of=("self",))
    delivery = due.select_related("endpoint").first()
    if delivery is None:
        return None
    delivery.attempts += 1
    delivery.next_attempt_at = now + LEASE
    delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery, delivery.endpoint.url, delivery.endpoint.secret


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new destination (it could point inside the network)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirects, CheckedHTTPHandler, CheckedHTTPSHandler)


def _post(url: str, body: bytes, headers: dict) -> tuple[int | None, str]:
    """POST ``body``; the response's status code (None when there was none) and, unless it
    is 2xx, what went wrong."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - the scheme is checked (destinations)
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            code = response.status
            text = "" if 200 <= code < 300 else response.read(300).decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        code = error.code
        try:
            text = error.read(300).decode("utf-8", "replace")
        except OSError:
            text = ""
        return code, f"HTTP {code}: {text}".strip().rstrip(":")[:ERROR_MAX]
    except urllib.error.URLError as error:
        if isinstance(error.reason, InternalAddressError):
            return None, f"Not sent: {error.reason}"[:ERROR_MAX]
        return None, f"Connection failed: {error.reason}"[:ERROR_MAX]
    except (TimeoutError, OSError, ValueError) as error:
        return None, f"Connection failed: {error or type(error).__name__}"[:ERROR_MAX]
    if 200 <= code < 300:
        return code, ""
    return code, f"HTTP {code}: {text}".strip().rstrip(":")[:ERROR_MAX]


@transaction.atomic
def _delivery_record(*, delivery_id: int, attempt: int, status_code: int | None, error: str) -> str:
    """Store an attempt's outcome, unless the delivery moved on meanwhile (a manual retry)."""
    now = timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING, attempts=attempt)
        .first()
    )
    if delivery is None:
        return "skipped"
    delivery.last_status_code = status_code
    fields = ["status", "last_status_code", "last_error", "next_attempt_at", "dispatched_at"]
    if status_code is not None and 200 <= status_code < 300:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.last_error = ""
        delivery.next_attempt_at = None
        delivery.save(update_fields=[*fields, "delivered_at"])
        return "succeeded"
    delivery.last_error = (error or f"HTTP {status_code}")[:ERROR_MAX]
    if attempt < MAX_ATTEMPTS:
        # The sweep queues it once due (dispatched_at cleared: no task is waiting for it).
        delivery.next_attempt_at = now + BACKOFF[attempt - 1]
        delivery.dispatched_at = None
        delivery.save(update_fields=fields)
        return "retry"
    delivery.status = WebhookDelivery.Status.FAILED
    delivery.next_attempt_at = None
    delivery.dispatched_at = None
    delivery.save(update_fields=fields)
    _failure_notify(delivery=delivery, now=now)
    return "failed"


def _failure_notify(*, delivery: WebhookDelivery, now: datetime) -> None:
    """Tell the endpoint's creator and the managers, at most once an hour per endpoint (an
    endpoint that is down fails every delivery)."""
    endpoint = delivery.endpoint
    claimed = (
        WebhookEndpoint.objects.filter(pk=endpoint.pk)
        .filter(
            Q(failure_notified_at__isnull=True)
            | Q(failure_notified_at__lte=now - FAILURE_NOTICE_EVERY)
        )
        .update(failure_notified_at=now)
    )
    if not claimed:
        return
    recipients = [
        endpoint.created_by,
        *User.objects.filter(groups__name=Role.MANAGER.value, is_active=True).distinct(),
    ]
    notification_send(
        recipients=[u for u in recipients if u is not None and u.is_active],
        kind=Notification.Kind.WEBHOOK_FAILED,
        message=(
            f"Webhook {delivery.event_type} to {endpoint.url} failed after "
            f"{delivery.attempts} attempts: {delivery.last_error}"
        ),
        url=reverse("webhooks:deliveries", args=[endpoint.pk]) + "?status=failed",
    )


# --- the sweep -------------------------------------------------------------------------------
def webhook_deliveries_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Beat, every minute: queue the pending deliveries that are due and have no task waiting
    (retries whose wait is over, deliveries whose task was lost), and delete successes older
    than ``KEEP_SUCCEEDED``. Returns (queued, pruned)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now,
            endpoint__is_active=True,
        ).filter(Q(dispatched_at__isnull=True) | Q(dispatched_at__lte=now - REDISPATCH_AFTER))
        ids = list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_LIMIT])
        if ids:
            WebhookDelivery.objects.filter(pk__in=ids).update(dispatched_at=now)
            deliveries_dispatch(delivery_ids=ids)
    pruned, _ = WebhookDelivery.objects.filter(
        status=WebhookDelivery.Status.SUCCEEDED, delivered_at__lt=now - KEEP_SUCCEEDED
    ).delete()
    return len(ids), pruned


# --- endpoints (manager pages) ---------------------------------------------------------------
class EndpointInvalid(InvalidInput):
    """Several fields failed validation; ``errors`` maps each field to its messages."""

    def __init__(self, errors: dict[str, list[str]]):
        field = next(iter(errors))
        super().__init__(errors[field][0], field=field)
        self.errors = errors


def _require_manager(actor: User) -> None:
    if not is_manager(actor):
        raise NotAllowed("Only managers configure webhooks.")


def endpoint_errors(*, url: str, description: str, events: list[str]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    if not url:
        errors["url"] = ["Enter the URL that receives the webhooks."]
    elif len(url) > WebhookEndpoint._meta.get_field("url").max_length:
        errors["url"] = ["Keep the URL under 500 characters."]
    else:
        refusal = destination_refusal(url)
        if refusal:
            errors["url"] = [refusal]
    if len(description or "") > 200:
        errors["description"] = ["Keep the description under 200 characters."]
    if not events:
        errors["events"] = ["Choose at least one event."]
    elif any(event not in SUBSCRIBABLE for event in events):
        errors["events"] = ["Choose among the listed events."]
    return errors


def _validated(*, url: str, description: str, events: list[str]) -> dict:
    errors = endpoint_errors(url=url, description=description, events=events)
    if errors:
        raise EndpointInvalid(errors)
    return {
        "url": url.strip(),
        "description": (description or "").strip(),
        "events": [event for event in SUBSCRIBABLE if event in events],
    }


def secret_generate() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


@transaction.atomic
def webhook_endpoint_create(
    *, actor: User, url: str, description: str = "", events: list[str], is_active: bool = True
) -> WebhookEndpoint:
    """A new endpoint with a fresh secret (show it to the manager once: it is not shown
    again)."""
    _require_manager(actor)
    fields = _validated(url=url, description=description, events=events)
    return WebhookEndpoint.objects.create(
        created_by=actor, secret=secret_generate(), is_active=bool(is_active), **fields
    )


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint_id: int,
    actor: User,
    url: str,
    description: str,
    events: list[str],
    is_active: bool,
) -> WebhookEndpoint:
    _require_manager(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    fields = _validated(url=url, description=description, events=events)
    resumed = bool(is_active) and not endpoint.is_active
    for name, value in {**fields, "is_active": bool(is_active)}.items():
        setattr(endpoint, name, value)
    endpoint.save(update_fields=[*fields, "is_active", "updated_at"])
    if resumed:
        _resume(endpoint_id=endpoint.pk)
    return endpoint


@transaction.atomic
def webhook_endpoint_set_active(*, endpoint_id: int, actor: User, active: bool) -> WebhookEndpoint:
    """Disable (its pending deliveries wait) or enable (they go out within a minute)."""
    _require_manager(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if endpoint.is_active == bool(active):
        return endpoint
    endpoint.is_active = bool(active)
    endpoint.save(update_fields=["is_active", "updated_at"])
    if endpoint.is_active:
        _resume(endpoint_id=endpoint.pk)
    return endpoint


def _resume(*, endpoint_id: int) -> None:
    # No task waits for the deliveries paused meanwhile: the next sweep queues them.
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING
    ).update(dispatched_at=None)


@transaction.atomic
def webhook_endpoint_rotate_secret(*, endpoint_id: int, actor: User) -> str:
    """Replace the secret; returns the new one (shown once). Deliveries still pending are
    signed with the new secret when they go out."""
    _require_manager(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    endpoint.secret = secret_generate()
    endpoint.secret_rotated_at = timezone.now()
    endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return endpoint.secret


@transaction.atomic
def webhook_test_send(*, endpoint_id: int, actor: User) -> WebhookDelivery:
    """Queue a ``webhook.test`` event to this endpoint only, whatever it subscribes to."""
    _require_manager(actor)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint_id)
    if not endpoint.is_active:
        raise DomainError("Enable the endpoint before sending it a test event.", code="inactive")
    [delivery_id] = webhook_events_emit(
        event_type=EventType.TEST,
        payloads=[
            {
                "message": "A test event from smarketing: your endpoint receives webhooks.",
                "endpoint": {"id": endpoint.pk, "url": endpoint.url},
                "sent_by": actor.username,
            }
        ],
        endpoint_ids=[endpoint.pk],
    )
    return WebhookDelivery.objects.get(pk=delivery_id)


@transaction.atomic
def webhook_delivery_retry(*, delivery_id: int, actor: User) -> WebhookDelivery:
    """A failed delivery gets one more attempt now."""
    _require_manager(actor)
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .get(pk=delivery_id)
    )
    if delivery.status != WebhookDelivery.Status.FAILED:
        raise DomainError("Only a failed delivery can be retried.", code="not_failed")
    if not delivery.endpoint.is_active:
        raise DomainError("Enable the endpoint before retrying.", code="inactive")
    now = timezone.now()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=now, dispatched_at=now
    )
    deliveries_dispatch(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    return delivery

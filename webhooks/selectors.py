"""Reads for outbound webhooks."""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from webhooks.models import WebhookDelivery, WebhookEndpoint


def endpoints_subscribed(*, event_type: str) -> list[int]:
    """Ids of the active endpoints subscribed to ``event_type``: one query on a small table,
    and the only one an event costs while nobody listens."""
    return [
        pk
        for pk, events in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events")
        if event_type in (events or ())
    ]


def _count(status: str) -> Coalesce:
    per_endpoint = (
        WebhookDelivery.objects.filter(endpoint=OuterRef("pk"), status=status)
        .order_by()
        .values("endpoint")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(per_endpoint, output_field=IntegerField()), Value(0))


def endpoint_list() -> QuerySet[WebhookEndpoint]:
    """Every endpoint with its last delivery (status, time) and its failed and pending
    counts: one query however many endpoints and deliveries."""
    last = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-id")
    return (
        WebhookEndpoint.objects.select_related("created_by")
        .defer("secret")
        .annotate(
            last_status=Subquery(last.values("status")[:1]),
            last_delivery_at=Subquery(last.values("created_at")[:1]),
            failed_count=_count(WebhookDelivery.Status.FAILED),
            pending_count=_count(WebhookDelivery.Status.PENDING),
        )
        .order_by("-created_at", "-id")
    )


def endpoint_deliveries(*, endpoint_id: int, status: str = "") -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first (the log page paginates it)."""
    deliveries = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
    if status in WebhookDelivery.Status.values:
        deliveries = deliveries.filter(status=status)
    return deliveries.order_by("-created_at", "-id")

"""Outbound webhooks: endpoints a manager registers, and one delivery row per event and
endpoint. The delivery row is the source of truth: the worker posts it, a minute sweep
re-dispatches what a lost task left pending, and its status says what became of it."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class EventType(models.TextChoices):
    HANDOFF_CREATED = "handoff.created", "Handoff created (lead entered MQL, PQL or CQL)"
    LEAD_RETURNED = "lead.returned", "Lead returned to marketing"
    SLA_BREACHED = "sla.breached", "SLA deadline breached"
    CAMPAIGN_LAUNCHED = "campaign.launched", "Campaign launched"
    TEST = "webhook.test", "Test event"


# The events an endpoint may subscribe to (the test event goes to one endpoint on request).
SUBSCRIBABLE = (
    EventType.HANDOFF_CREATED,
    EventType.LEAD_RETURNED,
    EventType.SLA_BREACHED,
    EventType.CAMPAIGN_LAUNCHED,
)


class WebhookEndpoint(models.Model):
    """A URL that receives signed POSTs for the events it subscribes to. Written only through
    webhooks.services; the secret is generated there and never leaves the server except once,
    on the page that created or rotated it."""

    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text="Subscribed event types")
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    # When managers last heard that a delivery failed for good: at most one notice an hour.
    failure_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.description or self.url

    def event_labels(self) -> list[str]:
        labels = dict(EventType.choices)
        return [labels.get(event, event) for event in self.events]


class WebhookDelivery(models.Model):
    """One event for one endpoint. ``next_attempt_at`` is when it may be tried (pending only);
    ``dispatched_at`` when a task was last queued for it, so the sweep re-queues only what
    a lost task left behind."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    # No index of its own: the log's (endpoint, created_at) index leads with it.
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    event_type = models.CharField(max_length=40, choices=EventType.choices)
    event_id = models.UUIDField()
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhookdelivery_event_once"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]),
                name="webhookdelivery_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="webhookdelivery_pending_has_next_attempt",
            ),
            models.CheckConstraint(
                condition=Q(status="succeeded", delivered_at__isnull=False)
                | (~Q(status="succeeded") & Q(delivered_at__isnull=True)),
                name="webhookdelivery_delivered_at_matches_status",
            ),
        ]
        indexes = [
            # The sweep: pending deliveries that are due (a small set however long the log).
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhookdelivery_due_idx",
            ),
            # An endpoint's delivery log, newest first.
            models.Index(fields=["endpoint", "-created_at", "-id"], name="webhookdelivery_log_idx"),
            # The endpoints page counts failures per endpoint.
            models.Index(
                fields=["endpoint"],
                condition=Q(status="failed"),
                name="webhookdelivery_failed_idx",
            ),
            # Pruning old successes.
            models.Index(
                fields=["delivered_at"],
                condition=Q(status="succeeded"),
                name="webhookdelivery_prune_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → endpoint {self.endpoint_id}"

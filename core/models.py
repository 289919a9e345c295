from django.db import models


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Heartbeat(models.Model):
    """Last time a background process proved it runs (beat schedules, the worker executes)."""

    process = models.CharField(max_length=40, unique=True)
    hostname = models.CharField(max_length=255, blank=True)
    beats = models.PositiveBigIntegerField(default=0)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.process} @ {self.seen_at:%Y-%m-%d %H:%M:%S}"


class Notification(models.Model):
    """An in-app message for one user (the header bell); email copies go out after commit."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Lead assigned"
        RETURNED = "returned", "Lead returned to marketing"
        REASSIGNED = "reassigned", "Lead reassigned"
        LAUNCH = "launch", "Campaign launched"
        CONTENT = "content", "Content request"
        SLA_WARNING = "sla_warning", "SLA deadline approaching"
        SLA_BREACH = "sla_breach", "SLA deadline breached"
        WEBHOOK_FAILED = "webhook_failed", "Webhook delivery failed"
        DIGEST = "digest", "Digest"
        INFO = "info", "Information"

    # notification_user_time_idx leads with the user: no index of its own to write per row.
    user = models.ForeignKey(
        "auth.User", on_delete=models.CASCADE, related_name="notifications", db_index=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.INFO)
    message = models.CharField(max_length=300)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_time_idx"),
            models.Index(
                fields=["user"],
                condition=models.Q(read_at__isnull=True),
                name="notification_unread_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.message}"

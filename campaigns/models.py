from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from core.models import TimeStampedModel


class Campaign(TimeStampedModel):
    """A marketing campaign on the shared calendar. Written only through campaigns.services."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBINAR = "webinar", "Webinar"
        EVENT = "event", "Event / trade show"
        PAID_SOCIAL = "paid_social", "Paid social"
        PAID_SEARCH = "paid_search", "Paid search"
        CONTENT = "content", "Content"
        PARTNER = "partner", "Partner"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        LIVE = "live", "Live"
        DONE = "done", "Done"

    name = models.CharField(max_length=200)
    channel = models.CharField(max_length=20, choices=Channel.choices, default=Channel.EMAIL)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    start_date = models.DateField()
    end_date = models.DateField()
    audience = models.CharField(max_length=300, blank=True)
    offer = models.TextField(blank=True)
    landing_url = models.URLField(blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    quote = models.TextField(blank=True, help_text="A line sales can use with prospects.")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_campaigns",
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    # Claimed by a conditional UPDATE before reps are told the campaign is live: set once, so
    # a second beat run, a retried task or a double click never notifies twice.
    launch_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="campaign_end_not_before_start"
            ),
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
            models.CheckConstraint(
                condition=Q(status__in=["planned", "live", "done"]), name="campaign_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["start_date", "end_date"], name="campaign_dates_idx"),
            models.Index(fields=["status", "start_date"], name="campaign_status_start_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("campaigns:detail", args=[self.pk])

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1

    @property
    def end_exclusive(self):
        return self.end_date + timedelta(days=1)


class TalkingPoint(models.Model):
    """One of the 2-3 ordered points sales should make when working the campaign's leads."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="talking_points")
    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=300)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "position"], name="talking_point_position_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.text}"


class FollowUpTemplate(TimeStampedModel):
    """A follow-up email for the campaign's leads; ``{first_name}``-style placeholders are
    filled from a chosen lead (see campaigns.templating)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="templates")
    position = models.PositiveSmallIntegerField(default=1)
    name = models.CharField(max_length=100)
    subject = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        ordering = ["campaign", "position", "id"]

    def __str__(self) -> str:
        return self.name


class EnablementResource(TimeStampedModel):
    """What sales needs beside the talking points: collateral links, personas, guidelines."""

    class Kind(models.TextChoices):
        COLLATERAL = "collateral", "Collateral"
        PERSONA = "persona", "Buyer persona"
        GUIDELINE = "guideline", "Guideline"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="resources")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    position = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    url = models.URLField(blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["campaign", "kind", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="collateral") | ~Q(url=""), name="resource_collateral_has_url"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["collateral", "persona", "guideline"]),
                name="resource_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class CampaignChange(models.Model):
    """Immutable history row written in the same transaction as every campaign change."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        UPDATED = "updated", "Edited"
        STATUS = "status", "Status changed"
        ARCHIVED = "archived", "Archived"
        RESTORED = "restored", "Restored"
        DUPLICATED = "duplicated", "Duplicated"
        LAUNCHED = "launched", "Sales notified of launch"
        CONTENT = "content", "Templates or resources changed"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    from_status = models.CharField(max_length=10, choices=Campaign.Status.choices, blank=True)
    to_status = models.CharField(max_length=10, choices=Campaign.Status.choices, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["campaign", "created_at"], name="campaignchange_time_idx")]

    def __str__(self) -> str:
        return f"{self.campaign_id}: {self.get_kind_display()}"


class CalendarFeed(models.Model):
    """A user's secret iCalendar feed link. Only a SHA-256 of the token is stored, so the
    link is shown once, when it is made; rotating replaces the hash and kills the old link."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    rotated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Calendar feed of {self.user_id}"


class ContentRequest(TimeStampedModel):
    """A rep asks marketing for deal-specific content. Each state is entered at most once, in
    order (open → taken → delivered, or cancelled), so the actor and time fields below are the
    request's complete history."""

    class Kind(models.TextChoices):
        CUSTOM_COLLATERAL = "custom_collateral", "Custom collateral or deck"
        RFQ_ANSWER = "rfq_answer", "RFQ / RFP answer"
        CASE_STUDY = "case_study", "Case study"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        TAKEN = "taken", "In progress"
        DELIVERED = "delivered", "Delivered"
        CANCELLED = "cancelled", "Cancelled"

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="content_requests"
    )
    # The lead's source campaign when the request was made, for per-campaign reading.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content_requests",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="content_requests_made",
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    need_by = models.DateField()
    description = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    taken_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="content_requests_taken",
    )
    taken_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_url = models.URLField(blank=True)
    delivery_note = models.TextField(blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["need_by", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "taken", "delivered", "cancelled"]),
                name="content_request_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status="delivered")
                | (Q(delivered_at__isnull=False) & (~Q(delivery_url="") | ~Q(delivery_note=""))),
                name="content_request_delivered_has_content",
            ),
            models.CheckConstraint(
                condition=Q(status="open") | Q(status="cancelled") | Q(taken_at__isnull=False),
                name="content_request_taken_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "need_by"], name="content_request_board_idx"),
            models.Index(fields=["requested_by", "created_at"], name="content_request_mine_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for lead {self.lead_id}"

    def get_absolute_url(self) -> str:
        return reverse("campaigns:content_request_detail", args=[self.pk])

    @property
    def turnaround(self) -> timedelta | None:
        """Time from the ask to the delivery; None until delivered."""
        return self.delivered_at - self.created_at if self.delivered_at else None

    @property
    def delivered_on_time(self) -> bool | None:
        if self.delivered_at is None:
            return None
        return timezone.localdate(self.delivered_at) <= self.need_by

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.OPEN, self.Status.TAKEN)

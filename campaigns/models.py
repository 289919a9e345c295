from django.conf import settings
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel


class Campaign(TimeStampedModel):
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

    class Meta:
        ordering = ["-start_date", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__gte=F("start_date")), name="campaign_end_not_before_start"
            ),
            models.CheckConstraint(condition=Q(cost__gte=0), name="campaign_cost_not_negative"),
        ]
        indexes = [models.Index(fields=["start_date", "end_date"], name="campaign_dates_idx")]

    def __str__(self) -> str:
        return self.name


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

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse

from core.models import TimeStampedModel


class Stage(models.TextChoices):
    NEW = "new", "New"
    MQL = "mql", "MQL"
    PQL = "pql", "PQL"
    CQL = "cql", "CQL"
    SAL = "sal", "SAL"
    SQL = "sql", "SQL"
    OPPORTUNITY = "opportunity", "Opportunity"
    WON = "won", "Won"
    LOST = "lost", "Lost"
    RECYCLED = "recycled", "Recycled"
    DISQUALIFIED = "disqualified", "Disqualified"


QUALIFIED_STAGES = (Stage.MQL, Stage.PQL, Stage.CQL)
CLOSED_STAGES = (Stage.WON, Stage.LOST, Stage.DISQUALIFIED)


class Temperature(models.TextChoices):
    COLD = "cold", "Cold"
    WARM = "warm", "Warm"
    HOT = "hot", "Hot"


class SourceChannel(models.TextChoices):
    WEB_FORM = "web_form", "Web form"
    PRODUCT_SIGNUP = "product_signup", "Product sign-up"
    CHAT = "chat", "Chat"
    EMAIL = "email", "Email"
    WEBINAR = "webinar", "Webinar"
    EVENT = "event", "Event"
    PAID_SOCIAL = "paid_social", "Paid social"
    PAID_SEARCH = "paid_search", "Paid search"
    CONTENT = "content", "Content"
    PARTNER = "partner", "Partner"
    REFERRAL = "referral", "Referral"
    IMPORT = "import", "Import"
    OTHER = "other", "Other"


class Lead(TimeStampedModel):
    """One person from first touch to customer; stage moves only through leads.services."""

    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=40, blank=True)
    title = models.CharField(max_length=150, blank=True)
    company = models.CharField(max_length=200, blank=True)
    company_size = models.PositiveIntegerField(null=True, blank=True, help_text="Employees")
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166 alpha-2 code")
    source_channel = models.CharField(
        max_length=20, choices=SourceChannel.choices, default=SourceChannel.OTHER
    )
    source_campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sourced_leads",
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW)
    # Which qualification brought the lead to sales (MQL, PQL or CQL); kept after it moves on.
    kind = models.CharField(
        max_length=3,
        choices=[(s.value, s.label) for s in QUALIFIED_STAGES],
        blank=True,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
    )
    score = models.IntegerField(default=0)
    temperature = models.CharField(
        max_length=4, choices=Temperature.choices, default=Temperature.COLD
    )
    stage_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="lead_email_ci_unique"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=1000), name="lead_score_range"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="lead_stage_valid"),
            models.CheckConstraint(
                condition=Q(kind__in=["", *[s.value for s in QUALIFIED_STAGES]]),
                name="lead_kind_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "owner"], name="lead_stage_owner_idx"),
            models.Index(fields=["owner", "stage"], name="lead_owner_stage_idx"),
            models.Index(fields=["source_campaign", "stage"], name="lead_campaign_stage_idx"),
            models.Index(fields=["-score"], name="lead_score_idx"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_absolute_url(self) -> str:
        return reverse("leads:detail", args=[self.pk])

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class LeadStageChange(models.Model):
    """Immutable history row written in the same transaction as every stage move."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=20, choices=Stage.choices, blank=True)
    to_stage = models.CharField(max_length=20, choices=Stage.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    reason_code = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["lead", "created_at"], name="stagechange_lead_time_idx"),
            models.Index(fields=["to_stage", "created_at"], name="stagechange_to_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage}"

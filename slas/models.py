from datetime import date, time
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from core.models import TimeStampedModel
from slas.business_hours import Schedule


def validate_timezone(value: str) -> None:
    if value not in available_timezones():
        raise ValidationError(f"{value} is not a known time zone (e.g. Europe/Berlin).")


class WorkingCalendar(TimeStampedModel):
    """When the sales team works: the clock SLA deadlines count in."""

    name = models.CharField(max_length=100, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    working_days = models.JSONField(default=list, help_text="0 = Monday … 6 = Sunday")
    day_start = models.TimeField(default=time(9))
    day_end = models.TimeField(default=time(17))

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(day_end__gt=F("day_start")), name="calendar_day_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def schedule(self, holidays: list[date] | None = None) -> Schedule:
        if holidays is None:
            holidays = list(self.holidays.values_list("date", flat=True))
        return Schedule.build(
            tz=self.timezone,
            working_days=self.working_days,
            day_start=self.day_start,
            day_end=self.day_end,
            holidays=holidays,
        )


class Holiday(models.Model):
    calendar = models.ForeignKey(WorkingCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.date})"


class Agreement(TimeStampedModel):
    """The SLA both heads signed for a period: commitments of marketing and of sales."""

    class Escalation(models.TextChoices):
        NOTIFY = "notify", "Notify only"
        RETURN_TO_POOL = "return_to_pool", "Return the lead to the pool"

    name = models.CharField(max_length=150)
    starts_on = models.DateField()
    ends_on = models.DateField()
    calendar = models.ForeignKey(
        WorkingCalendar, on_delete=models.PROTECT, related_name="agreements"
    )
    # marketing's side
    mqls_per_month = models.PositiveIntegerField(help_text="Qualified leads delivered per month")
    min_acceptance_rate = models.DecimalField(
        max_digits=5, decimal_places=2, help_text="Percent of handoffs sales accepts"
    )
    content_turnaround_hours = models.PositiveIntegerField(
        default=16, help_text="Business hours for marketing to answer a content request"
    )
    # sales' side (first-touch hours per kind/temperature are ResponseTarget rows)
    follow_up_attempts = models.PositiveSmallIntegerField(
        default=6, help_text="Touches before a lead may be recycled"
    )
    max_untouched_sal_days = models.PositiveSmallIntegerField(
        default=5, help_text="Most business days an accepted lead may sit untouched"
    )
    # escalation
    warn_at_percent = models.PositiveSmallIntegerField(
        default=75, help_text="Warn the rep when this share of the window has passed"
    )
    escalation = models.CharField(
        max_length=20, choices=Escalation.choices, default=Escalation.RETURN_TO_POOL
    )
    escalate_after_hours = models.PositiveSmallIntegerField(
        default=4, help_text="Business hours after a breach before the escalation acts"
    )
    # the handshake
    sales_head = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    sales_signed_at = models.DateTimeField(null=True, blank=True)
    marketing_head = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    marketing_signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=F("starts_on")), name="agreement_end_not_before_start"
            ),
            models.CheckConstraint(
                condition=Q(min_acceptance_rate__gte=0) & Q(min_acceptance_rate__lte=100),
                name="agreement_acceptance_rate_percent",
            ),
            models.CheckConstraint(
                condition=Q(warn_at_percent__gte=1) & Q(warn_at_percent__lte=99),
                name="agreement_warn_percent_range",
            ),
        ]
        indexes = [models.Index(fields=["starts_on", "ends_on"], name="agreement_period_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_signed(self) -> bool:
        return self.sales_signed_at is not None and self.marketing_signed_at is not None


class ResponseTarget(models.Model):
    """First touch within ``hours`` business hours for a lead kind (and temperature)."""

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="targets")
    kind = models.CharField(max_length=3, choices=[("mql", "MQL"), ("pql", "PQL"), ("cql", "CQL")])
    temperature = models.CharField(
        max_length=4,
        blank=True,
        choices=[("", "Any"), ("cold", "Cold"), ("warm", "Warm"), ("hot", "Hot")],
    )
    hours = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["kind", "temperature"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "kind", "temperature"], name="response_target_unique"
            ),
            models.CheckConstraint(condition=Q(hours__gte=1), name="response_target_hours_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.temperature or 'any'}: {self.hours} h"


class Deadline(models.Model):
    """One SLA commitment on one handoff, with when it falls due and what became of it.

    Pending deadlines (neither met, breached nor cancelled) sit in a partial index, so the
    breach scan reads only those already due, however many are still running.
    """

    class Kind(models.TextChoices):
        FIRST_TOUCH = "first_touch", "First touch"
        SAL_IDLE = "sal_idle", "Accepted lead left untouched"

    # No single-column indexes where a composite one leads with the column (one_per_kind,
    # owner_due): the scan rewrites every index entry of each deadline it breaches.
    handoff = models.ForeignKey(
        "leads.Handoff", on_delete=models.CASCADE, related_name="deadlines", db_index=False
    )
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="deadlines")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    agreement = models.ForeignKey(
        Agreement, on_delete=models.SET_NULL, null=True, blank=True, related_name="deadlines"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    starts_at = models.DateTimeField()
    warn_at = models.DateTimeField()
    due_at = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    warned_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    escalate_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["handoff", "kind"], name="deadline_one_per_kind"),
            models.CheckConstraint(
                condition=Q(due_at__gte=F("starts_at")), name="deadline_due_after_start"
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(
                    met_at__isnull=True, cancelled_at__isnull=True, breached_at__isnull=True
                ),
                name="deadline_pending_due_idx",
            ),
            models.Index(
                fields=["warn_at"],
                condition=Q(met_at__isnull=True, cancelled_at__isnull=True, warned_at__isnull=True),
                name="deadline_pending_warn_idx",
            ),
            models.Index(
                fields=["escalate_at"],
                condition=Q(
                    met_at__isnull=True,
                    cancelled_at__isnull=True,
                    breached_at__isnull=False,
                    escalated_at__isnull=True,
                ),
                name="deadline_pending_escal_idx",
            ),
            models.Index(fields=["starts_at"], name="deadline_starts_idx"),
            models.Index(fields=["owner", "due_at"], name="deadline_owner_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for lead {self.lead_id} due {self.due_at:%Y-%m-%d %H:%M}"


class Breach(models.Model):
    """A deadline that passed unmet, recorded exactly once (the unique deadline)."""

    deadline = models.OneToOneField(Deadline, on_delete=models.CASCADE, related_name="breach")
    # Copies of the deadline's lead and owner, written from it by the scan in one statement.
    # The deadline's own keys already vouch for them, so the database does not check them a
    # second time per breach (those checks were a third of a 10,000-breach scan); deletes
    # still cascade and null through Django.
    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="breaches", db_constraint=False
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_constraint=False,
        db_index=False,  # breach_owner_due_idx leads with it
    )
    kind = models.CharField(max_length=20, choices=Deadline.Kind.choices)
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField()

    class Meta:
        ordering = ["-due_at"]
        indexes = [
            models.Index(fields=["due_at"], name="breach_due_idx"),
            models.Index(fields=["owner", "due_at"], name="breach_owner_due_idx"),
        ]

    def __str__(self) -> str:
        return f"Breach of {self.get_kind_display()} on lead {self.lead_id}"


class AuditSignoff(models.Model):
    """A month's SLA audit signed by one head; a signed month keeps the figures it showed."""

    class Side(models.TextChoices):
        SALES = "sales", "Sales head"
        MARKETING = "marketing", "Marketing head"

    month = models.DateField(help_text="First day of the audited month")
    side = models.CharField(max_length=10, choices=Side.choices)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    signed_at = models.DateTimeField()
    comment = models.TextField(blank=True)
    figures = models.JSONField(default=dict)

    class Meta:
        ordering = ["-month", "side"]
        constraints = [
            models.UniqueConstraint(fields=["month", "side"], name="audit_signoff_once_per_side"),
            models.CheckConstraint(condition=Q(month__day=1), name="audit_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} signed by {self.get_side_display()}"


class AgreementChange(models.Model):
    """History of an agreement: created, edited (what changed), signed, signatures cleared."""

    class Kind(models.TextChoices):
        CREATED = "created", "Created"
        EDITED = "edited", "Edited"
        SIGNED = "signed", "Signed"
        SIGNATURES_CLEARED = "signatures_cleared", "Signatures cleared"

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["agreement", "created_at"], name="agreementchange_time_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} agreement {self.agreement_id}"


class DigestSent(models.Model):
    """A digest email that went out: at most one per user, kind and period (day or week)."""

    class Kind(models.TextChoices):
        REP_DAILY = "rep_daily", "Morning digest"
        MANAGER_WEEKLY = "manager_weekly", "Weekly SLA digest"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    period = models.DateField(help_text="The day (daily) or the Monday of the week (weekly)")
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-period", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "kind", "period"], name="digest_once_per_period"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.user_id} ({self.period})"


class AuditRollup(models.Model):
    """A month's audit figures as last computed (slas.audit.audit_figures): the audit page and
    API read this one row instead of re-aggregating a month of handoffs on every view. A
    periodic job recomputes the recent months; a view recomputes a row older than a few
    minutes. Signed figures live in AuditSignoff, never here."""

    month = models.DateField(unique=True, help_text="First day of the month")
    figures = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.CheckConstraint(condition=Q(month__day=1), name="audit_rollup_month_first_day")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} audit figures of {self.computed_at:%Y-%m-%d %H:%M}"

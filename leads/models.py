from django.conf import settings
from django.db import models
from django.db.models import JSONField, Q, Value
from django.db.models.functions import Lower

from core.links import object_url
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
# How a lead reached sales: the qualification that handed it off.
KIND_CHOICES = [(s.value, s.label) for s in QUALIFIED_STAGES]
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
    # No index of its own: lead_campaign_stage_idx starts with it (and serves SET NULL).
    source_campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sourced_leads",
        db_index=False,
    )
    stage = models.CharField(max_length=20, choices=Stage.choices, default=Stage.NEW)
    # Which qualification brought the lead to sales (MQL, PQL or CQL); kept after it moves on.
    kind = models.CharField(
        max_length=3,
        choices=KIND_CHOICES,
        blank=True,
    )
    # No index of its own: lead_owner_stage_idx starts with it (and serves SET NULL).
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_leads",
        db_index=False,
    )
    score = models.IntegerField(default=0)
    temperature = models.CharField(
        max_length=4, choices=Temperature.choices, default=Temperature.COLD
    )
    # Scoring (leads.scoring): the rules version the score came from, why it is what it is,
    # a pinned manual adjustment, and the flag the worker's rescore picks up.
    # No index: nothing looks leads up by version, and every rescore would maintain it.
    score_version = models.ForeignKey(
        "ScoringModel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    score_explanation = models.JSONField(default=list, db_default=Value([], JSONField()))
    score_manual_adjustment = models.SmallIntegerField(default=0, db_default=0)
    score_manual_reason = models.CharField(max_length=200, blank=True, db_default="")
    # A never-scored lead needs a score too (raw inserts included, hence db_default).
    needs_rescore = models.BooleanField(default=True, db_default=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    # BANT, recorded when sales qualifies the lead to SQL.
    bant_budget = models.CharField("budget", max_length=200, blank=True)
    bant_authority = models.CharField("authority", max_length=200, blank=True)
    bant_need = models.CharField("need", max_length=300, blank=True)
    bant_timeline = models.CharField("timeline", max_length=200, blank=True)
    deal_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

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
            models.CheckConstraint(
                condition=Q(deal_amount__isnull=True) | Q(deal_amount__gte=0),
                name="lead_deal_amount_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(score_manual_adjustment__gte=-1000)
                & Q(score_manual_adjustment__lte=1000),
                name="lead_manual_adjustment_range",
            ),
        ]
        # Few indexes on purpose: an update that cannot be HOT (a rescore that moves a score)
        # writes into every index whose condition the row meets, a million times in a full
        # rescore. Stage alone is served by lead_stage_time_idx; owner and campaign are looked
        # up by value only, so leads without one (most) are left out of their indexes.
        indexes = [
            models.Index(
                fields=["owner", "stage"],
                condition=Q(owner__isnull=False),
                name="lead_owner_stage_idx",
            ),
            models.Index(
                fields=["source_campaign", "stage"],
                condition=Q(source_campaign__isnull=False),
                name="lead_campaign_stage_idx",
            ),
            models.Index(fields=["-score"], name="lead_score_idx"),
            models.Index(fields=["stage", "stage_changed_at"], name="lead_stage_time_idx"),
            # The rescore backlog: small, read every minute by the sweep.
            models.Index(
                fields=["id"], condition=Q(needs_rescore=True), name="lead_needs_rescore_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_absolute_url(self) -> str:
        return object_url("leads:detail", self.pk)

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
    # What the move recorded beside the stage: BANT, amounts, the new owner.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    # When the lead entered ``from_stage``: the stay this move ended is created_at minus it,
    # so time in stage is an aggregate over the period's rows (no look-up of the row before).
    stage_entered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["lead", "created_at"], name="stagechange_lead_time_idx"),
            models.Index(fields=["to_stage", "created_at"], name="stagechange_to_time_idx"),
        ]
        constraints = [
            # Every move out of a stage knows when that stay began; a lead's first row has none.
            models.CheckConstraint(
                condition=Q(from_stage="") | Q(stage_entered_at__isnull=False),
                name="stagechange_stay_start_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage or '∅'} → {self.to_stage}"


class ReturnReason(models.TextChoices):
    BAD_FIT = "bad_fit", "Bad fit"
    NO_BUDGET = "no_budget", "No budget"
    WRONG_CONTACT = "wrong_contact", "Wrong contact"
    DUPLICATE = "duplicate", "Duplicate"
    NOT_READY = "not_ready", "Not ready to buy"
    NO_RESPONSE = "no_response", "No response"
    OTHER = "other", "Other"


class DisqualifyReason(models.TextChoices):
    SPAM = "spam", "Spam or fake"
    COMPETITOR = "competitor", "Competitor"
    STUDENT = "student", "Student or job seeker"
    DUPLICATE = "duplicate", "Duplicate"
    NOT_A_FIT = "not_a_fit", "Not a fit at all"
    OTHER = "other", "Other"


class LostReason(models.TextChoices):
    PRICE = "price", "Price"
    COMPETITOR = "competitor", "Chose a competitor"
    NO_DECISION = "no_decision", "No decision"
    TIMING = "timing", "Timing"
    OTHER = "other", "Other"


class Territory(TimeStampedModel):
    """Where a lead belongs for assignment: by country and/or industry segment.

    Empty lists mean "any". The first matching territory by priority wins.
    """

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveSmallIntegerField(default=100)
    countries = models.JSONField(default=list, blank=True, help_text="ISO codes; empty = any")
    industries = models.JSONField(default=list, blank=True, help_text="Industries; empty = any")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name_plural = "territories"

    def __str__(self) -> str:
        return self.name

    def matches(self, lead: "Lead") -> bool:
        country_ok = not self.countries or lead.country.upper() in {
            c.upper() for c in self.countries
        }
        industry_ok = not self.industries or lead.industry.lower() in {
            i.lower() for i in self.industries
        }
        return country_ok and industry_ok


class TerritoryMember(models.Model):
    """A rep in a territory's rotation. ``assigned_total`` is the round-robin cursor:
    the next lead goes to the available member with the least assigned per unit of weight."""

    territory = models.ForeignKey(Territory, on_delete=models.CASCADE, related_name="members")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="territory_memberships"
    )
    weight = models.PositiveSmallIntegerField(default=1)
    capacity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most open leads at once; empty = no limit"
    )
    is_active = models.BooleanField(default=True)
    assigned_total = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["territory", "rep__username"]
        constraints = [
            models.UniqueConstraint(fields=["territory", "rep"], name="territory_member_unique"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="territory_weight_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.rep} in {self.territory}"


class RepAbsence(models.Model):
    """Out-of-office dates: no round-robin assignment to the rep in this range (inclusive)."""

    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="absences"
    )
    starts_on = models.DateField()
    ends_on = models.DateField()
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="absence_end_not_before_start"
            )
        ]
        indexes = [models.Index(fields=["rep", "ends_on"], name="absence_rep_end_idx")]

    def __str__(self) -> str:
        return f"{self.rep} away {self.starts_on}–{self.ends_on}"


class Handoff(models.Model):
    """Marketing hands a qualified lead to sales. Open while the lead is in sales' hands;
    carries a snapshot of the context sales needs and the first-touch deadline."""

    class Status(models.TextChoices):
        POOL = "pool", "In the pool"
        ASSIGNED = "assigned", "Assigned"
        ACCEPTED = "accepted", "Accepted"
        RETURNED = "returned", "Returned to marketing"
        CLOSED = "closed", "Closed"

    OPEN_STATUSES = (Status.POOL, Status.ASSIGNED, Status.ACCEPTED)

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    kind = models.CharField(max_length=3, choices=KIND_CHOICES)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POOL)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="handoffs",
    )
    territory = models.ForeignKey(
        Territory, on_delete=models.SET_NULL, null=True, blank=True, related_name="handoffs"
    )
    context = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    assigned_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    first_touch_due_at = models.DateTimeField()
    first_touch_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.CharField(max_length=20, choices=ReturnReason.choices, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open handoff per lead.
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(closed_at__isnull=True),
                name="handoff_one_open_per_lead",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True, status__in=["pool", "assigned", "accepted"])
                | Q(closed_at__isnull=False, status__in=["returned", "closed"]),
                name="handoff_status_matches_closed",
            ),
            models.CheckConstraint(
                condition=~Q(status="pool") | Q(owner__isnull=True),
                name="handoff_pool_has_no_owner",
            ),
        ]
        indexes = [
            # The pool: open and unowned, best first.
            models.Index(
                fields=["first_touch_due_at", "id"],
                condition=Q(status="pool"),
                name="handoff_pool_idx",
            ),
            # A rep's queue.
            models.Index(
                fields=["owner", "first_touch_due_at", "id"],
                condition=Q(closed_at__isnull=True),
                name="handoff_owner_open_idx",
            ),
            models.Index(fields=["created_at"], name="handoff_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Handoff of lead {self.lead_id} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class LeadAssignment(models.Model):
    """History of who owns a lead: assignment by rule, claim, reassignment, back to the pool."""

    class Reason(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Assigned by rule"
        CLAIMED = "claimed", "Claimed from the pool"
        REASSIGNED = "reassigned", "Reassigned by a manager"
        TO_POOL = "to_pool", "Put back in the pool"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="assignments")
    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="assignments")
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["lead", "created_at"], name="assignment_lead_time_idx")]

    def __str__(self) -> str:
        return f"Lead {self.lead_id} → {self.to_owner_id or 'pool'} ({self.reason})"


class Touch(models.Model):
    """A logged sales touch; the first one on a handoff stops its first-touch clock."""

    class Kind(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "Email"
        MEETING = "meeting", "Meeting"

    class Outcome(models.TextChoices):
        CONNECTED = "connected", "Connected"
        LEFT_MESSAGE = "left_message", "Left a message"
        NO_ANSWER = "no_answer", "No answer"
        REPLIED = "replied", "Replied"
        MEETING_BOOKED = "meeting_booked", "Meeting booked"
        NOT_INTERESTED = "not_interested", "Not interested"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touches")
    handoff = models.ForeignKey(
        Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="touches"
    )
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="touches"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    note = models.TextField(blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="touch_lead_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with lead {self.lead_id}"


class LeadNote(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["lead", "created_at"], name="note_lead_time_idx")]

    def __str__(self) -> str:
        return f"Note on lead {self.lead_id}"


class LeadFeedback(models.Model):
    """A rep's verdict on lead quality, which marketing reads per campaign and segment."""

    class Rating(models.TextChoices):
        GOOD = "good", "Good fit"
        POOR = "poor", "Poor fit"

    class Moment(models.TextChoices):
        ACCEPT = "accept", "At accept"
        WORKING = "work", "While working it"
        RETURN = "return", "At return"
        CLOSE = "close", "At close"

    class Tag(models.TextChoices):
        RIGHT_PERSONA = "right_persona", "Right persona"
        WRONG_PERSONA = "wrong_persona", "Wrong persona"
        RIGHT_SIZE = "right_size", "Right company size"
        TOO_SMALL = "too_small", "Company too small"
        HAS_BUDGET = "has_budget", "Has budget"
        NO_BUDGET = "no_budget", "No budget"
        URGENT_NEED = "urgent_need", "Urgent need"
        JUST_BROWSING = "just_browsing", "Just browsing"
        BAD_DATA = "bad_data", "Bad contact data"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="feedback")
    rep = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    rating = models.CharField(max_length=4, choices=Rating.choices)
    moment = models.CharField(max_length=6, choices=Moment.choices)
    tags = models.JSONField(default=list, blank=True)
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["lead", "created_at"], name="feedback_lead_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_rating_display()} for lead {self.lead_id}"


# --- scoring ----------------------------------------------------------------------------------
class EventKind(models.TextChoices):
    PAGE_VIEW = "page_view", "Page view"
    PRICING_VIEW = "pricing_view", "Pricing page view"
    DEMO_REQUEST = "demo_request", "Demo request"
    CONTENT_DOWNLOAD = "content_download", "Content download"
    WEBINAR_REGISTERED = "webinar_registered", "Webinar registration"
    WEBINAR_ATTENDED = "webinar_attended", "Webinar attended"
    EMAIL_OPEN = "email_open", "Email open"
    EMAIL_CLICK = "email_click", "Email click"
    FORM_SUBMIT = "form_submit", "Form submission"
    EVENT_VISIT = "event_visit", "Event or booth visit"
    TRIAL_SIGNUP = "trial_signup", "Trial sign-up"
    PRODUCT_ACTIVATION = "product_activation", "Product activation"
    CHAT_CONVERSATION = "chat_conversation", "Chat conversation"
    UNSUBSCRIBE = "unsubscribe", "Unsubscribe"


class EngagementEvent(models.Model):
    """Something a lead did (a page view, a download, a trial sign-up …) that scoring counts.

    ``external_id`` is the sender's id for the event: one (source, external_id) is stored once,
    so a replayed webhook or import changes nothing.
    """

    # No index of its own: the (lead, kind, occurred_at) index below starts with it.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    occurred_at = models.DateTimeField()
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="engagement_events",
    )
    url = models.CharField(max_length=500, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=40, default="api", help_text="Who sent it: api, import…")
    external_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=~Q(external_id=""),
                name="event_source_external_id_unique",
            ),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="event_kind_valid"),
        ]
        indexes = [
            # Rescoring reads a lead range's events grouped by kind: an index-only scan.
            models.Index(fields=["lead", "kind", "occurred_at"], name="event_lead_kind_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by lead {self.lead_id}"


class ScoringModel(models.Model):
    """One version of the scoring rules and thresholds. Versions never change once saved:
    editing the rules creates the next version, and each lead records the version its score
    came from. Exactly one version is active."""

    number = models.PositiveIntegerField(unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField()
    note = models.CharField(max_length=200, blank=True, help_text="What changed and why")
    warm_threshold = models.PositiveSmallIntegerField()
    hot_threshold = models.PositiveSmallIntegerField()
    mql_threshold = models.PositiveSmallIntegerField()
    is_active = models.BooleanField(default=False)
    # When a full rescore with this version finished; the sweep redoes it while empty.
    rescored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="scoring_one_active"
            ),
            models.CheckConstraint(
                condition=Q(warm_threshold__gte=1)
                & Q(hot_threshold__gt=models.F("warm_threshold"))
                & Q(hot_threshold__lte=1000),
                name="scoring_warm_below_hot",
            ),
            models.CheckConstraint(
                condition=Q(mql_threshold__gte=1) & Q(mql_threshold__lte=1000),
                name="scoring_mql_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Scoring rules v{self.number}"


class FitRule(models.Model):
    """Points for who the lead is: ``field`` ``operator`` ``value`` (e.g. title contains VP)."""

    class Field(models.TextChoices):
        TITLE = "title", "Title"
        COMPANY_SIZE = "company_size", "Company size (employees)"
        INDUSTRY = "industry", "Industry"
        COUNTRY = "country", "Country"
        SOURCE_CHANNEL = "source_channel", "Source channel"
        COMPANY = "company", "Company"
        EMAIL = "email", "Email address"

    class Operator(models.TextChoices):
        EQUALS = "equals", "equals"
        IN = "in", "is one of"
        CONTAINS = "contains", "contains"
        GTE = "gte", "is at least"
        LTE = "lte", "is at most"

    version = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="fit_rules")
    position = models.PositiveSmallIntegerField(default=0)
    field = models.CharField(max_length=20, choices=Field.choices)
    operator = models.CharField(max_length=10, choices=Operator.choices)
    # A string, a number, or a list of them (``in``).
    value = models.JSONField()
    points = models.SmallIntegerField()

    class Meta:
        ordering = ["version", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gte=-1000) & Q(points__lte=1000) & ~Q(points=0),
                name="fitrule_points_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.get_operator_display()} {self.value}"


class EngagementRule(models.Model):
    """Points per event of a kind, halving every ``half_life_days``, at most ``cap`` in all."""

    version = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="engagement_rules"
    )
    kind = models.CharField(max_length=30, choices=EventKind.choices)
    points = models.PositiveSmallIntegerField()
    half_life_days = models.PositiveSmallIntegerField()
    cap = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["version", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="engagementrule_one_per_kind"),
            models.CheckConstraint(
                condition=Q(points__gte=1) & Q(points__lte=1000), name="engagementrule_points"
            ),
            models.CheckConstraint(
                condition=Q(half_life_days__gte=1), name="engagementrule_half_life_positive"
            ),
            models.CheckConstraint(
                condition=Q(cap__gte=models.F("points")) & Q(cap__lte=1000),
                name="engagementrule_cap_at_least_points",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.points} points"

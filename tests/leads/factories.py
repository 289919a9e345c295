import factory
from django.utils import timezone

from leads.models import (
    EngagementEvent,
    EngagementRule,
    EventKind,
    FitRule,
    Handoff,
    Lead,
    LeadStageChange,
    ScoringModel,
    Stage,
    Territory,
    TerritoryMember,
)
from leads.services import first_touch_due


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.Sequence(lambda n: f"lead{n}@prospect.example")
    title = "VP Marketing"
    company = factory.Faker("company")
    company_size = 250
    industry = "Software"
    country = "US"
    stage = Stage.NEW
    stage_changed_at = factory.LazyFunction(timezone.now)


class HandoffFactory(factory.django.DjangoModelFactory):
    """An open handoff in the pool; pass ``owner`` and ``status`` for an assigned one."""

    class Meta:
        model = Handoff

    lead = factory.SubFactory(LeadFactory, stage=Stage.MQL, kind=Stage.MQL)
    kind = factory.LazyAttribute(lambda h: h.lead.kind or Stage.MQL)
    status = Handoff.Status.POOL
    created_at = factory.LazyFunction(timezone.now)
    first_touch_due_at = factory.LazyAttribute(
        lambda h: first_touch_due(kind=h.kind, temperature=h.lead.temperature, start=h.created_at)
    )


def stage_history(lead, *moves) -> None:
    """Write the lead's history rows for ``moves``, (stage, when) in order: each row from the
    stage before, knowing when that stay began."""
    previous, since = "", None
    for stage, when in moves:
        LeadStageChange.objects.create(
            lead=lead, from_stage=previous, to_stage=stage, created_at=when, stage_entered_at=since
        )
        previous, since = stage, when


def pool_lead(**lead_fields) -> Lead:
    """A qualified lead waiting in the pool."""
    lead_fields.setdefault("stage", Stage.MQL)
    lead_fields.setdefault("kind", lead_fields["stage"])
    return HandoffFactory(lead=LeadFactory(**lead_fields)).lead


def owned_lead(owner, stage=Stage.MQL, **lead_fields) -> Lead:
    """A lead assigned to ``owner``; ``stage`` past SAL means it was accepted."""
    accepted = stage not in (Stage.MQL, Stage.PQL, Stage.CQL)
    lead = LeadFactory(
        stage=stage, kind=lead_fields.pop("kind", Stage.MQL), owner=owner, **lead_fields
    )
    HandoffFactory(
        lead=lead,
        owner=owner,
        status=Handoff.Status.ACCEPTED if accepted else Handoff.Status.ASSIGNED,
        assigned_at=timezone.now(),
        accepted_at=timezone.now() if accepted else None,
    )
    return lead


class TerritoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Territory

    name = factory.Sequence(lambda n: f"Territory {n}")
    countries = factory.LazyFunction(lambda: ["US"])


class TerritoryMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TerritoryMember

    territory = factory.SubFactory(TerritoryFactory)
    weight = 1


# --- scoring ---------------------------------------------------------------------------------
class EngagementEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementEvent

    lead = factory.SubFactory(LeadFactory)
    kind = EventKind.PAGE_VIEW
    occurred_at = factory.LazyFunction(timezone.now)
    source = "test"


def scoring_version(
    *,
    warm: int = 40,
    hot: int = 70,
    mql: int = 60,
    fit: list[dict] | None = None,
    engagement: list[dict] | None = None,
    created_by=None,
) -> ScoringModel:
    """An active scoring version with these rules (the previous one deactivated), written
    directly: no rescore is enqueued. ``fit`` items: field, operator, value, points;
    ``engagement`` items: kind, points, half_life_days, cap."""
    number = (
        ScoringModel.objects.order_by("-number").values_list("number", flat=True).first() or 0
    ) + 1
    ScoringModel.objects.filter(is_active=True).update(is_active=False)
    version = ScoringModel.objects.create(
        number=number,
        created_by=created_by,
        created_at=timezone.now(),
        warm_threshold=warm,
        hot_threshold=hot,
        mql_threshold=mql,
        is_active=True,
    )
    for position, rule in enumerate(fit or []):
        FitRule.objects.create(version=version, position=position, **rule)
    for rule in engagement or []:
        EngagementRule.objects.create(version=version, **rule)
    return version

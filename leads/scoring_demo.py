"""Demo scoring: a realistic rule set and months of engagement events for the demo leads, then a
full rescore, so scores, explanations and insights show real figures out of the box.

``scoring_demo_seed()`` is idempotent: the rule set is created only when no version exists,
events are keyed by (source "demo", external id "<lead email>#<n>") and drawn only for demo
leads without demo events, and the rescore writes only rows that changed. Call it once the
demo leads and their stage history exist, before their handoffs are derived, so the handoff
contexts carry the scores, explanations and engagement.

The engagement follows each lead's fate, as it would in life: leads that reached sales viewed
pricing and asked for demos (those that went on to SQL and won more so), returned and lost ones
engaged months ago, new ones only browsed. New leads are drawn to stay below the MQL threshold,
and the rescore does not hand anyone off: the seed does not replay the lifecycle.
"""

import random
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from leads.models import (
    EngagementEvent,
    EngagementRule,
    EventKind,
    FitRule,
    Lead,
    ScoringModel,
    Stage,
)
from leads.scoring_services import scores_refresh_all

DEMO_EMAIL_DOMAIN = "@demo.smarketing.example"
DEMO_SOURCE = "demo"
THRESHOLDS = {"warm_threshold": 30, "hot_threshold": 55, "mql_threshold": 60}
FIT_RULES = [
    ("title", "in", ["CMO", "CRO", "CEO"], 20),
    ("title", "contains", "VP", 15),
    ("title", "contains", "Head of", 12),
    ("title", "contains", "Director", 10),
    ("title", "contains", "Coordinator", -5),
    ("company_size", "gte", 200, 10),
    ("company_size", "lte", 20, -10),
    ("industry", "in", ["Software", "Financial services"], 8),
    ("country", "in", ["US", "CA", "GB", "DE"], 5),
    ("email", "contains", "@gmail.", -15),
]
ENGAGEMENT_RULES = [
    # kind, points per event, half-life (days), cap
    (EventKind.PAGE_VIEW, 1, 7, 10),
    (EventKind.PRICING_VIEW, 10, 14, 30),
    (EventKind.DEMO_REQUEST, 30, 30, 30),
    (EventKind.CONTENT_DOWNLOAD, 8, 30, 24),
    (EventKind.WEBINAR_ATTENDED, 12, 45, 24),
    (EventKind.EMAIL_CLICK, 3, 14, 12),
    (EventKind.FORM_SUBMIT, 10, 30, 20),
    (EventKind.TRIAL_SIGNUP, 25, 30, 25),
    (EventKind.CHAT_CONVERSATION, 15, 14, 15),
]
SALES_STAGES = (Stage.MQL, Stage.PQL, Stage.CQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
URLS = {
    EventKind.PAGE_VIEW: "https://smarketing.example/product",
    EventKind.PRICING_VIEW: "https://smarketing.example/pricing",
    EventKind.DEMO_REQUEST: "https://smarketing.example/demo",
    EventKind.CONTENT_DOWNLOAD: "https://smarketing.example/reports/b2b-buying-2026",
    EventKind.FORM_SUBMIT: "https://smarketing.example/contact",
}


def _rules_create() -> ScoringModel | None:
    if ScoringModel.objects.exists():
        return None
    version = ScoringModel.objects.create(
        number=1,
        created_by=User.objects.filter(username="marketer").first(),
        created_at=timezone.now(),
        note="Demo rules: fit from closed deals, behaviour from the last two quarters",
        is_active=True,
        **THRESHOLDS,
    )
    FitRule.objects.bulk_create(
        FitRule(version=version, position=i, field=f, operator=o, value=v, points=p)
        for i, (f, o, v, p) in enumerate(FIT_RULES)
    )
    EngagementRule.objects.bulk_create(
        EngagementRule(version=version, kind=k, points=p, half_life_days=h, cap=c)
        for k, p, h, c in ENGAGEMENT_RULES
    )
    return version


def _plan(lead: Lead, now: datetime) -> list[tuple[str, datetime]]:
    """The (kind, occurred_at) of one demo lead's events, drawn from its email and fate."""
    rng = random.Random(f"scoring-demo-{lead.email}")
    born = min(lead.created_at, now - timedelta(days=2))
    life = max((now - born).days, 2)

    def at(min_days: float, max_days: float) -> datetime:
        low, high = min(min_days, life - 1), min(max_days, life)
        return now - timedelta(days=rng.uniform(low, max(low, high)))

    events: list[tuple[str, datetime]] = []

    def some(kind: str, count: int, min_days: float, max_days: float) -> None:
        events.extend((kind, at(min_days, max_days)) for _ in range(count))

    stage = lead.stage
    if stage == Stage.NEW:
        # Browsing only, and not lately: stays below the MQL threshold.
        some(EventKind.PAGE_VIEW, rng.randint(0, 3), 3, 90)
        some(EventKind.EMAIL_CLICK, rng.randint(0, 2), 10, 90)
        some(EventKind.CONTENT_DOWNLOAD, rng.randint(0, 1), 25, 150)
    elif stage == Stage.DISQUALIFIED:
        some(EventKind.PAGE_VIEW, rng.randint(0, 2), 20, 160)
    elif stage in (Stage.RECYCLED, Stage.LOST):
        some(EventKind.PAGE_VIEW, rng.randint(2, 8), 30, 160)
        some(EventKind.PRICING_VIEW, rng.randint(0, 2), 40, 160)
        some(EventKind.EMAIL_CLICK, rng.randint(1, 4), 20, 160)
        some(EventKind.CONTENT_DOWNLOAD, rng.randint(0, 2), 40, 160)
        if rng.random() < 0.3:
            some(EventKind.WEBINAR_ATTENDED, 1, 40, 160)
    else:  # reached sales: engaged, the further it went the more
        strong = stage in (Stage.SQL, Stage.OPPORTUNITY, Stage.WON)
        recent = 20 if stage in (Stage.MQL, Stage.PQL, Stage.CQL) else 90
        some(EventKind.PAGE_VIEW, rng.randint(4, 12), 1, 120)
        some(EventKind.PRICING_VIEW, rng.randint(2 if strong else 1, 4), 1, recent)
        some(EventKind.EMAIL_CLICK, rng.randint(2, 6), 2, 120)
        some(EventKind.CONTENT_DOWNLOAD, rng.randint(1, 2), 5, 120)
        if rng.random() < (0.6 if strong else 0.35):
            some(EventKind.WEBINAR_ATTENDED, 1, 5, 120)
        if rng.random() < (0.8 if strong else 0.4):
            some(EventKind.DEMO_REQUEST, 1, 1, recent)
        if rng.random() < 0.3:
            some(EventKind.FORM_SUBMIT, 1, 1, recent)
        if lead.kind == Stage.PQL:
            some(EventKind.TRIAL_SIGNUP, 1, 1, recent)
        elif lead.kind == Stage.CQL:
            some(EventKind.CHAT_CONVERSATION, 1, 1, recent)
    return sorted(events, key=lambda e: e[1])


@transaction.atomic
def scoring_demo_seed() -> dict:
    """Create the demo rule set (when there is none) and the demo leads' engagement, then
    rescore every lead without handing anyone off. Returns what it did."""
    version = _rules_create()
    now = timezone.now()
    seeded = set(
        EngagementEvent.objects.filter(
            source=DEMO_SOURCE, lead__email__endswith=DEMO_EMAIL_DOMAIN
        ).values_list("lead_id", flat=True)
    )
    leads = Lead.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN).exclude(pk__in=seeded)
    rows = []
    for lead in leads.select_related("source_campaign").order_by("pk"):
        for n, (kind, occurred_at) in enumerate(_plan(lead, now)):
            with_campaign = kind in (EventKind.WEBINAR_ATTENDED, EventKind.CONTENT_DOWNLOAD)
            rows.append(
                EngagementEvent(
                    lead=lead,
                    kind=kind,
                    occurred_at=occurred_at,
                    campaign=lead.source_campaign if with_campaign else None,
                    url=URLS.get(kind, ""),
                    source=DEMO_SOURCE,
                    external_id=f"{lead.email}#{n}",
                )
            )
    EngagementEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    report = scores_refresh_all(hand_off=False)
    # Every lead was just scored; the flags new leads are born with need no second pass.
    Lead.objects.filter(needs_rescore=True).update(needs_rescore=False)
    return {
        "version": version.number if version else None,
        "events": len(rows),
        "rescored": report.changed,
    }

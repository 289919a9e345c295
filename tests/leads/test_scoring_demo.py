"""The demo's scoring: a realistic rule set, months of engagement for the demo leads, real
scores and explanations, idempotent."""

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from leads.models import EngagementEvent, Lead, LeadStageChange, ScoringModel, Stage
from leads.scoring_demo import DEMO_EMAIL_DOMAIN, scoring_demo_seed
from leads.scoring_selectors import rule_insights, rules_of, scoring_active

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    # A frozen clock: decay between two runs seconds apart could move a score by a point.
    with time_machine.travel(timezone.now(), tick=False):
        # seed_demo runs the scoring demo itself, between the leads and their sales work
        call_command("seed_demo", password="demo-pass-scoring")
        yield {
            "version": ScoringModel.objects.get(is_active=True).number,
            "events": EngagementEvent.objects.count(),
        }


def test_the_demo_scores_every_lead_with_real_rules_and_events(demo):
    version = ScoringModel.objects.get(is_active=True)
    assert demo["version"] == 1 and demo["events"] > 1000
    assert version.created_by.username == "marketer"
    assert version.fit_rules.count() >= 8 and version.engagement_rules.count() >= 8
    leads = Lead.objects.filter(email__endswith=DEMO_EMAIL_DOMAIN)
    assert not leads.exclude(score_version=version).exists()
    assert not Lead.objects.filter(needs_rescore=True).exists()
    for lead in leads:
        assert sum(i["points"] for i in lead.score_explanation) == lead.score
    # engagement follows the leads' fate: sales leads outscore new ones, and no new lead sits
    # at the MQL threshold (the seed hands nobody off)
    assert not leads.filter(stage=Stage.NEW, score__gte=version.mql_threshold).exists()
    new = [x.score for x in leads.filter(stage=Stage.NEW)]
    won = [x.score for x in leads.filter(stage__in=[Stage.SQL, Stage.OPPORTUNITY, Stage.WON])]
    assert sum(won) / len(won) > sum(new) / len(new) + 15
    assert EngagementEvent.objects.filter(campaign__isnull=False).exists()


def test_the_demo_insights_show_behaviour_that_predicts_sql(demo):
    insights, overall = rule_insights(rules_of(scoring_active()))
    demo_request = next(i for i in insights if i.label == "Demo request")
    assert overall.sql > 0
    assert demo_request.sql_lift > 1.5 and demo_request.suggested > 0


def test_seeding_twice_changes_nothing(demo):
    history = LeadStageChange.objects.count()
    events = EngagementEvent.objects.count()
    again = scoring_demo_seed()
    assert again == {"version": None, "events": 0, "rescored": 0}
    assert (EngagementEvent.objects.count(), LeadStageChange.objects.count()) == (events, history)

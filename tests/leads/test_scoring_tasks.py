"""Rescoring by the worker's jobs (run inline here): one rescore per burst of events, the MQL
hand-off exactly once, the sweeps that redo what a lost task left undone."""

from datetime import timedelta

import pytest
from django.utils import timezone

from leads.models import (
    EventKind,
    Handoff,
    Lead,
    LeadStageChange,
    ScoringModel,
    Stage,
    Temperature,
)
from leads.scoring_services import (
    EventIn,
    events_ingest,
    scores_refresh_all,
    scores_refresh_pending,
)
from leads.tasks import rescore_decay, rescore_leads, rescore_pending
from tests.leads.factories import EngagementEventFactory, LeadFactory, scoring_version

pytestmark = pytest.mark.django_db
DEMO = {"kind": EventKind.DEMO_REQUEST, "points": 40, "half_life_days": 30, "cap": 80}
VP = {"field": "title", "operator": "contains", "value": "VP", "points": 15}


def _event(lead, kind=EventKind.DEMO_REQUEST, **extra) -> EventIn:
    return EventIn(kind=kind, occurred_at=timezone.now(), lead_id=lead.pk, **extra)


def test_a_burst_of_events_for_one_lead_costs_one_rescore(
    marketer, django_capture_on_commit_callbacks
):
    # given a scored lead
    scoring_version(engagement=[DEMO], mql=500)
    lead = LeadFactory(title="Analyst")
    scores_refresh_all()
    # when five events arrive in five requests before the worker gets to them
    with django_capture_on_commit_callbacks() as callbacks:
        for n in range(5):
            events_ingest(actor=marketer, events=[_event(lead, external_id=f"e{n}")])
    assert len(callbacks) == 5  # five tasks were enqueued
    # then the first task rescores the lead and the other four find nothing to do
    reports = [scores_refresh_pending(lead_ids=[lead.pk]) for _ in callbacks]
    assert [r.leads for r in reports] == [1, 0, 0, 0, 0]
    lead.refresh_from_db()
    assert lead.score == 80  # five demo requests, capped at 80


def test_crossing_the_mql_threshold_hands_the_lead_off_once(
    marketer, django_capture_on_commit_callbacks
):
    # given a VP one demo request away from the threshold
    scoring_version(fit=[VP], engagement=[DEMO], mql=50)
    lead = LeadFactory(title="VP Sales")
    scores_refresh_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.score) == (Stage.NEW, 15)
    # when the request arrives and the worker rescores
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(actor=marketer, events=[_event(lead)])
    # then the lead is an MQL with one history row by the system and an open handoff
    lead.refresh_from_db()
    assert (lead.stage, lead.kind, lead.score) == (Stage.MQL, Stage.MQL, 55)
    change = LeadStageChange.objects.get(lead=lead, to_stage=Stage.MQL)
    assert change.actor is None
    assert change.note == "Score 55 crossed the MQL threshold 50"
    handoff = Handoff.objects.get(lead=lead)
    assert handoff.context["score"] == 55
    assert [i["points"] for i in handoff.context["score_explanation"]] == [15, 40]
    # and later rescores and sweeps do not hand it off again
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(actor=marketer, events=[_event(lead)])
    rescore_pending()
    scores_refresh_all()
    assert LeadStageChange.objects.filter(lead=lead, to_stage=Stage.MQL).count() == 1
    assert Handoff.objects.filter(lead=lead).count() == 1


def test_a_returned_lead_does_not_bounce_back_until_its_score_crosses_again(db):
    scoring_version(fit=[VP], engagement=[DEMO], mql=50)
    lead = LeadFactory(title="VP", stage=Stage.RECYCLED, score=60)
    EngagementEventFactory(lead=lead, kind="demo_request")
    # already above the threshold when sales returned it: it stays in nurture
    scores_refresh_all()
    lead.refresh_from_db()
    assert (lead.stage, lead.score) == (Stage.RECYCLED, 55)
    # its score falls below and crosses again: handed off again
    Lead.objects.filter(pk=lead.pk).update(score=20)
    scores_refresh_all()
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_a_new_lead_at_the_threshold_is_handed_off_even_when_its_score_did_not_change(db):
    # (a hand-off that failed after the score was written is retried by the next rescore)
    scoring_version(fit=[{**VP, "points": 60}], mql=50)
    lead = LeadFactory(title="VP")
    scores_refresh_all(hand_off=False)
    scores_refresh_all()
    lead.refresh_from_db()
    assert lead.stage == Stage.MQL


def test_a_lost_task_is_redone_by_the_minute_sweep(marketer, django_capture_on_commit_callbacks):
    # given events whose rescore task was lost (enqueued, never run)
    scoring_version(engagement=[DEMO], warm=20, hot=70, mql=500)
    leads = [LeadFactory() for _ in range(3)]
    scores_refresh_all()
    with django_capture_on_commit_callbacks():  # tasks not executed: the broker lost them
        events_ingest(actor=marketer, events=[_event(lead) for lead in leads])
    assert Lead.objects.filter(needs_rescore=True).count() == 3
    assert set(Lead.objects.values_list("score", flat=True)) == {0}
    # when the beat runs the sweep
    rescore_pending()
    # then every score is up to date and nothing is left flagged
    assert set(Lead.objects.values_list("score", "temperature")) == {(40, Temperature.WARM)}
    assert not Lead.objects.filter(needs_rescore=True).exists()


def test_without_rules_flags_wait_for_the_first_version(db):
    lead = LeadFactory()
    assert lead.needs_rescore  # never scored
    rescore_pending()
    lead.refresh_from_db()
    assert lead.needs_rescore
    scoring_version(fit=[{**VP, "value": "a"}])
    rescore_leads(lead_ids=[lead.pk])
    lead.refresh_from_db()
    assert not lead.needs_rescore and lead.score_version is not None


def test_a_full_rescore_a_rules_change_asked_for_is_restarted_when_lost(db):
    # given a version saved three minutes ago whose full rescore never ran
    version = scoring_version(fit=[VP])
    ScoringModel.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - timedelta(minutes=3)
    )
    lead = LeadFactory(title="VP", needs_rescore=False)
    # when the minute sweep runs (tasks run inline here)
    rescore_pending()
    # then the full rescore ran and the version is marked applied
    version.refresh_from_db()
    lead.refresh_from_db()
    assert version.rescored_at is not None
    assert (lead.score, lead.score_version) == (15, version)


def test_the_decay_sweep_rescores_only_engaged_leads(db):
    scoring_version(fit=[VP], engagement=[DEMO])
    engaged, quiet = LeadFactory(title="VP"), LeadFactory(title="VP", needs_rescore=False)
    EngagementEventFactory(lead=engaged, kind="demo_request")
    rescore_decay()
    engaged.refresh_from_db()
    quiet.refresh_from_db()
    assert (engaged.score, quiet.score, quiet.score_version) == (55, 0, None)


def test_lead_creation_and_fit_changes_are_rescored(marketer, django_capture_on_commit_callbacks):
    from leads.services import lead_create, lead_update

    scoring_version(fit=[VP], mql=500)
    with django_capture_on_commit_callbacks(execute=True):
        lead = lead_create(actor=marketer, email="x@prospect.example", title="VP Ops")
    lead.refresh_from_db()
    assert lead.score == 15
    with django_capture_on_commit_callbacks(execute=True):
        lead_update(lead_id=lead.pk, actor=marketer, title="Analyst")
    lead.refresh_from_db()
    assert lead.score == 0

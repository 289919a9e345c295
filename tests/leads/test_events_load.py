"""generate_load --events: synthetic engagement events for benchmarks, set-based on PostgreSQL
and drawn by the same plan elsewhere."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from leads.management.commands.generate_load import EVENT_KINDS, LOAD_EVENT_SOURCE, event_plan
from leads.models import EngagementEvent, Lead

pytestmark = pytest.mark.django_db


def _run_rows():
    leads = Lead.objects.order_by("pk")
    first, count = leads.first().pk, leads.count()
    now = EngagementEvent.objects.values_list("created_at", flat=True).first()
    return first, count, now


def _assert_events_follow_the_plan(n: int) -> None:
    first, count, _ = _run_rows()
    stored = list(EngagementEvent.objects.values_list("lead_id", "kind", "occurred_at"))
    assert len(stored) == n
    assert {kind for _, kind, _ in stored} <= set(EVENT_KINDS)
    assert all(first <= lead_id < first + count for lead_id, _, _ in stored)
    assert set(EngagementEvent.objects.values_list("source", flat=True)) == {LOAD_EVENT_SOURCE}
    # the plan, replayed in Python, gives the same rows; its "now" is the run's, read back from
    # created_at, which may lag the run's clock by a moment
    now = EngagementEvent.objects.values_list("created_at", flat=True).first()
    planned = sorted(
        (p["lead_id"], p["kind"], p["occurred_at"])
        for p in (event_plan(i, first_lead=first, leads=count, now=now) for i in range(1, n + 1))
    )
    stored.sort()
    assert [(a, b) for a, b, _ in planned] == [(a, b) for a, b, _ in stored]
    assert all(abs((p[2] - s[2]).total_seconds()) < 5 for p, s in zip(planned, stored, strict=True))


def test_generate_load_adds_events_spread_over_the_runs_leads():
    call_command("generate_load", leads=25, events=300, batch_size=40)
    _assert_events_follow_the_plan(300)
    assert Lead.objects.filter(needs_rescore=True).count() == 25  # never scored yet


def test_generate_load_refuses_negative_events():
    with pytest.raises(CommandError, match="negative"):
        call_command("generate_load", leads=1, events=-1)


@pytest.mark.postgres
def test_the_events_sql_on_postgres_draws_the_same_events_as_the_python_plan():
    call_command("generate_load", leads=40, events=500)
    _assert_events_follow_the_plan(500)

"""generate_load: synthetic leads, history and handoffs that obey the model's invariants."""

from collections import Counter
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Count, Q
from django.utils import timezone

from leads.management.commands.generate_load import LOAD_DOMAIN, _path, lead_plan
from leads.models import QUALIFIED_STAGES, Handoff, Lead, LeadStageChange, Stage
from leads.services import SALES_STAGES, TRANSITIONS, first_touch_due
from tests.factories import UserFactory


def _generate(n: int) -> str:
    out = StringIO()
    call_command("generate_load", leads=n, stdout=out)
    return out.getvalue()


def _assert_consistent(leads):
    """The invariants the services keep, checked on every generated lead."""
    history = Counter(
        LeadStageChange.objects.filter(lead__in=leads).values_list("lead_id", flat=True)
    )
    assert sum(history.values()) == sum(len(_path(lead.stage, lead.kind)) for lead in leads)
    handoffs = {h.lead_id: h for h in Handoff.objects.filter(lead__in=leads)}
    assert len(handoffs) == sum(1 for lead in leads if lead.kind)
    for lead in leads:
        assert history[lead.pk] == len(_path(lead.stage, lead.kind))
        handoff = handoffs.get(lead.pk)
        if lead.stage in SALES_STAGES:
            assert handoff is not None and handoff.is_open
            assert handoff.owner_id == lead.owner_id
            assert handoff.first_touch_due_at == first_touch_due(
                kind=handoff.kind, temperature=lead.temperature, start=handoff.created_at
            )
        elif handoff is not None:
            assert not handoff.is_open
            assert handoff.closed_at == lead.stage_changed_at
        if lead.stage == Stage.RECYCLED:
            assert handoff.status == Handoff.Status.RETURNED and handoff.return_reason
            assert lead.owner_id is None
        assert 0 <= lead.score <= 100
        assert lead.created_at <= lead.stage_changed_at <= timezone.now()
    # every history row is an allowed move, in time order per lead
    rows = LeadStageChange.objects.filter(lead__in=leads).order_by("lead_id", "created_at", "id")
    previous = {}
    for row in rows:
        before = previous.get(row.lead_id)
        if before is None:
            assert (row.from_stage, row.to_stage) == ("", Stage.NEW)
        else:
            assert row.from_stage == before.to_stage
            assert row.to_stage in TRANSITIONS[before.to_stage]
            assert row.created_at >= before.created_at
            # each move knows when the stay it ended began: the row before it
            assert row.stage_entered_at == before.created_at
        previous[row.lead_id] = row


def _assert_pool_valid(pool):
    assert pool, "the pool is empty"
    for handoff in pool:
        handoff.full_clean()  # field and constraint-level validation, as a form would
        assert handoff.owner_id is None and handoff.closed_at is None
        assert handoff.lead.owner_id is None
        assert handoff.lead.stage in QUALIFIED_STAGES
        assert handoff.kind == handoff.lead.kind == handoff.lead.stage


def _run_leads(out: str):
    run = out.split("Run ")[1].split(":")[0]
    return list(Lead.objects.filter(email__startswith=f"{run}-"))


@pytest.mark.django_db
def test_generate_load_creates_the_leads_with_history_and_handoffs():
    # when 600 synthetic leads are generated (SQLite here: batched bulk_create)
    out = _generate(600)
    leads = _run_leads(out)
    # then every lead, its history and its handoff are there and consistent
    assert len(leads) == Lead.objects.count() == 600
    _assert_consistent(leads)
    pool = list(Handoff.objects.filter(status=Handoff.Status.POOL).select_related("lead"))
    _assert_pool_valid(pool)
    # the funnel has the intended shape: a small pool, some owned, mostly history
    stages = Counter(lead.stage for lead in leads)
    assert set(stages) == set(Stage.values)
    assert 0.005 * 600 <= len(pool) <= 0.05 * 600
    owned_open = sum(1 for lead in leads if lead.owner_id and lead.stage in SALES_STAGES)
    assert 0.05 * 600 <= owned_open <= 0.15 * 600
    assert {lead.temperature for lead in leads} == {"cold", "warm", "hot"}
    assert len({lead.country for lead in leads}) >= 10
    assert len({lead.industry for lead in leads}) >= 10
    # and each step's time is printed
    for step in ("leads:", "history:", "handoffs:"):
        assert step in out


@pytest.mark.django_db
def test_generate_load_runs_add_up_with_unique_emails():
    _generate(150)
    _generate(150)
    emails = list(Lead.objects.values_list("email", flat=True))
    assert len(emails) == 300
    assert len({e.lower() for e in emails}) == 300
    assert all(e.endswith(f"@{LOAD_DOMAIN}") for e in emails)
    # one open handoff per lead at most, whatever the runs
    assert not (
        Handoff.objects.filter(closed_at__isnull=True)
        .values("lead")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .exists()
    )


@pytest.mark.django_db
def test_generate_load_creates_load_reps_when_the_demo_reps_are_missing():
    _generate(200)
    reps = User.objects.filter(username__startswith="load-rep")
    assert sorted(reps.values_list("username", flat=True)) == [
        "load-rep1",
        "load-rep2",
        "load-rep3",
    ]
    assert all(rep.groups.filter(name="Sales rep").exists() for rep in reps)
    assert not reps.filter(Q(password="") | Q(password__isnull=True)).exists()
    owners = set(Lead.objects.exclude(owner=None).values_list("owner__username", flat=True))
    assert owners == {"load-rep1", "load-rep2", "load-rep3"}


@pytest.mark.django_db
def test_generate_load_gives_leads_to_the_demo_reps_when_they_exist():
    for username in ("rep1", "rep2", "rep3"):
        UserFactory(username=username, role="Sales rep")
    _generate(200)
    owners = set(Lead.objects.exclude(owner=None).values_list("owner__username", flat=True))
    assert owners == {"rep1", "rep2", "rep3"}
    assert not User.objects.filter(username__startswith="load-rep").exists()


# --events: tests/leads/test_events_load.py


@pytest.mark.postgres
@pytest.mark.django_db
def test_generate_load_sql_on_postgres_draws_the_same_funnel_as_the_python_plan():
    # given the per-lead plan the SQLite path uses
    n = 3000
    out = _generate(n)
    leads = _run_leads(out)
    run = out.split("Run ")[1].split(":")[0]
    reps = sorted(User.objects.filter(username__startswith="load-rep").values_list("pk", flat=True))
    plans = [
        lead_plan(i, run=run, reps=reps, campaigns=[], now=timezone.now()) for i in range(1, n + 1)
    ]

    # then PostgreSQL's one INSERT per table drew exactly the same leads
    def shape(rows):
        return Counter(
            (r["email"], r["stage"], r["kind"], r["owner_id"], r["score"], r["country"])
            for r in rows
        )

    stored = Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values(
        "email", "stage", "kind", "owner_id", "score", "country"
    )
    assert shape(stored) == shape(plans)
    _assert_consistent(leads)
    _assert_pool_valid(
        list(
            Handoff.objects.filter(status=Handoff.Status.POOL, lead__in=leads).select_related(
                "lead"
            )
        )
    )
    assert "analyze:" in out

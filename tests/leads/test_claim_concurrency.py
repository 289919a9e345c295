"""Concurrent claims and assignments on PostgreSQL: real threads, real connections, real locks.

Each thread opens its own database connection (Django connections are per thread) and
closes it when done. ``transaction=True`` so the threads see committed rows.
"""

import threading
from collections import Counter

import pytest
from django.db import connections

from leads.models import Handoff, Lead, LeadAssignment, Stage, TerritoryMember
from leads.services import lead_transition, queue_claim_next
from tests.factories import UserFactory
from tests.leads.factories import HandoffFactory, LeadFactory, TerritoryFactory

pytestmark = [
    pytest.mark.postgres,
    # serialized_rollback: the role groups come from a data migration; restore them here
    # rather than depend on which transactional test flushed the database before.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.xdist_group("claim-concurrency"),
]

THREADS = 8


def _run_in_threads(work, args_list):
    """Start one thread per args tuple at the same moment; return results, re-raise errors."""
    start = threading.Barrier(len(args_list))
    results, errors = [None] * len(args_list), []

    def run(index, args):
        try:
            start.wait()
            results[index] = work(*args)
        except Exception as error:  # surfaced below, with the thread's traceback
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, args)) for i, args in enumerate(args_list)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_eight_reps_claiming_at_once_never_get_the_same_lead():
    # given a pool of 200 leads and eight reps
    pool = [HandoffFactory(lead=LeadFactory(stage=Stage.MQL, kind=Stage.MQL)) for _ in range(200)]
    reps = [UserFactory(username=f"claimer{i}", role="Sales rep") for i in range(THREADS)]

    def claim_until_empty(rep):
        claimed = []
        while (lead := queue_claim_next(rep=rep)) is not None:
            assert lead.owner_id == rep.pk
            claimed.append(lead.pk)
        return claimed

    # when they all claim until the pool is empty
    results = _run_in_threads(claim_until_empty, [(rep,) for rep in reps])

    # then every lead was claimed exactly once, and by the rep who got it
    claimed = [lead_id for batch in results for lead_id in batch]
    assert len(claimed) == 200
    assert set(claimed) == {handoff.lead_id for handoff in pool}
    assert not Handoff.objects.filter(status=Handoff.Status.POOL).exists()
    claimer = {
        lead_id: rep.pk for rep, batch in zip(reps, results, strict=True) for lead_id in batch
    }
    for handoff in Handoff.objects.all():
        assert handoff.status == Handoff.Status.ASSIGNED
        assert handoff.owner_id == claimer[handoff.lead_id]
    assert dict(Lead.objects.values_list("pk", "owner_id")) == claimer
    assignments = Counter(LeadAssignment.objects.values_list("lead_id", flat=True))
    assert len(assignments) == 200 and set(assignments.values()) == {1}
    assert set(LeadAssignment.objects.values_list("reason", flat=True)) == {"claimed"}
    # the work was shared: more than one claimer got leads
    assert sum(1 for batch in results if batch) > 1


def test_concurrent_handoffs_in_one_territory_keep_the_rotation_fair():
    # given a territory of three equal reps and 40 new leads there
    territory = TerritoryFactory(countries=["US"])
    reps = [UserFactory(username=f"rotation{i}", role="Sales rep") for i in range(3)]
    for rep in reps:
        TerritoryMember.objects.create(territory=territory, rep=rep, weight=1)
    marketer = UserFactory(username="qualifier", role="Marketer")
    leads = [LeadFactory(country="US") for _ in range(40)]
    batches = [leads[i::THREADS] for i in range(THREADS)]

    def qualify(batch):
        return [
            lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL).owner_id
            for lead in batch
        ]

    # when eight threads qualify them at once
    owners = [
        owner for batch in _run_in_threads(qualify, [(b,) for b in batches]) for owner in batch
    ]

    # then every lead went to a rep, the cursor counted each exactly once, and fairly
    assert len(owners) == 40 and None not in owners
    totals = dict(TerritoryMember.objects.values_list("rep_id", "assigned_total"))
    assert sum(totals.values()) == 40
    assert max(totals.values()) - min(totals.values()) <= 1
    assert totals == dict(Counter(owners))
    assert Counter(
        LeadAssignment.objects.filter(reason="round_robin").values_list("to_owner_id", flat=True)
    ) == Counter(owners)
    assert Handoff.objects.filter(status=Handoff.Status.ASSIGNED).count() == 40

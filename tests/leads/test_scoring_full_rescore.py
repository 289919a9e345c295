"""The full rescore on PostgreSQL as it runs in production: batches shared by two connections,
each committed, and a lead changed by another transaction between a batch's read and its write
is left to the sweep instead of being overwritten. ``transaction=True`` so the connections see
committed rows."""

import threading

import pytest
from django.db import connection

import leads.scoring as leads_scoring
from leads.models import EventKind, Lead
from leads.scoring_services import scores_refresh_all
from tests.leads.factories import EngagementEventFactory, LeadFactory, scoring_version

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.xdist_group("scoring-full-rescore"),
]
VP = {"field": "title", "operator": "contains", "value": "VP", "points": 15}
DEMO = {"kind": EventKind.DEMO_REQUEST, "points": 40, "half_life_days": 30, "cap": 80}


def test_two_connections_rescore_every_lead_once_and_clear_the_flags():
    # given a new version and leads in several batches, all flagged as never scored
    version = scoring_version(fit=[VP], engagement=[DEMO], mql=1000)
    leads = [LeadFactory(title="VP Sales" if n % 2 else "Analyst") for n in range(9)]
    EngagementEventFactory(lead=leads[0], kind=EventKind.DEMO_REQUEST)
    # when the full rescore runs outside any transaction, on two connections
    report = scores_refresh_all(version_id=version.pk, batch_size=2, workers=2)
    # then every lead was written once with the version, and nothing is left flagged
    assert (report.changed, report.stale, report.leads >= 9) == (9, False, True)
    assert report.compute_seconds > 0 and report.write_seconds > 0
    rows = Lead.objects.filter(pk__in=[lead.pk for lead in leads])
    assert {row.score_version_id for row in rows} == {version.pk}
    assert not rows.filter(needs_rescore=True).exists()
    scores = dict(rows.values_list("pk", "score"))
    assert scores[leads[0].pk] == 40 and scores[leads[1].pk] == 15 and scores[leads[2].pk] == 0
    version.refresh_from_db()
    assert version.rescored_at is not None
    # and a second run finds nothing to write
    assert scores_refresh_all(workers=2, batch_size=2).changed == 0


def _in_another_connection(work) -> None:
    def run():
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_a_lead_changed_between_read_and_write_is_not_overwritten_but_flagged(monkeypatch):
    # given leads scored with version 1, then version 2 saved
    first = scoring_version(fit=[VP])
    leads = [LeadFactory(title="VP") for _ in range(3)]
    scores_refresh_all(workers=1)
    version = scoring_version(fit=[{**VP, "points": 25}])
    racer = leads[1]

    # when another transaction edits one of them after the batch computed the scores and
    # before it writes them (a contact edit that does not ask for a rescore itself)
    update_tail = leads_scoring._pg_update_tail

    def edit_then_update(*args, **kwargs):
        _in_another_connection(
            lambda: Lead.objects.filter(pk=racer.pk).update(title="VP Ops", needs_rescore=False)
        )
        return update_tail(*args, **kwargs)

    monkeypatch.setattr(leads_scoring, "_pg_update_tail", edit_then_update)
    report = scores_refresh_all(version_id=version.pk, workers=1)

    # then the others are written, the edited one keeps its newer row and is flagged, so
    # the sweep rescores it from what it is now
    assert report.changed == 2
    rows = {row.pk: row for row in Lead.objects.filter(pk__in=[lead.pk for lead in leads])}
    racer_row = rows[racer.pk]
    assert (racer_row.title, racer_row.score_version_id, racer_row.score) == (
        "VP Ops",
        first.pk,
        15,
    )
    assert racer_row.needs_rescore
    others = [rows[lead.pk] for lead in leads if lead.pk != racer.pk]
    assert {(row.score, row.score_version_id, row.needs_rescore) for row in others} == {
        (25, version.pk, False)
    }

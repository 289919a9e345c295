"""The team page shows breaches live; the beat runs the scan every minute, exactly once per
deadline however often the task runs."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse

from leads.models import Handoff, Stage
from leads.services import lead_transition
from slas.models import Breach
from slas.services import sla_scan
from slas.tasks import sla_scan_task
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)
TEAM = reverse("slas:team")

pytestmark = pytest.mark.django_db


@pytest.fixture
def routed_rep(rep):
    TerritoryMemberFactory(rep=rep, territory__countries=["DE"])
    return rep


def _cql(marketer, **lead_fields) -> Handoff:
    """A CQL handed off Monday 10:00: its first touch is due at 11:00."""
    lead = LeadFactory(country="DE", **lead_fields)
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.CQL)
    return Handoff.objects.get(lead=lead)


def test_team_page_shows_a_breach_with_its_rep_and_how_late(
    client_for, manager, marketer, routed_rep
):
    # given the agreement and a CQL whose first touch was due Monday 11:00, flagged at 11:01
    AgreementFactory()
    handoff = _cql(marketer, first_name="Grace", last_name="Hopper", company="Cobol Inc")
    with time_machine.travel(datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN), tick=False):
        sla_scan()
    # when a manager opens the team page on Monday at 13:30
    with time_machine.travel(datetime(2026, 11, 23, 13, 30, tzinfo=BERLIN), tick=False):
        response = client_for(manager).get(TEAM)
    # then the breach is listed with the rep, the deadline and 2.5 business hours late
    board = response.context["board"]
    body = response.content.decode()
    assert [b.deadline.lead_id for b in board.breaches] == [handoff.lead_id]
    assert (board.breaches[0].late_text, board.breaches[0].business) == ("2h 30m", True)
    assert "Grace Hopper" in body and "Cobol Inc" in body
    assert '<span class="sla-breach">2h 30m</span>' in body
    # and the rep's row counts it as breached and untouched, and among this month's breaches
    (row,) = board.reps
    assert (row.rep, row.open_leads, row.breached_untouched, row.breaches_this_month) == (
        routed_rep,
        1,
        1,
        1,
    )


def test_team_page_counts_what_falls_due_within_the_hour(client_for, manager, marketer, routed_rep):
    AgreementFactory()
    _cql(marketer)  # due 11:00
    with time_machine.travel(datetime(2026, 11, 23, 10, 15, tzinfo=BERLIN), tick=False):
        board = client_for(manager).get(TEAM).context["board"]
    assert [(r.open_leads, r.due_next_hour, r.breached_untouched) for r in board.reps] == [
        (1, 1, 0)
    ]
    assert board.breaches == []


# session, user, groups, the header's unread count, the reps with their counts, the current
# breaches with lead and owner, and the agreements' calendars for how late.
TEAM_QUERIES = 7


@pytest.mark.parametrize("breaches", [1, 6])
def test_team_page_runs_a_fixed_number_of_queries(
    client_for, manager, marketer, routed_rep, django_assert_num_queries, breaches
):
    # given breaches across several reps
    AgreementFactory()
    for i in range(breaches):
        other = UserFactory(role="Sales rep", username=f"team-rep-{i}")
        TerritoryMemberFactory(rep=other, territory__countries=["DE"])
        _cql(marketer)
    with time_machine.travel(datetime(2026, 11, 23, 12, tzinfo=BERLIN), tick=False):
        sla_scan()
        client = client_for(manager)
        # when the manager opens the page, the count of queries does not grow with them
        with django_assert_num_queries(TEAM_QUERIES):
            response = client.get(TEAM)
    assert len(response.context["board"].breaches) == breaches


def test_htmx_refresh_returns_only_the_live_part(client_for, manager):
    response = client_for(manager).get(TEAM, headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="team-live"')
    assert 'hx-trigger="every 30s"' in body
    assert "<html" not in body


@pytest.mark.parametrize("who", ["rep", "marketer"])
def test_only_managers_open_the_team_page(client_for, request, who):
    assert client_for(request.getfixturevalue(who)).get(TEAM).status_code == 403


# --- the beat ------------------------------------------------------------------------------------
def test_the_scan_task_run_twice_records_one_breach(
    marketer, manager, routed_rep, django_capture_on_commit_callbacks
):
    # given a CQL whose first touch was due at 11:00
    AgreementFactory()
    _cql(marketer)
    # when the beat's task runs twice after the deadline (a retry, or two beats)
    with (
        time_machine.travel(datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        first = sla_scan_task.delay().get()
        second = sla_scan_task.delay().get()
    # then one breach is recorded, by the first run only, with JSON results
    assert Breach.objects.count() == 1
    assert (first["breached"], second["breached"]) == (1, 0)
    assert Breach.objects.get().due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)


def test_the_beat_scans_every_minute_and_sends_the_digests_on_schedule():
    schedule = settings.CELERY_BEAT_SCHEDULE
    scan = schedule["slas-scan"]
    assert (scan["task"], scan["schedule"]) == ("slas.scan", 60.0)
    assert scan["options"]["expires"] < 60  # a missed run expires before the next is due
    reps = schedule["slas-digest-reps"]["schedule"]
    assert (reps.hour, reps.minute, reps.day_of_week) == ({7}, {0}, {1, 2, 3, 4, 5})
    heads = schedule["slas-digest-managers"]["schedule"]
    assert (heads.hour, heads.minute, heads.day_of_week) == ({7}, {30}, {1})
    assert {schedule[k]["task"] for k in ("slas-digest-reps", "slas-digest-managers")} == {
        "slas.digest_reps",
        "slas.digest_managers",
    }


def test_team_breaches_list_the_pool_too(client_for, manager, marketer):
    # a CQL nobody was routed to breaches in the pool: it shows with "The pool"
    AgreementFactory()
    _cql(marketer)
    with time_machine.travel(MONDAY_10 + timedelta(hours=2), tick=False):
        sla_scan()
        body = client_for(manager).get(TEAM).content.decode()
    assert "The pool" in body

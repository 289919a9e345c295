"""Breach detection: exactly once per deadline, across repeated, late and concurrent runs."""

import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from core import services as core_services
from core.models import Notification
from core.tasks import notification_email
from leads.models import Handoff, Lead, Stage
from leads.services import lead_transition, touch_log
from slas import services as sla_services
from slas.models import Breach, Deadline
from slas.services import sla_scan
from slas.tasks import sla_scan_task
from tests.factories import UserFactory
from tests.leads.factories import LeadFactory, TerritoryFactory, TerritoryMemberFactory
from tests.slas.factories import AgreementFactory

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, tzinfo=BERLIN)


@pytest.fixture
def agreement(db):
    return AgreementFactory()


@pytest.fixture
def routed_rep(rep):
    TerritoryMemberFactory(rep=rep, territory__countries=["DE", "US"])
    return rep


def _handoff(marketer, *, stage=Stage.MQL, at=MONDAY_10, **lead_fields) -> Handoff:
    lead = LeadFactory(country="DE", **lead_fields)
    with time_machine.travel(at, tick=False):
        lead_transition(lead_id=lead.pk, actor=marketer, to=stage)
    return Handoff.objects.get(lead=lead)


@pytest.mark.django_db
def test_first_touch_deadline_counts_business_hours_of_the_agreement(
    agreement, marketer, routed_rep
):
    # given a warm MQL handed off on Monday 10:00 with a 24-business-hour target
    handoff = _handoff(marketer)
    # then it is due on Thursday 10:00 Berlin (7 + 8 + 8 + 1 working hours later)
    deadline = Deadline.objects.get(handoff=handoff, kind=Deadline.Kind.FIRST_TOUCH)
    assert deadline.due_at == datetime(2026, 11, 26, 10, tzinfo=BERLIN)
    assert handoff.first_touch_due_at == deadline.due_at
    assert deadline.owner == routed_rep


@pytest.mark.django_db
def test_hot_mql_and_cql_use_their_own_targets(agreement, marketer, routed_rep):
    hot = _handoff(marketer, temperature="hot")
    cql = _handoff(marketer, stage=Stage.CQL)
    assert hot.first_touch_due_at == datetime(2026, 11, 23, 14, tzinfo=BERLIN)
    assert cql.first_touch_due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)


@pytest.mark.django_db
def test_a_breach_is_flagged_once_however_often_the_scan_runs(
    agreement, marketer, manager, routed_rep, django_capture_on_commit_callbacks
):
    handoff = _handoff(marketer, stage=Stage.CQL)
    # when the scan runs before the deadline, nothing is flagged
    with time_machine.travel(datetime(2026, 11, 23, 10, 59, tzinfo=BERLIN), tick=False):
        sla_scan()
    assert not Breach.objects.exists()
    # when it runs after the deadline, three times
    with (
        time_machine.travel(datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        results = [sla_scan(), sla_scan(), sla_scan_task()]
    # then exactly one breach, at its true due time, and one notice each to rep and manager
    breach = Breach.objects.get()
    assert breach.due_at == datetime(2026, 11, 23, 11, tzinfo=BERLIN)
    assert breach.owner == routed_rep
    assert [r.breached for r in results[:2]] == [1, 0]
    assert Notification.objects.filter(kind="sla_breach", user=routed_rep).count() == 1
    assert Notification.objects.filter(kind="sla_breach", user=manager).count() == 1
    assert handoff.lead.pk == breach.lead_id


@pytest.mark.django_db
def test_a_touch_before_the_deadline_prevents_the_breach(agreement, marketer, routed_rep):
    handoff = _handoff(marketer, stage=Stage.CQL)
    with time_machine.travel(datetime(2026, 11, 23, 10, 40, tzinfo=BERLIN), tick=False):
        touch_log(lead_id=handoff.lead_id, actor=routed_rep, kind="call", outcome="connected")
    with time_machine.travel(datetime(2026, 11, 24, 12, tzinfo=BERLIN), tick=False):
        assert sla_scan().breached == 0
    assert Deadline.objects.get(handoff=handoff).met_at is not None


@pytest.mark.django_db
def test_worker_down_for_a_day_then_catches_every_missed_deadline(agreement, marketer, routed_rep):
    # given deadlines falling due at 11:00, 12:00 and 14:00 on Monday
    cql = _handoff(marketer, stage=Stage.CQL)
    pql = _handoff(marketer, stage=Stage.PQL)
    hot = _handoff(marketer, temperature="hot")
    # when nothing scans until Tuesday afternoon
    with time_machine.travel(datetime(2026, 11, 24, 15, tzinfo=BERLIN), tick=False):
        result = sla_scan()
    # then every one is breached with its true due time
    assert result.breached == 3
    dues = dict(Breach.objects.values_list("lead_id", "due_at"))
    assert dues == {
        cql.lead_id: datetime(2026, 11, 23, 11, tzinfo=BERLIN),
        pql.lead_id: datetime(2026, 11, 23, 12, tzinfo=BERLIN),
        hot.lead_id: datetime(2026, 11, 23, 14, tzinfo=BERLIN),
    }


@pytest.mark.django_db
def test_the_rep_is_warned_once_at_three_quarters_of_the_window(
    agreement, marketer, routed_rep, django_capture_on_commit_callbacks
):
    _handoff(marketer, temperature="hot")  # due 14:00, 75% at 13:00
    with (
        time_machine.travel(datetime(2026, 11, 23, 13, 5, tzinfo=BERLIN), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_scan().warned == 1
        assert sla_scan().warned == 0
    warning = Notification.objects.get(kind="sla_warning")
    assert warning.user == routed_rep
    assert "55 min" in warning.message


@pytest.mark.django_db
def test_escalation_returns_an_untouched_lead_to_the_pool_once(agreement, marketer, routed_rep):
    handoff = _handoff(marketer, stage=Stage.CQL)  # due 11:00, escalates 4 business h later
    with time_machine.travel(datetime(2026, 11, 23, 11, 30, tzinfo=BERLIN), tick=False):
        sla_scan()
    assert Handoff.objects.get(pk=handoff.pk).owner == routed_rep
    with time_machine.travel(datetime(2026, 11, 23, 15, 1, tzinfo=BERLIN), tick=False):
        assert sla_scan().escalated == 1
        assert sla_scan().escalated == 0
    handoff.refresh_from_db()
    assert (handoff.status, handoff.owner) == (Handoff.Status.POOL, None)
    assert Lead.objects.get(pk=handoff.lead_id).owner is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_never_double_a_breach(agreement, marketer, manager, routed_rep):
    # given 30 deadlines that passed
    for _ in range(30):
        _handoff(marketer, stage=Stage.CQL)
    barrier = threading.Barrier(4)
    counts = []

    def scan():
        try:
            barrier.wait()
            counts.append(sla_scan(now=MONDAY_10 + timedelta(hours=3)).breached)
        finally:
            connections.close_all()

    # when four scans run at once
    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then each deadline was breached by exactly one of them
    assert sum(counts) == 30
    assert Breach.objects.count() == 30
    assert Deadline.objects.filter(breached_at__isnull=False).count() == 30


# --- the notices a run sends ---------------------------------------------------------------------
ELEVEN_01 = datetime(2026, 11, 23, 11, 1, tzinfo=BERLIN)


@pytest.fixture
def two_routed_reps(rep, other_rep):
    """rep and other_rep share the German territory: handoffs go to them in turn."""
    territory = TerritoryFactory(countries=["DE"])
    TerritoryMemberFactory(rep=rep, territory=territory)
    TerritoryMemberFactory(rep=other_rep, territory=territory)
    return rep, other_rep


@pytest.fixture
def heads(manager):
    """Two active managers; a third, inactive, hears nothing."""
    UserFactory(role="Manager", username="manager-gone", is_active=False)
    return [manager, UserFactory(role="Manager", username="manager-b")]


def _cqls(marketer, count: int, **lead_fields) -> list[Handoff]:
    """CQLs handed off Monday 10:00 in Germany: each first touch is due at 11:00."""
    return [_handoff(marketer, stage=Stage.CQL, **lead_fields) for _ in range(count)]


def _breach_notices(user) -> list[tuple[str, str]]:
    return list(
        Notification.objects.filter(kind=Notification.Kind.SLA_BREACH, user=user)
        .order_by("pk")
        .values_list("message", "url")
    )


def test_a_run_with_many_breaches_tells_each_owner_theirs_and_managers_once(
    agreement, marketer, heads, two_routed_reps, django_capture_on_commit_callbacks
):
    # given 25 first touches, split between two reps, that fell due at 11:00
    _cqls(marketer, 25)
    # when one scan runs at 11:01
    with (
        time_machine.travel(ELEVEN_01, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        result = sla_scan()
    # then all 25 are breached in that run
    assert result.breached == 25
    # and each rep hears of each of their own breaches, once
    for rep in two_routed_reps:
        theirs = Breach.objects.filter(owner=rep).select_related("lead")
        assert theirs.count() in (12, 13)
        assert sorted(url for _, url in _breach_notices(rep)) == sorted(
            reverse("leads:detail", args=[b.lead_id]) for b in theirs
        )
    # and each active manager gets one summary instead of 25 notices
    for head in heads:
        assert _breach_notices(head) == [
            ("25 SLA deadlines were breached; the team page lists them.", reverse("slas:team"))
        ]
    assert not Notification.objects.filter(user__is_active=False).exists()


def test_a_run_with_twenty_breaches_tells_managers_of_each(
    agreement, marketer, heads, two_routed_reps, django_capture_on_commit_callbacks
):
    # given 20 first touches that fell due at 11:00 (the most a manager hears of one by one)
    handoffs = _cqls(marketer, 20)
    with (
        time_machine.travel(ELEVEN_01, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert sla_scan().breached == 20
    # then each manager gets a notice per breach, with its lead's page, and no summary
    lead_pages = {reverse("leads:detail", args=[h.lead_id]) for h in handoffs}
    for head in heads:
        notices = _breach_notices(head)
        assert len(notices) == 20
        assert {url for _, url in notices} == lead_pages
        assert all(message.startswith("SLA breach: First touch for ") for message, _ in notices)
    assert Notification.objects.filter(kind=Notification.Kind.SLA_BREACH).count() == 20 * 3


def test_a_breach_notice_names_kind_lead_due_time_in_the_site_zone_and_owner(
    agreement, marketer, manager, routed_rep
):
    # given, in a Berlin site, a named lead, a lead without a name, and one nobody was routed to
    named = _handoff(marketer, stage=Stage.CQL, first_name=" Grace", last_name="Hopper\t")
    unnamed = _handoff(
        marketer, stage=Stage.CQL, first_name="", last_name="", email="ada@analytical.example"
    )
    pooled = LeadFactory(country="FR", first_name="Pool", last_name="Lead")
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(lead_id=pooled.pk, actor=marketer, to=Stage.CQL)
    # when the scan runs after their 11:00 deadline
    with timezone.override(BERLIN), time_machine.travel(ELEVEN_01, tick=False):
        sla_scan()
    # then the rep reads the kind, the lead as the app names it, the local due time and owner
    assert _breach_notices(routed_rep) == [
        (
            "SLA breach: First touch for Grace Hopper was due 23 Nov 11:00 (rep-a).",
            reverse("leads:detail", args=[named.lead_id]),
        ),
        (
            "SLA breach: First touch for ada@analytical.example was due 23 Nov 11:00 (rep-a).",
            reverse("leads:detail", args=[unnamed.lead_id]),
        ),
    ]
    # and the manager reads the same, and of the pool's lead without an owner
    assert _breach_notices(manager) == [
        *_breach_notices(routed_rep),
        (
            "SLA breach: First touch for Pool Lead was due 23 Nov 11:00.",
            reverse("leads:detail", args=[pooled.pk]),
        ),
    ]


def test_a_breach_notice_shows_the_due_time_in_the_sites_default_zone(
    agreement, marketer, routed_rep
):
    # the test site runs on UTC: 11:00 Berlin is 10:00 there
    _handoff(marketer, stage=Stage.CQL, first_name="Grace", last_name="Hopper")
    with time_machine.travel(ELEVEN_01, tick=False):
        sla_scan()
    ((message, _),) = _breach_notices(routed_rep)
    assert message == "SLA breach: First touch for Grace Hopper was due 23 Nov 10:00 (rep-a)."


def test_the_warning_names_the_lead_and_the_minutes_left(agreement, marketer, routed_rep):
    handoff = _handoff(marketer, temperature="hot", first_name="Alan", last_name="Turing")
    with time_machine.travel(datetime(2026, 11, 23, 13, 5, 30, tzinfo=BERLIN), tick=False):
        sla_scan()
    warning = Notification.objects.get(kind=Notification.Kind.SLA_WARNING)
    assert (warning.user, warning.message, warning.url) == (
        routed_rep,
        "First touch for Alan Turing is due in 54 min.",
        reverse("leads:detail", args=[handoff.lead_id]),
    )


def test_a_second_run_adds_nothing(
    agreement, marketer, heads, two_routed_reps, django_capture_on_commit_callbacks
):
    _cqls(marketer, 25)
    with time_machine.travel(ELEVEN_01, tick=False):
        sla_scan()
        notices = Notification.objects.count()
        # when the scan runs again
        with django_capture_on_commit_callbacks() as callbacks:
            result = sla_scan()
    # then it claims nothing, stores nothing and queues nothing
    assert (result.warned, result.breached, result.escalated) == (0, 0, 0)
    assert (Breach.objects.count(), Notification.objects.count()) == (25, notices)
    assert callbacks == []


def test_the_emails_are_queued_with_the_notification_ids_after_commit(
    agreement, marketer, heads, two_routed_reps, django_capture_on_commit_callbacks, monkeypatch
):
    # given 25 breaches and email tasks of at most 10 ids
    _cqls(marketer, 25)
    monkeypatch.setattr(core_services, "EMAIL_TASK_IDS", 10)
    queued = []
    send = notification_email.delay
    monkeypatch.setattr(notification_email, "delay", lambda ids: queued.append(ids) or send(ids))
    # when the scan runs, nothing is queued or emailed before the commit
    with time_machine.travel(ELEVEN_01, tick=False):
        with django_capture_on_commit_callbacks() as callbacks:
            sla_scan()
        assert (queued, mail.outbox) == ([], [])
        for callback in callbacks:
            callback()
    # then the ids of all 27 notices went out in tasks of at most 10, and each was emailed once
    stored = list(Notification.objects.order_by("pk").values_list("pk", flat=True))
    assert len(stored) == 25 + 2
    assert [len(ids) for ids in queued] == [10, 10, 7]
    assert sorted(pk for ids in queued for pk in ids) == stored
    assert not Notification.objects.filter(emailed_at__isnull=True).exists()
    assert sorted(to for email in mail.outbox for to in email.to) == sorted(
        Notification.objects.values_list("user__email", flat=True)
    )


def test_one_run_clears_a_backlog_larger_than_a_batch(
    agreement, marketer, heads, two_routed_reps, django_capture_on_commit_callbacks
):
    # given 25 passed deadlines and batches of 10
    _cqls(marketer, 25)
    with (
        time_machine.travel(ELEVEN_01, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        # when one run scans, then another
        first, second = sla_scan(limit=10), sla_scan(limit=10)
    # then the first caught all of them, batch after batch, and each owner heard once
    assert (first.breached, second.breached) == (25, 0)
    assert Deadline.objects.filter(breached_at__isnull=True).count() == 0
    for rep in two_routed_reps:
        assert len(_breach_notices(rep)) == Breach.objects.filter(owner=rep).count()


def test_a_deadline_found_past_due_is_breached_not_warned(agreement, marketer, routed_rep):
    # given a hot MQL due 14:00 (warning at 13:00) that nobody scanned before 14:30
    handoff = _handoff(marketer, temperature="hot")
    with time_machine.travel(datetime(2026, 11, 23, 14, 30, tzinfo=BERLIN), tick=False):
        result = sla_scan()
    # then it is breached and counts as warned, but the rep gets the breach, not a warning
    assert (result.breached, result.warned) == (1, 0)
    deadline = Deadline.objects.get(handoff=handoff)
    assert deadline.warned_at == deadline.breached_at is not None
    assert list(Notification.objects.values_list("kind", flat=True)) == ["sla_breach"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_scans_tell_of_each_breach_once(agreement, marketer, heads, two_routed_reps):
    # given 25 deadlines that passed
    _cqls(marketer, 25)
    barrier = threading.Barrier(4)

    def scan():
        try:
            barrier.wait()
            sla_scan(now=ELEVEN_01)
        finally:
            connections.close_all()

    # when four scans run at once
    threads = [threading.Thread(target=scan) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every owner heard of each of their breaches once
    assert Breach.objects.count() == 25
    for rep in two_routed_reps:
        assert len(_breach_notices(rep)) == Breach.objects.filter(owner=rep).count()
    # and each manager of each breach once: one by one or in a run's summary
    for head in heads:
        told = 0
        for message, url in _breach_notices(head):
            summary = url == reverse("slas:team")
            told += int(message.split()[0]) if summary else 1
        assert told == 25


# --- the same rows on PostgreSQL (set-based SQL) and SQLite (rows in Python) ---------------------
def _world() -> dict:
    return {
        "deadlines": list(
            Deadline.objects.order_by("pk").values_list(
                "pk", "warned_at", "breached_at", "escalated_at"
            )
        ),
        "breaches": list(
            Breach.objects.order_by("deadline_id").values_list(
                "deadline_id", "lead_id", "owner_id", "kind", "due_at", "detected_at"
            )
        ),
        "notifications": list(
            Notification.objects.order_by("pk").values_list(
                "user_id", "kind", "message", "url", "created_at", "read_at", "emailed_at"
            )
        ),
        "handoffs": list(Handoff.objects.order_by("pk").values_list("pk", "status", "owner_id")),
    }


def _scan_day() -> list:
    """Scan at 13:05 (breaches of 11:00, warnings of the 14:00 ones) and at 15:01 (those
    breaches escalate, the 14:00 ones breach); return each run's result and the rows after."""
    seen = []
    with timezone.override(BERLIN):
        for at in (datetime(2026, 11, 23, 13, 5, tzinfo=BERLIN), ELEVEN_01.replace(hour=15)):
            with time_machine.travel(at, tick=False):
                seen.append((sla_scan(), _world()))
    return seen


@pytest.mark.postgres
@pytest.mark.parametrize("cqls", [3, 25])
def test_set_based_scan_writes_the_same_rows_as_the_row_by_row_scan(
    agreement, marketer, heads, two_routed_reps, monkeypatch, cqls
):
    # given CQLs due 11:00, hot MQLs due 14:00, an unnamed lead, one in the pool, and a rep
    # who is a manager too
    rep, _ = two_routed_reps
    rep.groups.add(Group.objects.get(name="Manager"))
    _cqls(marketer, cqls)
    _handoff(marketer, temperature="hot", first_name="", last_name="")
    _handoff(marketer, temperature="hot")
    pooled = LeadFactory(country="FR")
    with time_machine.travel(MONDAY_10, tick=False):
        lead_transition(lead_id=pooled.pk, actor=marketer, to=Stage.CQL)
    # when the day is scanned row by row, then undone, then scanned set-based
    with transaction.atomic():
        monkeypatch.setattr(sla_services, "_set_based", lambda: False)
        row_by_row = _scan_day()
        transaction.set_rollback(True)
    monkeypatch.setattr(sla_services, "_set_based", lambda: True)
    set_based = _scan_day()
    # then both wrote the same rows, notifications in the same order (ids aside)
    assert row_by_row[0][1]["notifications"], "the scan sent notices"
    assert set_based == row_by_row

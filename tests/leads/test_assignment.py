"""Assignment by rule: territories and the weighted round-robin behind every new handoff."""

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from core.models import Notification
from leads.models import Handoff, LeadAssignment, RepAbsence, Stage, Territory, TerritoryMember
from leads.services import lead_transition, territory_for_lead, territory_member_add
from tests.factories import UserFactory
from tests.leads.factories import (
    LeadFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
    owned_lead,
)

pytestmark = pytest.mark.django_db

TODAY = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _reps(n: int, prefix: str = "rr"):
    return [UserFactory(username=f"{prefix}{i}", role="Sales rep") for i in range(1, n + 1)]


def _qualify(marketer, n: int = 1, **lead_fields) -> list:
    """Qualify n new leads (as marketing does) and return who got each: a username or None."""
    lead_fields.setdefault("country", "US")
    owners = []
    for _ in range(n):
        lead = LeadFactory(stage=Stage.NEW, **lead_fields)
        moved = lead_transition(lead_id=lead.pk, actor=marketer, to=Stage.MQL)
        owners.append(moved.owner.username if moved.owner else None)
    return owners


def _member(territory, rep, **fields) -> TerritoryMember:
    return TerritoryMemberFactory(territory=territory, rep=rep, **fields)


def test_equal_members_take_turns(marketer):
    # given a territory with three equal reps
    territory = TerritoryFactory(countries=["US"])
    reps = _reps(3)
    for rep in reps:
        _member(territory, rep)
    # when nine leads are qualified
    owners = _qualify(marketer, 9)
    # then each rep got three, in rotation
    assert Counter(owners) == {"rr1": 3, "rr2": 3, "rr3": 3}
    assert owners[:3] == ["rr1", "rr2", "rr3"] and owners[3:6] == ["rr1", "rr2", "rr3"]
    assert sorted(TerritoryMember.objects.values_list("assigned_total", flat=True)) == [3, 3, 3]


def test_assignment_by_rule_writes_the_handoff_the_history_and_tells_the_rep(
    marketer, django_capture_on_commit_callbacks
):
    territory = TerritoryFactory(countries=["US"])
    (rep,) = _reps(1)
    _member(territory, rep)
    with django_capture_on_commit_callbacks(execute=True):
        _qualify(marketer)
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.owner, handoff.territory) == ("assigned", rep, territory)
    assert handoff.assigned_at == handoff.created_at
    assignment = LeadAssignment.objects.get()
    assert (assignment.reason, assignment.to_owner, assignment.handoff) == (
        LeadAssignment.Reason.ROUND_ROBIN,
        rep,
        handoff,
    )
    assert Notification.objects.filter(user=rep, kind=Notification.Kind.ASSIGNED).count() == 1
    # and by email, with a link to the lead
    (email,) = mail.outbox
    assert email.to == [rep.email]
    assert handoff.lead.get_absolute_url() in email.body


def test_a_member_with_weight_two_gets_twice_as_many(marketer):
    territory = TerritoryFactory(countries=["US"])
    heavy, light = _reps(2)
    _member(territory, heavy, weight=2)
    _member(territory, light, weight=1)
    owners = _qualify(marketer, 9)
    assert Counter(owners) == {"rr1": 6, "rr2": 3}


def test_inactive_members_and_inactive_users_are_skipped(marketer):
    territory = TerritoryFactory(countries=["US"])
    working, paused, departed = _reps(3)
    _member(territory, working)
    _member(territory, paused, is_active=False)
    _member(territory, departed)
    departed.is_active = False
    departed.save(update_fields=["is_active"])
    assert set(_qualify(marketer, 4)) == {"rr1"}


@time_machine.travel(TODAY, tick=False)
def test_a_rep_away_today_is_skipped_until_the_absence_ends(marketer):
    territory = TerritoryFactory(countries=["US"])
    away, present = _reps(2)
    _member(territory, away)
    _member(territory, present)
    RepAbsence.objects.create(rep=away, starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 10))
    RepAbsence.objects.create(rep=present, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 8))
    # while the absence covers today, every lead goes to the rep who is in
    assert _qualify(marketer, 3) == ["rr2", "rr2", "rr2"]
    # the day after it ends, the rep rejoins the rotation at its level: no burst of missed turns
    with time_machine.travel(TODAY + timedelta(days=1), tick=False):
        assert _qualify(marketer, 4) == ["rr1", "rr2", "rr1", "rr2"]


def test_a_rep_at_capacity_is_skipped_until_a_lead_closes(marketer):
    territory = TerritoryFactory(countries=["US"])
    full, free = _reps(2)
    _member(territory, full, capacity=2)
    _member(territory, free)
    first = owned_lead(full)
    owned_lead(full)  # two open leads: at capacity
    assert _qualify(marketer, 3) == ["rr2", "rr2", "rr2"]
    # when the rep returns one lead, one slot frees up, and only one
    lead_transition(lead_id=first.pk, actor=full, to=Stage.RECYCLED, reason_code="not_ready")
    assert _qualify(marketer, 2) == ["rr1", "rr2"]


def test_no_matching_territory_leaves_the_lead_in_the_pool(marketer):
    territory = TerritoryFactory(countries=["US"])
    _member(territory, _reps(1)[0])
    assert _qualify(marketer, country="JP") == [None]
    handoff = Handoff.objects.get()
    assert (handoff.status, handoff.owner, handoff.territory) == ("pool", None, None)
    assert not LeadAssignment.objects.exists()


@time_machine.travel(TODAY, tick=False)
def test_everyone_away_leaves_the_lead_in_the_pool_of_its_territory(marketer):
    territory = TerritoryFactory(countries=["US"])
    for rep in _reps(2):
        _member(territory, rep)
        RepAbsence.objects.create(rep=rep, starts_on=date(2026, 3, 10), ends_on=date(2026, 3, 20))
    assert _qualify(marketer, 2) == [None, None]
    assert set(Handoff.objects.values_list("status", "territory")) == {("pool", territory.pk)}
    assert sum(TerritoryMember.objects.values_list("assigned_total", flat=True)) == 0


def test_the_rotation_cursor_survives_a_restart(marketer):
    # given four leads assigned in a territory of three
    territory = TerritoryFactory(countries=["US"])
    for rep in _reps(3):
        _member(territory, rep)
    assert _qualify(marketer, 4) == ["rr1", "rr2", "rr3", "rr1"]
    # when the process "restarts": nothing in memory, new objects read from the database
    del territory
    fresh = Territory.objects.get()
    assert [m.assigned_total for m in fresh.members.order_by("pk")] == [2, 1, 1]
    # then the rotation continues where it stopped instead of starting over
    assert _qualify(marketer, 5) == ["rr2", "rr3", "rr1", "rr2", "rr3"]
    assert [m.assigned_total for m in fresh.members.order_by("pk")] == [3, 3, 3]


@time_machine.travel(TODAY, tick=False)
def test_a_rep_back_from_two_weeks_off_is_not_flooded_with_missed_turns(marketer):
    # given three reps, one of them away for two weeks while twelve leads arrive
    territory = TerritoryFactory(countries=["US"])
    away, *present = _reps(3)
    for rep in (away, *present):
        _member(territory, rep)
    RepAbsence.objects.create(rep=away, starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 20))
    assert Counter(_qualify(marketer, 12)) == {"rr2": 6, "rr3": 6}
    # when the rep is back and six more leads arrive
    with time_machine.travel(TODAY + timedelta(days=11), tick=False):
        owners = _qualify(marketer, 6)
    # then they share them evenly instead of the returning rep taking all six
    assert Counter(owners) == {"rr1": 2, "rr2": 2, "rr3": 2}


def test_a_rep_added_to_a_running_territory_joins_at_its_level(marketer, manager):
    territory = TerritoryFactory(countries=["US"])
    old, newcomer = _reps(2)
    _member(territory, old)
    _qualify(marketer, 3)
    territory_member_add(
        actor=manager, territory_id=territory.pk, rep=newcomer, weight=1, capacity=None
    )
    assert _qualify(marketer, 4) == ["rr1", "rr2", "rr1", "rr2"]


def test_the_first_matching_territory_by_priority_wins(marketer):
    software, everything = _reps(2)
    broad = TerritoryFactory(name="All of the US", countries=["US"], priority=50)
    narrow = TerritoryFactory(
        name="US software", countries=["us"], industries=["software"], priority=10
    )
    _member(broad, everything)
    _member(narrow, software)
    assert territory_for_lead(LeadFactory(country="US", industry="Software")) == narrow
    assert territory_for_lead(LeadFactory(country="US", industry="Retail")) == broad
    assert _qualify(marketer, industry="Software") == ["rr1"]
    assert _qualify(marketer, industry="Retail") == ["rr2"]
    narrow.is_active = False
    narrow.save(update_fields=["is_active"])
    assert territory_for_lead(LeadFactory(country="US", industry="Software")) == broad

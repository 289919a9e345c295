"""Manager pages: reassignment, territories and members, absences; who may open them."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from core.errors import NotAllowed
from core.models import Notification
from leads.models import Handoff, Lead, LeadAssignment, RepAbsence, Stage, Territory
from leads.services import territory_create
from tests.leads.factories import (
    LeadFactory,
    TerritoryFactory,
    TerritoryMemberFactory,
    owned_lead,
)

MANAGER_PAGES = [
    ("leads:manage_queues", []),
    ("leads:manage_territories", []),
    ("leads:manage_territory_create", []),
    ("leads:manage_absences", []),
]


def notified(user) -> list[str]:
    return list(Notification.objects.filter(user=user).values_list("kind", flat=True))


# --- who may open them -------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("who", ["rep", "marketer"])
@pytest.mark.parametrize(("url_name", "args"), MANAGER_PAGES)
def test_reps_and_marketers_cannot_open_manager_pages(request, client_for, who, url_name, args):
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse(url_name, args=args)).status_code == 403


@pytest.mark.django_db
def test_reps_and_marketers_cannot_reassign_or_edit_territories(client_for, rep, other_rep):
    lead = owned_lead(rep)
    territory = TerritoryFactory()
    client = client_for(rep)
    response = client.post(
        reverse("leads:manage_reassign", args=[lead.pk]), {"to": str(other_rep.pk)}
    )
    assert response.status_code == 403
    edit = client.post(
        reverse("leads:manage_territory", args=[territory.pk]), {"name": "Mine", "priority": 1}
    )
    assert edit.status_code == 403
    lead.refresh_from_db()
    assert lead.owner == rep


@pytest.mark.django_db
@pytest.mark.parametrize(("url_name", "args"), MANAGER_PAGES)
def test_managers_open_every_manager_page(client_for, manager, url_name, args):
    assert client_for(manager).get(reverse(url_name, args=args)).status_code == 200


@pytest.mark.django_db
def test_managers_see_routing_in_the_navigation(client_for, manager, marketer):
    html = client_for(manager).get(reverse("leads:pipeline")).content.decode()
    nav = html.split('aria-label="Main"', 1)[1].split("</nav>", 1)[0]
    assert reverse("leads:manage_territories") in nav


# --- reassigning one lead ----------------------------------------------------------------------
@pytest.mark.django_db
def test_manager_reassigns_a_lead_to_another_rep(
    client_for, manager, rep, other_rep, django_capture_on_commit_callbacks
):
    # given a lead in the rep's queue
    lead = owned_lead(rep)
    # when the manager gives it to the other rep
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            reverse("leads:manage_reassign", args=[lead.pk]),
            {"to": str(other_rep.pk), "next": reverse("leads:list")},
        )
    # then the other rep owns lead and handoff, the move is recorded, both reps are told
    assert response.status_code == 302
    lead.refresh_from_db()
    assert lead.owner == other_rep
    assert Handoff.objects.get(lead=lead, closed_at__isnull=True).owner == other_rep
    move = LeadAssignment.objects.get(lead=lead)
    assert (move.from_owner, move.to_owner, move.actor) == (rep, other_rep, manager)
    assert move.reason == LeadAssignment.Reason.REASSIGNED
    assert notified(rep) == [Notification.Kind.REASSIGNED]
    assert notified(other_rep) == [Notification.Kind.REASSIGNED]
    assert sorted(address for email in mail.outbox for address in email.to) == sorted(
        [rep.email, other_rep.email]
    )


@pytest.mark.django_db
def test_manager_puts_an_unaccepted_lead_back_in_the_pool(client_for, manager, rep):
    lead = owned_lead(rep)
    client_for(manager).post(reverse("leads:manage_reassign", args=[lead.pk]), {"to": "pool"})
    lead.refresh_from_db()
    assert lead.owner is None
    handoff = Handoff.objects.get(lead=lead)
    assert (handoff.status, handoff.owner) == (Handoff.Status.POOL, None)
    assert LeadAssignment.objects.get(lead=lead).reason == LeadAssignment.Reason.TO_POOL


@pytest.mark.django_db
def test_an_accepted_lead_cannot_go_back_to_the_pool(client_for, manager, rep):
    lead = owned_lead(rep, stage=Stage.SAL)
    response = client_for(manager).post(
        reverse("leads:manage_reassign", args=[lead.pk]), {"to": "pool"}
    )
    assert response.status_code == 200
    assert "An accepted lead must stay with a rep." in response.content.decode()
    lead.refresh_from_db()
    assert lead.owner == rep


@pytest.mark.django_db
def test_a_lead_outside_sales_cannot_be_reassigned(client_for, manager):
    lead = LeadFactory(stage=Stage.RECYCLED)
    response = client_for(manager).get(reverse("leads:manage_reassign", args=[lead.pk]))
    assert "Only leads in sales' hands" in response.content.decode()


# --- reassigning a whole queue -----------------------------------------------------------------
@pytest.mark.django_db
def test_manager_moves_a_reps_whole_queue(
    client_for, manager, rep, other_rep, django_capture_on_commit_callbacks
):
    # given the rep holds two leads (one accepted) and another rep holds one
    mine = [owned_lead(rep), owned_lead(rep, stage=Stage.SAL)]
    theirs = owned_lead(other_rep)
    # when the manager moves the rep's queue to the other rep
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(manager).post(
            reverse("leads:manage_queues"), {"from_rep": rep.pk, "to": str(other_rep.pk)}
        )
    # then both leads belong to the other rep, each move is recorded, both reps are told once
    assert response.status_code == 302
    assert set(Lead.objects.filter(owner=other_rep)) == {*mine, theirs}
    moves = LeadAssignment.objects.filter(lead__in=mine)
    assert {(m.from_owner, m.to_owner, m.reason) for m in moves} == {
        (rep, other_rep, LeadAssignment.Reason.REASSIGNED)
    }
    assert moves.count() == 2
    assert notified(rep) == [Notification.Kind.REASSIGNED]
    assert notified(other_rep) == [Notification.Kind.REASSIGNED]


@pytest.mark.django_db
def test_moving_a_queue_to_the_pool_keeps_accepted_leads(client_for, manager, rep):
    unaccepted, accepted = owned_lead(rep), owned_lead(rep, stage=Stage.SAL)
    client_for(manager).post(reverse("leads:manage_queues"), {"from_rep": rep.pk, "to": "pool"})
    unaccepted.refresh_from_db()
    accepted.refresh_from_db()
    assert (unaccepted.owner, accepted.owner) == (None, rep)


@pytest.mark.django_db
def test_moving_a_queue_to_the_same_rep_is_refused(client_for, manager, rep):
    owned_lead(rep)
    response = client_for(manager).post(
        reverse("leads:manage_queues"), {"from_rep": rep.pk, "to": str(rep.pk)}
    )
    assert "Choose another sales rep." in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("n", [1, 10])
def test_queues_page_takes_a_fixed_number_of_queries(
    n, client_for, manager, rep, other_rep, django_assert_num_queries
):
    for _ in range(n):
        owned_lead(rep)
        owned_lead(other_rep, stage=Stage.SAL)
    client = client_for(manager)
    # session, user, roles, reps with their queue counts, unread notifications
    with django_assert_num_queries(5):
        response = client.get(reverse("leads:manage_queues"))
    assert {r.username: (r.open_leads, r.unaccepted) for r in response.context["reps"]} == {
        "rep-a": (n, n),
        "rep-b": (n, 0),
    }


# --- territories -------------------------------------------------------------------------------
@pytest.mark.django_db
def test_manager_creates_a_territory_with_clean_countries_and_industries(client_for, manager):
    response = client_for(manager).post(
        reverse("leads:manage_territory_create"),
        {
            "name": " DACH software ",
            "priority": "10",
            "countries": "de, AT,ch, de",
            "industries": "Software, software , SaaS",
            "is_active": "on",
        },
    )
    territory = Territory.objects.get()
    assert response["Location"] == reverse("leads:manage_territory", args=[territory.pk])
    assert (territory.name, territory.priority) == ("DACH software", 10)
    assert territory.countries == ["DE", "AT", "CH"]
    assert territory.industries == ["Software", "SaaS"]
    assert territory.is_active


@pytest.mark.django_db
def test_territory_form_rejects_an_unknown_country_code(client_for, manager):
    response = client_for(manager).post(
        reverse("leads:manage_territory_create"),
        {"name": "Europe", "priority": "1", "countries": "DE, UK, XX"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "countries": [
            "Unknown country code UK, XX: use ISO 3166 two-letter codes such as US, GB, DE."
        ]
    }
    assert not Territory.objects.exists()


@pytest.mark.django_db
def test_territory_names_are_unique_regardless_of_case(client_for, manager):
    TerritoryFactory(name="Nordics")
    response = client_for(manager).post(
        reverse("leads:manage_territory_create"), {"name": "NORDICS", "priority": "1"}
    )
    assert response.context["form"].errors == {"name": ["Another territory has this name."]}


@pytest.mark.django_db
def test_manager_edits_a_territory(client_for, manager):
    territory = TerritoryFactory(name="US", countries=["US"])
    client_for(manager).post(
        reverse("leads:manage_territory", args=[territory.pk]),
        {"name": "North America", "priority": "5", "countries": "US, CA", "industries": ""},
    )
    territory.refresh_from_db()
    assert (territory.name, territory.countries, territory.is_active) == (
        "North America",
        ["US", "CA"],
        False,
    )


@pytest.mark.django_db
def test_member_weight_zero_is_refused(client_for, manager, rep):
    territory = TerritoryFactory()
    response = client_for(manager).post(
        reverse("leads:manage_member_add", args=[territory.pk]),
        {"rep": rep.pk, "weight": "0", "capacity": "", "is_active": "on"},
    )
    assert response.status_code == 200
    assert response.context["member_form"].errors == {
        "weight": ["The weight must be between 1 and 32767."]
    }
    assert not territory.members.exists()


@pytest.mark.django_db
def test_only_sales_reps_join_a_territory(client_for, manager, marketer):
    territory = TerritoryFactory()
    response = client_for(manager).post(
        reverse("leads:manage_member_add", args=[territory.pk]),
        {"rep": marketer.pk, "weight": "1"},
    )
    # the marketer is not even offered as a choice
    assert "rep" in response.context["member_form"].errors
    assert not territory.members.exists()


@pytest.mark.django_db
def test_a_new_member_joins_at_the_rotations_current_level(client_for, manager, rep, other_rep):
    # given a territory whose member already got 40 leads at weight 2 (20 per unit)
    territory = TerritoryFactory()
    TerritoryMemberFactory(territory=territory, rep=rep, weight=2, assigned_total=40)
    # when a newcomer with weight 1 joins
    client_for(manager).post(
        reverse("leads:manage_member_add", args=[territory.pk]),
        {"rep": other_rep.pk, "weight": "1", "capacity": "15", "is_active": "on"},
    )
    # then it starts level with the others instead of taking the next 20 leads in a row
    newcomer = territory.members.get(rep=other_rep)
    assert (newcomer.weight, newcomer.capacity, newcomer.assigned_total) == (1, 15, 20)


@pytest.mark.django_db
def test_manager_edits_a_member(client_for, manager, rep):
    member = TerritoryMemberFactory(rep=rep, weight=1)
    response = client_for(manager).post(
        reverse("leads:manage_member", args=[member.pk]),
        {"weight": "3", "capacity": "", "is_active": ""},
    )
    assert response["Location"] == reverse("leads:manage_territory", args=[member.territory_id])
    member.refresh_from_db()
    assert (member.weight, member.capacity, member.is_active) == (3, None, False)


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 8])
def test_territories_page_takes_a_fixed_number_of_queries(
    n, client_for, manager, rep, other_rep, django_assert_num_queries
):
    for _ in range(n):
        territory = TerritoryFactory()
        TerritoryMemberFactory(territory=territory, rep=rep)
        TerritoryMemberFactory(territory=territory, rep=other_rep)
    client = client_for(manager)
    # session, user, roles, territories, their members with reps, unread notifications
    with django_assert_num_queries(6):
        response = client.get(reverse("leads:manage_territories"))
    assert len(response.context["territories"]) == n


def test_services_refuse_territory_changes_from_non_managers(db, marketer):
    with pytest.raises(NotAllowed):
        territory_create(actor=marketer, name="Mine")


# --- absences ----------------------------------------------------------------------------------
@pytest.mark.django_db
def test_manager_records_an_absence(client_for, manager, rep):
    client_for(manager).post(
        reverse("leads:manage_absences"),
        {"rep": rep.pk, "starts_on": "2026-08-03", "ends_on": "2026-08-14", "note": "Holiday"},
    )
    absence = RepAbsence.objects.get()
    assert (absence.rep, absence.starts_on, absence.ends_on, absence.note) == (
        rep,
        date(2026, 8, 3),
        date(2026, 8, 14),
        "Holiday",
    )


@pytest.mark.django_db
def test_an_absence_cannot_end_before_it_starts(client_for, manager, rep):
    response = client_for(manager).post(
        reverse("leads:manage_absences"),
        {"rep": rep.pk, "starts_on": "2026-08-14", "ends_on": "2026-08-03"},
    )
    assert response.context["form"].errors == {
        "ends_on": ["The last day cannot be before the first day."]
    }
    assert not RepAbsence.objects.exists()


@pytest.mark.django_db
def test_overlapping_absences_of_one_rep_are_refused(client_for, manager, rep):
    RepAbsence.objects.create(rep=rep, starts_on=date(2026, 8, 1), ends_on=date(2026, 8, 10))
    response = client_for(manager).post(
        reverse("leads:manage_absences"),
        {"rep": rep.pk, "starts_on": "2026-08-10", "ends_on": "2026-08-12"},
    )
    assert "already away" in response.context["form"].errors["starts_on"][0]
    assert RepAbsence.objects.count() == 1


@pytest.mark.django_db
def test_manager_moves_and_cancels_an_absence(client_for, manager, rep):
    absence = RepAbsence.objects.create(
        rep=rep, starts_on=date(2026, 8, 1), ends_on=date(2026, 8, 10)
    )
    client = client_for(manager)
    client.post(
        reverse("leads:manage_absence", args=[absence.pk]),
        {"starts_on": "2026-08-05", "ends_on": "2026-08-20", "note": "Moved"},
    )
    absence.refresh_from_db()
    assert (absence.starts_on, absence.ends_on, absence.note) == (
        date(2026, 8, 5),
        date(2026, 8, 20),
        "Moved",
    )
    client.post(reverse("leads:manage_absence_delete", args=[absence.pk]))
    assert not RepAbsence.objects.exists()

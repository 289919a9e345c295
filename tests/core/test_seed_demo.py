import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from campaigns.models import Campaign, TalkingPoint
from leads.models import Lead, LeadStageChange, Stage


def _counts():
    return {
        "users": User.objects.count(),
        "campaigns": Campaign.objects.count(),
        "talking_points": TalkingPoint.objects.count(),
        "leads": Lead.objects.count(),
        "history": LeadStageChange.objects.count(),
    }


@pytest.mark.django_db
def test_seed_demo_twice_leaves_the_same_counts():
    # given a seeded demo
    call_command("seed_demo", password="demo-pass-1")
    first = _counts()
    # when it is seeded again
    call_command("seed_demo", password="demo-pass-1")
    # then nothing changed
    assert _counts() == first
    assert first["leads"] == 200


@pytest.mark.django_db
def test_seed_demo_users_log_in_with_the_given_password_in_their_roles(client):
    call_command("seed_demo", password="demo-pass-2")
    roles = {
        "manager": "Manager",
        "marketer": "Marketer",
        "rep1": "Sales rep",
        "rep2": "Sales rep",
        "rep3": "Sales rep",
    }
    for username, role in roles.items():
        user = User.objects.get(username=username)
        assert user.check_password("demo-pass-2")
        assert list(user.groups.values_list("name", flat=True)) == [role]


@pytest.mark.django_db
def test_seed_demo_spreads_leads_over_every_stage_with_history():
    call_command("seed_demo", password="demo-pass-3")
    stages = set(Lead.objects.values_list("stage", flat=True))
    assert stages == set(Stage.values)
    # every lead's latest history row ends at its current stage
    for lead in Lead.objects.prefetch_related("stage_changes")[:50]:
        assert list(lead.stage_changes.all())[-1].to_stage == lead.stage

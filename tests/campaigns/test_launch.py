"""Launch: when a campaign goes live (start date reached, or set live by a marketer) every
active rep is notified exactly once, with the talking points and a link to the lead list."""

import datetime
import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse

from campaigns.models import Campaign, CampaignChange
from campaigns.services import (
    campaign_launch_notify,
    campaign_set_live,
    campaigns_finish_ended,
    campaigns_launch_due,
)
from campaigns.tasks import launch_due
from core.models import Notification
from tests.campaigns.factories import campaign_with_points
from tests.factories import UserFactory

D = datetime.date


def launches() -> list[tuple[int, str]]:
    return sorted(
        Notification.objects.filter(kind=Notification.Kind.LAUNCH).values_list("user_id", "url")
    )


@pytest.mark.django_db
def test_beat_job_twice_launches_a_started_campaign_and_notifies_each_rep_once(
    rep, other_rep, marketer, django_capture_on_commit_callbacks
):
    # given a planned campaign whose start date is today, and an inactive rep
    today = datetime.date.today()
    campaign = campaign_with_points(
        "Lead with ROI.", "Offer the trial.", status="planned", start_date=today, end_date=today
    )
    UserFactory(role="Sales rep", is_active=False)
    # when the beat task runs twice
    with django_capture_on_commit_callbacks(execute=True):
        launch_due()
        launch_due()
    # then the campaign is live and each active rep got one notification, marketers none
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.LIVE and campaign.launch_notified_at
    url = reverse("campaigns:leads", args=[campaign.pk])
    assert launches() == sorted([(rep.pk, url), (other_rep.pk, url)])
    message = Notification.objects.filter(user=rep).get().message
    assert "Lead with ROI." in message and "Offer the trial." in message
    assert CampaignChange.objects.filter(campaign=campaign, kind="launched").count() == 1


@pytest.mark.django_db
def test_future_and_archived_campaigns_are_not_launched(rep):
    today = datetime.date.today()
    future = campaign_with_points(
        status="planned",
        start_date=today + datetime.timedelta(days=1),
        end_date=today + datetime.timedelta(days=2),
    )
    archived = campaign_with_points(
        status="planned",
        start_date=today,
        end_date=today,
        archived_at=datetime.datetime.now(datetime.UTC),
    )
    assert campaigns_launch_due(today=today) == []
    future.refresh_from_db()
    archived.refresh_from_db()
    assert future.status == archived.status == Campaign.Status.PLANNED
    assert launches() == []


@pytest.mark.django_db
def test_marketer_sets_live_and_reps_are_notified_once(client_for, marketer, rep):
    campaign = campaign_with_points(status="planned")
    client = client_for(marketer)
    client.post(reverse("campaigns:set_live", args=[campaign.pk]))
    # a second click is refused and notifies nobody again
    response = client.post(reverse("campaigns:set_live", args=[campaign.pk]), follow=True)
    assert "Only a planned campaign can be set live" in response.content.decode()
    assert campaign_launch_notify(campaign_id=campaign.pk) is False
    campaigns_launch_due()
    assert [user for user, _ in launches()] == [rep.pk]


@pytest.mark.django_db
def test_live_campaign_not_yet_announced_is_announced_by_the_sweep(rep):
    # e.g. a crash between going live and notifying, or a campaign created live elsewhere
    today = datetime.date.today()
    campaign = campaign_with_points(status="live", start_date=today, end_date=today)
    campaign_with_points(  # ended before anyone was told: not news any more
        status="live",
        start_date=today - datetime.timedelta(days=9),
        end_date=today - datetime.timedelta(days=2),
    )
    assert campaigns_launch_due() == [campaign.pk]
    assert campaigns_launch_due() == []
    assert len(launches()) == 1


@pytest.mark.django_db
def test_set_live_refuses_a_campaign_that_is_not_planned(marketer):
    from core.errors import DomainError

    campaign = campaign_with_points(status="done")
    with pytest.raises(DomainError):
        campaign_set_live(campaign_id=campaign.pk, actor=marketer)


@pytest.mark.django_db
def test_ended_live_campaigns_become_done_with_a_history_row():
    today = datetime.date.today()
    ended = campaign_with_points(
        status="live",
        start_date=today - datetime.timedelta(days=5),
        end_date=today - datetime.timedelta(days=1),
    )
    running = campaign_with_points(status="live", start_date=today, end_date=today)
    assert campaigns_finish_ended(today=today) == 1
    ended.refresh_from_db()
    running.refresh_from_db()
    assert (ended.status, running.status) == ("done", "live")
    assert CampaignChange.objects.get(campaign=ended, kind="status").to_status == "done"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_launches_on_postgresql_notify_each_rep_once():
    # given a live campaign nobody was told about yet, and two reps
    # an earlier transactional test may have flushed the role groups the migrations made
    for role in ("Sales rep", "Marketer", "Manager"):
        Group.objects.get_or_create(name=role)
    reps = [UserFactory(role="Sales rep", username=f"pg-rep-{i}") for i in range(2)]
    campaign = campaign_with_points(status="live")
    start = threading.Barrier(6)
    results, errors = [], []

    def launch():
        try:
            start.wait()
            results.append(campaign_launch_notify(campaign_id=campaign.pk))
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)
        finally:
            connection.close()

    # when six workers launch it at the same moment
    threads = [threading.Thread(target=launch) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then exactly one sent, and each rep has exactly one notification
    assert errors == []
    assert sorted(results) == [False] * 5 + [True]
    assert sorted(user for user, _ in launches()) == sorted(r.pk for r in reps)

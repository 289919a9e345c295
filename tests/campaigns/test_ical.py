"""The per-user iCalendar feed: parses, one all-day VEVENT per campaign with a stable UID,
a rep's open first-touch deadlines, secret-token access and rotation."""

import datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from campaigns.models import CalendarFeed
from campaigns.services import calendar_feed_rotate, feed_token_hash
from tests.campaigns.factories import CampaignFactory, campaign_with_points
from tests.leads.factories import HandoffFactory, LeadFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def in_november_2026():
    """The feed covers campaigns ending within the last year; pin "today" to the data set."""
    with time_machine.travel(datetime.datetime(2026, 11, 18, 12, tzinfo=datetime.UTC)):
        yield


def feed(client, token):
    return client.get(reverse("campaigns:calendar_ics"), {"token": token})


def events(response) -> dict[str, object]:
    cal = Calendar.from_ical(response.content)
    return {str(e["UID"]): e for e in cal.walk("VEVENT")}


def test_feed_has_one_all_day_event_per_campaign_with_exclusive_end(client, marketer):
    # given two campaigns and an archived one
    webinar = campaign_with_points(
        "Ask about routing.", "Offer the audit.", start_date=D(2026, 12, 1), end_date=D(2026, 12, 1)
    )
    report = CampaignFactory(start_date=D(2026, 11, 10), end_date=D(2026, 12, 9), status="planned")
    CampaignFactory(archived_at=timezone.now())
    token = calendar_feed_rotate(user=marketer)
    # when the calendar app fetches the feed
    response = feed(client, token)
    # then it is iCalendar with one VEVENT per (not archived) campaign
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    found = events(response)
    assert set(found) == {f"campaign-{webinar.pk}@smarketing", f"campaign-{report.pk}@smarketing"}
    one_day = found[f"campaign-{webinar.pk}@smarketing"]
    # all-day dates (VALUE=DATE), DTEND the day after the last day
    assert one_day["DTSTART"].dt == D(2026, 12, 1)
    assert one_day["DTEND"].dt == D(2026, 12, 2)
    assert not isinstance(one_day["DTSTART"].dt, datetime.datetime)
    assert "Ask about routing." in str(one_day["DESCRIPTION"])
    month = found[f"campaign-{report.pk}@smarketing"]
    assert (month["DTSTART"].dt, month["DTEND"].dt) == (D(2026, 11, 10), D(2026, 12, 10))
    assert str(month["STATUS"]) == "TENTATIVE"


def test_uid_stays_the_same_when_the_campaign_changes(client, marketer):
    campaign = campaign_with_points()
    token = calendar_feed_rotate(user=marketer)
    before = set(events(feed(client, token)))
    campaign.name, campaign.end_date = "Renamed", campaign.end_date + datetime.timedelta(days=3)
    campaign.save()
    assert set(events(feed(client, token))) == before


def test_wrong_or_missing_token_is_404(client, marketer):
    calendar_feed_rotate(user=marketer)
    assert feed(client, "not-the-token").status_code == 404
    assert client.get(reverse("campaigns:calendar_ics")).status_code == 404


def test_rotated_token_stops_the_old_one(client, marketer):
    old = calendar_feed_rotate(user=marketer)
    new = calendar_feed_rotate(user=marketer)
    assert feed(client, old).status_code == 404
    assert feed(client, new).status_code == 200


def test_only_a_hash_of_the_token_is_stored(marketer):
    token = calendar_feed_rotate(user=marketer)
    stored = CalendarFeed.objects.get(user=marketer)
    assert stored.token_hash == feed_token_hash(token) and token not in stored.token_hash


def test_inactive_user_feed_is_404(client, marketer):
    token = calendar_feed_rotate(user=marketer)
    marketer.is_active = False
    marketer.save()
    assert feed(client, token).status_code == 404


def test_rep_feed_carries_their_open_first_touch_deadlines_only(client, rep, other_rep):
    due = timezone.now() + datetime.timedelta(hours=4)
    mine = HandoffFactory(
        lead=LeadFactory(stage="mql", kind="mql", owner=rep, first_name="Ada"),
        owner=rep,
        status="assigned",
        first_touch_due_at=due,
    )
    HandoffFactory(  # touched already: no longer a deadline
        lead=LeadFactory(stage="mql", kind="mql", owner=rep),
        owner=rep,
        status="assigned",
        first_touch_at=timezone.now(),
    )
    HandoffFactory(  # another rep's
        lead=LeadFactory(stage="mql", kind="mql", owner=other_rep),
        owner=other_rep,
        status="assigned",
    )
    token = calendar_feed_rotate(user=rep)
    found = events(feed(client, token))
    deadline = found[f"handoff-{mine.pk}-first-touch@smarketing"]
    assert [uid for uid in found if uid.startswith("handoff-")] == [
        f"handoff-{mine.pk}-first-touch@smarketing"
    ]
    assert abs(deadline["DTSTART"].dt - due) < datetime.timedelta(seconds=1)
    assert "First touch due: Ada" in str(deadline["SUMMARY"])


def test_feed_page_shows_the_link_once_and_rotates(client_for, rep):
    client = client_for(rep)
    page = client.get(reverse("campaigns:calendar_feed"))
    assert "Make my feed link" in page.content.decode()
    response = client.post(reverse("campaigns:calendar_feed_rotate"), follow=True)
    url = response.context["feed_url"]
    assert "/campaigns/calendar.ics?token=" in url
    token = url.split("token=", 1)[1]
    assert feed(client, token).status_code == 200
    # shown once: a reload no longer has it
    assert client.get(reverse("campaigns:calendar_feed")).context["feed_url"] == ""
    # rotating from the page kills the old link
    client.post(reverse("campaigns:calendar_feed_rotate"))
    assert feed(client, token).status_code == 404

"""The shared calendar: month and week views, filters, today, fixed queries."""

import datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from campaigns.models import Campaign
from campaigns.selectors import calendar_month, calendar_week
from tests.campaigns.factories import CampaignFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = datetime.datetime(2026, 11, 18, 12, 0, tzinfo=datetime.UTC)


def names(calendar) -> set[str]:
    return {c.name for c in calendar.campaigns}


def test_month_shows_campaigns_running_in_it_and_not_archived_ones():
    CampaignFactory(name="Inside", start_date=D(2026, 11, 10), end_date=D(2026, 11, 12))
    CampaignFactory(name="Spans in", start_date=D(2026, 10, 20), end_date=D(2026, 11, 2))
    CampaignFactory(name="Next month", start_date=D(2026, 12, 5), end_date=D(2026, 12, 6))
    CampaignFactory(
        name="Archived",
        start_date=D(2026, 11, 10),
        end_date=D(2026, 11, 12),
        archived_at=datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC),
    )
    month = calendar_month(year=2026, month=11, today=D(2026, 11, 18))
    assert names(month) == {"Inside", "Spans in"}
    # the grid is whole weeks, Monday first, and today is marked exactly once
    assert month.weeks[0].start == D(2026, 10, 26)
    assert all(len(week.days) == 7 for week in month.weeks)
    today = [d.day for week in month.weeks for d in week.days if d.is_today]
    assert today == [D(2026, 11, 18)]


def test_a_campaign_bar_spans_its_days_within_each_week():
    campaign = CampaignFactory(start_date=D(2026, 11, 4), end_date=D(2026, 11, 10))
    month = calendar_month(year=2026, month=11, today=D(2026, 11, 18))
    week = next(w for w in month.weeks if w.start == D(2026, 11, 2))
    [lane] = week.lanes
    # Mon 2 and Tue 3 empty, Wed 4..Sun 8 the bar (continuing into next week)
    assert [(s.span, s.campaign) for s in lane] == [(2, None), (5, campaign)]
    assert lane[1].ends_after and not lane[1].starts_before
    next_week = next(w for w in month.weeks if w.start == D(2026, 11, 9))
    assert [(s.span, s.campaign) for s in next_week.lanes[0]] == [
        (2, campaign),
        (5, None),
    ]


def test_overlapping_campaigns_get_separate_lanes_and_extra_ones_are_counted():
    for i in range(6):
        CampaignFactory(name=f"C{i}", start_date=D(2026, 11, 16), end_date=D(2026, 11, 20))
    month = calendar_month(year=2026, month=11, today=D(2026, 11, 18), max_lanes=4)
    week = next(w for w in month.weeks if w.start == D(2026, 11, 16))
    assert len(week.lanes) == 4 and len(week.hidden) == 2
    week_view = calendar_week(monday=D(2026, 11, 16), today=D(2026, 11, 18))
    assert len(week_view.weeks[0].lanes) == 6


@time_machine.travel(TODAY, tick=False)
def test_month_page_marks_today_and_links_each_campaign(client_for, rep):
    campaign = CampaignFactory(name="Winter webinar", start_date=D(2026, 11, 17))
    html = client_for(rep).get(reverse("campaigns:calendar")).content.decode()
    assert 'aria-current="date"' in html
    assert html.count('aria-current="date"') == 1
    assert f'href="{campaign.get_absolute_url()}"' in html
    assert "November 2026" in html


@time_machine.travel(TODAY, tick=False)
def test_calendar_filters_by_channel_and_owner(client_for, marketer):
    other = UserFactory(role="Marketer")
    CampaignFactory(name="Mine by email", channel="email", owner=marketer)
    CampaignFactory(name="Mine webinar", channel="webinar", owner=marketer)
    CampaignFactory(name="Theirs by email", channel="email", owner=other)
    client = client_for(marketer)
    by_channel = client.get(reverse("campaigns:calendar"), {"channel": "email"})
    assert names(by_channel.context["calendar"]) == {"Mine by email", "Theirs by email"}
    by_both = client.get(reverse("campaigns:calendar"), {"channel": "email", "owner": marketer.pk})
    assert names(by_both.context["calendar"]) == {"Mine by email"}


@time_machine.travel(TODAY, tick=False)
def test_week_view_shows_only_that_week(client_for, rep):
    CampaignFactory(name="This week", start_date=D(2026, 11, 20), end_date=D(2026, 11, 21))
    CampaignFactory(name="Next week", start_date=D(2026, 11, 24), end_date=D(2026, 11, 25))
    response = client_for(rep).get(
        reverse("campaigns:calendar"), {"view": "week", "week": "2026-11-18"}
    )
    cal = response.context["calendar"]
    assert cal.start == D(2026, 11, 16) and cal.end == D(2026, 11, 22)
    assert names(cal) == {"This week"}
    assert "Week of 16 November 2026" in response.content.decode()


@pytest.mark.parametrize("role", ["Sales rep", "Marketer", "Manager"])
def test_every_role_may_view_the_calendar(client, role):
    client.force_login(UserFactory(role=role))
    assert client.get(reverse("campaigns:calendar")).status_code == 200
    assert client.get(reverse("campaigns:calendar"), {"view": "week"}).status_code == 200


def test_bad_month_and_week_parameters_fall_back_to_today(client_for, rep):
    client = client_for(rep)
    assert client.get(reverse("campaigns:calendar"), {"month": "2026-13"}).status_code == 200
    assert client.get(reverse("campaigns:calendar"), {"month": "x"}).status_code == 200
    response = client.get(reverse("campaigns:calendar"), {"view": "week", "week": "nope"})
    assert response.status_code == 200


def _month_with(n: int, owner) -> None:
    Campaign.objects.bulk_create(
        Campaign(
            name=f"Bulk {i}",
            channel=Campaign.Channel.values[i % len(Campaign.Channel.values)],
            status=Campaign.Status.LIVE,
            start_date=D(2026, 11, 1 + i % 28),
            end_date=D(2026, 11, 1 + i % 28) + datetime.timedelta(days=i % 9),
            owner=owner,
        )
        for i in range(n)
    )


def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params).status_code == 200
    return len(captured)


@time_machine.travel(TODAY, tick=False)
@pytest.mark.parametrize("view", ["month", "week"])
def test_calendar_renders_in_a_fixed_number_of_queries(
    client_for, marketer, django_assert_num_queries, view
):
    client = client_for(marketer)
    url, params = reverse("campaigns:calendar"), {"view": view, "week": "2026-11-16"}
    _month_with(5, marketer)
    baseline = _queries(client, url, params)
    _month_with(45, marketer)
    with django_assert_num_queries(baseline):
        client.get(url, params)


@time_machine.travel(TODAY, tick=False)
def test_calendar_renders_500_campaigns_in_the_same_number_of_queries(
    client_for, marketer, django_assert_num_queries
):
    client = client_for(marketer)
    url = reverse("campaigns:calendar")
    _month_with(5, marketer)
    baseline = _queries(client, url, {})
    _month_with(495, marketer)
    with django_assert_num_queries(baseline):
        response = client.get(url)
    assert len(response.context["calendar"].campaigns) == 500

"""Business-hours arithmetic: table cases, then properties over random starts and durations."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slas.business_hours import Schedule, business_add, business_between

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Schedule.build(
    tz="Europe/Berlin",
    working_days=[0, 1, 2, 3, 4],
    day_start=time(9),
    day_end=time(17),
    holidays=[date(2026, 12, 25), date(2026, 12, 31)],
)


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        # within one day
        (berlin(2026, 11, 23, 10), 4, berlin(2026, 11, 23, 14)),
        # over the night
        (berlin(2026, 11, 23, 15), 4, berlin(2026, 11, 24, 11)),
        # over a weekend
        (berlin(2026, 11, 27, 16), 2, berlin(2026, 11, 30, 10)),
        # starting on a Saturday
        (berlin(2026, 11, 28, 12), 1, berlin(2026, 11, 30, 10)),
        # before opening
        (berlin(2026, 11, 23, 7), 1, berlin(2026, 11, 23, 10)),
        # over Christmas Day (a Friday holiday) and the weekend
        (berlin(2026, 12, 24, 16), 2, berlin(2026, 12, 28, 10)),
        # exactly a full day lands on closing time, not the next morning
        (berlin(2026, 11, 23, 9), 8, berlin(2026, 11, 23, 17)),
        # a 24-business-hour deadline is three working days
        (berlin(2026, 11, 23, 9), 24, berlin(2026, 11, 25, 17)),
        # zero hours outside working time is the next opening
        (berlin(2026, 11, 28, 12), 0, berlin(2026, 11, 30, 9)),
        # across the end of daylight saving time (25 Oct 2026)
        (berlin(2026, 10, 23, 16), 2, berlin(2026, 10, 26, 10)),
    ],
)
def test_business_add_table(start, hours, due):
    assert business_add(OFFICE, start, timedelta(hours=hours)) == due


def test_dst_change_inside_the_window_counts_real_elapsed_time():
    # given a night-shift window 01:00-05:00 every day in New York; on 8 March 2026 the
    # clocks jump from 02:00 to 03:00, so that window lasts three real hours
    night = Schedule.build(
        tz="America/New_York", working_days=range(7), day_start=time(1), day_end=time(5)
    )
    start = datetime(2026, 3, 8, 1, tzinfo=ZoneInfo("America/New_York"))
    # when three hours are added, then four
    three = business_add(night, start, timedelta(hours=3))
    four = business_add(night, start, timedelta(hours=4))
    # then three end the shortened window and the fourth is the next night's first hour
    assert three.astimezone(UTC) == datetime(2026, 3, 8, 9, tzinfo=UTC)  # 05:00 EDT
    assert four.astimezone(UTC) == datetime(2026, 3, 9, 6, tzinfo=UTC)  # 02:00 EDT
    assert business_between(night, start, three) == timedelta(hours=3)


def test_between_counts_only_working_time():
    assert business_between(
        OFFICE, berlin(2026, 11, 27, 16), berlin(2026, 11, 30, 10)
    ) == timedelta(hours=2)
    assert business_between(
        OFFICE, berlin(2026, 11, 30, 10), berlin(2026, 11, 27, 16)
    ) == -timedelta(hours=2)


def test_a_calendar_without_working_days_is_refused():
    with pytest.raises(ValueError, match="working day"):
        Schedule.build(tz="UTC", working_days=[], day_start=time(9), day_end=time(17))
    with pytest.raises(ValueError, match="end after"):
        Schedule.build(tz="UTC", working_days=[0], day_start=time(17), day_end=time(9))


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
# Up to 240 business hours: SLA windows run from one hour to a few weeks.
durations = st.integers(min_value=0, max_value=60 * 240).map(lambda m: timedelta(minutes=m))
zones = st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Sydney"])


@st.composite
def schedules(draw):
    start_hour = draw(st.integers(min_value=0, max_value=12))
    length = draw(st.integers(min_value=4, max_value=23 - start_hour))
    days = draw(st.sets(st.integers(min_value=0, max_value=6), min_size=2))
    holidays = draw(st.sets(st.dates(date(2025, 1, 1), date(2029, 1, 31)), max_size=20))
    return Schedule.build(
        tz=draw(zones),
        working_days=days,
        day_start=time(start_hour),
        day_end=time(start_hour + length),
        holidays=holidays,
    )


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), start=instants, first=durations, second=durations)
def test_adding_n_then_m_equals_adding_n_plus_m(schedule, start, first, second):
    once = business_add(schedule, start, first + second)
    twice = business_add(schedule, business_add(schedule, start, first), second)
    assert once == twice


@settings(max_examples=300, deadline=None)
@given(schedule=schedules(), start=instants, duration=durations)
def test_due_time_never_falls_outside_working_hours(schedule, start, duration):
    due = business_add(schedule, start, duration)
    window = schedule.window(schedule.local_date(due))
    assert window is not None
    assert window[0] <= due <= window[1]
    assert business_between(schedule, start, due) == duration

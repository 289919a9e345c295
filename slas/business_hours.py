"""Business-time arithmetic over a working calendar, day by day (never minute by minute).

A calendar is working days, one daily window of local wall-clock hours, a time zone and a set
of holidays. Durations count real elapsed time inside the windows, so a window that a
daylight-saving change cuts short counts what it really lasts. All arithmetic between instants
happens in UTC: Python subtracts two datetimes that share a tzinfo by their wall clocks.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Ten years of days: a calendar with no working day at all is refused long before this.
MAX_DAYS = 3660


@dataclass(frozen=True)
class Schedule:
    """The pure description of a working calendar (the model converts to this)."""

    tz: ZoneInfo
    working_days: frozenset[int]  # Monday = 0 … Sunday = 6
    day_start: time
    day_end: time
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self):
        if not self.working_days:
            raise ValueError("A working calendar needs at least one working day.")
        if self.day_end <= self.day_start:
            raise ValueError("The working day must end after it starts.")

    @classmethod
    def build(
        cls,
        *,
        tz: str,
        working_days: Collection[int],
        day_start: time,
        day_end: time,
        holidays: Collection[date] = (),
    ) -> "Schedule":
        return cls(ZoneInfo(tz), frozenset(working_days), day_start, day_end, frozenset(holidays))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's working window as UTC instants, or None on a day off."""
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        start = datetime.combine(day, self.day_start, tzinfo=self.tz).astimezone(UTC)
        end = datetime.combine(day, self.day_end, tzinfo=self.tz).astimezone(UTC)
        return start, end

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


def business_add(schedule: Schedule, start: datetime, duration: timedelta) -> datetime:
    """The instant ``duration`` of business time after ``start``.

    Starting outside working hours counts from the next window's start; the result always
    falls inside a window (possibly exactly at its end).
    """
    if duration < timedelta(0):
        raise ValueError("Business time cannot be negative.")
    moment = start.astimezone(UTC)
    remaining = duration
    day = schedule.local_date(moment)
    for _ in range(MAX_DAYS):
        window = schedule.window(day)
        if window is not None:
            win_start, win_end = window
            begin = max(moment, win_start)
            if begin <= win_end:
                available = win_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
    raise ValueError("No working time within ten years: check the calendar.")


def business_between(schedule: Schedule, start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (negative when end is earlier)."""
    if end < start:
        return -business_between(schedule, end, start)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    total = timedelta(0)
    day = schedule.local_date(start)
    last = schedule.local_date(end)
    while day <= last:
        window = schedule.window(day)
        if window is not None:
            overlap = min(end, window[1]) - max(start, window[0])
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total

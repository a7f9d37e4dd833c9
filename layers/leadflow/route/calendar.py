"""Working time: when a team or a rep works, and deadlines counted in working minutes.

A `WorkingCalendar` is a time zone, the working days of the week, the working intervals of
a working day (local wall-clock time, like 09:00-12:00 and 13:00-17:00; 24:00 ends an interval
at the next midnight, so 00:00-24:00 is the whole day) and holidays (local dates with no working
time). It answers four questions, all about instants:

- `is_working(at)`: is `at` inside a working interval? (An interval includes its start and
  excludes its end, so 17:00 is not working time on a 09:00-17:00 day.)
- `next_working_moment(at)`: `at` itself if it is working time, else the start of the next
  working interval.
- `add_working_minutes(start, minutes)`: the deadline `minutes` working minutes after
  `start`. Counting begins at `next_working_moment(start)`, and the deadline is the earliest
  instant at which that many working minutes have passed: Friday 17:55 plus 30 working minutes
  is Monday 09:25 on a Monday-to-Friday 09:00-18:00 calendar, and 17:30 plus 30 is 18:00 the same
  day (not the next morning). Zero minutes gives `next_working_moment(start)`.
- `working_minutes_between(start, end)`: the working minutes in [start, end), the inverse of
  `add_working_minutes`: `working_minutes_between(s, add_working_minutes(s, m)) == m`.

Inputs may be in any time zone (they must be timezone-aware); results are in UTC.

Wall-clock intervals are turned into instants per local date, so a 09:00-17:00 day is eight
hours long on the days clocks change at night too. A boundary that falls in a gap (a wall time
skipped when clocks go forward) becomes the instant the clocks jumped; a boundary that falls in
a fold (a wall time repeated when clocks go back) is its first occurrence (fold=0).

The arithmetic skips whole days, never minute by minute. A search that finds no working time
for `SEARCH_LIMIT_DAYS` days in a row (every day a holiday, say) raises `ValueError` rather than
looking forever. Standard library only: `zoneinfo` reads the system's time zone database (or the
`tzdata` package where the system has none).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from typing import TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday(): 0 = Monday
SEARCH_LIMIT_DAYS = 3 * 366  # how far a search goes without finding working time before it gives up

_INTERVAL = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_ONE_DAY = timedelta(days=1)
_ONE_MINUTE = timedelta(minutes=1)
END_OF_DAY = time.max  # an interval's end written 24:00: the next local midnight

Interval = tuple[datetime, datetime]  # [start, end) in UTC
Item = TypeVar("Item")


@dataclass(frozen=True)
class WorkingCalendar:
    timezone: str  # IANA name, like Europe/Berlin
    workdays: frozenset[int]  # 0 = Monday ... 6 = Sunday
    hours: tuple[tuple[time, time], ...]  # the working intervals of a working day, local wall time, start < end
    holidays: frozenset[date] = frozenset()  # local dates with no working time
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone_named(self.timezone))
        object.__setattr__(self, "workdays", _checked_workdays(self.workdays))
        object.__setattr__(self, "hours", _checked_hours(self.hours))
        object.__setattr__(self, "holidays", _checked_holidays(self.holidays))

    @classmethod
    def parse(
        cls,
        timezone: str,
        workdays: Iterable[str],
        hours: Iterable[str],
        holidays: Iterable[str | date] = (),
    ) -> WorkingCalendar:
        """A calendar from configuration text: workdays like "mon", hours like "09:00-17:00", holidays "2026-12-25".

        Raises ValueError naming the bad value and what is allowed.
        """
        return cls(
            timezone=timezone,
            workdays=frozenset(_parse_workday(name) for name in _items(workdays)),
            hours=tuple(_parse_interval(text) for text in _items(hours)),
            holidays=frozenset(_parse_holiday(value) for value in _items(holidays)),
        )

    def is_working(self, at: datetime) -> bool:
        """Whether `at` is working time (an interval's start is working time, its end is not)."""
        instant = _utc(at, "at")
        local_date = instant.astimezone(self._zone).date()
        return any(
            start <= instant < end
            for day in (local_date - _ONE_DAY, local_date, local_date + _ONE_DAY)
            for start, end in self._intervals_on(day)
        )

    def next_working_moment(self, at: datetime) -> datetime:
        """`at` (in UTC) if it is working time, else the start of the next working interval."""
        for start, _ in self._intervals_from(_utc(at, "at")):
            return start
        raise AssertionError("unreachable: _intervals_from either yields or raises")  # pragma: no cover

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant (in UTC) `minutes` working minutes after `start`, counting from its next working moment."""
        if isinstance(minutes, bool) or not isinstance(minutes, int | float):
            raise TypeError(f"minutes must be a number, not {type(minutes).__name__}")
        if not math.isfinite(minutes) or minutes < 0:
            raise ValueError(f"minutes {minutes!r}: give a finite number of working minutes, 0 or more")
        try:
            remaining = timedelta(minutes=minutes)
        except OverflowError:
            raise ValueError(f"minutes {minutes!r} is too large to be a working time") from None
        for interval_start, interval_end in self._intervals_from(_utc(start, "start")):
            available = interval_end - interval_start
            if remaining <= available:
                return interval_start + remaining
            remaining -= available
        raise AssertionError("unreachable: _intervals_from either yields or raises")  # pragma: no cover

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """The working minutes in [start, end): 0 if `end` is not after `start`."""
        begin, finish = _utc(start, "start"), _utc(end, "end")
        if finish <= begin:
            return 0.0
        total = timedelta()
        for interval_start, interval_end in self._intervals_from(begin, until=finish):
            if interval_start >= finish:
                break
            total += min(interval_end, finish) - interval_start
        return total / _ONE_MINUTE

    def _intervals_from(self, instant: datetime, until: datetime | None = None) -> Iterator[Interval]:
        """The working intervals (UTC, in order) that end after `instant`, the first one cut to start there.

        Without `until`, goes on until the caller stops, and raises ValueError after `SEARCH_LIMIT_DAYS`
        days in a row without working time. With `until`, stops after the local date of `until`.
        """
        try:
            # Start the day before: its intervals may end after `instant` (clocks going back near midnight).
            day = instant.astimezone(self._zone).date() - _ONE_DAY
            last_day = until.astimezone(self._zone).date() + _ONE_DAY if until is not None else date.max
            searched_from, days_without_work = day + _ONE_DAY, 0
            while day <= last_day:
                found = False
                for start, end in self._intervals_on(day):
                    if end > instant:
                        found = True
                        yield max(start, instant), end
                if found:
                    searched_from, days_without_work = day + _ONE_DAY, 0
                else:
                    days_without_work += 1
                    if until is None and days_without_work > SEARCH_LIMIT_DAYS:
                        raise ValueError(
                            f"the calendar has no working time between {searched_from} and {day} "
                            f"({self._describe()}): check its workdays, hours and holidays"
                        )
                if day == date.max:
                    break
                day += _ONE_DAY
        except OverflowError:
            pass
        if until is None:
            raise ValueError(f"the calendar has no working time left before the year 10000 ({self._describe()})")

    def _intervals_on(self, day: date) -> list[Interval]:
        """The working intervals of one local date, in UTC: none on a non-workday or a holiday."""
        if day.weekday() not in self.workdays or day in self.holidays:
            return []
        intervals = []
        for opening, closing in self.hours:
            start = self._wall_time_to_utc(day, opening)
            if closing == END_OF_DAY:
                end = self._wall_time_to_utc(day + _ONE_DAY, time(0))
            else:
                end = self._wall_time_to_utc(day, closing)
            if end > start:  # an interval inside a gap (clocks going forward) has no length
                intervals.append((start, end))
        return intervals

    def _wall_time_to_utc(self, day: date, wall_time: time) -> datetime:
        """The instant a local wall time happens: its first occurrence in a fold, the jump's instant in a gap."""
        local = datetime.combine(day, wall_time, tzinfo=self._zone)  # fold=0: the earlier of two repeated times
        instant = local.astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
        return self._gap_end(local)

    def _gap_end(self, local: datetime) -> datetime:
        """The instant clocks jumped over `local`, a wall time in a gap: the first instant with the new offset."""
        # Read with the offset after the jump, `local` is before the jump; read with the offset before it, after.
        before_jump = math.floor(local.replace(fold=1).astimezone(UTC).timestamp())
        after_jump = math.ceil(local.replace(fold=0).astimezone(UTC).timestamp())
        new_offset = datetime.fromtimestamp(after_jump, self._zone).utcoffset()
        while after_jump - before_jump > 1:  # transitions fall on whole seconds
            middle = (before_jump + after_jump) // 2
            if datetime.fromtimestamp(middle, self._zone).utcoffset() == new_offset:
                after_jump = middle
            else:
                before_jump = middle
        return datetime.fromtimestamp(after_jump, UTC)

    def _describe(self) -> str:
        days = ",".join(WEEKDAY_NAMES[day] for day in sorted(self.workdays))
        hours = ",".join(f"{_clock(opening)}-{_clock(closing)}" for opening, closing in self.hours)
        return f"{days} {hours} {self.timezone}, {len(self.holidays)} holidays"


def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, not {type(moment).__name__}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(
            f"{name} {moment.isoformat()} has no time zone: pass a timezone-aware datetime, "
            'like datetime(2026, 11, 20, 9, 0, tzinfo=ZoneInfo("Europe/Berlin"))'
        )
    return moment.astimezone(UTC)


def zone_named(name: object) -> ZoneInfo:
    """The time zone of an IANA name; ValueError saying what is allowed when there is none."""
    problem = f"time zone {name!r}" if not isinstance(name, str) else f'time zone "{name}"'
    if isinstance(name, str) and name.strip():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"{problem} is not known: use an IANA name like Europe/Berlin or America/New_York")


def _checked_workdays(workdays: Iterable[int]) -> frozenset[int]:
    days = frozenset(_items(workdays))
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"workday {day!r}: use 0 (Monday) to 6 (Sunday), or mon, tue, ..., sun with parse()")
    if not days:
        raise ValueError(
            "no workdays: a calendar needs at least one of mon, tue, wed, thu, fri, sat, sun, "
            "or its deadlines would never come"
        )
    return days


def _checked_hours(hours: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    intervals = []
    for interval in _items(hours):
        if (
            not isinstance(interval, tuple)
            or len(interval) != 2
            or not all(isinstance(end, time) and end.tzinfo is None for end in interval)
        ):
            raise ValueError(
                f"hours {interval!r}: give each interval as (start, end) naive times, "
                "like (time(9), time(17)), or use parse() with 09:00-17:00"
            )
        opening, closing = interval
        if opening >= closing:
            raise ValueError(
                f'hours "{_clock(opening)}-{_clock(closing)}": an interval must end after it starts, '
                "on the same day (intervals cannot cross midnight: end one at 24:00, start the next day's at 00:00)"
            )
        intervals.append((opening, closing))
    if not intervals:
        raise ValueError(
            "no hours: a calendar needs at least one working interval, like 09:00-17:00, "
            "or its deadlines would never come"
        )
    intervals.sort()
    for (earlier_opening, earlier_closing), (later_opening, later_closing) in pairwise(intervals):
        if later_opening < earlier_closing:
            raise ValueError(
                f'hours "{_clock(earlier_opening)}-{_clock(earlier_closing)}" and '
                f'"{_clock(later_opening)}-{_clock(later_closing)}" overlap: give intervals that do not, '
                "like 09:00-12:00 and 13:00-17:00"
            )
    return tuple(intervals)


def _checked_holidays(holidays: Iterable[date]) -> frozenset[date]:
    days = frozenset(_items(holidays))
    for day in days:
        if isinstance(day, datetime) or not isinstance(day, date):
            raise ValueError(f"holiday {day!r}: give a date (a local date with no working time), not a time")
    return days


def _parse_workday(name: str) -> int:
    text = str(name).strip().lower()
    if text not in WEEKDAY_NAMES:
        raise ValueError(f'workday "{name}": use mon, tue, wed, thu, fri, sat or sun')
    return WEEKDAY_NAMES.index(text)


def _parse_interval(text: str) -> tuple[time, time]:
    match = _INTERVAL.match(str(text))
    if match is None:
        raise ValueError(f'hours "{text}": write each interval as HH:MM-HH:MM, like 09:00-17:00')
    opening_hour, opening_minute, closing_hour, closing_minute = (int(part) for part in match.groups())
    if (opening_hour, opening_minute) == (24, 0):
        raise ValueError(f'hours "{text}": 24:00 ends a day, no interval starts there (start at 00:00)')
    if (closing_hour, closing_minute) == (24, 0):
        return _parse_interval(f"{opening_hour:02d}:{opening_minute:02d}-00:00")[0], END_OF_DAY
    for hour, minute in ((opening_hour, opening_minute), (closing_hour, closing_minute)):
        if hour > 23 or minute > 59:
            raise ValueError(
                f'hours "{text}": {hour:02d}:{minute:02d} is not a time of day (00:00 to 24:00), '
                "write each interval as HH:MM-HH:MM, like 09:00-17:00"
            )
    return time(opening_hour, opening_minute), time(closing_hour, closing_minute)


def _parse_holiday(value: str | date) -> date:
    if isinstance(value, datetime):
        raise ValueError(f'holiday "{value.isoformat()}": give a date like 2026-12-25, not a date and time')
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    raise ValueError(f'holiday "{value}": write dates as YYYY-MM-DD, like 2026-12-25')


def _items(values: Iterable[Item]) -> list[Item]:
    """The values as a list: a lone string is one value (not its letters)."""
    if isinstance(values, str | bytes):
        return cast("list[Item]", [values])
    return list(values)


def _clock(moment: time) -> str:
    if moment == END_OF_DAY:
        return "24:00"
    return moment.isoformat(timespec="minutes") if not (moment.second or moment.microsecond) else moment.isoformat()


@lru_cache(maxsize=256)
def working_calendar(
    timezone: str, workdays: tuple[str, ...], hours: tuple[str, ...], holidays: tuple[date, ...] = ()
) -> WorkingCalendar:
    """`WorkingCalendar.parse`, made once per distinct calendar: routing asks for the same few on every lead."""
    return WorkingCalendar.parse(timezone, workdays, hours, holidays)

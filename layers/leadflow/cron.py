"""EventBridge Scheduler's cron expressions: checked as the client file gives them, and their next moment.

A client file names when its weekly report goes out as EventBridge Scheduler does:
`cron(minutes hours day-of-month month day-of-week year)` in a time zone of its own, say
`cron(0 8 ? * MON *)` in Europe/Berlin, Monday 08:00 in Berlin all year. CDK deploys the
expression as it is; `leadflow local` and the tests need its moments, which `next_moment` gives.

The fields take what EventBridge documents: numbers, `*`, ranges `a-b`, lists `a,b`, steps
`a/n` and `a-b/n`; months JAN-DEC and weekdays SUN-SAT by name or number (1 is Sunday), and
`?` in exactly one of day-of-month and day-of-week. The day-of-month forms `L` and `W` and the
weekday forms `L` and `#` are refused here with a message: none of them is needed for a weekly
or monthly report, and a local scheduler that got them subtly wrong would be worse than none.

Daylight saving time goes as EventBridge Scheduler documents it: a moment that does not exist
in the time zone (the hour skipped in spring) is skipped, and a moment that happens twice (the
hour repeated in autumn) runs once, at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # EventBridge's 1 to 7
FIELDS = ("minutes", "hours", "day-of-month", "month", "day-of-week", "year")
RANGES = {
    "minutes": (0, 59),
    "hours": (0, 23),
    "day-of-month": (1, 31),
    "month": (1, 12),
    "day-of-week": (1, 7),
    "year": (1970, 2199),
}
EXAMPLE = "cron(0 8 ? * MON *) (Mondays at 08:00)"
SEARCH_YEARS = 5  # an expression with no moment within this many years (31 February) is refused
_EXPRESSION = re.compile(r"^cron\((.*)\)$")
_UNSUPPORTED = re.compile(r"(^|[^A-Z])L|\dW$|#")  # L (last), W (weekday nearest), # (nth weekday); not JUL or WED


class CronError(ValueError):
    """An expression EventBridge would refuse, or one leadflow does not run; says which part and why."""


@dataclass(frozen=True)
class Cron:
    """A checked expression: the allowed values of each field (None: any, as `*` or `?` says)."""

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int] | None
    months: frozenset[int]
    weekdays: frozenset[int] | None  # Python's: 0 is Monday
    years: frozenset[int] | None

    def runs_on(self, day: date) -> bool:
        return (
            day.month in self.months
            and (self.years is None or day.year in self.years)
            and (self.days is None or day.day in self.days)
            and (self.weekdays is None or day.weekday() in self.weekdays)
        )

    def times(self) -> list[time]:
        return [time(hour, minute) for hour in sorted(self.hours) for minute in sorted(self.minutes)]


def parse(expression: str) -> Cron:
    """The checked expression; CronError naming the field at fault and what to write instead."""
    found = _EXPRESSION.match(expression.strip()) if isinstance(expression, str) else None
    if found is None:
        raise CronError(f"{expression!r} is not a cron expression: write it as EventBridge does, like {EXAMPLE}")
    parts = found.group(1).split()
    if len(parts) != len(FIELDS):
        raise CronError(
            f"{expression!r} has {len(parts)} fields; EventBridge's cron has six ({' '.join(FIELDS)}), like {EXAMPLE}"
        )
    text = dict(zip(FIELDS, parts, strict=True))
    if (text["day-of-month"] == "?") == (text["day-of-week"] == "?"):
        raise CronError(
            f"{expression!r}: put ? in exactly one of day-of-month and day-of-week (EventBridge needs one of "
            f"them left open), like {EXAMPLE} or cron(0 8 1 * ? *) (the 1st of each month)"
        )
    days = None if text["day-of-month"] in ("?", "*") else _values("day-of-month", text["day-of-month"])
    weekdays = None if text["day-of-week"] in ("?", "*") else _values("day-of-week", text["day-of-week"])
    cron = Cron(
        expression=expression.strip(),
        minutes=_values("minutes", text["minutes"]),
        hours=_values("hours", text["hours"]),
        days=days,
        months=_values("month", text["month"]),
        weekdays=None if weekdays is None else frozenset((day - 2) % 7 for day in weekdays),
        years=None if text["year"] == "*" else _values("year", text["year"]),
    )
    start = datetime(2000, 1, 1, tzinfo=UTC) if cron.years is None else datetime(min(cron.years), 1, 1, tzinfo=UTC)
    if _first_day(cron, start.date(), SEARCH_YEARS * 366) is None:
        raise CronError(f"{expression!r} names no day that exists (like 31 February): check its day and month")
    return cron


def next_moment(cron: Cron, zone: ZoneInfo, after: datetime) -> datetime | None:
    """The expression's first moment after `after` (in UTC), in `zone`'s local time; None if there is none left."""
    if after.tzinfo is None:
        raise ValueError(f"after must be timezone-aware, not {after.isoformat()}")
    local = after.astimezone(zone)
    day = local.date()
    for _ in range(SEARCH_YEARS * 366):
        if cron.runs_on(day):
            for clock in cron.times():
                moment = datetime.combine(day, clock, zone)  # fold 0: the first of a repeated hour
                if not _exists(moment):
                    continue  # the hour skipped in spring: EventBridge Scheduler skips the moment too
                if moment > after:
                    return moment.astimezone(UTC)
        day += timedelta(days=1)
    return None


def previous_moment(cron: Cron, zone: ZoneInfo, before: datetime) -> datetime | None:
    """The expression's last moment at or before `before` (in UTC); None if it has had none in SEARCH_YEARS."""
    if before.tzinfo is None:
        raise ValueError(f"before must be timezone-aware, not {before.isoformat()}")
    day = before.astimezone(zone).date()
    for _ in range(SEARCH_YEARS * 366):
        if cron.runs_on(day):
            for clock in reversed(cron.times()):
                moment = datetime.combine(day, clock, zone)
                if _exists(moment) and moment <= before:
                    return moment.astimezone(UTC)
        day -= timedelta(days=1)
    return None


def _exists(moment: datetime) -> bool:
    """Whether a local time happens at all in its zone (not in the hour skipped when the clocks go forward)."""
    there_and_back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return there_and_back.replace(tzinfo=None) == moment.replace(tzinfo=None)


def _first_day(cron: Cron, start: date, days: int) -> date | None:
    for offset in range(days):
        day = start + timedelta(days=offset)
        if cron.runs_on(day):
            return day
    return None


def _values(field: str, text: str) -> frozenset[int]:
    low, high = RANGES[field]
    found: set[int] = set()
    for part in text.split(","):
        if _UNSUPPORTED.search(part.upper()):
            raise CronError(
                f"{field} {text!r}: L, W and # are not run by leadflow; name the days (like 1 or MON-FRI), "
                f"like {EXAMPLE}"
            )
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = _number(field, step_text, 1, high - low + 1 if field != "year" else 1000)
            if part == "*":
                part = f"{low}-{high}"
            elif "-" not in part:
                part = f"{part}-{high}"
        if part == "*":
            first, last = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            first, last = _value(field, start_text), _value(field, end_text)
            if first > last:
                raise CronError(f"{field} {text!r}: the range {part} runs backwards; write it from low to high")
        else:
            first = last = _value(field, part)
        found.update(range(first, last + 1, step))
    return frozenset(found)


def _value(field: str, text: str) -> int:
    names = MONTHS if field == "month" else WEEKDAYS if field == "day-of-week" else ()
    if text.upper() in names:
        return names.index(text.upper()) + 1
    low, high = RANGES[field]
    return _number(field, text, low, high)


def _number(field: str, text: str, low: int, high: int) -> int:
    if not (text.isascii() and text.isdigit()):
        allowed = f"{low}-{high}"
        if field == "month":
            allowed += " or JAN-DEC"
        elif field == "day-of-week":
            allowed += " (1 is Sunday) or SUN-SAT"
        raise CronError(f"{field} {text!r} is not a value EventBridge takes there: use {allowed}")
    value = int(text)
    if not low <= value <= high:
        raise CronError(f"{field} {value} is out of range: use {low}-{high}")
    return value

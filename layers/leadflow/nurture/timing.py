"""When a nurture step goes out: in the lead's send window, in the lead's time zone, within the frequency cap.

A step is due at an instant, but it is sent only when two rules hold, and a step they hold back
waits (it is moved later), it is never skipped:

- **The send window:** the lead's clock reads between the window's opening and closing (like
  09:00-17:00; the opening is inside, the closing is not) on one of the window's weekdays. The
  lead's clock is its time zone's: `lead_zone` finds it from the lead's country (the custom
  country field, else the phone's country), else the client's default zone.
- **The frequency cap:** at most `most` nurture emails in `days` days per lead, across every
  sequence. A send counts against the cap for `days` days from the moment it went out: at `t`
  the sends counted are those in `(t - days, t]`, so one sent at `s` leaves the cap at exactly
  `s + days` (a send at `t` itself counts, and the moment a send leaves is an instant, not the
  limit of a half-open interval).

`send_time` returns the earliest instant at or after `due` where both hold: it moves to the
next window opening, then, while the cap is full, to the instant the oldest counted send leaves
it and on to the window opening after that, until both hold.

Time zones and DST, as `leadflow.route.calendar.WorkingCalendar` (which does the wall-clock
arithmetic) reads wall times: on each allowed local date the window is the span of real time
from its opening to its closing, each found with `datetime.combine(date, time, tzinfo=zone)`
and normalised through UTC. An opening or closing that does not exist (skipped when clocks go
forward) becomes the instant the clocks jumped, so a 01:30-02:30 window in New York on
2026-03-08 is 01:30 EST to 03:00 EDT (half an hour long), and a 02:00-03:00 window does not
open that day at all (the step waits for the next allowed day). One that happens twice (clocks
going back) is its first occurrence (fold=0), so a window spanning the repeated hour is an hour
longer that day, and a window inside it (01:00-01:30 in New York on 2026-11-01) opens once, on
its first pass. Results are aware datetimes in UTC.

Pure: no I/O beyond reading the IANA tables shipped in the `tzdata` package, once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import cache, lru_cache
from importlib.resources import files
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from leadflow.lead.profile import LeadProfile
from leadflow.route.calendar import WEEKDAY_NAMES, WorkingCalendar, zone_named
from leadflow.route.facts import routing_facts

SEARCH_LIMIT_DAYS = 400  # how far past `due` send_time looks before it gives up (more than a year and a week)
MAX_CAP_DAYS = 366  # a cap longer than this could hold a step past the search limit

# Countries with several zones whose first zone in zone.tab (the tz database lists a country's
# zones east to west or north to south, most populous first only where geography allows) is not
# where most of its people and businesses are. Every other country gets its first-listed zone:
# US America/New_York, CN Asia/Shanghai, MX America/Mexico_City, ID Asia/Jakarta,
# AR America/Argentina/Buenos_Aires, KZ Asia/Almaty, ES Europe/Madrid, DE Europe/Berlin, ...
MAIN_ZONE_OF_COUNTRY: dict[str, str] = {
    "AU": "Australia/Sydney",  # first listed: Australia/Lord_Howe
    "BR": "America/Sao_Paulo",  # first listed: America/Noronha
    "CA": "America/Toronto",  # first listed: America/St_Johns
    "RU": "Europe/Moscow",  # first listed: Europe/Kaliningrad
    "UA": "Europe/Kyiv",  # first listed: Europe/Simferopol
    "UZ": "Asia/Tashkent",  # first listed: Asia/Samarkand
}


@dataclass(frozen=True)
class SendWindow:
    """When nurture emails may go out, on the lead's clock: local opening and closing times, allowed weekdays."""

    start: time  # naive local wall time, like time(9): inside the window
    end: time  # naive local wall time after start, the same day, like time(17): outside the window
    weekdays: Collection[str]  # names as WEEKDAY_NAMES spells them, like ("mon", "tue"); kept as a tuple in week order

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None:
                raise ValueError(f"SendWindow {name} {value!r}: give a naive local wall time, like time(9, 0)")
        if self.start >= self.end:
            raise ValueError(
                f"SendWindow start {self.start:%H:%M} must be before end {self.end:%H:%M}: "
                "a send window lies within one day (it cannot cross midnight)"
            )
        names = [self.weekdays] if isinstance(self.weekdays, str) else list(self.weekdays)
        for name in names:
            if not isinstance(name, str) or name.strip().lower() not in WEEKDAY_NAMES:
                raise ValueError(f"SendWindow weekdays: {name!r} is not a weekday, use {', '.join(WEEKDAY_NAMES)}")
        days = {name.strip().lower() for name in names}
        if not days:
            raise ValueError(
                "SendWindow weekdays is empty: allow at least one of mon, tue, wed, thu, fri, sat, sun, "
                "or no nurture email could ever go out"
            )
        object.__setattr__(self, "weekdays", tuple(day for day in WEEKDAY_NAMES if day in days))


@dataclass(frozen=True)
class FrequencyCap:
    """At most `most` nurture emails to one lead in any `days` days, across all its sequences."""

    most: int
    days: int

    def __post_init__(self) -> None:
        for name, low, high in (("most", 1, None), ("days", 1, MAX_CAP_DAYS)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
                allowed = f"{low} or more" if high is None else f"{low} to {high}"
                raise ValueError(f"FrequencyCap {name} {value!r}: give a whole number, {allowed}")


def lead_zone(
    profile: LeadProfile, default_zone: str, default_phone_region: str, facts: Mapping[str, Any] | None = None
) -> ZoneInfo:
    """The lead's time zone: its country's main zone (custom country field, else the phone's), else `default_zone`.

    `facts`: the lead's `routing_facts`, when the caller has them already.
    """
    country = (facts if facts is not None else routing_facts(profile, default_phone_region)).get("country")
    name = zone_of_country().get(str(country)) if country else None
    return zone_named(name if name is not None else default_zone)


@cache
def zone_of_country() -> Mapping[str, str]:
    """One IANA zone per ISO country code: the override for multi-zone countries, else the first zone listed.

    From `zone.tab` (one country per row), then `zone1970.tab` for any country zone.tab lacks
    (preferring a row that names the country first), both from the `tzdata` package.
    """
    zones: dict[str, str] = {}
    for row in _rows("zone.tab"):
        zones.setdefault(row[0], row[2])
    later: dict[str, str] = {}
    for row in _rows("zone1970.tab"):
        codes = row[0].split(",")
        zones.setdefault(codes[0], row[2])
        for code in codes[1:]:
            later.setdefault(code, row[2])
    for code, zone in later.items():
        zones.setdefault(code, zone)
    zones.update(MAIN_ZONE_OF_COUNTRY)
    return MappingProxyType(zones)


def _rows(table: str) -> list[list[str]]:
    try:
        text = files("tzdata").joinpath("zoneinfo", table).read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - tzdata ships both tables
        return []
    return [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]


def send_time(
    due: datetime, zone: ZoneInfo, window: SendWindow, sent: Sequence[datetime], cap: FrequencyCap
) -> datetime:
    """The earliest instant (UTC) at or after `due` inside `window` in `zone` at which `cap` has room.

    `sent` holds the lead's earlier nurture sends, of any sequence. For a step already overdue,
    pass `max(due, now)`: the answer is never before `due`, and may be `due` itself.
    Raises ValueError when nothing fits within `SEARCH_LIMIT_DAYS` days of `due`.
    """
    start = _utc(due, "due")
    sends = sorted(_utc(moment, "a sent time") for moment in sent)
    calendar = _window_calendar(_zone_key(zone), window)
    cap_span = timedelta(days=cap.days)
    limit = start + timedelta(days=SEARCH_LIMIT_DAYS)
    moment = start
    while (moment := calendar.next_working_moment(moment)) <= limit:
        counted = [sent_at for sent_at in sends if moment - cap_span < sent_at <= moment]
        if len(counted) < cap.most:
            return moment
        moment = counted[0] + cap_span  # when the oldest counted send leaves the cap: always later than now
    raise ValueError(
        f"no send time within {SEARCH_LIMIT_DAYS} days of {start.isoformat()} in {_zone_key(zone)} "
        f"({window.start:%H:%M}-{window.end:%H:%M} {','.join(window.weekdays)}, {cap.most} in {cap.days} days): "
        "check the send window and the frequency cap"
    )


@lru_cache(maxsize=512)
def _window_calendar(zone_key: str, window: SendWindow) -> WorkingCalendar:
    """The window as a working calendar of the zone: it does the wall-clock arithmetic (and its DST rules)."""
    return WorkingCalendar(
        timezone=zone_key,
        workdays=frozenset(WEEKDAY_NAMES.index(day) for day in window.weekdays),
        hours=((window.start, window.end),),
    )


def _zone_key(zone: ZoneInfo) -> str:
    if not isinstance(zone, ZoneInfo) or not zone.key:
        raise ValueError(f"zone {zone!r}: give an IANA time zone, like ZoneInfo('Asia/Tokyo') or lead_zone(...)")
    return zone.key


def _utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime) or moment.utcoffset() is None:
        raise ValueError(f"{name} {moment!r}: give a timezone-aware datetime, like datetime(2026, 5, 4, 9, tzinfo=UTC)")
    return moment.astimezone(UTC)

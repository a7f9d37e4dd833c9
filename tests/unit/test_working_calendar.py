"""Working time: deadlines in working minutes across weekends, holidays, split shifts, time zones and DST."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.route.calendar import SEARCH_LIMIT_DAYS, WorkingCalendar

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
EVERY_DAY = (*WEEKDAYS, "sat", "sun")

# Monday to Friday, 09:00-18:00 in Berlin: the example from the issue.
OFFICE = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["09:00-18:00"])


def berlin(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


# 2026-11-20 is a Friday; 2026-11-23 the Monday after.


def test_friday_evening_plus_30_working_minutes_is_monday_morning() -> None:
    deadline = OFFICE.add_working_minutes(berlin(2026, 11, 20, 17, 55), 30)
    assert deadline == berlin(2026, 11, 23, 9, 25)


def test_results_are_in_utc_whatever_the_zone_of_the_input() -> None:
    deadline = OFFICE.add_working_minutes(datetime(2026, 11, 20, 11, 55, tzinfo=NEW_YORK), 30)  # 17:55 in Berlin
    assert deadline.tzinfo is UTC
    assert deadline == datetime(2026, 11, 23, 8, 25, tzinfo=UTC)
    assert OFFICE.next_working_moment(berlin(2026, 11, 20, 10)).tzinfo is UTC


def test_a_midweek_holiday_is_skipped() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["09:00-18:00"], ["2026-11-25"])  # a Wednesday
    assert calendar.add_working_minutes(berlin(2026, 11, 24, 17, 55), 30) == berlin(2026, 11, 26, 9, 25)


def test_a_weekend_and_a_holiday_in_one_span_are_both_skipped() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["09:00-18:00"], [date(2026, 11, 23)])  # the Monday
    assert calendar.add_working_minutes(berlin(2026, 11, 20, 17, 55), 30) == berlin(2026, 11, 24, 9, 25)


def test_easter_friday_and_monday_holidays_around_a_weekend_are_skipped() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["09:00-18:00"], ["2026-04-03", "2026-04-06"])
    assert calendar.add_working_minutes(berlin(2026, 4, 2, 17, 55), 30) == berlin(2026, 4, 7, 9, 25)


def test_working_minutes_between_counts_no_weekend_or_holiday_time() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["09:00-18:00"], ["2026-11-23"])
    assert calendar.working_minutes_between(berlin(2026, 11, 20, 17, 55), berlin(2026, 11, 24, 9, 25)) == 30


def test_a_start_before_opening_counts_from_opening() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 23, 7, 0), 30) == berlin(2026, 11, 23, 9, 30)


def test_a_start_after_closing_counts_from_the_next_opening() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 24, 19, 0), 30) == berlin(2026, 11, 25, 9, 30)


def test_a_start_on_a_non_workday_counts_from_the_next_workday() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 21, 11, 0), 30) == berlin(2026, 11, 23, 9, 30)  # a Saturday


def test_a_deadline_that_fills_the_day_exactly_is_closing_time_not_the_next_morning() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 20, 17, 30), 30) == berlin(2026, 11, 20, 18, 0)


def test_zero_minutes_is_the_next_working_moment() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 20, 18, 0), 0) == berlin(2026, 11, 23, 9, 0)
    assert OFFICE.add_working_minutes(berlin(2026, 11, 20, 10, 0), 0) == berlin(2026, 11, 20, 10, 0)


def test_fractions_of_a_minute_count() -> None:
    assert OFFICE.add_working_minutes(berlin(2026, 11, 20, 17, 59), 1.5) == berlin(2026, 11, 23, 9, 0) + timedelta(
        seconds=30
    )


@pytest.mark.parametrize("minutes", [-1, -0.5, float("nan"), float("inf")])
def test_negative_or_endless_minutes_are_refused(minutes: float) -> None:
    with pytest.raises(ValueError, match="minutes"):
        OFFICE.add_working_minutes(berlin(2026, 11, 20, 10), minutes)


def test_a_year_of_working_minutes_lands_on_the_right_evening() -> None:
    calendar = WorkingCalendar.parse("UTC", WEEKDAYS, ["09:00-17:00"])
    monday = datetime(2026, 1, 5, 9, tzinfo=UTC)
    fifty_two_weeks = 52 * 5 * 8 * 60
    assert calendar.add_working_minutes(monday, fifty_two_weeks) == monday + timedelta(weeks=51, days=4, hours=8)


SPLIT = WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["13:00-17:00", "09:00-12:00"])  # given out of order


def test_split_shifts_skip_the_lunch_break() -> None:
    assert SPLIT.add_working_minutes(berlin(2026, 11, 23, 11, 50), 30) == berlin(2026, 11, 23, 13, 20)
    assert SPLIT.working_minutes_between(berlin(2026, 11, 23, 11), berlin(2026, 11, 23, 14)) == 120
    assert not SPLIT.is_working(berlin(2026, 11, 23, 12, 30))
    assert SPLIT.next_working_moment(berlin(2026, 11, 23, 12, 30)) == berlin(2026, 11, 23, 13)


def test_a_split_shift_day_after_the_afternoon_goes_to_the_next_morning() -> None:
    assert SPLIT.add_working_minutes(berlin(2026, 11, 23, 16, 50), 30) == berlin(2026, 11, 24, 9, 20)


# Clocks change on Sundays at night: 2026-03-29 and 2026-10-25 in Berlin, 2026-03-08 and 2026-11-01 in New York.
@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, date(2026, 3, 29)),
        (BERLIN, date(2026, 10, 25)),
        (NEW_YORK, date(2026, 3, 8)),
        (NEW_YORK, date(2026, 11, 1)),
    ],
    ids=["berlin-spring-forward", "berlin-fall-back", "new-york-spring-forward", "new-york-fall-back"],
)
def test_a_working_day_keeps_its_wall_clock_length_when_clocks_change_at_night(zone: ZoneInfo, day: date) -> None:
    calendar = WorkingCalendar.parse(str(zone), EVERY_DAY, ["09:00-17:00"])
    opening = datetime.combine(day, time(9), tzinfo=zone)
    assert calendar.add_working_minutes(opening, 8 * 60) == datetime.combine(day, time(17), tzinfo=zone)
    midnight = datetime.combine(day, time(0), tzinfo=zone)
    next_midnight = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    assert calendar.working_minutes_between(midnight, next_midnight) == 8 * 60


def test_opening_moves_an_hour_in_utc_when_clocks_change() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["09:00-17:00"])
    saturday = calendar.next_working_moment(datetime(2026, 3, 28, 0, tzinfo=UTC))
    sunday = calendar.next_working_moment(datetime(2026, 3, 29, 0, tzinfo=UTC))
    assert (saturday, sunday) == (datetime(2026, 3, 28, 8, tzinfo=UTC), datetime(2026, 3, 29, 7, tzinfo=UTC))


def test_an_opening_in_the_spring_forward_gap_is_the_moment_clocks_jump() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["02:30-10:00"])  # 02:00-03:00 does not exist
    assert calendar.next_working_moment(berlin(2026, 3, 29, 0)) == datetime(2026, 3, 29, 1, tzinfo=UTC)  # 03:00 CEST
    assert calendar.working_minutes_between(berlin(2026, 3, 29, 0), berlin(2026, 3, 30, 0)) == 7 * 60


def test_an_opening_in_the_fall_back_fold_is_its_first_occurrence() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["02:30-10:00"])  # 02:00-03:00 happens twice
    first_0230 = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert calendar.next_working_moment(berlin(2026, 10, 25, 0)) == first_0230
    assert calendar.is_working(datetime(2026, 10, 25, 2, 0, tzinfo=BERLIN, fold=1))  # the second 02:00, CET
    assert calendar.working_minutes_between(berlin(2026, 10, 25, 0), berlin(2026, 10, 26, 0)) == 8.5 * 60


def test_an_interval_wholly_inside_the_gap_has_no_working_time_that_day() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["02:10-02:50", "09:00-10:00"])
    assert calendar.working_minutes_between(berlin(2026, 3, 29, 0), berlin(2026, 3, 30, 0)) == 60
    assert calendar.working_minutes_between(berlin(2026, 3, 28, 0), berlin(2026, 3, 29, 0)) == 100


TOKYO_REP = WorkingCalendar.parse("Asia/Tokyo", WEEKDAYS, ["09:00-18:00"])


def test_a_rep_in_tokyo_works_tokyo_hours_for_a_deadline_given_in_utc() -> None:
    friday_1755_in_tokyo = datetime(2026, 11, 20, 8, 55, tzinfo=UTC)
    assert TOKYO_REP.add_working_minutes(friday_1755_in_tokyo, 30) == datetime(2026, 11, 23, 9, 25, tzinfo=TOKYO)


def test_a_rep_in_tokyo_starts_monday_while_it_is_still_sunday_in_utc() -> None:
    sunday_evening_utc = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # Monday 08:30 in Tokyo
    assert TOKYO_REP.next_working_moment(sunday_evening_utc) == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    assert TOKYO_REP.is_working(sunday_evening_utc + timedelta(minutes=30))


@pytest.mark.parametrize(
    ("at", "working"),
    [
        (berlin(2026, 11, 23, 9, 0), True),
        (berlin(2026, 11, 23, 9, 0) - timedelta(microseconds=1), False),
        (berlin(2026, 11, 23, 18, 0) - timedelta(microseconds=1), True),
        (berlin(2026, 11, 23, 18, 0), False),
    ],
    ids=["opening", "just-before-opening", "just-before-closing", "closing"],
)
def test_is_working_includes_the_opening_and_excludes_the_closing(at: datetime, working: bool) -> None:
    assert OFFICE.is_working(at) is working


def test_next_working_moment_is_the_moment_itself_during_working_time() -> None:
    at = datetime(2026, 11, 23, 10, 17, 3, tzinfo=NEW_YORK)  # 16:17:03 in Berlin
    assert OFFICE.next_working_moment(at) == at
    assert OFFICE.next_working_moment(at).tzinfo is UTC


def test_working_minutes_between_is_zero_when_the_end_is_not_after_the_start() -> None:
    assert OFFICE.working_minutes_between(berlin(2026, 11, 23, 12), berlin(2026, 11, 23, 12)) == 0
    assert OFFICE.working_minutes_between(berlin(2026, 11, 23, 12), berlin(2026, 11, 23, 10)) == 0


def test_a_moment_without_a_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        OFFICE.is_working(datetime(2026, 11, 23, 12))


# The properties hold for any start, in any zone, on calendars with split shifts, holidays and DST edges.
CALENDARS = [
    OFFICE,
    SPLIT,
    TOKYO_REP,
    WorkingCalendar.parse("Europe/Berlin", WEEKDAYS, ["08:00-12:00", "12:00-16:30"], ["2026-12-24", "2026-12-25"]),
    WorkingCalendar.parse("America/New_York", EVERY_DAY, ["01:30-02:30", "09:00-17:00"]),
    WorkingCalendar.parse("Europe/Berlin", ["sun"], ["02:10-02:50", "02:59-03:01", "23:00-23:59"]),
    WorkingCalendar.parse("Australia/Lord_Howe", ["sat", "sun"], ["01:00-03:00"]),  # a 30-minute DST shift
    WorkingCalendar.parse("UTC", EVERY_DAY, ["00:00-24:00"]),  # round the clock
    WorkingCalendar.parse("America/Santiago", EVERY_DAY, ["00:00-24:00"]),  # its clocks change at midnight
    WorkingCalendar.parse("Europe/Berlin", ["fri", "sat"], ["06:00-08:00", "22:00-24:00"]),
]
STARTS = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from([UTC, BERLIN, NEW_YORK, TOKYO, ZoneInfo("Asia/Kolkata")]),
)
MINUTES = st.integers(min_value=0, max_value=60 * 24 * 30)


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=STARTS, minutes=MINUTES)
def test_working_minutes_between_undoes_add_working_minutes(
    calendar: WorkingCalendar, start: datetime, minutes: int
) -> None:
    deadline = calendar.add_working_minutes(start, minutes)
    assert deadline >= start.astimezone(UTC)
    assert calendar.working_minutes_between(start, deadline) == minutes


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), start=STARTS, first=MINUTES, then=st.integers(min_value=1, max_value=6000))
def test_adding_minutes_in_two_steps_is_adding_them_at_once(
    calendar: WorkingCalendar, start: datetime, first: int, then: int
) -> None:
    in_two_steps = calendar.add_working_minutes(calendar.add_working_minutes(start, first), then)
    assert in_two_steps == calendar.add_working_minutes(start, first + then)


@settings(max_examples=200, deadline=None)
@given(calendar=st.sampled_from(CALENDARS), at=STARTS)
def test_next_working_moment_is_working_and_is_the_moment_itself_exactly_when_it_is_working(
    calendar: WorkingCalendar, at: datetime
) -> None:
    moment = calendar.next_working_moment(at)
    assert calendar.is_working(moment)
    # In UTC: by PEP 495, a time in a fold (like the second 02:00) never equals a time in another zone.
    assert (moment == at.astimezone(UTC)) is calendar.is_working(at)
    assert calendar.working_minutes_between(at, moment) == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            {"hours": ["9-17"]},
            'hours "9-17": write each interval as HH:MM-HH:MM, like 09:00-17:00',
        ),
        (
            {"timezone": "Europe/Berln"},
            'time zone "Europe/Berln" is not known: use an IANA name like Europe/Berlin or America/New_York',
        ),
        ({"workdays": ["mon", "funday"]}, 'workday "funday": use mon, tue, wed, thu, fri, sat or sun'),
        ({"hours": ["09:00-12:00", "11:00-17:00"]}, 'hours "09:00-12:00" and "11:00-17:00" overlap'),
        ({"hours": ["17:00-09:00"]}, 'hours "17:00-09:00": an interval must end after it starts'),
        ({"hours": ["24:00-24:00"]}, 'hours "24:00-24:00": 24:00 ends a day, no interval starts there'),
        ({"hours": ["09:00-25:00"]}, 'hours "09:00-25:00": 25:00 is not a time of day'),
        ({"hours": []}, "no hours: a calendar needs at least one working interval, like 09:00-17:00"),
        ({"workdays": []}, "no workdays: a calendar needs at least one of mon, tue, wed, thu, fri, sat, sun"),
        ({"holidays": ["25.12.2026"]}, 'holiday "25.12.2026": write dates as YYYY-MM-DD, like 2026-12-25'),
    ],
    ids=[
        "hours-format",
        "time-zone",
        "workday",
        "overlap",
        "backwards",
        "midnight",
        "hour",
        "no-hours",
        "no-workdays",
        "holiday",
    ],
)
def test_parse_errors_name_the_bad_value_and_what_is_allowed(arguments: dict[str, object], message: str) -> None:
    given_arguments: dict[str, object] = {"timezone": "Europe/Berlin", "workdays": WEEKDAYS, "hours": ["09:00-17:00"]}
    with pytest.raises(ValueError, match=re.escape(message)):
        WorkingCalendar.parse(**{**given_arguments, **arguments})


def test_a_day_that_ends_at_24_00_works_its_last_minute_and_runs_on_into_the_next() -> None:
    always = WorkingCalendar.parse("UTC", EVERY_DAY, ["00:00-24:00"])
    assert always.is_working(datetime(2026, 11, 23, 23, 59, 35, tzinfo=UTC))
    assert always.add_working_minutes(datetime(2026, 11, 23, 23, 59, tzinfo=UTC), 2) == datetime(
        2026, 11, 24, 0, 1, tzinfo=UTC
    )
    week = always.working_minutes_between(datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC))
    assert week == 7 * 24 * 60


def test_a_whole_day_in_berlin_is_23_hours_when_clocks_go_forward() -> None:
    always = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["00:00-24:00"])
    start, end = datetime(2026, 3, 29, tzinfo=BERLIN), datetime(2026, 3, 30, tzinfo=BERLIN)
    assert always.working_minutes_between(start, end) == 23 * 60


def test_an_evening_shift_to_24_00_ends_at_midnight_not_a_minute_before() -> None:
    evenings = WorkingCalendar.parse("Europe/Berlin", ["fri"], ["22:00-24:00"])
    friday_late = datetime(2026, 11, 27, 23, 30, tzinfo=BERLIN)
    assert evenings.add_working_minutes(friday_late, 30) == datetime(2026, 11, 28, 0, 0, tzinfo=BERLIN)
    assert not evenings.is_working(datetime(2026, 11, 28, 0, 0, tzinfo=BERLIN))


def test_parse_reads_names_in_any_case_and_a_lone_string_as_one_value() -> None:
    calendar = WorkingCalendar.parse("Europe/Berlin", ["Mon", " FRI "], "09:00-17:00", "2026-11-23")
    assert calendar == WorkingCalendar(
        "Europe/Berlin", frozenset({0, 4}), ((time(9), time(17)),), frozenset({date(2026, 11, 23)})
    )


@pytest.mark.parametrize(
    ("workdays", "hours"),
    [(frozenset(), ((time(9), time(17)),)), (frozenset({0}), ())],
    ids=["no-workdays", "no-hours"],
)
def test_a_calendar_with_no_working_time_cannot_be_made(
    workdays: frozenset[int], hours: tuple[tuple[time, time], ...]
) -> None:
    with pytest.raises(ValueError, match="would never come"):
        WorkingCalendar("Europe/Berlin", workdays, hours)


def test_the_constructor_checks_its_values_too() -> None:
    with pytest.raises(ValueError, match="workday 7: use 0"):
        WorkingCalendar("Europe/Berlin", frozenset({7}), ((time(9), time(17)),))
    with pytest.raises(ValueError, match=re.escape('"Mars/Olympus" is not known')):
        WorkingCalendar("Mars/Olympus", frozenset({0}), ((time(9), time(17)),))


def test_a_calendar_whose_every_day_is_a_holiday_gives_up_instead_of_searching_forever() -> None:
    first = date(2026, 1, 1)
    holidays = [first + timedelta(days=offset) for offset in range(SEARCH_LIMIT_DAYS + 400)]
    calendar = WorkingCalendar.parse("Europe/Berlin", EVERY_DAY, ["09:00-17:00"], holidays)
    with pytest.raises(ValueError, match="no working time between 2026-01-01 and"):
        calendar.add_working_minutes(berlin(2026, 1, 1, 10), 30)
    with pytest.raises(ValueError, match="no working time"):
        calendar.next_working_moment(berlin(2026, 1, 1, 10))
    # Bounded by its end, counting never needs to give up.
    assert calendar.working_minutes_between(berlin(2026, 1, 1), berlin(2029, 12, 31)) == 0

"""EventBridge Scheduler's cron expressions: checking them, and their next moment in a time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from leadflow.cron import CronError, next_moment, parse, previous_moment

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")


def moment(expression: str, zone: ZoneInfo, after: str) -> str:
    found = next_moment(parse(expression), zone, datetime.fromisoformat(after))
    assert found is not None
    return found.isoformat()


def test_monday_at_eight_in_berlin_is_seven_utc_in_winter_and_six_in_summer() -> None:
    assert moment("cron(0 8 ? * MON *)", BERLIN, "2026-11-24T10:00:00+00:00") == "2026-11-30T07:00:00+00:00"
    assert moment("cron(0 8 ? * MON *)", BERLIN, "2026-06-02T10:00:00+00:00") == "2026-06-08T06:00:00+00:00"


def test_weekdays_by_number_count_from_sunday_as_eventbridge_does() -> None:
    assert parse("cron(0 8 ? * 2 *)").weekdays == parse("cron(0 8 ? * MON *)").weekdays == frozenset({0})
    assert parse("cron(0 8 ? * 1 *)").weekdays == frozenset({6})  # 1 is Sunday


def test_a_moment_exactly_at_after_is_not_next() -> None:
    assert moment("cron(0 8 ? * MON *)", UTC_ZONE, "2026-11-30T08:00:00+00:00") == "2026-12-07T08:00:00+00:00"


def test_ranges_lists_and_steps_give_every_moment_they_name() -> None:
    cron = parse("cron(0/20 9-10 ? * MON-FRI *)")
    assert sorted(cron.minutes) == [0, 20, 40]
    assert sorted(cron.hours) == [9, 10]
    assert cron.weekdays == frozenset({0, 1, 2, 3, 4})
    assert sorted(parse("cron(5,35 8 1,15 JAN,JUL ? 2027)").months) == [1, 7]


def test_the_first_of_each_month_in_new_york() -> None:
    assert moment("cron(30 7 1 * ? *)", NEW_YORK, "2026-11-24T00:00:00+00:00") == "2026-12-01T12:30:00+00:00"


def test_a_moment_in_the_hour_skipped_in_spring_is_skipped() -> None:
    # 29 March 2026: Berlin's clocks go from 02:00 to 03:00, so 02:30 does not happen that day.
    assert moment("cron(30 2 * * ? *)", BERLIN, "2026-03-28T12:00:00+00:00") == "2026-03-30T00:30:00+00:00"


def test_a_moment_in_the_hour_repeated_in_autumn_runs_once_at_its_first_occurrence() -> None:
    # 25 October 2026: Berlin's clocks go from 03:00 back to 02:00; 02:30 happens at 00:30 and 01:30 UTC.
    assert moment("cron(30 2 * * ? *)", BERLIN, "2026-10-24T12:00:00+00:00") == "2026-10-25T00:30:00+00:00"
    assert moment("cron(30 2 * * ? *)", BERLIN, "2026-10-25T00:30:00+00:00") == "2026-10-26T01:30:00+00:00"


def test_an_expression_whose_years_are_over_has_no_next_moment() -> None:
    assert next_moment(parse("cron(0 8 1 1 ? 2026)"), UTC_ZONE, datetime(2026, 11, 24, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    ("expression", "names"),
    [
        ("0 8 ? * MON *", "is not a cron expression"),
        ("cron(0 8 * * MON)", "has 5 fields"),
        ("cron(0 8 * * MON *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 8 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 8 ? * MON *)", "minutes 60 is out of range: use 0-59"),
        ("cron(0 8 ? * MONDAY *)", "day-of-week 'MONDAY' is not a value"),
        ("cron(0 8 L * ? *)", "L, W and # are not run by leadflow"),
        ("cron(0 8 ? * 2#1 *)", "L, W and # are not run by leadflow"),
        ("cron(0 8 15W * ? *)", "L, W and # are not run by leadflow"),
        ("cron(0 17-9 ? * MON *)", "runs backwards"),
        ("cron(0 8 31 2 ? *)", "names no day that exists"),
    ],
)
def test_an_expression_eventbridge_would_refuse_or_leadflow_does_not_run_is_refused_saying_why(
    expression: str, names: str
) -> None:
    with pytest.raises(CronError, match=names.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse(expression)


def test_july_and_wednesday_by_name_are_not_taken_for_l_or_w() -> None:
    assert parse("cron(0 8 ? JUL WED *)").months == frozenset({7})


def test_the_previous_moment_is_the_last_one_at_or_before_in_the_time_zone() -> None:
    cron = parse("cron(0 8 ? * MON *)")
    wednesday = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert previous_moment(cron, BERLIN, wednesday) == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    assert previous_moment(cron, BERLIN, datetime(2026, 11, 30, 7, 0, tzinfo=UTC)) == datetime(
        2026, 11, 30, 7, 0, tzinfo=UTC
    )
    assert previous_moment(parse("cron(0 8 1 1 ? 2030)"), UTC_ZONE, wednesday) is None

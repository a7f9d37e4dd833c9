"""When a nurture step goes out (leadflow.nurture.timing): the lead's send window, its time zone, the frequency cap."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.lead.profile import LeadProfile
from leadflow.nurture.timing import (
    MAIN_ZONE_OF_COUNTRY,
    SEARCH_LIMIT_DAYS,
    FrequencyCap,
    SendWindow,
    lead_zone,
    send_time,
    zone_of_country,
)
from leadflow.route.calendar import WEEKDAY_NAMES, zone_named

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = SendWindow(time(9), time(17), WEEKDAYS)
EVERY_DAY = WEEKDAY_NAMES
TWO_A_WEEK = FrequencyCap(most=2, days=7)

# 2026-05-04 is a Monday, 2026-05-09 a Saturday. New York goes from EST to EDT at 02:00 on Sunday
# 2026-03-08 (02:00-02:59 never happens) and back at 02:00 EDT on Sunday 2026-11-01 (01:00-01:59 twice).


def new_york(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK, fold=fold)


def lead(**fields: object) -> LeadProfile:
    return {"email": "ada@example.com", **fields}  # type: ignore[typeddict-item]


# The send window, in the lead's time zone


def test_tokyo_and_new_york_leads_due_at_one_instant_go_out_in_their_own_office_hours() -> None:
    due = datetime(2026, 5, 5, 14, 0, tzinfo=UTC)  # Tuesday 23:00 in Tokyo, 10:00 in New York
    in_tokyo = send_time(due, TOKYO, OFFICE, [], TWO_A_WEEK)
    in_new_york = send_time(due, NEW_YORK, OFFICE, [], TWO_A_WEEK)
    assert in_tokyo == datetime(2026, 5, 6, 9, 0, tzinfo=TOKYO)
    assert in_new_york == due
    assert in_tokyo != in_new_york


def test_a_step_due_at_3_in_the_morning_waits_until_9() -> None:
    assert send_time(new_york(2026, 5, 5, 3), NEW_YORK, OFFICE, [], TWO_A_WEEK) == new_york(2026, 5, 5, 9)


def test_a_step_due_on_saturday_waits_until_monday_at_9() -> None:
    assert send_time(new_york(2026, 5, 9, 11), NEW_YORK, OFFICE, [], TWO_A_WEEK) == new_york(2026, 5, 11, 9)


def test_a_step_due_inside_the_window_goes_out_when_due() -> None:
    due = new_york(2026, 5, 5, 11, 20)
    sent_at = send_time(due, NEW_YORK, OFFICE, [], TWO_A_WEEK)
    assert sent_at == due
    assert sent_at.tzinfo is UTC


def test_a_step_due_at_the_window_closing_waits_for_the_next_opening() -> None:
    assert send_time(new_york(2026, 5, 5, 17), NEW_YORK, OFFICE, [], TWO_A_WEEK) == new_york(2026, 5, 6, 9)


# The frequency cap, across every sequence


def test_the_cap_holds_a_third_send_until_the_oldest_leaves_it() -> None:
    sent = [new_york(2026, 5, 5, 16, 30), new_york(2026, 5, 6, 10)]
    due = new_york(2026, 5, 11, 9)  # both sends are within the 7 days before
    assert send_time(due, NEW_YORK, OFFICE, sent, TWO_A_WEEK) == new_york(2026, 5, 12, 16, 30)


def test_a_send_freed_by_the_cap_outside_the_window_waits_for_the_next_opening() -> None:
    sent = [new_york(2026, 5, 1, 18, 30), new_york(2026, 5, 5, 10)]  # the first under an earlier, wider window
    due = new_york(2026, 5, 7, 10)
    # The oldest leaves the cap on Friday 18:30, after the window closed: Monday 09:00 it goes out.
    assert send_time(due, NEW_YORK, OFFICE, sent, TWO_A_WEEK) == new_york(2026, 5, 11, 9)


def test_the_cap_counts_a_send_for_exactly_its_days() -> None:
    sent = [new_york(2026, 5, 4, 10), new_york(2026, 5, 5, 10)]
    assert send_time(new_york(2026, 5, 11, 10), NEW_YORK, OFFICE, sent, TWO_A_WEEK) == new_york(2026, 5, 11, 10)
    assert send_time(new_york(2026, 5, 11, 9, 59), NEW_YORK, OFFICE, sent, TWO_A_WEEK) == new_york(2026, 5, 11, 10)


def test_sends_older_than_the_cap_do_not_hold_a_step() -> None:
    sent = [new_york(2026, 4, 1, 10), new_york(2026, 4, 2, 10), new_york(2026, 4, 3, 10)]
    due = new_york(2026, 5, 5, 10)
    assert send_time(due, NEW_YORK, OFFICE, sent, TWO_A_WEEK) == due


# DST: wall times that are skipped or repeated (see the module's docstring)


def test_a_window_inside_the_skipped_hour_does_not_open_on_the_spring_forward_day() -> None:
    window = SendWindow(time(2), time(3), EVERY_DAY)
    assert send_time(new_york(2026, 3, 8), NEW_YORK, window, [], TWO_A_WEEK) == new_york(2026, 3, 9, 2)


def test_a_window_opening_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    window = SendWindow(time(2, 30), time(4), EVERY_DAY)
    sent_at = send_time(new_york(2026, 3, 8), NEW_YORK, window, [], TWO_A_WEEK)
    assert sent_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 02:00 EST became 03:00 EDT
    assert sent_at.astimezone(NEW_YORK).time() == time(3)


def test_a_window_closing_in_the_skipped_hour_closes_when_the_clocks_jump() -> None:
    window = SendWindow(time(1, 30), time(2, 30), EVERY_DAY)
    assert send_time(new_york(2026, 3, 8, 1, 45), NEW_YORK, window, [], TWO_A_WEEK) == new_york(2026, 3, 8, 1, 45)
    jump = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert send_time(jump, NEW_YORK, window, [], TWO_A_WEEK) == new_york(2026, 3, 9, 1, 30)


def test_a_window_in_the_repeated_hour_opens_once_on_its_first_pass() -> None:
    window = SendWindow(time(1), time(1, 30), EVERY_DAY)
    first_pass = send_time(new_york(2026, 11, 1), NEW_YORK, window, [], TWO_A_WEEK)
    assert first_pass == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)  # 01:00 EDT
    second_pass = new_york(2026, 11, 1, 1, 10, fold=1)  # 01:10 EST, the wall clock's second time round
    assert send_time(second_pass, NEW_YORK, window, [], TWO_A_WEEK) == new_york(2026, 11, 2, 1)


def test_office_hours_follow_the_local_clock_across_a_dst_change() -> None:
    # A week before the change and a week after, 09:00 local is a different UTC hour.
    before = send_time(new_york(2026, 3, 6, 3), NEW_YORK, OFFICE, [], TWO_A_WEEK)
    after = send_time(new_york(2026, 3, 9, 3), NEW_YORK, OFFICE, [], TWO_A_WEEK)
    assert (before.hour, after.hour) == (14, 13)


# Bounds and rejected input


def test_a_step_that_cannot_go_out_within_the_search_limit_raises() -> None:
    yearly = FrequencyCap(most=1, days=366)
    due = new_york(2026, 5, 5, 10)
    sent = [due, due + timedelta(days=366)]  # each holds the cap a year: nothing fits for 732 days
    with pytest.raises(ValueError, match=f"no send time within {SEARCH_LIMIT_DAYS} days"):
        send_time(due, NEW_YORK, OFFICE, sent, yearly)


def test_a_window_with_no_weekday_is_rejected() -> None:
    with pytest.raises(ValueError, match="SendWindow weekdays is empty"):
        SendWindow(time(9), time(17), ())


def test_a_window_with_an_unknown_weekday_is_rejected() -> None:
    with pytest.raises(ValueError, match="SendWindow weekdays: 'monday' is not a weekday"):
        SendWindow(time(9), time(17), ("monday",))


def test_a_window_that_ends_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match="SendWindow start 17:00 must be before end 09:00"):
        SendWindow(time(17), time(9), WEEKDAYS)


def test_window_weekdays_are_kept_in_week_order_whatever_their_case() -> None:
    assert SendWindow(time(9), time(17), {"FRI", "mon", " wed"}).weekdays == ("mon", "wed", "fri")


@pytest.mark.parametrize(("most", "days"), [(0, 7), (2, 0), (2, 367), (True, 7)])
def test_a_cap_that_could_never_or_always_hold_a_step_is_rejected(most: int, days: int) -> None:
    with pytest.raises(ValueError, match="FrequencyCap"):
        FrequencyCap(most=most, days=days)


def test_a_due_time_without_a_zone_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"due .* timezone-aware"):
        send_time(datetime(2026, 5, 5, 10), NEW_YORK, OFFICE, [], TWO_A_WEEK)


# The lead's time zone


def test_lead_zone_comes_from_the_custom_country_field() -> None:
    assert lead_zone(lead(custom={"country": "jp"}), "Europe/Berlin", "DE") == TOKYO


def test_lead_zone_comes_from_a_japanese_phone_number() -> None:
    assert lead_zone(lead(phone="+81 3-1234-5678"), "Europe/Berlin", "DE") == TOKYO


def test_lead_zone_comes_from_a_north_american_phone_number() -> None:
    assert lead_zone(lead(phone="+1 212 736 5000"), "Europe/Berlin", "DE") == NEW_YORK
    assert lead_zone(lead(phone="+1 416 979 5000"), "Europe/Berlin", "DE") == ZoneInfo("America/Toronto")


def test_a_national_phone_number_is_read_in_the_clients_phone_region() -> None:
    assert lead_zone(lead(phone="089 1234567"), "America/New_York", "DE") == BERLIN


def test_the_custom_country_field_wins_over_the_phone() -> None:
    assert lead_zone(lead(custom={"country": "DE"}, phone="+81 3-1234-5678"), "UTC", "US") == BERLIN


@pytest.mark.parametrize("profile", [lead(), lead(custom={"country": "Atlantis"}), lead(custom={"country": "XX"})])
def test_a_lead_with_no_known_country_gets_the_clients_default_zone(profile: LeadProfile) -> None:
    assert lead_zone(profile, "Europe/Paris", "FR") == ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("country", "zone"),
    [
        ("US", "America/New_York"),
        ("JP", "Asia/Tokyo"),
        ("DE", "Europe/Berlin"),
        ("GB", "Europe/London"),
        ("AU", "Australia/Sydney"),
        ("BR", "America/Sao_Paulo"),
        ("CA", "America/Toronto"),
        ("RU", "Europe/Moscow"),
        ("CN", "Asia/Shanghai"),
        ("IN", "Asia/Kolkata"),
        ("MX", "America/Mexico_City"),
        ("UA", "Europe/Kyiv"),
    ],
)
def test_a_country_gets_the_zone_where_most_of_its_business_is(country: str, zone: str) -> None:
    assert zone_of_country()[country] == zone


def test_every_country_zone_is_a_known_zone_and_every_override_a_zone_of_its_country() -> None:
    for zone in zone_of_country().values():
        zone_named(zone)
    assert len(zone_of_country()) > 240  # every ISO country the tz database knows
    for zone in MAIN_ZONE_OF_COUNTRY.values():
        zone_named(zone)


# Properties: whatever the due time, zone, window, cap and history


ZONES = [TOKYO, NEW_YORK, BERLIN, ZoneInfo("Asia/Kolkata"), ZoneInfo("Australia/Sydney")]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@st.composite
def windows(draw: st.DrawFn) -> SendWindow:
    # Openings from 04:00: these zones change clocks at 02:00-03:00, whose cases have their own tests above,
    # so a wall-clock reading of "inside the window" is exact here.
    start = draw(st.integers(4 * 60, 22 * 60))
    end = draw(st.integers(start + 1, 23 * 60 + 59))
    days = draw(st.sets(st.sampled_from(WEEKDAY_NAMES), min_size=1))
    return SendWindow(time(*divmod(start, 60)), time(*divmod(end, 60)), days)


def fits(moment: datetime, zone: ZoneInfo, window: SendWindow, sent: list[datetime], cap: FrequencyCap) -> bool:
    local = moment.astimezone(zone)
    counted = [s for s in sent if moment - timedelta(days=cap.days) < s <= moment]
    return (
        WEEKDAY_NAMES[local.weekday()] in window.weekdays
        and window.start <= local.time() < window.end
        and len(counted) < cap.most
    )


@settings(max_examples=300, deadline=None)
@given(
    due_minutes=st.integers(0, 3 * 365 * 24 * 60),
    zone=st.sampled_from(ZONES),
    window=windows(),
    history=st.lists(st.integers(0, 30 * 24 * 60), max_size=8),
    most=st.integers(1, 4),
    days=st.integers(1, 14),
)
def test_a_send_time_is_the_earliest_moment_from_due_in_the_window_and_under_the_cap(
    due_minutes: int, zone: ZoneInfo, window: SendWindow, history: list[int], most: int, days: int
) -> None:
    due = EPOCH + timedelta(minutes=due_minutes)
    sent = [due - timedelta(minutes=ago) for ago in history]
    cap = FrequencyCap(most=most, days=days)

    sent_at = send_time(due, zone, window, sent, cap)

    assert sent_at.tzinfo is UTC
    assert sent_at >= due
    assert fits(sent_at, zone, window, sent, cap)
    # The earliest: every moment the rules can start holding at (due, a window opening, a send leaving
    # the cap) before it fails one of them.
    openings = [
        datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
        for day in (due.astimezone(zone).date() + timedelta(days=n) for n in range((sent_at - due).days + 2))
    ]
    releases = [s + timedelta(days=days) for s in sent]
    earlier = [moment for moment in [due, *openings, *releases] if due <= moment < sent_at]
    assert not any(fits(moment, zone, window, sent, cap) for moment in earlier)

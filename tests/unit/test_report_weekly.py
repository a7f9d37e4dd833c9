"""The weekly report: which week a run covers, what its email says, and what a second run does not do again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest

from leadflow.aws.mailer import Attachment
from leadflow.config import ClientConfig
from leadflow.report.weekly import (
    StillSending,
    Week,
    email_html,
    email_text,
    send_weekly,
    week_before,
    weekly_marker,
    weekly_report,
)
from leadflow.route.notice import Email


def item(day: str, **figures: int) -> dict[str, Any]:
    return {"pk": "REPORT#source", "sk": f"{day}#00", **{k.replace("__", "|"): v for k, v in figures.items()}}


class Items:
    """Report items by day, as LeadsTable.report_items reads them (one dimension: source)."""

    def __init__(self, *items: dict[str, Any]):
        self.items = list(items)
        self.asked: list[tuple[str, str, str]] = []

    def report_items(self, dimension: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
        self.asked.append((dimension, first_day, last_day))
        return [i for i in self.items if first_day <= i["sk"][:10] <= last_day]


class Marks:
    """Claims as LeadsTable keeps them (its conditions are tested against moto in the integration tests)."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[str, str]] = {}  # marker -> (state, token)

    @property
    def kept(self) -> set[str]:
        return {marker for marker, (state, _) in self.states.items() if state == "done"}

    def claim(self, marker: str, token: str, now: datetime, until: datetime) -> str:
        state, holder = self.states.get(marker, ("", ""))
        if state == "done":
            return "done"
        if state == "claimed" and holder != token:
            return "busy"
        self.states[marker] = ("claimed", token)
        return "claimed"

    def settle(self, marker: str, now: datetime) -> None:
        self.states[marker] = ("done", "")

    def release(self, marker: str, token: str) -> None:
        self.states[marker] = ("released", "")


class Outbox:
    """The mailer's part: each email sent, with its attachment's name and bytes (or SES refusing them all)."""

    def __init__(self, refuse: bool = False) -> None:
        self.sent: list[tuple[Email, str, bytes]] = []
        self.refuse = refuse

    def send(self, email: Email, *, attachments: Sequence[Attachment]) -> str:
        if self.refuse:
            raise RuntimeError("SES is unavailable")
        [attached] = attachments
        self.sent.append((email, attached.filename, attached.data))
        return "message-id"


class Archive:
    def __init__(self) -> None:
        self.objects: dict[str, str] = {}

    def put_csv(self, key: str, body: str) -> str:
        self.objects[key] = body
        return f"s3://reports/{key}"


CONFIG = ClientConfig.model_validate(
    {"name": "demo", "display_name": "Demo Company",
     "capture": {"allowed_origins": ["https://demo.example"], "thank_you_url": "https://demo.example/thanks"}}
)  # fmt: skip
WEEK = Week(date(2026, 11, 16), date(2026, 11, 22))
UNTIL = datetime(2026, 11, 23, 7, 2, tzinfo=UTC)  # when a run's claims run out


def test_a_monday_morning_run_covers_monday_to_sunday_of_the_week_before() -> None:
    monday_eight_in_berlin = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
    monday_eight_in_new_york = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    last_week = Week(date(2026, 11, 23), date(2026, 11, 29))
    assert week_before(monday_eight_in_berlin, "Europe/Berlin") == last_week
    assert week_before(monday_eight_in_new_york, "America/New_York") == last_week


def test_a_run_whose_utc_day_is_not_over_reports_the_seven_utc_days_before_it() -> None:
    # Monday 08:00 in Sydney is Sunday 21:00 UTC: Sunday's UTC capture day still has three hours to go, so the
    # week is Sunday to Saturday, and next week's email has that Sunday whole.
    monday_eight_in_sydney = datetime(2026, 11, 29, 21, 0, tzinfo=UTC)
    assert week_before(monday_eight_in_sydney, "Australia/Sydney") == Week(date(2026, 11, 22), date(2026, 11, 28))
    assert week_before(monday_eight_in_sydney + timedelta(days=7), "Australia/Sydney").first == date(2026, 11, 29)


def test_the_report_reads_the_week_and_the_week_before_by_source_and_compares_them() -> None:
    items = Items(
        item("2026-11-10", captured__google=5, won__google=1),
        item("2026-11-17", captured__google=8, captured__partner=2, won__google=2, **{"revenue:EUR__google": 250000}),
    )
    report = weekly_report(items, CONFIG, WEEK)

    assert items.asked == [("source", "2026-11-16", "2026-11-22"), ("source", "2026-11-09", "2026-11-15")]
    assert report.by_source.total.get("captured") == 10
    assert report.before.get("captured") == 5
    text = email_text(report)
    assert "Captured: 10 (+100%)" in text
    assert "Won: 2 (+100%)" in text
    assert "Revenue: 2,500.00 EUR" in text
    assert report.email("ada@demo.example").subject == "Demo Company: leads of 16 to 22 Nov 2026"


def test_what_a_website_sent_is_text_in_the_email_never_markup() -> None:
    items = Items(item("2026-11-17", **{'captured__<img src=x onerror="alert(1)">': 3}))
    page = email_html(weekly_report(items, CONFIG, WEEK))

    assert "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


def test_the_funnel_chart_draws_each_stage_as_wide_as_its_share_of_the_captured() -> None:
    items = Items(item("2026-11-17", captured__google=10, marketing_qualified__google=5, sales_ready__google=1))
    page = email_html(weekly_report(items, CONFIG, WEEK))

    assert 'width="300"' in page  # captured: the whole bar
    assert 'width="150"' in page  # marketing-qualified: half
    assert 'width="30"' in page  # sales-ready: a tenth
    assert "5 (50%)" in page  # each stage's share of the one before
    assert "1 (20%)" in page


def test_a_week_with_no_leads_is_still_a_report_that_says_so() -> None:
    report = weekly_report(Items(), CONFIG, WEEK)

    assert "Captured: 0 (-)" in email_text(report)
    assert report.csv().splitlines()[-1].startswith("(all),,0,")


def test_each_recipient_is_emailed_once_per_week_and_the_csv_is_kept_each_run() -> None:
    report = weekly_report(Items(item("2026-11-17", captured__google=4)), CONFIG, WEEK)
    outbox, marks, archive = Outbox(), Marks(), Archive()

    first = send_weekly(report, ["ann@demo.example", "ben@demo.example"], outbox, marks, archive, UNTIL)
    again = send_weekly(report, ["ann@demo.example", "ben@demo.example", "cy@demo.example"], outbox, marks, archive,
                        UNTIL)  # fmt: skip
    sent = outbox.sent

    assert (first["sent"], again["sent"], again["already_sent"]) == (2, 1, 2)
    assert [email.to for email, _, _ in sent] == ["ann@demo.example", "ben@demo.example", "cy@demo.example"]
    assert list(archive.objects) == ["weekly/2026-11-16_2026-11-22/leadflow-funnel-by-source-2026-11-16-2026-11-22.csv"]
    assert sent[0][2].decode() == archive.objects[report.archive_key]
    assert not [marker for marker in marks.kept if "@" in marker]  # no address in the table's keys


def test_a_failed_send_gives_its_claim_back_so_the_retried_run_sends_it() -> None:
    report = weekly_report(Items(), CONFIG, WEEK)
    marks = Marks()

    with pytest.raises(RuntimeError):
        send_weekly(report, ["ann@demo.example"], Outbox(refuse=True), marks, Archive(), UNTIL)
    assert marks.kept == set()
    assert list(marks.states.values()) == [("released", "")]  # claimed again by the retried run at once


def test_a_recipient_another_run_is_sending_to_is_left_to_it_and_this_run_fails_to_be_retried() -> None:
    report = weekly_report(Items(), CONFIG, WEEK)
    marks, outbox = Marks(), Outbox()
    marks.states[weekly_marker(WEEK, "ann@demo.example")] = ("claimed", "another-run")

    with pytest.raises(StillSending, match="1 recipient"):
        send_weekly(report, ["ann@demo.example", "ben@demo.example"], outbox, marks, Archive(), UNTIL)
    assert [email.to for email, _, _ in outbox.sent] == ["ben@demo.example"]  # the others are sent all the same


@pytest.mark.parametrize(
    ("report", "names"),
    [
        ({"weekly": "cron(0 8 * * MON *)"}, "exactly one of day-of-month and day-of-week"),
        ({"weekly": "every monday"}, "is not a cron expression"),
        ({"timezone": "Berlin"}, 'time zone "Berlin" is not known'),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"keep_days": 3}, "keep_days"),
    ],
)
def test_a_report_setting_that_cannot_run_is_refused_naming_it(report: dict[str, Any], names: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=names):
        ClientConfig.model_validate({**CONFIG.model_dump(exclude_defaults=True), "report": report})


def test_a_source_that_reads_as_a_link_is_shown_so_no_mail_client_links_it_and_kept_as_sent_in_the_csv() -> None:
    source = "https://login.bank.example/reset"
    report = weekly_report(Items(item("2026-11-17", **{f"captured__{source}": 2})), CONFIG, WEEK)

    shown = email_html(report) + email_text(report)
    assert source not in shown
    assert "login.bank.example" not in shown
    assert "https:\u2215\u2215login\u2024bank\u2024example\u2215reset" in email_text(report)  # look-alikes
    assert source in report.csv()


@pytest.mark.parametrize(
    ("cron", "timezone"),
    [
        ("cron(0 10 ? * MON *)", "Australia/Sydney"),
        ("cron(30 0 ? * MON *)", "Europe/London"),
        ("cron(0 8 ? * MON *)", "Europe/Berlin"),
        ("cron(0 20 ? * SUN *)", "America/New_York"),
        ("cron(0 6 ? * MON *)", "Pacific/Auckland"),
        ("cron(0 8 ? * MON *)", "UTC"),
    ],
)
def test_a_years_weekly_runs_report_each_utc_day_once_across_both_clock_changes(cron: str, timezone: str) -> None:
    from leadflow.cron import next_moment, parse
    from leadflow.route.calendar import zone_named

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    weeks = []
    for _ in range(60):
        found = next_moment(parse(cron), zone_named(timezone), moment)
        assert found is not None
        weeks.append(week_before(found, timezone))
        assert weeks[-1].last < found.astimezone(UTC).date()  # a UTC day reported is over
        moment = found
    assert all(later.first == earlier.last + timedelta(days=1) for earlier, later in pairwise(weeks))


def test_a_mark_grant_without_a_key_prefix_or_a_prefix_on_another_grant_is_refused() -> None:
    from leadflow.definition import Grant

    with pytest.raises(ValueError, match="mark needs one"):
        Grant("leads", "mark")
    with pytest.raises(ValueError, match="a key_prefix goes with mark"):
        Grant("leads", "apply_changes", key_prefix="LEAD#")

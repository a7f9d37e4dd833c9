"""The weekly report, end to end on moto: the report_weekly function, unchanged, run as EventBridge Scheduler runs it.

The same known leads as the report's hand-count test go through every stage; the function then
gets the schedule's input for the coming Monday 08:00 in Berlin (the demo's `[report]`), whose
week holds today. The email (SES's outbox in moto) and the CSV kept in the reports bucket (moto's
S3) must carry the hand-counted figures, and a second run for the same week must email no one again.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.definition import SCHEDULER_INPUT
from leadflow.local.scheduler import event_time, schedule_arn, scheduler_input
from tests.integration.conftest import Stack
from tests.integration.test_report_api import drive
from tests.support import CLIENTS, load_event, sent_emails

BERLIN = ZoneInfo("Europe/Berlin")


def coming_monday_at_eight_in_berlin() -> datetime:
    """The demo's weekly moment after today (UTC, the day the leads are dated by): its week holds today."""
    today = datetime.now(UTC).date()
    monday = today + timedelta(days=(7 - today.weekday()) or 7)
    return datetime.combine(monday, time(8), BERLIN).astimezone(UTC)


def scheduler_event(moment: datetime) -> dict[str, Any]:
    """What EventBridge Scheduler sends the function (events/report_weekly-scheduled.json), due at `moment`."""
    return {**load_event("report_weekly-scheduled.json"), "scheduled_time": event_time(moment)}


def test_the_weekly_report_emails_the_hand_counted_funnel_with_its_csv_and_keeps_the_csv_in_the_bucket(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    drive(stack, lambda_context)
    moment = coming_monday_at_eight_in_berlin()
    event = scheduler_event(moment)
    local = scheduler_input(moment, schedule_arn("eu-west-1", "leadflow-demo-weekly-report"))
    assert set(event) == set(local) == set(SCHEDULER_INPUT)  # the sample, and what `leadflow local` sends
    assert local == event

    answer = stack.handler("report_weekly")(event, lambda_context)

    first, last = (moment.astimezone(BERLIN).date() - timedelta(days=n) for n in (7, 1))
    key = f"weekly/{first}_{last}/leadflow-funnel-by-source-{first}-{last}.csv"
    bucket = stack.resources.bucket_names["reports"]
    assert answer == {"week": f"{first}..{last}", "kept_at": f"s3://{bucket}/{key}", "sent": 1,
                      "already_sent": 0, "captured": 8}  # fmt: skip
    [email] = sent_emails(moto_endpoint)
    assert email["To"] == "sales-manager@demo.example"
    assert email["Subject"].startswith("Demo Company: leads of ")
    html_part = email.get_body(preferencelist=("html",))
    assert html_part is not None
    page = html_part.get_content()
    assert not [tag for tag in ("<svg", "<style", "<script") if tag in page]  # what mail clients drop
    assert ">Funnel</h2>" in page
    assert ">google</td>" in page
    [attachment] = list(email.iter_attachments())
    assert attachment.get_filename() == f"leadflow-funnel-by-source-{first}-{last}.csv"
    attached = attachment.get_content()
    attached = attached.decode("utf-8") if isinstance(attached, bytes) else attached
    kept = stack.session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    assert attached == kept
    table = list(csv.DictReader(io.StringIO(kept)))
    assert [(row["source"], row["captured"], row["sales_ready"], row["won"]) for row in table] == [
        ("google", "4", "2", "1"), ("linkedin", "3", "2", "0"), ("partner.example", "1", "1", "1"),
        ("(all)", "8", "5", "2"),
    ]  # fmt: skip
    assert (table[-1]["revenue_EUR"], table[-1]["revenue_USD"]) == ("1000.00", "500.00")


def test_a_second_run_for_the_same_week_emails_no_one_again_and_keeps_the_same_csv(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    drive(stack, lambda_context)
    event = scheduler_event(coming_monday_at_eight_in_berlin())
    first = stack.handler("report_weekly")(event, lambda_context)

    second = stack.handler("report_weekly")(json.loads(json.dumps(event)), lambda_context)

    assert (second["sent"], second["already_sent"], second["kept_at"]) == (0, 1, first["kept_at"])
    assert len(sent_emails(moto_endpoint)) == 1


def test_the_next_weeks_run_reports_the_next_week_and_emails_it(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    moment = coming_monday_at_eight_in_berlin()
    stack.handler("report_weekly")(scheduler_event(moment), lambda_context)

    later = stack.handler("report_weekly")(scheduler_event(moment + timedelta(days=7)), lambda_context)

    assert (later["sent"], later["captured"]) == (1, 0)  # no lead captured in that week: a report all the same
    assert len(sent_emails(moto_endpoint)) == 2


def test_leadflow_report_weekly_shows_the_report_and_sends_it_with_send_once(
    stack: Stack, lambda_context: Any, moto_endpoint: str, tmp_path: Path
) -> None:
    drive(stack, lambda_context)
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    flags = ["--local", "--endpoint", moto_endpoint, "--clients-dir", str(tmp_path)]
    today = datetime.now(UTC).date()
    week = ["--week-ending", (today + timedelta(days=3)).isoformat()]

    shown = CliRunner().invoke(app, ["report", "weekly", *week, "--html", str(tmp_path / "email.html"), *flags])

    assert shown.exit_code == 0, shown.output
    assert "Captured: 8" in shown.output
    assert "Not sent. With --send" in shown.output
    assert "sales-manager@demo.example" in shown.output
    assert ">Funnel</h2>" in (tmp_path / "email.html").read_text()
    assert sent_emails(moto_endpoint) == []
    sent = CliRunner().invoke(app, ["report", "weekly", *week, "--send", *flags])
    assert sent.exit_code == 0, sent.output
    assert "emailed 1 recipient(s), 0 had it already" in " ".join(sent.output.split())
    again = CliRunner().invoke(app, ["report", "weekly", *week, "--send", *flags])
    assert "emailed 0 recipient(s), 1 had it already" in " ".join(again.output.split())
    assert len(sent_emails(moto_endpoint)) == 1


def test_a_claim_is_taken_once_until_settled_given_back_when_released_and_taken_over_when_its_run_is_over(
    stack: Stack,
) -> None:
    table, now = stack.store(), datetime.now(UTC)
    marker, first_run = "weekly-report#w1", now + timedelta(minutes=2)
    assert table.claim(marker, "run-1", now, until=first_run) == "claimed"
    assert table.claim(marker, "run-1", now, until=first_run) == "claimed"  # its own request, retried
    assert table.claim(marker, "run-2", now + timedelta(minutes=1), until=now + timedelta(minutes=3)) == "busy"
    assert table.claim(marker, "run-3", first_run + timedelta(seconds=1), until=now + timedelta(minutes=5)) == (
        "claimed"  # run-1 is over without settling (it died): taken over
    )
    table.release(marker, "run-1")  # a late release by the run that died leaves run-3's claim alone
    assert table.claim(marker, "run-4", now + timedelta(minutes=4), until=now + timedelta(minutes=6)) == "busy"
    table.release(marker, "run-3")  # run-3's send failed: the next run may claim it at once
    assert table.claim(marker, "run-5", now + timedelta(minutes=4), until=now + timedelta(minutes=6)) == "claimed"
    table.settle(marker, now + timedelta(minutes=4))
    assert table.claim(marker, "run-6", now + timedelta(days=30), until=now + timedelta(days=31)) == "done"

"""`leadflow local bounce|complain EMAIL`: SES's part played on moto, and `leadflow local` still starting the stack.

What the command puts on moto's default bus reaches the stack as in AWS: through the stack's
rule there (source aws.ses, its configuration set) to its SES events queue.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.nurture.ses_events import Suppression, read_ses_event
from tests.integration.conftest import Stack, free_port
from tests.support import CLIENTS, SAMPLE_IDS, load_event

DANA = "dana.whitfield@northwind-logistics.com"  # stored by the intake sample


@pytest.fixture
def leads(stack: Stack, lambda_context: Any) -> Stack:
    """The stack with the intake sample's two people stored as leads."""
    assert stack.handler("intake")(load_event("intake-sqs-batch.json"), lambda_context) == {"batchItemFailures": []}
    return stack


def delivered(stack: Stack) -> list[dict[str, Any]]:
    """The SES events the stack's rule copied to its queue."""
    return [json.loads(message["Body"]) for message in stack.queue_messages("ses-events")]


def local(tmp_path: Path, *args: str, port: int) -> Result:
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    return CliRunner().invoke(app, ["local", *args, "--clients-dir", str(tmp_path), "--moto-port", str(port)])


def port_of(endpoint: str) -> int:
    return int(endpoint.rsplit(":", 1)[1])


def test_bounce_puts_the_event_ses_sends_on_the_default_bus(leads: Stack, moto_endpoint: str, tmp_path: Path) -> None:
    result = local(tmp_path, "bounce", DANA, port=port_of(moto_endpoint))
    assert result.exit_code == 0, result.output
    assert "suppresses the address within a few seconds" in result.output
    [event] = delivered(leads)
    assert (event["source"], event["detail-type"]) == ("aws.ses", "Email Bounced")
    lead_id = SAMPLE_IDS.lead_id(DANA)
    assert read_ses_event(event).suppressions == (Suppression(lead_id, "bounced", "bounce: Permanent/General (5.1.1)"),)


def test_complain_puts_a_complaint_about_the_leads_email(leads: Stack, moto_endpoint: str, tmp_path: Path) -> None:
    result = local(tmp_path, "complain", DANA.upper(), port=port_of(moto_endpoint))  # any case: one lead per person
    assert result.exit_code == 0, result.output
    [event] = delivered(leads)
    assert event["detail-type"] == "Email Complaint Received"
    lead_id = SAMPLE_IDS.lead_id(DANA)
    assert read_ses_event(event).suppressions == (Suppression(lead_id, "complained", "complaint: abuse"),)


def test_the_event_the_rule_delivers_takes_the_lead_out_of_nurture(
    leads: Stack, moto_endpoint: str, tmp_path: Path, lambda_context: Any
) -> None:
    local(tmp_path, "bounce", DANA, port=port_of(moto_endpoint))
    [event] = delivered(leads)
    record = {**load_event("ses_events-sqs-batch.json")["Records"][0], "body": json.dumps(event)}
    assert leads.handler("ses_events")({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
    profile = leads.store().get_profile(SAMPLE_IDS.lead_id(DANA))
    assert profile is not None
    assert profile["nurture"]["suppressed"]["reason"] == "bounced"  # type: ignore[typeddict-item]


def test_an_address_with_no_lead_is_refused_and_nothing_is_put(
    leads: Stack, moto_endpoint: str, tmp_path: Path
) -> None:
    result = local(tmp_path, "bounce", "nobody@example.com", port=port_of(moto_endpoint))
    assert result.exit_code == 1
    assert "No lead nobody@example.com in client demo" in result.stderr
    assert delivered(leads) == []


def test_without_a_running_stack_it_says_to_start_one(tmp_path: Path) -> None:
    result = local(tmp_path, "bounce", DANA, port=free_port())
    assert result.exit_code == 1
    assert "Is `leadflow local` serving" in result.stderr


def test_start_options_written_before_the_command_are_refused(tmp_path: Path) -> None:
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    result = CliRunner().invoke(app, ["local", "--fresh", "bounce", DANA, "--clients-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--fresh before `bounce` would start a stack" in result.stderr


def test_local_alone_still_starts_the_stack_with_its_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from leadflow.local import runtime, workers

    started: list[runtime.LocalOptions] = []

    class NotStarting:
        """Records what the stack was asked to be, then fails to start (a real start never returns to the test)."""

        def __init__(self, options: runtime.LocalOptions) -> None:
            started.append(options)

        def start(self) -> None:
            raise workers.WorkerStartError("not in this test")

        def stop(self) -> None:
            pass

    monkeypatch.setattr(runtime, "LocalStack", NotStarting)
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    result = CliRunner().invoke(app, ["local", "--fresh", "--clock", "60x", "--clients-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "A function could not start: not in this test" in result.stderr
    [options] = started
    assert (options.fresh, options.clock_speed, options.client_file) == (True, 60.0, tmp_path / "demo.toml")

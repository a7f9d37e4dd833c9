"""The SES events consumer, unchanged, with SQS batches of SES's EventBridge events, against moto."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.nurture.ses_events import ses_event
from tests.integration.conftest import Handler, Stack
from tests.integration.test_capture_metrics import emf_records
from tests.support import SAMPLE_IDS, load_event

DANA, SAM = "dana.whitfield@northwind-logistics.com", "sam.okafor@brightpath.io"  # the sample's two people


@pytest.fixture
def ses_events(stack: Stack, lambda_context: Any) -> Handler:
    """The handler, with the two sample people stored as leads (the intake sample)."""
    assert stack.handler("intake")(load_event("intake-sqs-batch.json"), lambda_context) == {"batchItemFailures": []}
    return stack.handler("ses_events")


def batch_of(*events: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch as Lambda delivers it, each body an SES event the rule copied from the default bus."""
    template = load_event("ses_events-sqs-batch.json")["Records"][0]
    records = []
    for n, event in enumerate(events):
        record = copy.deepcopy(template)
        record["messageId"], record["body"] = f"msg-{n}", json.dumps(event)
        records.append(record)
    return {"Records": records}


def email_event(kind: str, email: str, tagged: bool = True, **options: Any) -> dict[str, Any]:
    lead_id = SAMPLE_IDS.lead_id(email) if tagged else None
    return ses_event(kind, email, lead_id, "leadflow-demo", f"0102-{kind}-{email}", datetime.now(UTC), **options)  # type: ignore[arg-type]


def suppressed(stack: Stack, email: str) -> Any:
    profile = stack.store().get_profile(SAMPLE_IDS.lead_id(email))
    assert profile is not None
    return (profile.get("nurture") or {}).get("suppressed")


def test_the_sample_batch_takes_the_bounced_and_the_complaining_address_out_of_nurture(
    stack: Stack, ses_events: Handler, lambda_context: Any
) -> None:
    assert ses_events(load_event("ses_events-sqs-batch.json"), lambda_context) == {"batchItemFailures": []}
    assert suppressed(stack, DANA)["reason"] == "bounced"
    assert suppressed(stack, DANA)["detail"] == "bounce: Permanent/General (5.1.1)"
    assert suppressed(stack, SAM)["reason"] == "complained"
    lead = stack.store().get_lead(SAMPLE_IDS.lead_id(DANA))
    assert lead is not None
    assert [entry["type"] for entry in lead.timeline][-1] == "suppressed"


def test_a_redelivered_record_changes_nothing(stack: Stack, ses_events: Handler, lambda_context: Any) -> None:
    batch = load_event("ses_events-sqs-batch.json")
    ses_events(batch, lambda_context)
    before = stack.store().read(SAMPLE_IDS.lead_id(DANA))
    assert ses_events(batch, lambda_context) == {"batchItemFailures": []}
    assert stack.store().read(SAMPLE_IDS.lead_id(DANA)) == before


def test_a_bounce_of_an_email_without_the_lead_tag_changes_no_lead(
    stack: Stack, ses_events: Handler, lambda_context: Any
) -> None:
    before = stack.store().read(SAMPLE_IDS.lead_id(DANA))
    batch = batch_of(email_event("bounce", DANA, tagged=False), email_event("complaint", DANA, tagged=False))
    assert ses_events(batch, lambda_context) == {"batchItemFailures": []}
    assert stack.store().read(SAMPLE_IDS.lead_id(DANA)) == before


def test_a_soft_bounce_is_counted_but_leaves_the_lead_in_nurture(
    stack: Stack, ses_events: Handler, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert ses_events(batch_of(email_event("bounce", DANA, bounce_type="Transient")), lambda_context) == {
        "batchItemFailures": []
    }
    assert suppressed(stack, DANA) is None
    [record] = emf_records(capsys.readouterr().out)
    assert (record["EmailBounced"], record["EmailBouncedTransient"]) == ([1.0], [1.0])


def test_every_outcome_is_counted_under_the_metric_ops_read(
    stack: Stack, ses_events: Handler, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    batch = batch_of(email_event("bounce", DANA), email_event("complaint", SAM),
                     email_event("bounce", "ada@demo.example", tagged=False))  # fmt: skip
    ses_events(batch, lambda_context)
    [record] = emf_records(capsys.readouterr().out)
    assert (record["EmailBounced"], record["EmailComplained"], record["OwnerEmailBounced"]) == ([1.0],) * 3
    assert "EmailBouncedTransient" not in record


def test_no_address_reaches_the_log(
    stack: Stack, ses_events: Handler, lambda_context: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("INFO"):
        ses_events(load_event("ses_events-sqs-batch.json"), lambda_context)
    logged = repr([vars(record) for record in caplog.records if record.getMessage() == "ses event"])
    assert SAMPLE_IDS.lead_id(DANA) in logged  # the log names the lead by its id
    assert DANA not in logged
    assert SAM not in logged

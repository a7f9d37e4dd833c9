"""Qualification in the intake path: stages, reasons, timeline, and the hand-off to routing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.aws.queues import FifoQueue
from leadflow.qualify.changes import record_inquiry, requalify_lead
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record


def inquire(stack: Stack, n: int = 0, **body: Any) -> dict[str, Any]:
    message = json.loads(captured_record(stack, body, n=n)["body"])
    record_inquiry(message, stack.services(), stack.config.qualify)
    return stack.services().store.get_profile(message["lead_id"])


def handoffs(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in stack.queue_messages("routing")]


def test_hand_raise_is_sales_ready_and_handed_to_routing(stack: Stack) -> None:
    lead = inquire(stack, email="dana@northwind-logistics.com", inquiry_type="demo_request")
    assert lead["stage"] == "sales_ready"
    assert [h["lead_id"] for h in handoffs(stack)] == [lead["lead_id"]]
    assert stack.services().store.read(lead["lead_id"]).outbox == ()  # published and cleared


def test_stage_change_is_a_timeline_entry(stack: Stack) -> None:
    lead = inquire(stack, email="dana@northwind-logistics.com")
    timeline = stack.services().store.get_lead(lead["lead_id"]).timeline
    changes = [(e["from"], e["to"]) for e in timeline if e["type"] == "stage_changed"]
    assert changes == [("new", "nurture")]


def test_lead_crossing_the_threshold_later_is_handed_off_then_and_only_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[dict[str, Any]] = []
    original = FifoQueue.send

    def spy(self: FifoQueue, message: dict[str, Any], **ids: str) -> None:
        sent.append(message)
        original(self, message, **ids)

    monkeypatch.setattr(FifoQueue, "send", spy)
    first = inquire(stack, email="dana@northwind-logistics.com", job_title="VP Operations")
    assert (first["stage"], first["score"]["total"]) == ("nurture", 50)
    assert sent == []
    second = inquire(stack, n=1, email="dana@northwind-logistics.com")  # repeat inquiry: +15 engagement
    assert second["stage"] == "sales_ready"
    inquire(stack, n=2, email="dana@northwind-logistics.com", inquiry_type="demo_request")
    inquire(stack, n=3, email="dana@northwind-logistics.com")
    assert [m["lead_id"] for m in sent] == [second["lead_id"]]  # sent once, not merely deduplicated by SQS


def test_disposable_address_is_junk_kept_with_its_reasons_and_not_handed_off(stack: Stack) -> None:
    lead = inquire(stack, email="someone@mailinator.com", inquiry_type="demo_request")
    assert lead["stage"] == "junk"
    assert any("disposable" in r["rule"] and r["disqualify"] for r in lead["score"]["reasons"])
    assert handoffs(stack) == []


def test_restored_junk_is_qualified_again_and_can_be_handed_off(stack: Stack) -> None:
    lead = inquire(stack, email="someone@mailinator.com", inquiry_type="demo_request")
    applied = requalify_lead(lead["lead_id"], stack.services(), stack.config.qualify, "restored by ops", restore=True)
    change = applied.change
    assert change is not None
    assert change.profile["stage"] == "sales_ready"
    assert len(handoffs(stack)) == 1


def test_requalify_without_any_change_writes_nothing(stack: Stack) -> None:
    lead = inquire(stack, email="dana@northwind-logistics.com")
    now = datetime.fromisoformat(lead["qualified_at"]).astimezone(UTC)
    applied = requalify_lead(lead["lead_id"], stack.services(), stack.config.qualify, "rescore", now=now)
    assert applied.outcome == "unchanged"
    assert stack.services().store.read(lead["lead_id"]).version == 1


def test_reasons_in_the_stored_score_sum_to_the_total(stack: Stack) -> None:
    lead = inquire(stack, email="sam@gmail.com", job_title="Student", page_url="https://example.com/pricing")
    assert round(sum(r["points"] for r in lead["score"]["reasons"]), 1) == lead["score"]["total"]


def test_outbox_left_by_a_crash_is_published_when_the_message_is_redelivered(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = captured_record(stack, {"email": "dana@northwind-logistics.com", "inquiry_type": "demo_request"})
    message = json.loads(record["body"])
    with monkeypatch.context() as crash:
        crash.setattr("leadflow.lead.change.publish", lambda *a: (_ for _ in ()).throw(RuntimeError("crash")))
        with pytest.raises(RuntimeError):
            record_inquiry(message, stack.services(), stack.config.qualify)
    assert handoffs(stack) == []
    assert record_inquiry(message, stack.services(), stack.config.qualify).outcome == "duplicate"
    assert len(handoffs(stack)) == 1
    assert stack.services().store.read(message["lead_id"]).outbox == ()


def test_the_stored_lead_keeps_the_phone_as_sent_and_its_e164_form(stack: Stack) -> None:
    lead = inquire(stack, email="dana@northwind-logistics.com", phone="030 901820", page_url="https://example.de/")
    assert lead["phone"] == "030 901820"
    assert lead.get("phone_e164") is None  # no country code, and the demo's default region is US: it does not parse
    german = inquire(stack, n=1, email="jo@northwind-logistics.com", phone="+49 30 901820")
    assert (german["phone"], german["phone_e164"]) == ("+49 30 901820", "+4930901820")

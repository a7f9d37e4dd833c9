"""Nurture planning (leadflow.nurture.sequences): who enters which sequence, and when its next email goes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from leadflow.config import ClientConfig, NurtureSettings
from leadflow.lead.profile import LeadProfile
from leadflow.nurture.sequences import plan_nurture, record_sent

BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")
# Monday 30 November 2026, 10:00 in Berlin: inside the demo's 09:00-17:00 mon-fri send window there.
MONDAY_10_BERLIN = datetime(2026, 11, 30, 10, tzinfo=BERLIN)
STEP = {"subject": "Hello", "html": "<p>Hello</p>", "text": "Hello"}


def lead(**fields: Any) -> LeadProfile:
    profile = {"lead_id": "ld_" + "c" * 24, "email": "ines@hollow-freight.example", "stage": "nurture",
               "score": {"total": 40, "fit": 30, "engagement": 10}}  # fmt: skip
    return {**profile, **fields}  # type: ignore[return-value]


def with_nurture(config: ClientConfig, **nurture: Any) -> ClientConfig:
    settings = NurtureSettings.model_validate(
        {"default_timezone": "Europe/Berlin", "unsubscribe_mail_domain": "unsubscribe.demo.example", **nurture}
    )
    return config.model_copy(update={"nurture": settings})


def test_a_nurture_lead_enters_the_sequence_and_its_first_step_goes_now(demo_config: ClientConfig) -> None:
    plan = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN)
    assert plan.state["sequences"]["welcome"]["steps_sent"] == 0
    assert plan.next is not None
    assert (plan.next.sequence, plan.next.step, plan.next.send_at) == ("welcome", 0, MONDAY_10_BERLIN)


def test_the_second_step_is_due_its_delay_after_the_first_went_out(demo_config: ClientConfig) -> None:
    first = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN)
    assert first.next is not None
    sent = record_sent(first.state, first.next, MONDAY_10_BERLIN, demo_config.nurture)
    second = plan_nurture(lead(nurture=sent), demo_config, MONDAY_10_BERLIN + timedelta(minutes=5))
    assert second.next is not None
    assert (second.next.step, second.next.due_at) == (1, MONDAY_10_BERLIN + timedelta(days=3))
    assert second.next.send_at == second.next.due_at  # Thursday 10:00 in Berlin: inside the window


def test_a_lead_in_tokyo_gets_it_in_its_own_morning(demo_config: ClientConfig) -> None:
    late_in_tokyo = datetime(2026, 11, 30, 18, tzinfo=TOKYO)  # 10:00 in Berlin, after hours in Tokyo
    plan = plan_nurture(lead(phone="+81 3-1234-5678"), demo_config, late_in_tokyo)
    assert plan.next is not None
    assert plan.next.send_at == datetime(2026, 12, 1, 9, tzinfo=TOKYO)


def test_a_lead_that_became_sales_ready_leaves_its_sequences(demo_config: ClientConfig) -> None:
    entered = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN).state
    plan = plan_nurture(lead(stage="sales_ready", nurture=entered), demo_config, MONDAY_10_BERLIN)
    assert plan.state["sequences"]["welcome"]["ended"] == "stage sales_ready"
    assert plan.next is None


def test_a_suppressed_lead_leaves_every_sequence_and_gets_nothing(demo_config: ClientConfig) -> None:
    entered = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN).state
    entered["suppressed"] = {"reason": "unsubscribed", "at": "2026-11-30T09:01:00.000+00:00"}
    plan = plan_nurture(lead(nurture=entered), demo_config, MONDAY_10_BERLIN)
    assert plan.state["sequences"]["welcome"]["ended"] == "unsubscribed"
    assert plan.next is None


def test_the_frequency_cap_holds_across_two_sequences(demo_config: ClientConfig) -> None:
    config = with_nurture(demo_config, frequency_cap={"most": 1, "days": 7},
                          sequences=[{"name": "a", "steps": [STEP]}, {"name": "b", "steps": [STEP]}])  # fmt: skip
    first = plan_nurture(lead(), config, MONDAY_10_BERLIN)
    assert first.next is not None
    sent = record_sent(first.state, first.next, MONDAY_10_BERLIN, config.nurture)
    other = plan_nurture(lead(nurture=sent), config, MONDAY_10_BERLIN)
    assert other.next is not None
    assert other.next.sequence != first.next.sequence
    assert other.next.send_at == MONDAY_10_BERLIN + timedelta(days=7)  # held, not skipped


def test_a_sequence_with_conditions_takes_only_the_leads_they_hold_for(demo_config: ClientConfig) -> None:
    config = with_nurture(demo_config, sequences=[
        {"name": "japan", "when": [{"field": "country", "in": ["JP"]}], "steps": [STEP]},
    ])  # fmt: skip
    assert plan_nurture(lead(phone="+49 30 901820"), config, MONDAY_10_BERLIN).next is None
    assert plan_nurture(lead(phone="+81 3-1234-5678"), config, MONDAY_10_BERLIN).next is not None


def test_after_its_last_step_a_sequence_is_finished(demo_config: ClientConfig) -> None:
    config = with_nurture(demo_config, sequences=[{"name": "one", "steps": [STEP]}])
    first = plan_nurture(lead(), config, MONDAY_10_BERLIN)
    assert first.next is not None
    sent = record_sent(first.state, first.next, MONDAY_10_BERLIN, config.nurture)
    plan = plan_nurture(lead(nurture=sent), config, MONDAY_10_BERLIN + timedelta(days=30))
    assert (plan.state["sequences"]["one"]["ended"], plan.next) == ("finished", None)


def test_a_sequence_taken_out_of_the_client_file_ends_for_its_leads(demo_config: ClientConfig) -> None:
    entered = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN).state
    config = with_nurture(demo_config, sequences=[])
    plan = plan_nurture(lead(nurture=entered), config, MONDAY_10_BERLIN)
    assert (plan.state["sequences"]["welcome"]["ended"], plan.next) == ("removed", None)


def test_the_cap_keeps_only_the_sends_inside_its_window(demo_config: ClientConfig) -> None:
    first = plan_nurture(lead(), demo_config, MONDAY_10_BERLIN)
    assert first.next is not None
    old = record_sent(first.state, first.next, MONDAY_10_BERLIN - timedelta(days=30), demo_config.nurture)
    newer = record_sent(old, first.next, MONDAY_10_BERLIN, demo_config.nurture)
    assert newer["sent_at"] == ["2026-11-30T09:00:00.000+00:00"]
    assert datetime.fromisoformat(newer["sent_at"][0]) == MONDAY_10_BERLIN.astimezone(UTC)

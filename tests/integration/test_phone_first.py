"""Phone first: a marketing-qualified lead goes to the qualification team; the call's outcome decides."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.config import ClientConfig
from leadflow.follow_up.changes import Actor, FollowUp, FollowUpError, check_follow_up, follow_up_lead
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.qualify.changes import record_inquiry
from leadflow.route.changes import route_lead
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record
from tests.integration.test_route_handler import add_rep, roster

# Company email (25) + decision maker (25) = 50: marketing-qualified (30), not sales-ready (60).
MARKETING_QUALIFIED = {"email": "ines@hollow-freight.example", "job_title": "Director of Operations",
                       "first_name": "Ines", "inquiry_type": "contact"}  # fmt: skip


@pytest.fixture
def phone_first(stack: Stack) -> ClientConfig:
    return phone_first_client(stack)


def phone_first_client(stack: Stack) -> ClientConfig:
    """The demo client with an inside-sales team that calls marketing-qualified leads first (and its reps)."""
    data = stack.config.model_dump(by_alias=True)
    data["route"]["teams"]["inside-sales"] = {**data["route"]["teams"]["sales"], "strategy": "round_robin"}
    data["route"]["qualification_team"] = "inside-sales"
    config = ClientConfig.model_validate(data)
    add_rep(stack, "quinn", "inside-sales")
    add_rep(stack, "sara", "sales")
    return config


def hand_offs(stack: Stack, config: ClientConfig, body: dict[str, Any]) -> list[dict[str, Any]]:
    message = json.loads(captured_record(stack, body)["body"])
    applied = record_inquiry(message, stack.services(), config.qualify, phone_first=config.route.phone_first)
    assert applied.change is not None
    return [handoff.message for handoff in applied.change.handoffs]


def route(stack: Stack, config: ClientConfig, message: dict[str, Any]) -> Any:
    return route_lead(message, stack.services(), config, roster(stack), stack.store()).change.profile


def call_outcome(stack: Stack, config: ClientConfig, lead_id: str, action: str, **values: Any) -> None:
    follow_up = check_follow_up(FollowUp(action, **values), config)  # type: ignore[arg-type]
    quinn = Actor("rep", rep_id="quinn", name="Quinn")
    follow_up_lead(lead_id, follow_up, quinn, stack.services(), config, datetime.now(UTC))


def test_a_marketing_qualified_lead_goes_to_the_qualification_team_not_to_sales(
    stack: Stack, phone_first: ClientConfig
) -> None:
    [message] = hand_offs(stack, phone_first, MARKETING_QUALIFIED)
    assert message["purpose"] == "qualify"
    profile = route(stack, phone_first, message)
    assert (profile["stage"], profile["owner"], profile["team"]) == ("qualifying", "quinn", "inside-sales")
    assert profile["sla"]["due_at"]


def test_a_client_without_phone_first_keeps_marketing_qualified_leads_in_nurture(stack: Stack) -> None:
    assert hand_offs(stack, stack.config, MARKETING_QUALIFIED) == []


def test_the_qualifiers_sales_ready_hands_the_lead_to_sales_with_the_notes(
    stack: Stack, phone_first: ClientConfig
) -> None:
    [message] = hand_offs(stack, phone_first, MARKETING_QUALIFIED)
    lead_id = route(stack, phone_first, message)["lead_id"]
    call_outcome(stack, phone_first, lead_id, "sales_ready", note="Budget approved, wants a demo in March")
    called = stack.store().get_profile(lead_id)
    assert called["stage"] == "sales_ready"
    assert called["qualification"]["note"] == "Budget approved, wants a demo in March"
    [to_sales] = [json.loads(m["Body"]) for m in stack.queue_messages("routing") if "purpose" not in m["Body"]]
    profile = route(stack, phone_first, to_sales)
    assert (profile["stage"], profile["owner"], profile["team"]) == ("assigned", "sara", "sales")
    assert {rep.rep_id: rep.open_leads for rep in roster(stack).list_reps()} == {"quinn": 0, "sara": 1}


def test_not_yet_sends_the_lead_back_to_nurture_and_out_of_the_qualifiers_hands(
    stack: Stack, phone_first: ClientConfig
) -> None:
    [message] = hand_offs(stack, phone_first, MARKETING_QUALIFIED)
    lead_id = route(stack, phone_first, message)["lead_id"]
    call_outcome(stack, phone_first, lead_id, "not_yet", note="Call again after the budget round")
    profile = stack.store().get_profile(lead_id)
    assert (profile["stage"], profile.get("owner")) == ("nurture", None)
    assert roster(stack).get_rep("quinn").open_leads == 0  # type: ignore[union-attr]


def test_junk_needs_a_reason_and_only_a_lead_being_qualified_takes_a_call_outcome(
    stack: Stack, phone_first: ClientConfig
) -> None:
    [message] = hand_offs(stack, phone_first, MARKETING_QUALIFIED)
    lead_id = route(stack, phone_first, message)["lead_id"]
    with pytest.raises(FollowUpError, match="reason"):
        call_outcome(stack, phone_first, lead_id, "junk")
    call_outcome(stack, phone_first, lead_id, "junk", reason="not_a_fit")
    assert stack.store().get_profile(lead_id)["stage"] == "junk"
    ops = Actor("ops", name="ops")
    follow_up = check_follow_up(FollowUp("not_yet"), phone_first)
    with pytest.raises(InvalidTransition, match="a call outcome, for a lead being qualified"):
        follow_up_lead(lead_id, follow_up, ops, stack.services(), phone_first, datetime.now(UTC))

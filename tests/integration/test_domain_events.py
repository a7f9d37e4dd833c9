"""Contract: the domain events that leave the stack match their schemas in events/schemas/."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from leadflow.lead.lifecycle import STAGES
from leadflow.qualify.changes import record_inquiry
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record
from tests.support import EVENTS

SCHEMAS = {path.name.removesuffix(".schema.json"): path for path in (EVENTS / "schemas").glob("*.schema.json")}


@pytest.fixture
def tap(stack: Stack) -> Any:
    """Every event on the stack's bus, copied to a queue by an EventBridge rule, as a consumer would."""
    sqs, events = stack.session.client("sqs"), stack.session.client("events")
    url = sqs.create_queue(QueueName="event-tap")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.resources.bus_names["events"]
    events.put_rule(Name="tap", EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": "leadflow."}]}))
    events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            out += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
            )
        return out

    return received


def validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(SCHEMAS[name].read_text()), format_checker=FormatChecker())


def test_every_schema_is_a_valid_json_schema() -> None:
    assert set(SCHEMAS) == {
        "LeadQualified", "LeadStageChanged", "LeadAssigned", "LeadQueued",
        "LeadSlaReminder", "LeadSlaBreached", "LeadReassigned", "LeadEscalated",
        "LeadAccepted", "LeadRejected", "LeadContacted", "LeadMeetingBooked", "LeadOpportunityOpened", "LeadWon",
        "LeadLost", "LeadNoteAdded", "LeadCallOutcome", "LeadClaimed", "LeadSuppressed",
    }  # fmt: skip
    for path in SCHEMAS.values():
        Draft202012Validator.check_schema(json.loads(path.read_text()))


def test_schemas_list_exactly_the_lifecycle_stages() -> None:
    stage_enum = json.loads(SCHEMAS["LeadStageChanged"].read_text())["$defs"]["stage"]["enum"]
    assert tuple(stage_enum) == STAGES


def test_a_new_lead_publishes_events_that_match_their_schemas(stack: Stack, tap: Any) -> None:
    record = captured_record(stack, {"email": "dana@northwind-logistics.com", "inquiry_type": "demo_request"})
    record_inquiry(json.loads(record["body"]), stack.services(), stack.config.qualify)
    published = tap()
    assert sorted(e["detail-type"] for e in published) == ["LeadQualified", "LeadStageChanged"]
    for event in published:
        assert event["source"] == "leadflow.demo"
        errors = [e.message for e in validator(event["detail-type"]).iter_errors(event["detail"])]
        assert errors == [], event["detail-type"]


def test_qualified_event_reasons_sum_to_its_score(stack: Stack, tap: Any) -> None:
    record = captured_record(stack, {"email": "sam@gmail.com", "job_title": "Student"})
    record_inquiry(json.loads(record["body"]), stack.services(), stack.config.qualify)
    [qualified] = [e["detail"] for e in tap() if e["detail-type"] == "LeadQualified"]
    assert round(sum(r["points"] for r in qualified["reasons"]), 1) == qualified["score"]


def test_a_schema_rejects_an_event_missing_a_field() -> None:
    detail = {"client": "demo", "lead_id": "ld_" + "a" * 24, "from_stage": "new", "to_stage": "nurture", "at": "x"}
    assert list(validator("LeadStageChanged").iter_errors(detail))


def assert_valid(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert event["source"] == "leadflow.demo"
        errors = [e.message for e in validator(event["detail-type"]).iter_errors(event["detail"])]
        assert errors == [], event["detail-type"]


def test_routing_publishes_assigned_and_queued_events_that_match_their_schemas(stack: Stack, tap: Any) -> None:
    from tests.integration.test_route_handler import add_rep, route, sales_ready

    add_rep(stack, "ada", capacity=1)
    route(stack, sales_ready(stack, "lin@acme-robotics.example"))
    route(stack, sales_ready(stack, "kim@globex.example"))  # ada is full now: queued
    published = [e for e in tap() if e["detail-type"] in ("LeadAssigned", "LeadQueued")]
    assert sorted(e["detail-type"] for e in published) == ["LeadAssigned", "LeadQueued"]
    assert_valid(published)
    [queued] = [e["detail"] for e in published if e["detail-type"] == "LeadQueued"]
    assert queued["passed_over"] == [{"rep_id": "ada", "name": "Ada", "reason": "full at 1 of 1"}]


def test_the_sla_timer_publishes_events_that_match_their_schemas(stack: Stack, tap: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from leadflow.route.changes import route_lead
    from leadflow.route.sla import run_sla
    from tests.integration.test_route_handler import add_rep, roster, sales_ready

    add_rep(stack, "ada")
    add_rep(stack, "bob")
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    message = sales_ready(stack, "lin@acme-robotics.example")
    routed = route_lead(message, stack.services(), stack.config, roster(stack), stack.store(), now=start)
    lead_id = routed.change.profile["lead_id"]
    for minutes in (15, 30, 60):  # the reminder, the first deadline (reassigned), the second (escalated)
        run_sla(lead_id, stack.services(), stack.config, roster(stack), start + timedelta(minutes=minutes))
    published = [e for e in tap() if e["detail-type"].startswith(("LeadSla", "LeadReassigned", "LeadEscalated"))]
    assert sorted({e["detail-type"] for e in published}) == [
        "LeadEscalated", "LeadReassigned", "LeadSlaBreached", "LeadSlaReminder",
    ]  # fmt: skip
    assert_valid(published)


def test_follow_up_publishes_events_that_match_their_schemas(stack: Stack, tap: Any) -> None:
    from datetime import UTC, datetime

    from leadflow.follow_up.changes import Actor, FollowUp, check_follow_up, follow_up_lead
    from leadflow.route.changes import route_lead
    from tests.integration.test_route_handler import add_rep, roster, sales_ready

    add_rep(stack, "ada")
    lead_ids = []
    for email in ("lin@acme-robotics.example", "kim@globex.example", "sam@initech.example"):
        routed = route_lead(sales_ready(stack, email), stack.services(), stack.config, roster(stack), stack.store())
        lead_ids.append(routed.change.profile["lead_id"])
    ada = Actor("rep", rep_id="ada", name="Ada")
    steps = [("accept", {}), ("contacted", {"note": "Good call"}), ("meeting", {}), ("opportunity", {}),
             ("won", {"amount": "1200.5", "currency": "EUR"})]  # fmt: skip
    for action, values in steps:
        follow_up = check_follow_up(FollowUp(action, **values), stack.config)  # type: ignore[arg-type]
        follow_up_lead(lead_ids[0], follow_up, ada, stack.services(), stack.config, datetime.now(UTC))
    others = [(1, "reject", {"reason": "not_ready"}), (2, "accept", {}), (2, "note", {"note": "Asked for a quote"}),
              (2, "lost", {"reason": "competitor"})]  # fmt: skip
    for n, action, values in others:
        follow_up = check_follow_up(FollowUp(action, **values), stack.config)  # type: ignore[arg-type]
        follow_up_lead(lead_ids[n], follow_up, ada, stack.services(), stack.config, datetime.now(UTC))
    published = [e for e in tap() if e["detail-type"] not in ("LeadQualified", "LeadStageChanged", "LeadAssigned")]
    assert sorted({e["detail-type"] for e in published}) == [
        "LeadAccepted", "LeadContacted", "LeadLost", "LeadMeetingBooked", "LeadNoteAdded", "LeadOpportunityOpened",
        "LeadRejected", "LeadWon",
    ]  # fmt: skip
    assert_valid(published)


def test_a_qualifiers_call_outcome_publishes_an_event_that_matches_its_schema(stack: Stack, tap: Any) -> None:
    from tests.integration.test_phone_first import (
        MARKETING_QUALIFIED,
        call_outcome,
        hand_offs,
        phone_first_client,
        route,
    )  # fmt: skip

    config = phone_first_client(stack)
    [message] = hand_offs(stack, config, MARKETING_QUALIFIED)
    lead_id = route(stack, config, message)["lead_id"]
    call_outcome(stack, config, lead_id, "sales_ready", note="Ready to talk pricing")
    [called] = [e for e in tap() if e["detail-type"] == "LeadCallOutcome"]
    assert called["detail"]["outcome"] == "sales_ready"
    assert_valid([called])


def test_a_suppression_publishes_an_event_that_matches_its_schema(stack: Stack, tap: Any) -> None:
    from datetime import UTC, datetime

    from leadflow.nurture.suppression import suppress_lead

    record = captured_record(stack, {"email": "quiet@gmail.com"})
    lead_id = record_inquiry(json.loads(record["body"]), stack.services(), stack.config.qualify).change.profile[
        "lead_id"
    ]
    suppress_lead(lead_id, "complained", stack.services(), datetime(2026, 11, 24, 9, tzinfo=UTC))
    published = [e for e in tap() if e["detail-type"] == "LeadSuppressed"]
    assert [e["detail"]["reason"] for e in published] == ["complained"]
    assert_valid(published)

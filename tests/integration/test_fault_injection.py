"""Under DynamoDB's contention answers (cancelled transactions, throttling) nothing is lost or done twice.

The unchanged handlers (capture and intake; route; the rep API's claim) run against moto with a
fault-injecting botocore hook on their session; the intake queue is polled with Lambda's
semantics (partial batch failures, redelivery, the dead-letter queue after the max receive count).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from leadflow import wiring
from leadflow.local.faults import FaultInjector
from leadflow.local.pollers import QueuePoller
from tests.integration.conftest import Stack
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import load_event

PEOPLE = 20
INQUIRIES_EACH = 3


@pytest.fixture
def injector(stack: Stack) -> Iterator[FaultInjector]:
    boto3.setup_default_session(region_name="us-east-1")  # the session the handlers' clients come from
    wiring.forget_cached()  # the functions' stores are made again, from the injected session
    faults = FaultInjector(conflict_rate=0.3, throttle_rate=0.3, seed=7)
    faults.install(boto3.DEFAULT_SESSION)
    yield faults
    faults.uninstall(boto3.DEFAULT_SESSION)
    boto3.DEFAULT_SESSION = None
    wiring.forget_cached()


def capture_all(stack: Stack, context: Any) -> list[str]:
    capture = stack.handler("capture")
    emails = [f"person{n}@northwind{n % 4}.example" for n in range(PEOPLE)]
    for round_number in range(INQUIRIES_EACH):
        for email in emails:
            event = load_event("capture-json-post.json")
            for headers in (event["headers"], event["multiValueHeaders"]):
                headers.pop("Idempotency-Key")  # each post its own inquiry
            event["body"] = json.dumps({"email": email, "message": f"round {round_number}"})
            assert capture(event, context)["statusCode"] == 202
    return emails


def drain(stack: Stack, context: Any) -> int:
    """Poll the intake queue as Lambda would until it is empty; the messages the function reported failed."""
    sqs = stack.session.client("sqs")
    url = stack.resources.queue_urls["intake"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})  # redeliver failures soon
    intake = stack.handler("intake")
    failed = []

    def invoke(event: dict[str, Any]) -> Any:
        answer = intake(event, context)
        failed.extend(answer["batchItemFailures"])
        return answer

    poller = QueuePoller(
        sqs, url, stack.resources.queue_arns["intake"], invoke, 10, "us-east-1",
        name="intake", function="intake", wait_seconds=1,
    )  # fmt: skip
    for _ in range(200):
        poller.poll_once()
        depth = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        if not any(int(n) for n in depth.values()):
            return len(failed)
    raise AssertionError("the intake queue never drained")


def test_conflicts_and_throttles_store_every_inquiry_once_and_dead_letter_nothing(
    stack: Stack, injector: FaultInjector, lambda_context: Any
) -> None:
    emails = capture_all(stack, lambda_context)
    assert drain(stack, lambda_context) == 0  # retried inside the function: no message went back to the queue

    store = stack.store()
    leads = {lead["email"]: lead for page in store.pages_of_leads() for lead in page}
    assert sorted(leads) == sorted(emails)
    for lead in leads.values():
        inquiries = store.get_lead(lead["lead_id"]).inquiries
        assert Counter(i["inquiry_id"] for i in inquiries).most_common(1)[0][1] == 1  # none twice
        assert (len(inquiries), lead["inquiry_count"]) == (INQUIRIES_EACH, INQUIRIES_EACH)
    assert store.count() == PEOPLE
    dead_letters = stack.session.client("sqs").get_queue_attributes(
        QueueUrl=stack.session.client("sqs").get_queue_url(QueueName=stack.definition.queue("intake").dead_letter_name)[
            "QueueUrl"
        ],
        AttributeNames=["ApproximateNumberOfMessages"],
    )["Attributes"]["ApproximateNumberOfMessages"]
    assert dead_letters == "0"
    # The hook really answered in DynamoDB's place, many times, and several times in a row.
    assert injector.cancelled >= PEOPLE
    assert injector.throttled >= PEOPLE
    assert injector.longest_run >= 4
    print(
        f"\nfault injection: {injector.transactions} transactions, {injector.cancelled} cancelled"
        " (TransactionConflict),"
        f" {injector.throttled} throttled of {injector.calls} DynamoDB calls (up to {injector.longest_run} in a row);"
        f" {PEOPLE * INQUIRIES_EACH} inquiries"
        f" stored once each; dead-letter messages: {dead_letters}"
    )


def sqs_batch(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """A routing queue batch as Lambda delivers it, one record per hand-off (the sample's shape)."""
    sample = load_event("route-sqs-batch.json")["Records"][0]
    records = []
    for n, message in enumerate(messages):
        record = json.loads(json.dumps(sample))
        record["messageId"] = f"route-{n}"
        record["body"] = json.dumps(message)
        record["attributes"]["MessageGroupId"] = message["lead_id"]
        records.append(record)
    return {"Records": records}


def test_conflicts_and_throttles_route_every_lead_once_with_the_ledger_in_step(
    stack: Stack, injector: FaultInjector, lambda_context: Any
) -> None:
    for rep_id in ("ann", "ben"):
        add_rep(stack, rep_id, capacity=1000)
    messages = [sales_ready(stack, f"person{n}@gmail.com") for n in range(20)]
    route = stack.handler("route")
    waiting = messages
    for _ in range(10):  # what the function reports failed comes back, as the queue would redeliver it
        answer = route(sqs_batch(waiting), lambda_context)
        failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        waiting = [m for n, m in enumerate(waiting) if f"route-{n}" in failed]
        if not waiting:
            break
    assert waiting == []
    owners = Counter(stack.store().get_profile(m["lead_id"])["owner"] for m in messages)  # type: ignore[index]
    assert sum(owners.values()) == 20
    for rep_id in ("ann", "ben"):
        assert roster(stack).get_rep(rep_id).open_leads == owners[rep_id]  # type: ignore[union-attr]
    assert injector.cancelled > 0
    assert injector.throttled > 0


def test_conflicts_and_throttles_on_a_claim_race_still_give_exactly_one_winner(
    stack: Stack, injector: FaultInjector, lambda_context: Any
) -> None:
    from tests.integration.test_follow_up_api import away, call, claims, queued

    names = [f"rep{n}" for n in range(6)]
    for name in names:
        add_rep(stack, name)
        away(stack, name)
    lead_id = queued(stack, "kim@globex.example")

    def claim(name: str) -> int:
        who = claims(f"{name}@demo.example", "rep")
        return call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", who, lead_id=lead_id)[0]

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        statuses = list(pool.map(claim, names))
    assert sorted(statuses) == [200] + [409] * 5
    assert sum(roster(stack).get_rep(name).open_leads for name in names) == 1  # type: ignore[union-attr]
    assert injector.cancelled + injector.throttled > 0

"""The intake consumer, unchanged, with SQS batch events, against moto's DynamoDB."""

from __future__ import annotations

import copy
import json
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.aws.leads_table import LeadsTable, counter_shard
from leadflow.capture.request import CaptureRules, WebRequest, handle_capture
from leadflow.lead.change import Conflict
from leadflow.qualify.changes import plan_inquiry, record_inquiry
from tests.integration.conftest import Stack
from tests.support import SAMPLE_IDS, load_event


def captured_record(stack: Stack, body: dict[str, Any], key: str | None = None, n: int = 0) -> dict[str, Any]:
    """An SQS record as Lambda delivers it, carrying what capture enqueues for `body`."""
    headers = {"content-type": "application/json", **({"idempotency-key": key} if key else {})}
    result = handle_capture(
        WebRequest("POST", headers, json.dumps(body).encode()), CaptureRules.of(stack.config), SAMPLE_IDS
    )
    assert result.captured is not None
    record = copy.deepcopy(load_event("intake-sqs-batch.json")["Records"][0])
    record["messageId"] = f"msg-{n}-{result.captured.inquiry_id}"
    record["body"] = json.dumps(result.captured.message)
    record["attributes"]["MessageGroupId"] = result.captured.lead_id
    return record


def store(stack: Stack) -> LeadsTable:
    return stack.store()


def test_sample_batch_stores_each_inquiry_as_a_lead(stack: Stack, lambda_context: Any) -> None:
    event = load_event("intake-sqs-batch.json")
    answer = stack.handler("intake")(event, lambda_context)
    assert answer == {"batchItemFailures": []}
    for record in event["Records"]:
        message = json.loads(record["body"])
        lead = store(stack).get_lead(message["lead_id"])
        assert lead is not None
        assert lead.profile["email"] == message["email"]
        assert [i["inquiry_id"] for i in lead.inquiries] == [message["inquiry_id"]]


def test_same_email_three_times_is_one_lead_with_three_inquiries(stack: Stack, lambda_context: Any) -> None:
    bodies = [
        {"email": "ada@example.com", "first_name": "Ada"},
        {"email": "ADA@example.com", "company": "Engines Ltd", "first_name": "Augusta"},
        {"email": "ada@example.com ", "utm_source": "newsletter"},
    ]
    records = [captured_record(stack, body, n=n) for n, body in enumerate(bodies)]
    stack.handler("intake")({"Records": records}, lambda_context)
    [lead] = store(stack).list_leads()
    full = store(stack).get_lead(lead["lead_id"])
    assert full.profile["inquiry_count"] == 3
    assert len(full.inquiries) == 3
    assert full.profile["first_name"] == "Ada"  # filled once, never overwritten
    assert full.profile["company"] == "Engines Ltd"  # filled by the second inquiry
    assert full.profile["last_touch"]["utm_source"] == "newsletter"


def test_redelivered_message_is_stored_once(stack: Stack, lambda_context: Any) -> None:
    record = captured_record(stack, {"email": "ada@example.com"})
    handler = stack.handler("intake")
    handler({"Records": [record]}, lambda_context)
    answer = handler({"Records": [copy.deepcopy(record)]}, lambda_context)
    assert answer == {"batchItemFailures": []}
    lead = store(stack).get_lead(json.loads(record["body"])["lead_id"])
    assert lead.profile["inquiry_count"] == 1


def test_same_idempotency_key_for_another_email_is_that_persons_own_inquiry(stack: Stack, lambda_context: Any) -> None:
    first = captured_record(stack, {"email": "ada@example.com"}, key="form-fill-00001")
    second = captured_record(stack, {"email": "grace@example.com"}, key="form-fill-00001", n=1)
    stack.handler("intake")({"Records": [first, second]}, lambda_context)
    assert sorted(lead["email"] for lead in store(stack).list_leads()) == ["ada@example.com", "grace@example.com"]


def test_writing_a_lead_changed_since_it_was_read_is_a_conflict(stack: Stack) -> None:
    services = stack.services()
    message = json.loads(captured_record(stack, {"email": "ada@example.com"})["body"])
    record_inquiry(message, services, stack.config.qualify)
    stale = services.store.read(message["lead_id"])
    later = json.loads(captured_record(stack, {"email": "ada@example.com"}, n=1)["body"])
    record_inquiry(later, services, stack.config.qualify)  # the lead moves on to version 2
    change = plan_inquiry(stale.profile, message | {"inquiry_id": "iq_other"}, stack.config.qualify, datetime.now(UTC))
    with pytest.raises(Conflict):
        services.store.write(change, stale, [])


def test_malformed_message_fails_alone_and_others_are_stored(stack: Stack, lambda_context: Any) -> None:
    good = captured_record(stack, {"email": "grace@example.com"})
    bad = copy.deepcopy(good)
    bad["messageId"], bad["body"], bad["attributes"]["MessageGroupId"] = "bad-1", "{not json", "other-group"
    answer = stack.handler("intake")({"Records": [bad, good]}, lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert [lead["email"] for lead in store(stack).list_leads()] == ["grace@example.com"]


def test_failure_holds_back_the_rest_of_that_persons_group_only(stack: Stack, lambda_context: Any) -> None:
    first = captured_record(stack, {"email": "ada@example.com"})
    later = captured_record(stack, {"email": "ada@example.com", "company": "Engines"}, n=1)
    other = captured_record(stack, {"email": "grace@example.com"}, n=2)
    first["body"] = "{broken"
    answer = stack.handler("intake")({"Records": [first, later, other]}, lambda_context)
    failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
    assert failed == {first["messageId"], later["messageId"]}
    assert [lead["email"] for lead in store(stack).list_leads()] == ["grace@example.com"]


def test_parallel_inquiries_for_one_email_make_one_lead_counting_each(stack: Stack) -> None:
    messages = [captured_record(stack, {"email": "ada@example.com"}, n=n)["body"] for n in range(6)]
    leads = store(stack)
    never_stored: list[str] = []

    def write(body: str) -> None:
        try:  # a change that meets another is planned again from a fresh read, by the applier
            record_inquiry(json.loads(body), stack.services(), stack.config.qualify)
        except Exception as exc:
            never_stored.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=write, args=(body,)) for body in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    [lead] = leads.list_leads()
    assert never_stored == []
    assert len(leads.get_lead(lead["lead_id"]).inquiries) == 6
    # The local moto serializes writes as DynamoDB does, so the version check sees every race.
    assert lead["inquiry_count"] == 6
    assert leads.count() == 1


def test_intake_sample_carries_the_ids_capture_derives_from_the_api_samples(stack: Stack, lambda_context: Any) -> None:
    answer = stack.handler("capture")(load_event("capture-json-post.json"), lambda_context)
    [enqueued] = stack.queue_messages()
    sample = json.loads(load_event("intake-sqs-batch.json")["Records"][0]["body"])
    captured = json.loads(enqueued["Body"])
    assert json.loads(answer["body"])["lead_id"] == sample["lead_id"]
    assert (captured["lead_id"], captured["inquiry_id"], captured["email"]) == (
        sample["lead_id"],
        sample["inquiry_id"],
        sample["email"],
    )


def test_intake_sample_form_inquiry_has_a_time_ordered_id_as_a_keyless_post_gets() -> None:
    record = load_event("intake-sqs-batch.json")["Records"][1]
    message = json.loads(record["body"])
    assert message["channel"] == "form"
    assert len(message["inquiry_id"]) == len("iq_") + 26  # new_inquiry_id: 48 bits of time, 80 random
    assert record["attributes"]["MessageDeduplicationId"] == message["inquiry_id"]


def test_leads_are_listed_newest_first_across_the_months_listing_shards(stack: Stack, lambda_context: Any) -> None:
    records = [captured_record(stack, {"email": f"person{n}@example.com"}, n=n) for n in range(15)]
    for n, record in enumerate(records):  # fifteen people, one minute apart, in no particular shard order
        message = json.loads(record["body"])
        message["received_at"] = f"2026-11-23T09:{n:02d}:00.000+00:00"
        record["body"] = json.dumps(message)
    stack.handler("intake")({"Records": records[:10]}, lambda_context)
    stack.handler("intake")({"Records": records[10:]}, lambda_context)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    listed = [lead["email"] for lead in store(stack).list_leads(limit=15, now=now)]
    assert listed == [f"person{n}@example.com" for n in reversed(range(15))]
    pages = [len(page) for page in store(stack).pages_of_leads(now=now, page_size=4)]
    assert pages == [4, 4, 4, 3]
    shards = {counter_shard(lead["lead_id"]) for lead in store(stack).list_leads(limit=15, now=now)}
    assert len(shards) > 1  # spread over the month's listing shards, merged back in order

"""Many leads' changes at once (`apply_changes` over LeadsTable.read_many/write_many), against moto.

A batch saves requests and changes nothing else: each lead ends exactly as `apply_change` would
leave it, a lead another writer moved in between is planned again alone, and counters that
several changes add to are added up, not lost.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.aws.leads_table import LeadsTable, counter_shard
from leadflow.lead.change import CounterDelta, LeadChange, LeadServices, apply_change, apply_changes
from leadflow.lead.profile import LeadProfile
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record


def stored_leads(stack: Stack, lambda_context: Any, count: int, tag: str) -> list[str]:
    """`count` leads stored by the intake function: their ids."""
    records = [captured_record(stack, {"email": f"{tag}{n}@gmail.com"}, n=n) for n in range(count)]
    for start in range(0, count, 10):
        assert stack.handler("intake")({"Records": records[start : start + 10]}, lambda_context) == {
            "batchItemFailures": []
        }
    return [json.loads(record["body"])["lead_id"] for record in records]


def noted(note: str) -> Any:
    """A plan that notes `note` on the lead and counts it: one timeline entry, one counter."""

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None:
            return None
        profile = copy.deepcopy(current)
        profile["updated_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        change = LeadChange(profile)
        change.timeline.append({"type": "note", "at": profile["updated_at"], "reason": note})
        change.counters.append(CounterDelta("batch_noted", "2026-11-24"))
        return change

    return plan


def counting(store: LeadsTable) -> Counter[str]:
    calls: Counter[str] = Counter()
    store.client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.update([model.name]))
    return calls


def services_on(stack: Stack, store: LeadsTable) -> LeadServices:
    services = stack.services()
    services.store = store
    return services


def test_many_leads_changed_together_take_one_read_and_one_write(stack: Stack, lambda_context: Any) -> None:
    lead_ids = stored_leads(stack, lambda_context, 12, "together")
    store = stack.store()
    calls = counting(store)
    applied = apply_changes({lead_id: noted("together") for lead_id in lead_ids}, services_on(stack, store))
    assert {a.outcome for a in applied.values()} == {"changed"}
    assert (calls["BatchGetItem"], calls["TransactWriteItems"], calls["GetItem"]) == (1, 1, 0)
    for lead_id in lead_ids:
        lead = store.get_lead(lead_id)
        assert lead is not None
        assert [e["reason"] for e in lead.timeline if e["type"] == "note"] == ["together"]
    assert store.count("batch_noted") == 12  # 12 changes adding to the same day's shards: all counted


def test_a_batchs_counts_are_added_to_one_shard_of_the_day_so_two_batches_at_once_seldom_meet(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead_ids = stored_leads(stack, lambda_context, 12, "sharded")
    store = stack.store()
    monkeypatch.setattr("leadflow.aws.leads_table.random.randrange", lambda shards: 7)  # the shard drawn
    apply_changes({lead_id: noted("sharded") for lead_id in lead_ids}, services_on(stack, store))
    shards = store.client.query(
        TableName=store.table_name,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "COUNTER#batch_noted"}},
    )["Items"]
    assert [(item["sk"]["S"], item["count"]["N"]) for item in shards] == [("2026-11-24#07", "12")]
    assert len({counter_shard(lead_id) for lead_id in lead_ids}) > 1  # alone, they would have used several


def test_a_lead_another_writer_moved_in_between_is_planned_again_alone_and_the_rest_still_written(
    stack: Stack, lambda_context: Any
) -> None:
    lead_ids = stored_leads(stack, lambda_context, 5, "raced")
    store = stack.store()
    services = services_on(stack, store)
    raced = lead_ids[2]
    planned: Counter[str] = Counter()

    def plan_for(lead_id: str) -> Any:
        def plan(current: LeadProfile | None) -> LeadChange | None:
            planned[lead_id] += 1
            if lead_id == raced and planned[lead_id] == 1:  # another writer changes it after the batch read it
                apply_change(lead_id, noted("the other writer"), services)
            return noted("batch")(current)

        return plan

    applied = apply_changes({lead_id: plan_for(lead_id) for lead_id in lead_ids}, services)
    assert {a.outcome for a in applied.values()} == {"changed"}
    for lead_id in lead_ids:
        lead = store.get_lead(lead_id)
        assert lead is not None
        notes = sorted(e["reason"] for e in lead.timeline if e["type"] == "note")
        assert notes == (["batch", "the other writer"] if lead_id == raced else ["batch"]), lead_id
    assert planned[raced] == 2  # read again and planned again after the conflict
    assert store.count("batch_noted") == 6


def test_a_lead_not_stored_is_left_to_its_plan_alone(stack: Stack, lambda_context: Any) -> None:
    [stored] = stored_leads(stack, lambda_context, 1, "alone")
    store = stack.store()
    applied = apply_changes({stored: noted("x"), "ld_notstoredanywhere0000000": noted("x")}, services_on(stack, store))
    assert applied[stored].outcome == "changed"
    assert applied["ld_notstoredanywhere0000000"].outcome == "unchanged"


def test_leads_known_as_a_batch_left_them_are_changed_again_without_a_read(stack: Stack, lambda_context: Any) -> None:
    lead_ids = stored_leads(stack, lambda_context, 4, "known")
    store = stack.store()
    services = services_on(stack, store)
    first = apply_changes({lead_id: noted("first") for lead_id in lead_ids}, services)
    calls = counting(store)
    known = {lead_id: applied.after for lead_id, applied in first.items() if applied.after is not None}
    second = apply_changes({lead_id: noted("second") for lead_id in lead_ids}, services, known)
    assert {a.outcome for a in second.values()} == {"changed"}
    assert (calls["BatchGetItem"], calls["GetItem"], calls["TransactWriteItems"]) == (0, 0, 1)
    for lead_id in lead_ids:
        lead = store.get_lead(lead_id)
        assert lead is not None
        assert sorted(e["reason"] for e in lead.timeline if e["type"] == "note") == ["first", "second"]
        assert lead.profile == second[lead_id].after.profile  # type: ignore[union-attr]


def test_a_known_lead_another_writer_moved_since_is_read_and_planned_again(stack: Stack, lambda_context: Any) -> None:
    lead_ids = stored_leads(stack, lambda_context, 3, "stale")
    store = stack.store()
    services = services_on(stack, store)
    first = apply_changes({lead_id: noted("first") for lead_id in lead_ids}, services)
    moved = lead_ids[1]
    apply_change(moved, noted("the other writer"), services)  # after `first` knew it
    known = {lead_id: applied.after for lead_id, applied in first.items() if applied.after is not None}
    apply_changes({lead_id: noted("second") for lead_id in lead_ids}, services, known)
    lead = store.get_lead(moved)
    assert lead is not None
    assert sorted(e["reason"] for e in lead.timeline if e["type"] == "note") == ["first", "second", "the other writer"]
    assert store.count("batch_noted") == 3 + 1 + 3

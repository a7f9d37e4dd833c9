"""A lead the table read or wrote is changed by an Update of the attributes that differ, against moto.

The table remembers each profile item at the version it read or wrote (`LeadsTable._hold`); a
change at that version writes only what differs from it. What is stored afterwards must be
exactly what a whole Put would have stored, and a change from a remembered item that is out of
date must never pass for current.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadflow.aws.items import item_of
from leadflow.aws.leads_table import PROFILE, LeadsTable, lead_pk
from leadflow.lead.change import Conflict, LeadChange, OutboxItem, apply_change
from leadflow.lead.profile import LeadProfile
from tests.integration.conftest import Stack
from tests.integration.test_apply_changes import noted, services_on, stored_leads


def transactions(store: LeadsTable) -> list[list[dict[str, Any]]]:
    """The TransactItems of every TransactWriteItems `store` sends from now on."""
    sent: list[list[dict[str, Any]]] = []
    store.client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems", lambda params, **_: sent.append(params["TransactItems"])
    )
    return sent


def profile_write(items: list[dict[str, Any]], lead_id: str) -> tuple[str, dict[str, Any]]:
    for item in items:
        for kind, write in item.items():
            key = write.get("Key") or {k: write["Item"][k] for k in ("pk", "sk")}
            if key == {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}}:
                return kind, write
    raise AssertionError(f"no write of {lead_id}'s profile")


def stored_item(store: LeadsTable, lead_id: str) -> dict[str, Any]:
    answer = store.client.get_item(
        TableName=store.table_name, Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}}, ConsistentRead=True
    )
    return dict(answer["Item"])


def retitled(title: str | None) -> Any:
    """A plan that sets (or, with None, drops) the lead's job title and nothing else but its time of change."""

    def plan(current: LeadProfile | None) -> LeadChange | None:
        assert current is not None
        profile: dict[str, Any] = copy.deepcopy(dict(current))
        fields = dict(profile.get("fields") or {})
        if title is None:
            fields.pop("job_title", None)
        else:
            fields["job_title"] = title
        profile["fields"] = fields
        profile["updated_at"] = datetime.now(UTC).isoformat(timespec="milliseconds")
        return LeadChange(profile)  # type: ignore[arg-type]

    return plan


def test_a_change_of_a_lead_just_read_updates_only_the_attributes_it_changed(stack: Stack, lambda_context: Any) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "onlychanged")
    store = stack.store()
    before = stored_item(store, lead_id)
    sent = transactions(store)
    applied = apply_change(lead_id, retitled("Head of Operations"), services_on(stack, store))
    after = stored_item(store, lead_id)
    kind, write = profile_write(sent[-1], lead_id)
    assert kind == "Update"
    assert write["ConditionExpression"] == "version = :v"
    changed = {name for name in before.keys() | after.keys() if before.get(name) != after.get(name)}
    assert sorted(write["ExpressionAttributeNames"].values()) == sorted(changed)
    assert {"fields", "updated_at", "version"} <= changed
    assert not {"email", "created_at", "stage", "gsi1pk"} & changed
    assert applied.after is not None
    assert store.read(lead_id).profile == applied.after.profile  # type: ignore[union-attr]


def test_an_attribute_a_change_drops_is_removed_from_the_stored_item(stack: Stack, lambda_context: Any) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "dropped")
    store = stack.store()
    services = services_on(stack, store)
    apply_change(lead_id, noted("before"), services)

    def drop_company(current: LeadProfile | None) -> LeadChange | None:
        assert current is not None
        profile: dict[str, Any] = {**copy.deepcopy(dict(current)), "company": "Acme", "last_touch": None}
        return LeadChange(profile)  # type: ignore[arg-type]

    sent = transactions(store)
    apply_change(lead_id, drop_company, services)
    _, write = profile_write(sent[-1], lead_id)
    assert " REMOVE " in write["UpdateExpression"]
    item = stored_item(store, lead_id)
    assert "last_touch" not in item
    assert item["company"] == {"S": "Acme"}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    changes=st.dictionaries(
        st.sampled_from(["company", "city", "priority", "notes", "stage_reason"]),
        st.one_of(
            st.none(),
            st.text(max_size=8),
            st.integers(-5, 5),
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.lists(st.text(max_size=3), max_size=2),
            st.dictionaries(st.text(min_size=1, max_size=3), st.booleans(), max_size=2),
        ),
        max_size=4,
    )
)
def test_an_item_updated_attribute_by_attribute_is_the_item_a_whole_put_stores(
    stack: Stack, lambda_context: Any, changes: dict[str, Any]
) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "sameitem")
    store = stack.store()
    services = services_on(stack, store)
    written: list[dict[str, Any]] = []

    def change(current: LeadProfile | None) -> LeadChange | None:
        assert current is not None
        profile: dict[str, Any] = {**copy.deepcopy(dict(current)), **changes}
        written.append(profile)
        return LeadChange(profile)  # type: ignore[arg-type]

    before = store.read(lead_id)
    assert before is not None
    apply_change(lead_id, change, services)
    expected = item_of({**written[-1], "pk": lead_pk(lead_id), "sk": PROFILE, "version": before.version + 1})
    storage = {"gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"}
    assert {k: v for k, v in stored_item(store, lead_id).items() if k not in storage} == {
        k: v for k, v in expected.items() if k not in storage
    }


def test_a_change_from_a_read_another_table_has_since_overtaken_conflicts(stack: Stack, lambda_context: Any) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "overtaken")
    store, other = stack.store(), stack.store()  # two functions' tables: neither sees the other's writes
    read = store.read(lead_id)  # remembered at this version
    assert read is not None
    apply_change(lead_id, retitled("Changed elsewhere"), services_on(stack, other))
    with pytest.raises(Conflict):
        store.write(retitled(None)(read.profile), read, [])
    assert (store.read(lead_id).profile.get("fields") or {})["job_title"] == "Changed elsewhere"  # type: ignore[union-attr]


def test_a_lead_read_at_another_version_than_the_one_remembered_is_written_whole(
    stack: Stack, lambda_context: Any
) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "otherversion")
    store, other = stack.store(), stack.store()
    store.read(lead_id)  # remembered at this version
    apply_change(lead_id, retitled("Changed elsewhere"), services_on(stack, other))
    newer = other.read(lead_id)  # the version after it, read by the other table
    assert newer is not None
    sent = transactions(store)
    store.write(retitled("Mine")(newer.profile), newer, [])
    kind, _ = profile_write(sent[-1], lead_id)
    assert kind == "Put"  # not an Update diffed against the older item
    assert (store.read(lead_id).profile.get("fields") or {})["job_title"] == "Mine"  # type: ignore[union-attr]


def test_an_outbox_cleared_at_the_same_version_is_written_again_by_a_change_that_still_holds_it(
    stack: Stack, lambda_context: Any
) -> None:
    [lead_id] = stored_leads(stack, lambda_context, 1, "outboxcleared")
    store = stack.store()
    read = store.read(lead_id)
    assert read is not None
    outbox = [OutboxItem("event", {"type": "LeadNoteAdded", "detail": {"lead_id": lead_id}})]
    version = store.write(retitled("One")(read.profile), read, outbox)  # written, not yet published
    with_outbox = store.read(lead_id)
    assert with_outbox is not None
    assert with_outbox.outbox
    assert store.clear_outbox(lead_id, version)  # published by someone: the item changes, its version does not
    store.write(retitled("Two")(with_outbox.profile), with_outbox, list(with_outbox.outbox))
    assert store.read(lead_id).outbox == tuple(outbox)  # type: ignore[union-attr]

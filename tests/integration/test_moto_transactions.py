"""The local runtime's moto transactions keep moto's semantics while backing up only what they touch.

Each scenario runs twice on fresh in-process backends, once through moto's own
`transact_write_items` and once through leadflow's, and both must end alike: the same
cancellation reasons (or error), and the same items left in the table.
"""

from __future__ import annotations

from typing import Any

import pytest

from leadflow.local import moto_dynamodb

moto_dynamodb.install()
TABLE = "leads"
Items = list[dict[str, Any]]


def fresh_backend() -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", "123456789012")
    backend.create_table(
        TABLE,
        schema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode="PAY_PER_REQUEST",
        sse_specification=None,
        tags=[],
        deletion_protection_enabled=False,
        warm_throughput=None,
    )
    for n in range(3):
        backend.put_item(TABLE, {"pk": {"S": f"LEAD#{n}"}, "sk": {"S": "PROFILE"}, "version": {"N": "1"}})
    return backend


def key(n: int, sk: str = "PROFILE") -> dict[str, Any]:
    return {"pk": {"S": f"LEAD#{n}"}, "sk": {"S": sk}}


def put(n: int, sk: str = "PROFILE", condition: str | None = None, **extra: Any) -> dict[str, Any]:
    op: dict[str, Any] = {"TableName": TABLE, "Item": {**key(n, sk), "version": {"N": "2"}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op | extra}


def versioned(n: int, version: int) -> dict[str, Any]:
    return put(n, condition="version = :v", ExpressionAttributeValues={":v": {"N": str(version)}})


SCENARIOS: dict[str, Items] = {
    "all succeed": [put(10, "INQUIRY", "attribute_not_exists(pk)"), versioned(0, 1), put(0, "TIMELINE#1")],
    "a failed version check cancels the others": [put(10, "INQUIRY"), versioned(1, 7), put(1, "TIMELINE#1")],
    "a duplicate marker cancels the new lead": [put(0, condition="attribute_not_exists(pk)"), put(11)],
    "an update and a delete roll back together": [
        {"Update": {"TableName": TABLE, "Key": key(2), "UpdateExpression": "ADD hits :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Delete": {"TableName": TABLE, "Key": key(1)}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key(0), "ConditionExpression": "attribute_not_exists(pk)"}},
    ],
    "the old item comes back with the reason": [
        versioned(0, 9) | {"Put": versioned(0, 9)["Put"] | {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
    ],
    "two operations on one item are refused": [put(0, "TIMELINE#1"), put(0, "TIMELINE#1")],
    "a missing table cancels with its reason": [put(12), {"Put": {"TableName": "gone", "Item": key(1)}}],
}  # fmt: skip


def outcome(transact: Any, items: Items) -> tuple[Any, Any]:
    backend = fresh_backend()
    try:
        transact(backend, items)
        error: Any = None
    except Exception as exc:  # the outcome to compare: its type and reasons
        error = (type(exc).__name__, getattr(exc, "message", str(exc)))
    table = backend.get_table(TABLE)
    stored = sorted(repr(item.to_json()) for item in table.all_items())
    return error, stored


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_patched_transaction_ends_as_motos_own(scenario: str) -> None:
    items = SCENARIOS[scenario]
    assert outcome(moto_dynamodb._transact_write_items, items) == outcome(
        moto_dynamodb.moto_transact_write_items(), items
    )


def test_failed_transaction_leaves_every_item_as_it_was() -> None:
    error, stored = outcome(moto_dynamodb._transact_write_items, SCENARIOS["an update and a delete roll back together"])
    assert error[0] == "TransactionCanceledException"
    assert "ConditionalCheckFailed" in error[1]
    assert stored == outcome(lambda backend, items: None, [])[1]


def test_transaction_backs_up_only_the_items_it_touches(monkeypatch: pytest.MonkeyPatch) -> None:
    copied: list[str] = []  # what each outermost deepcopy copied
    real_deepcopy = moto_dynamodb.copy.deepcopy
    depth = [0]

    def counting_deepcopy(value: Any, *args: Any) -> Any:
        if depth[0] == 0:
            copied.append(type(value).__name__)
        depth[0] += 1
        try:
            return real_deepcopy(value, *args)
        finally:
            depth[0] -= 1

    backend = fresh_backend()
    monkeypatch.setattr(moto_dynamodb.copy, "deepcopy", counting_deepcopy)
    moto_dynamodb._transact_write_items(backend, SCENARIOS["all succeed"])
    assert sorted(copied) == ["Item", "NoneType", "NoneType"]  # the one existing item and two new keys


def backend_with_an_index() -> Any:
    from moto.dynamodb.models import DynamoDBBackend

    backend = DynamoDBBackend("us-east-1", "123456789012")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    index_keys = [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]
    backend.create_table(
        TABLE, schema=keys, throughput=None,
        attr=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gsi1pk", "gsi1sk")],
        global_indexes=[{"IndexName": "by_created", "KeySchema": index_keys, "Projection": {"ProjectionType": "ALL"}}],
        indexes=None, streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None, tags=[],
        deletion_protection_enabled=False, warm_throughput=None,
    )  # fmt: skip
    return backend


def profile(n: int, month: str) -> dict[str, Any]:
    return {**key(n), "gsi1pk": {"S": f"LEADS#{month}"}, "gsi1sk": {"S": f"2026-{n:02d}"}}


def month_query(backend: Any, month: str, through: Any) -> list[str]:
    table = backend.get_table(TABLE)
    from moto.dynamodb.models.dynamo_type import DynamoType

    partition = DynamoType({"S": f"LEADS#{month}"})
    items, _, _ = through(
        table, partition, None, [], None, None, False, None, "by_created", hash_key_conditions=[("gsi1pk", partition)]
    )
    return [item.hash_key.value for item in items]


def test_index_query_finds_each_partition_as_motos_own_query_after_puts_moves_deletes_and_transactions() -> None:
    backend = backend_with_an_index()
    for n in range(6):
        backend.put_item(TABLE, profile(n, "2026-10" if n % 2 else "2026-11"))
    month_query(backend, "2026-11", moto_dynamodb.Table_query())  # the partitions are built now, then follow
    backend.put_item(TABLE, profile(1, "2026-11"))  # moved to another partition
    backend.delete_item(TABLE, key(2))
    moto_dynamodb._transact_write_items(backend, [{"Put": {"TableName": TABLE, "Item": profile(7, "2026-11")}}])
    for month in ("2026-10", "2026-11", "2026-12"):
        patched = month_query(backend, month, moto_dynamodb.Table_query())
        assert patched == month_query(backend, month, moto_dynamodb._ORIGINALS["query"])
    assert month_query(backend, "2026-11", moto_dynamodb.Table_query()) == ["LEAD#7", "LEAD#4", "LEAD#1", "LEAD#0"]

"""Data access for the leads table: the one place that knows its keys and items.

One table per client stack, single-table layout:

| item            | pk                   | sk                              |
|-----------------|----------------------|---------------------------------|
| lead profile    | LEAD#<lead_id>       | PROFILE                         |
| timeline entry  | LEAD#<lead_id>       | TIMELINE#<at>#<id>              |
| inquiry marker  | INQUIRY#<inquiry_id> | INQUIRY                         |
| stack counters  | STATS                | LEADS                           |

Profiles carry `gsi1pk = LEADS#<yyyy-mm>` and `gsi1sk = <created_at>#<lead_id>` so leads
are listed month by month with a Query, never a Scan. Every change to a lead is one
TransactWriteItems: the inquiry marker (only if new, which makes a redelivered message a
no-op), the timeline entries, and the profile, written only if its version is still the
one that was read (optimistic locking: a concurrent change makes the caller read again).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from leadflow.aws_client import LazyClient
from leadflow.definition import LEADS_BY_CREATED
from leadflow.leads import LeadChange

PROFILE = "PROFILE"
STATS_KEY = {"pk": {"S": "STATS"}, "sk": {"S": "LEADS"}}
MAX_LIST_MONTHS = 36
KEY_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk")


class Conflict(Exception):
    """The lead changed between read and write: read it again and redo the change."""


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


@dataclass
class Lead:
    profile: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inquiries(self) -> list[dict[str, Any]]:
        return [entry for entry in self.timeline if entry.get("type") == "inquiry"]


class LeadStore(LazyClient):
    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None):
        super().__init__(client)
        self.table_name = table_name

    def get_profile(self, lead_id: str) -> dict[str, Any] | None:
        answer = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}},
            ConsistentRead=True,
        )
        item = answer.get("Item")
        return _public(_plain(item)) if item else None

    def save_change(self, change: LeadChange, read_version: int | None, inquiry_id: str | None = None) -> bool:
        """Write a planned change in one transaction. False when the inquiry was stored before.

        Raises Conflict when the profile is no longer at `read_version` (None: it did not exist).
        """
        from botocore.exceptions import ClientError

        items, profile_at = change_transaction(self.table_name, change, read_version, inquiry_id)
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "TransactionCanceledException":
                raise
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if inquiry_id is not None and codes[:1] == ["ConditionalCheckFailed"]:
                return False
            if len(codes) > profile_at and codes[profile_at] == "ConditionalCheckFailed":
                raise Conflict(change.profile["lead_id"]) from exc
            raise
        return True

    def clear_outbox(self, lead_id: str, version: int) -> bool:
        """Empty the outbox once published; False if the lead moved on (its writer publishes)."""
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}},
                UpdateExpression="REMOVE outbox",
                ConditionExpression="version = :v",
                ExpressionAttributeValues={":v": {"N": str(version)}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def count_leads(self) -> int:
        item = self.client.get_item(TableName=self.table_name, Key=STATS_KEY).get("Item")
        return int(item["lead_count"]["N"]) if item else 0

    def get_lead(self, lead_id: str) -> Lead | None:
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": lead_pk(lead_id)}},
        )
        profile = next((i for i in items if i["sk"] == PROFILE), None)
        if profile is None:
            return None
        timeline = sorted((i for i in items if i["sk"].startswith("TIMELINE#")), key=lambda i: i["sk"])
        return Lead(_public(profile), [_public(i) for i in timeline])

    def list_leads(self, limit: int = 20, now: datetime | None = None) -> list[dict[str, Any]]:
        """The newest leads first."""
        found: list[dict[str, Any]] = []
        for page in self.pages_of_leads(now=now, page_size=min(limit, 100)):
            found += page
            if len(found) >= limit:
                break
        return found[:limit]

    def pages_of_leads(self, now: datetime | None = None, page_size: int = 100) -> Iterator[list[dict[str, Any]]]:
        """Every lead, newest first, a page at a time: a Query per month partition, never a Scan."""
        now = now or datetime.now(UTC)
        year, month = now.year, now.month
        for _ in range(MAX_LIST_MONTHS):
            start: dict[str, Any] | None = None
            while True:
                kwargs: dict[str, Any] = {
                    "TableName": self.table_name,
                    "IndexName": LEADS_BY_CREATED.name,
                    "KeyConditionExpression": "gsi1pk = :m",
                    "ExpressionAttributeValues": {":m": {"S": f"LEADS#{year:04d}-{month:02d}"}},
                    "ScanIndexForward": False,
                    "Limit": page_size,
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                answer = self.client.query(**kwargs)
                if answer.get("Items"):
                    yield [_public(_plain(i)) for i in answer["Items"]]
                start = answer.get("LastEvaluatedKey")
                if not start:
                    break
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table_name, **kwargs):
            items += [_plain(i) for i in page.get("Items", [])]
        return items


def change_transaction(
    table: str, change: LeadChange, read_version: int | None, inquiry_id: str | None
) -> tuple[list[dict[str, Any]], int]:
    """The TransactItems for a change, and the position of the profile's Put among them."""
    profile = change.profile
    lead_id = profile["lead_id"]
    items: list[dict[str, Any]] = []
    if inquiry_id is not None:
        marker = {"pk": f"INQUIRY#{inquiry_id}", "sk": "INQUIRY", "lead_id": lead_id, "at": change.timeline[0]["at"]}
        items.append(
            {"Put": {"TableName": table, "Item": _item(marker), "ConditionExpression": "attribute_not_exists(pk)"}}
        )
    for position, entry in enumerate(change.timeline):
        entry_id = entry.get("inquiry_id") or f"{entry['type']}{position}"
        key = {"pk": lead_pk(lead_id), "sk": f"TIMELINE#{entry['at']}#{entry_id}"}
        items.append({"Put": {"TableName": table, "Item": _item({**key, **entry})}})
    version = (read_version or 0) + 1
    stored = {
        **profile,
        "pk": lead_pk(lead_id),
        "sk": PROFILE,
        "gsi1pk": f"LEADS#{profile['created_at'][:7]}",
        "gsi1sk": f"{profile['created_at']}#{lead_id}",
        "version": version,
    }
    put: dict[str, Any] = {"TableName": table, "Item": _item(stored)}
    if read_version is None:
        put["ConditionExpression"] = "attribute_not_exists(pk)"
    else:
        put["ConditionExpression"] = "version = :v"
        put["ExpressionAttributeValues"] = {":v": {"N": str(read_version)}}
    profile_at = len(items)
    items.append({"Put": put})
    if read_version is None:  # a new lead: counted in the same transaction, so never twice
        items.append({"Update": {
            "TableName": table, "Key": STATS_KEY, "UpdateExpression": "ADD lead_count :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }})  # fmt: skip
    profile["version"] = version
    return items, profile_at


def _item(values: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    return {k: serialize(_decimals(v)) for k, v in values.items() if v is not None}


def _decimals(value: Any) -> Any:
    """DynamoDB numbers are Decimals: floats are converted through their shortest repr."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(v) for v in value]
    return value


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    return {k: _numbers(deserialize(v)) for k, v in item.items()}


def _numbers(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v) for v in value]
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes."""
    return {k: v for k, v in item.items() if k not in KEY_ATTRIBUTES}

"""The Scans of a leads table that only admin commands make (`leadflow report verify` and `backfill`).

Kept in the CLI, which never ships to Lambda: a function that answers a request or a schedule
reads by key or Query (leadflow.aws.leads_table), never a whole table.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from leadflow.aws.items import plain_of
from leadflow.aws.leads_table import PROFILE, REPORT_PREFIX, LeadsTable
from leadflow.aws.retry import with_backoff


def report_scan(table: LeadsTable) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """Every lead's profile and every report item, a page at a time, with how many items each page scanned."""
    scan = {
        "FilterExpression": "sk = :profile OR begins_with(pk, :report)",
        "ConsistentRead": True,
        "ExpressionAttributeValues": {":profile": {"S": PROFILE}, ":report": {"S": REPORT_PREFIX}},
    }
    for items, scanned in _pages(table, scan):
        yield [plain_of(item) for item in items], scanned


def uncounted_lead_ids(table: LeadsTable) -> Iterator[tuple[list[str], int]]:
    """The leads stored before the report counted (no record), a page at a time, with the items each page scanned."""
    scan = {
        "FilterExpression": "sk = :profile AND attribute_not_exists(#report)",
        "ProjectionExpression": "lead_id",
        "ExpressionAttributeNames": {"#report": "report"},
        "ExpressionAttributeValues": {":profile": {"S": PROFILE}},
    }
    for items, scanned in _pages(table, scan):
        yield [item["lead_id"]["S"] for item in items], scanned


def item_count(table: LeadsTable) -> int:
    """The table's item count as DynamoDB last measured it (it updates about every six hours on AWS)."""
    answer = with_backoff(lambda: table.client.describe_table(TableName=table.table_name))
    return int(answer["Table"].get("ItemCount", 0))


def _pages(table: LeadsTable, scan: dict[str, Any]) -> Iterator[tuple[list[dict[str, Any]], int]]:
    """A Scan's pages (wire format) and the items each scanned, each request retried when throttled."""
    request: dict[str, Any] = {"TableName": table.table_name, **scan}
    while True:
        answer = with_backoff(lambda: table.client.scan(**request))
        yield answer.get("Items", []), int(answer.get("ScannedCount", 0))
        if "LastEvaluatedKey" not in answer:
            return
        request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

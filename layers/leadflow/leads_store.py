"""Data access for the leads table: the one place that knows its keys and items.

One table per client stack, single-table layout:

| item            | pk                  | sk                              |
|-----------------|---------------------|---------------------------------|
| lead profile    | LEAD#<lead_id>      | PROFILE                         |
| timeline entry  | LEAD#<lead_id>      | TIMELINE#<at>#<inquiry_id>      |
| inquiry marker  | INQUIRY#<inquiry_id>| INQUIRY                         |

Profiles carry `gsi1pk = LEADS#<yyyy-mm>` and `gsi1sk = <created_at>#<lead_id>` so the
newest leads are listed with a Query, never a Scan. Storing an inquiry is one
TransactWriteItems: the marker (only if new, which makes a redelivered message a no-op),
the timeline entry, and an upsert of the profile that fills only empty fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow.definition import LEADS_BY_CREATED

PROFILE = "PROFILE"
# Fields a later inquiry may fill on the lead when they are still empty.
PROFILE_FIELDS = ("first_name", "last_name", "company", "job_title", "phone")
TOUCH_FIELDS = (
    "inquiry_type",
    "page_url",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)
CUSTOM_PREFIX = "custom:"
MAX_LIST_MONTHS = 36


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


@dataclass
class Lead:
    profile: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)

    @property
    def inquiries(self) -> list[dict[str, Any]]:
        return [entry for entry in self.timeline if entry.get("type") == "inquiry"]


class LeadStore:
    def __init__(self, table_name: str, client: Any = None):
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("dynamodb")
        return self._client

    def record_inquiry(self, message: dict[str, Any], now: datetime | None = None) -> bool:
        """Store one captured inquiry on its lead. False when it was stored before."""
        from botocore.exceptions import ClientError

        now = now or datetime.now(UTC)
        try:
            self.client.transact_write_items(TransactItems=_inquiry_transaction(self.table_name, message, now))
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "TransactionCanceledException" and _marker_existed(exc.response):
                return False
            raise
        return True

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
        """The newest leads first, a month's partition at a time."""
        now = now or datetime.now(UTC)
        year, month = now.year, now.month
        found: list[dict[str, Any]] = []
        for _ in range(MAX_LIST_MONTHS):
            response = self.client.query(
                TableName=self.table_name,
                IndexName=LEADS_BY_CREATED.name,
                KeyConditionExpression="gsi1pk = :m",
                ExpressionAttributeValues={":m": {"S": f"LEADS#{year:04d}-{month:02d}"}},
                ScanIndexForward=False,
                Limit=limit - len(found),
            )
            found += [_public(_plain(i)) for i in response.get("Items", [])]
            if len(found) >= limit:
                break
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)
        return found[:limit]

    def _query_all(self, **kwargs: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table_name, **kwargs):
            items += [_plain(i) for i in page.get("Items", [])]
        return items


def _inquiry_transaction(table: str, message: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer().serialize
    lead_id, inquiry_id, at = message["lead_id"], message["inquiry_id"], message["received_at"]
    fields = message.get("fields", {})
    custom = message.get("custom", {})
    marker = {
        "pk": f"INQUIRY#{inquiry_id}",
        "sk": "INQUIRY",
        "lead_id": lead_id,
        "received_at": at,
    }
    timeline = {
        "pk": lead_pk(lead_id),
        "sk": f"TIMELINE#{at}#{inquiry_id}",
        "type": "inquiry",
        "at": at,
        "inquiry_id": inquiry_id,
        "channel": message.get("channel", "json"),
        "fields": fields,
        "custom": custom,
    }
    names: dict[str, str] = {}
    values: dict[str, Any] = {
        ":lead_id": lead_id,
        ":email": message["email"],
        ":at": at,
        ":now": now.isoformat(timespec="milliseconds"),
        ":new": "new",
        ":gsi1pk": f"LEADS#{at[:7]}",
        ":gsi1sk": f"{at}#{lead_id}",
        ":touch": {k: fields[k] for k in TOUCH_FIELDS if k in fields},
        ":one": 1,
    }
    sets = [
        "lead_id = if_not_exists(lead_id, :lead_id)",
        "email = if_not_exists(email, :email)",
        "created_at = if_not_exists(created_at, :at)",
        "stage = if_not_exists(stage, :new)",
        "gsi1pk = if_not_exists(gsi1pk, :gsi1pk)",
        "gsi1sk = if_not_exists(gsi1sk, :gsi1sk)",
        "first_touch = if_not_exists(first_touch, :touch)",
        "last_touch = :touch",
        "last_inquiry_at = :at",
        "updated_at = :now",
    ]
    fillable = [(name, fields[name]) for name in PROFILE_FIELDS if name in fields]
    fillable += [(CUSTOM_PREFIX + name, value) for name, value in custom.items()]
    if fields.get("marketing_consent"):
        fillable.append(("marketing_consent_text", fields.get("consent_text", "")))
        sets.append("marketing_consent = :consent, marketing_consent_at = :at")
        values[":consent"] = True
    for position, (name, value) in enumerate(fillable):
        names[f"#f{position}"] = name
        values[f":f{position}"] = value
        sets.append(f"#f{position} = if_not_exists(#f{position}, :f{position})")
    update: dict[str, Any] = {
        "TableName": table,
        "Key": {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}},
        "UpdateExpression": "SET " + ", ".join(sets) + " ADD inquiry_count :one",
        "ExpressionAttributeValues": {k: ser(v) for k, v in values.items()},
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return [
        {
            "Put": {
                "TableName": table,
                "Item": {k: ser(v) for k, v in marker.items()},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        },
        {"Put": {"TableName": table, "Item": {k: ser(v) for k, v in timeline.items()}}},
        {"Update": update},
    ]


def _marker_existed(response: dict[str, Any]) -> bool:
    reasons = response.get("CancellationReasons") or []
    return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeDeserializer

    deser = TypeDeserializer().deserialize
    return {k: _undecimal(deser(v)) for k, v in item.items()}


def _undecimal(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _undecimal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_undecimal(v) for v in value]
    return value


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item without its key attributes; custom fields gathered under `custom`."""
    out: dict[str, Any] = {}
    custom: dict[str, Any] = dict(item.get("custom", {}))
    for key, value in item.items():
        if key in ("pk", "sk", "gsi1pk", "gsi1sk", "custom"):
            continue
        if key.startswith(CUSTOM_PREFIX):
            custom[key.removeprefix(CUSTOM_PREFIX)] = value
        else:
            out[key] = value
    if custom:
        out["custom"] = custom
    return out

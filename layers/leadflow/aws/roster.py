"""Data access for the roster: the reps of a client, in the leads table.

| item          | pk      | sk            | written                                        |
|---------------|---------|---------------|------------------------------------------------|
| rep           | ROSTER  | REP#<rep_id>  | by `leadflow reps`, and by each assignment to the rep |

A removed rep's item stays, marked `removed` (and inactive): the leads they still hold can
release their place when they close, and it is never read as part of the roster again.

All reps of a client share one partition, so routing reads the whole roster with one
consistent Query; each assignment writes only its owner's item (no item every lead
writes). Each rep item carries a `version`: an assignment is written only if the rep is
still as read, and every other change (`leadflow reps set`, a rep marking themselves away)
moves the version too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadflow.aws.client import LazyClient
from leadflow.aws.items import item_of, plain_of
from leadflow.aws.retry import with_backoff
from leadflow.lead.change import LedgerEntry, RepRelease
from leadflow.route.roster import Rep

ROSTER = "ROSTER"
# What `leadflow reps set` and the API may change; the rest is the ledger's (written by assignments).
EDITABLE = frozenset(
    {
        "name",
        "email",
        "teams",
        "territories",
        "weight",
        "capacity",
        "timezone",
        "workdays",
        "hours",
        "active",
        "away_until",
    }
)


def rep_key(rep_id: str) -> dict[str, Any]:
    return {"pk": {"S": ROSTER}, "sk": {"S": f"REP#{rep_id}"}}


class RepExists(Exception):
    pass


class UnknownRep(LookupError):
    pass


class RosterTable(LazyClient):
    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None, on_retry: Callable[[Exception], None] | None = None):
        super().__init__(client)
        self.table_name = table_name
        self.on_retry = on_retry

    def list_reps(self) -> list[Rep]:
        """Every rep of the client, as written last (one consistent Query, paginated)."""
        reps: list[Rep] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :rep)",
            "ExpressionAttributeValues": {":pk": {"S": ROSTER}, ":rep": {"S": "REP#"}},
            "ConsistentRead": True,
        }
        while True:
            answer = with_backoff(lambda: self.client.query(**kwargs), on_retry=self.on_retry)
            reps += [_rep(item) for item in answer.get("Items", []) if not _removed(item)]
            if "LastEvaluatedKey" not in answer:
                return reps
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def get_rep(self, rep_id: str) -> Rep | None:
        """The rep on the roster (None once removed)."""
        answer = with_backoff(
            lambda: self.client.get_item(TableName=self.table_name, Key=rep_key(rep_id), ConsistentRead=True),
            on_retry=self.on_retry,
        )
        item = answer.get("Item")
        return _rep(item) if item and not _removed(item) else None

    def add_rep(self, rep: Rep) -> None:
        from botocore.exceptions import ClientError

        data = {**rep.as_dict(), "version": 1}
        item = {**rep_key(rep.rep_id), **item_of(data)}
        item["served"] = {"M": item_of(data["served"])}  # an empty map too: assignments SET served.<team>
        try:
            self.client.put_item(TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise RepExists(rep.rep_id) from exc
            raise

    def update_rep(self, rep_id: str, changes: dict[str, Any]) -> Rep:
        """Set the given settings of a rep (None removes one); the rep as it is now."""
        from botocore.exceptions import ClientError

        unknown = set(changes) - EDITABLE
        if unknown:
            raise ValueError(
                f"cannot set {', '.join(sorted(unknown))}: a rep's settings are {', '.join(sorted(EDITABLE))}"
            )
        names = {f"#f{i}": name for i, name in enumerate(changes)}
        values: dict[str, Any] = {":one": {"N": "1"}}
        sets, removes = ["version = version + :one"], []
        for placeholder, name in names.items():
            value = changes[name]
            if value is None:
                removes.append(placeholder)
            else:
                values[f":v{placeholder[2:]}"] = item_of({"v": value})["v"]
                sets.append(f"{placeholder} = :v{placeholder[2:]}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            answer = with_backoff(
                lambda: self.client.update_item(
                    TableName=self.table_name,
                    Key=rep_key(rep_id),
                    UpdateExpression=expression,
                    ConditionExpression="attribute_exists(pk)",
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=values,
                    ReturnValues="ALL_NEW",
                ),
                on_retry=self.on_retry,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownRep(rep_id) from exc
            raise
        return _rep(answer["Attributes"])

    def remove_rep(self, rep_id: str) -> None:
        """Take a rep off the roster. Their item stays, marked removed and inactive: the leads they still hold
        release their place in it when they close, and past routing decisions keep a name to show."""
        from botocore.exceptions import ClientError

        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=rep_key(rep_id),
                UpdateExpression="SET removed = :yes, active = :no ADD version :one",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(removed) OR removed = :no)",
                ExpressionAttributeValues={":yes": {"BOOL": True}, ":no": {"BOOL": False}, ":one": {"N": "1"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise UnknownRep(rep_id) from exc
            raise


def ledger_update(table: str, entry: LedgerEntry | RepRelease) -> dict[str, Any]:
    """The transaction item a change writes to a rep: an assignment only if the rep is still as read."""
    if isinstance(entry, RepRelease):
        return {
            "Update": {
                "TableName": table,
                "Key": rep_key(entry.rep_id),
                "UpdateExpression": "ADD open_leads :minus_one, version :one",
                "ConditionExpression": "attribute_exists(pk)",  # never a rep item made up for a removed rep
                "ExpressionAttributeValues": {":minus_one": {"N": "-1"}, ":one": {"N": "1"}},
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": rep_key(entry.rep_id),
            "UpdateExpression": "SET served.#team = :served, open_leads = :open, last_assigned_at = :at, "
            "version = :next",
            "ConditionExpression": "version = :read",
            "ExpressionAttributeNames": {"#team": entry.team},
            "ExpressionAttributeValues": item_of(
                {
                    ":served": entry.served,
                    ":open": entry.open_leads,
                    ":at": entry.assigned_at,
                    ":next": entry.version + 1,
                    ":read": entry.version,
                }
            ),
        }
    }


def _removed(item: dict[str, Any]) -> bool:
    return bool(item.get("removed", {}).get("BOOL"))


def _rep(item: dict[str, Any]) -> Rep:
    return Rep.from_dict(plain_of(item))

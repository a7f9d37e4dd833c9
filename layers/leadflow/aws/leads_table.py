"""Data access for the leads table: the one place that knows its keys and items.

One table per client stack, single-table layout:

| item              | pk                   | sk                           | written                   |
|-------------------|----------------------|------------------------------|---------------------------|
| lead profile      | LEAD#<lead_id>       | PROFILE                      | by every change of a lead |
| timeline entry    | LEAD#<lead_id>       | TIMELINE#<at>#<version>.<n>.<id> | once                  |
| change marker     | MARKER#<marker>      | MARKER                       | once (idempotency)        |
| counter shard     | COUNTER#<name>       | <yyyy-mm-dd>#<shard>         | by 1 in COUNTER_SHARDS    |
| report shard      | REPORT#<dimension>   | <yyyy-mm-dd>#<shard>         | by 1 in COUNTER_SHARDS    |
| account link      | ACCOUNT#<domain>     | LEAD#<lead_id>               | with an owned lead of a company domain |
| work link         | TEAM#<team>          | OWNER#<rep>#<lead_id>, QUEUE#<due>#<lead_id> | with an open lead |
| nurture due       | LEAD#<lead_id>       | NURTURE                      | when its next email's time moves |
| rep (roster)      | ROSTER               | REP#<rep_id>                 | see leadflow.aws.roster   |

No hot items: nothing is written by every lead. A counter that every new lead moves is
split over COUNTER_SHARDS items per day (the shard comes from the lead id) and summed on
read, so concurrent transactions rarely meet on one item; when they do, DynamoDB cancels
with `TransactionConflict`, which `leadflow.aws.retry` retries with jittered backoff. A
transaction that writes many leads' changes at once (`write_many`) adds all their counts to
one shard drawn for it: had it added each to the lead's own, it would hold every shard of the
day, and any two such transactions at once (two nurture batches) would meet.

The report's figures (leadflow.report.figures) are kept the same way, one item per dimension,
day (the leads' capture day) and shard, holding one number per figure and value of the
dimension (`<figure>|<value>`, like `won|google`): a report of 90 days by source reads 90 days'
shards of `REPORT#source`, however many leads they counted.

Profiles carry `gsi1pk = LEADS#<yyyy-mm>#<shard>` and `gsi1sk = <created_at>#<lead_id>`, so
leads are listed month by month with Queries (one per shard, merged newest first), never a
Scan, and no index partition takes every new lead either. Beside the profile's own keys
(`leadflow.lead.profile.LeadProfile`) the item holds its `version` (optimistic locking)
and its `outbox` (what the last change has still to publish); neither reaches the rules.

A lead with an SLA timer running (`sla_next_at`: its next reminder or deadline) also carries
`gsi2pk = DUE#<shard>` and `gsi2sk = <sla_next_at>#<lead_id>`: a sparse index the SLA sweep
Queries for what is due, reading nothing else. A lead with an owner and a company email
domain (`account_domain`) keeps an account link, so that account matching finds the
company's leads with one Query.

A lead with a nurture email to come (`nurture_next_at`) keeps one small item of its own beside
the profile, `sk = NURTURE`, in the same due index under `gsi2pk = NURTURE#<shard>`: a lead can
have an SLA timer and a nurture email due at once, and each sweep reads only its own
partitions. The item is put or deleted in the lead's transaction when the time moves, so the
index never disagrees with the profile.

An open lead of a team (owned and not yet won, lost or rejected; or waiting in the team's
queue) keeps one work link in its team's partition, a summary of what a list shows. A rep's
leads, a team's queue (most urgent first) and a manager's team are each a Query of one
partition per team, never a read of every lead; no GSI, so the lists are read consistently
and a claim never meets a lead the list has not caught up with. The link moves with the lead
in the same transaction: the old one deleted, the new one put.
"""

from __future__ import annotations

import hashlib
import heapq
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from leadflow.aws.client import LazyClient
from leadflow.aws.items import item_of, plain_of
from leadflow.aws.retry import cancellation_reasons, with_backoff
from leadflow.aws.roster import ledger_update
from leadflow.lead.change import (
    WAITING_STAGES,
    AlreadyApplied,
    Conflict,
    CounterDelta,
    LeadChange,
    OutboxItem,
    StoredLead,
)
from leadflow.lead.profile import LeadProfile, TimelineEntry
from leadflow.report.figures import OTHER, SENT_DIMENSIONS, FigureDelta, as_other
from leadflow.route.assignment import AccountLead

PROFILE = "PROFILE"
NURTURE_DUE = "NURTURE"
MAX_BATCH_GET = 100  # keys per BatchGetItem request
MAX_UNPROCESSED_ROUNDS = 8  # BatchGetItem rounds for the keys DynamoDB left unprocessed
MAX_TRANSACTION_ITEMS = 100  # items per TransactWriteItems request
COUNTER_SHARDS = 10
COUNTER_PREFIX, REPORT_PREFIX = "COUNTER#", "REPORT#"
VALUES = "values"  # a report item's set of the values it counts (of the dimensions a website sends)
MOST_VALUES = 50  # of them per item: 50 values x every figure (about 75) x 103-byte attributes stays below 400 KB
MAX_LIST_MONTHS = 36
LEADS_BY_CREATED_INDEX = "by_created"  # leadflow.definition declares it
LEADS_BY_DUE_INDEX = "by_due"  # leadflow.definition declares it
STORAGE_ATTRIBUTES = ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "version", "outbox")
HELD_MOST = 2000  # profile items a table remembers as read or written (a sweep's batch is 25)


Claim = Literal["claimed", "done", "busy"]  # what LeadsTable.claim found


def _utc(moment: datetime) -> str:
    """A moment as markers compare them: ISO 8601 in UTC, to the microsecond (string order is time order)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _marker_key(marker: str) -> dict[str, Any]:
    return {"pk": {"S": f"MARKER#{marker}"}, "sk": {"S": "MARKER"}}


def lead_pk(lead_id: str) -> str:
    return f"LEAD#{lead_id}"


def counter_key(name: str, day: str, shard: int) -> dict[str, Any]:
    """One shard of one day of a counter (summed on read by `count`)."""
    return {"pk": {"S": f"{COUNTER_PREFIX}{name}"}, "sk": {"S": f"{day}#{shard:02d}"}}


def report_key(dimension: str, day: str, shard: int) -> dict[str, Any]:
    """One shard of one day of a report dimension (its figures by value, summed on read by `report_items`)."""
    return {"pk": {"S": f"{REPORT_PREFIX}{dimension}"}, "sk": {"S": f"{day}#{shard:02d}"}}


def figure_attribute(figure: str, value: str) -> str:
    """The attribute a figure's count for one value of a dimension is kept in (a figure never holds a "|")."""
    return f"{figure}|{value}"


def additions(table: str, key: dict[str, Any], amounts: dict[str, int]) -> dict[str, Any]:
    """The Update that adds `amounts` (attribute -> amount) to a counter or report item."""
    return {
        "TableName": table,
        "Key": key,
        "UpdateExpression": "ADD " + ", ".join(f"#c{n} :c{n}" for n in range(len(amounts))),
        "ExpressionAttributeNames": {f"#c{n}": name for n, name in enumerate(amounts)},
        "ExpressionAttributeValues": {f":c{n}": {"N": str(amount)} for n, amount in enumerate(amounts.values())},
    }


def added(update: dict[str, Any]) -> dict[str, int]:
    """What an `additions` Update adds: attribute -> amount (a report item's set of values aside)."""
    names, values = update["ExpressionAttributeNames"], update["ExpressionAttributeValues"]
    return {name: int(values[f":c{placeholder[2:]}"]["N"]) for placeholder, name in names.items()
            if placeholder.startswith("#c")}  # fmt: skip


def added_values(update: dict[str, Any]) -> set[str]:
    """The values a report item's Update adds to its set of values (empty for a counter)."""
    return set(update["ExpressionAttributeValues"].get(":values", {}).get("SS", []))


def values_to_hold(figures: Iterable[FigureDelta], shard: int) -> dict[tuple[str, str], set[str]]:
    """The values of the dimensions a website sends that figures count under, by report item (pk, sk) on `shard`."""
    found: dict[tuple[str, str], set[str]] = {}
    for delta in figures:
        for dimension, value in delta.values:
            if dimension in SENT_DIMENSIONS and value != OTHER:
                key = report_key(dimension, delta.day, shard)
                found.setdefault((key["pk"]["S"], key["sk"]["S"]), set()).add(value)
    return found


def report_update(table: str, key: dict[str, Any], amounts: dict[str, int], values: set[str]) -> dict[str, Any]:
    """The Update of one report item: its figures added, and `values` added to its set of values, only while
    each is in the set already or the set holds fewer than MOST_VALUES (an item never outgrows DynamoDB's 400 KB).
    """
    update = additions(table, key, amounts)
    if not values:
        return update
    ordered = sorted(values)
    update["UpdateExpression"] += ", #values :values"
    update["ExpressionAttributeNames"]["#values"] = VALUES
    update["ExpressionAttributeValues"] |= {
        ":values": {"SS": ordered},
        ":room": {"N": str(MOST_VALUES - len(ordered))},
        **{f":v{n}": {"S": value} for n, value in enumerate(ordered)},
    }
    known = " AND ".join(f"contains(#values, :v{n})" for n in range(len(ordered)))
    update["ConditionExpression"] = f"attribute_not_exists(#values) OR ({known}) OR size(#values) <= :room"
    return update


def listing_partition(month: str, shard: int) -> str:
    """The index partition a lead is listed in: its month, split like the counters (no hot partition)."""
    return f"LEADS#{month}#{shard:02d}"


def due_partition(shard: int) -> str:
    """The due index partition a lead's SLA timer is in (split like the counters)."""
    return f"DUE#{shard:02d}"


def nurture_due_partition(shard: int) -> str:
    """The due index partition a lead's next nurture email is in (beside the SLA timers', split alike)."""
    return f"NURTURE#{shard:02d}"


def counter_shard(lead_id: str) -> int:
    return int(hashlib.sha256(lead_id.encode()).hexdigest()[:8], 16) % COUNTER_SHARDS


@dataclass
class Lead:
    """A lead with its timeline, as people look at it."""

    profile: LeadProfile
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def inquiries(self) -> list[TimelineEntry]:
        return [entry for entry in self.timeline if entry.get("type") == "inquiry"]


class LeadsTable(LazyClient):
    service = "dynamodb"

    def __init__(self, table_name: str, client: Any = None, on_retry: Callable[[Exception], None] | None = None):
        super().__init__(client)
        self.table_name = table_name
        self.on_retry = on_retry
        self.give_up_at: float | None = None  # time.monotonic() after which no retry starts (a Lambda's deadline)
        self.items_read = 0  # by the due index's Queries: a sweep reads what is due, nothing else
        self._held: dict[str, tuple[int, dict[str, Any]]] = {}  # see `_hold`
        self._holding = threading.Lock()  # a sweep's batches write from threads of their own

    def _hold(self, lead_id: str, version: int, item: dict[str, Any]) -> None:
        """Remember the profile item stored at `version` (as read, or as this table wrote it).

        A change of the lead at that version then writes only the attributes it changed (see
        `change_transaction`). It is written only if the lead is still at that version, and each
        version has one item, so what is remembered can be out of date but never wrong for the
        version it names; a write that leaves the version as it is (`clear_outbox`) forgets it.
        """
        with self._holding:
            self._held.pop(lead_id, None)
            if len(self._held) >= HELD_MOST:
                del self._held[next(iter(self._held))]  # the longest remembered
            self._held[lead_id] = (version, item)

    def _forget(self, lead_id: str) -> None:
        with self._holding:
            self._held.pop(lead_id, None)

    def _held_at(self, read: StoredLead | None) -> dict[str, Any] | None:
        if read is None:
            return None
        held = self._held.get(read.profile["lead_id"])
        return held[1] if held is not None and held[0] == read.version else None

    def _stored(self, item: dict[str, Any]) -> StoredLead:
        stored = _stored(item)
        self._hold(stored.profile["lead_id"], stored.version, item)
        return stored

    # --- the applier's port (leadflow.lead.change.LeadStore) ---------------------------

    def read(self, lead_id: str) -> StoredLead | None:
        answer = self._retrying(
            lambda: self.client.get_item(
                TableName=self.table_name,
                Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}},
                ConsistentRead=True,
            )
        )
        item = answer.get("Item")
        return self._stored(item) if item else None

    def read_many(self, lead_ids: Sequence[str]) -> dict[str, StoredLead]:
        """The stored leads among `lead_ids`, by id, read consistently in BatchGetItem requests of 100 keys."""
        found: dict[str, StoredLead] = {}
        for start in range(0, len(lead_ids), MAX_BATCH_GET):
            keys = [
                {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}}
                for lead_id in lead_ids[start : start + MAX_BATCH_GET]
            ]
            request: dict[str, Any] = {self.table_name: {"Keys": keys, "ConsistentRead": True}}
            for attempt in range(MAX_UNPROCESSED_ROUNDS):
                answer = self._retrying(lambda: self.client.batch_get_item(RequestItems=request))  # noqa: B023 - called at once
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    stored = self._stored(item)
                    found[stored.profile["lead_id"]] = stored
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(0.05 * 2**attempt)  # DynamoDB read what it could this time: the rest, after a pause
            else:
                raise RuntimeError(f"{self.table_name}: keys still unprocessed after {MAX_UNPROCESSED_ROUNDS} rounds")
        return found

    def write(self, change: LeadChange, read: StoredLead | None, outbox: list[OutboxItem]) -> int:
        """Write the change if the lead is still as read (see LeadStore).

        A report item whose set of values is full (MOST_VALUES) refuses a lead with a new value:
        the change is written again at once with the lead's value in that dimension as OTHER,
        on its profile too, so that a flood of made-up campaign names never stops a lead.
        """
        from botocore.exceptions import ClientError

        lead_id = change.profile["lead_id"]
        full: set[str] = set()
        for _ in range(len(SENT_DIMENSIONS) + 1):  # each pass moves one more full dimension to OTHER, at the least
            written = change_transaction(self.table_name, change, read, outbox, self._held_at(read))
            items, profile_at, version = written.items, written.profile_at, written.version
            try:
                self._retrying(lambda: self.client.transact_write_items(TransactItems=items))  # noqa: B023 - at once
            except ClientError as exc:
                self._forget(lead_id)
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = cancellation_reasons(exc)
                if change.marker is not None and reasons[:1] == ["ConditionalCheckFailed"]:
                    raise AlreadyApplied(change.marker) from exc
                ledger = range(len(reasons) - len(change.ledger), len(reasons)) if change.ledger else range(0)
                if any(len(reasons) > at and reasons[at] == "ConditionalCheckFailed" for at in [profile_at, *ledger]):
                    raise Conflict(lead_id) from exc  # the lead, or a rep it was to go to, moved on
                refused = {dimension for at, dimension in written.reports.items()
                           if len(reasons) > at and reasons[at] == "ConditionalCheckFailed"}  # fmt: skip
                if not refused - full:
                    raise
                full |= refused
                change.figures = as_other(change.profile, change.figures, full)
                continue
            self._hold(lead_id, version, written.profile_item)
            return version
        raise AssertionError("unreachable: with every sent dimension OTHER, no report item has a condition")

    def write_many(self, writes: Sequence[tuple[LeadChange, StoredLead]]) -> list[int]:
        """Write changes of many leads, each at the version read, in as few transactions as fit; the ones not written.

        A transaction holds up to 100 items; the counters several changes add to are added up into
        one update. Each transaction is all or nothing: when any lead in it moved on since it was
        read, none of its changes is written, and their places in `writes` are returned, for the
        caller to apply one at a time. Only for changes with no marker, no rep's ledger and nothing
        to publish (see `apply_changes`).
        """
        from botocore.exceptions import ClientError

        if any(change.figures for change, _ in writes):
            raise ValueError("a change with report figures is written alone (apply_changes keeps it out)")
        not_written: list[int] = []
        written = [
            change_transaction(self.table_name, change, read, [], self._held_at(read)) for change, read in writes
        ]
        for places, items in _transactions(written):
            try:
                self._retrying(lambda: self.client.transact_write_items(TransactItems=items))  # noqa: B023 - called at once
            except ClientError as exc:
                for place in places:
                    self._forget(writes[place][0].profile["lead_id"])
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                not_written.extend(places)
                continue
            for place in places:
                self._hold(writes[place][0].profile["lead_id"], written[place].version, written[place].profile_item)
        return not_written

    def clear_outbox(self, lead_id: str, version: int) -> bool:
        """Empty the outbox once published; False if the lead moved on (its writer publishes)."""
        from botocore.exceptions import ClientError

        try:
            self._retrying(
                lambda: self.client.update_item(
                    TableName=self.table_name,
                    Key={"pk": {"S": lead_pk(lead_id)}, "sk": {"S": PROFILE}},
                    UpdateExpression="REMOVE outbox",
                    ConditionExpression="version = :v",
                    ExpressionAttributeValues={":v": {"N": str(version)}},
                )
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        finally:
            self._forget(lead_id)  # the item changed at the same version
        return True

    # --- reading for people and tools ---------------------------------------------------

    def get_profile(self, lead_id: str) -> LeadProfile | None:
        stored = self.read(lead_id)
        return stored.profile if stored else None

    def count(self, name: str = "leads") -> int:
        """A counter's total: the sum of its shards over every day (one Query, paginated)."""
        total = 0
        for item in self._query_all(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"COUNTER#{name}"}}
        ):
            total += int(item.get("count", 0))
        return total

    def report_items(self, dimension: str, first_day: str, last_day: str) -> list[dict[str, Any]]:
        """A report dimension's items of the days `first_day` to `last_day` (yyyy-mm-dd), every shard: one Query, paged.

        What it reads grows with the days (and the dimension's values counted on them), never
        with the number of leads. Each item: its `sk` ("<day>#<shard>") and `<figure>|<value>`
        numbers (see leadflow.report.figures).
        """
        return self._query_all(
            KeyConditionExpression="pk = :pk AND sk BETWEEN :first AND :last",
            ExpressionAttributeValues={
                ":pk": {"S": f"{REPORT_PREFIX}{dimension}"},
                ":first": {"S": f"{first_day}#"},
                ":last": {"S": f"{last_day}#~"},
            },
        )

    def get_lead(self, lead_id: str) -> Lead | None:
        items = self._query_all(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": lead_pk(lead_id)}},
        )
        profile = next((i for i in items if i["sk"] == PROFILE), None)
        if profile is None:
            return None
        timeline = sorted((i for i in items if i["sk"].startswith("TIMELINE#")), key=lambda i: i["sk"])
        return Lead(_profile(profile), [_entry(i) for i in timeline])

    def list_leads(self, limit: int = 20, now: datetime | None = None) -> list[LeadProfile]:
        """The newest leads first."""
        found: list[LeadProfile] = []
        for page in self.pages_of_leads(now=now, page_size=min(limit, 100)):
            found += page
            if len(found) >= limit:
                break
        return found[:limit]

    def pages_of_leads(self, now: datetime | None = None, page_size: int = 100) -> Iterator[list[LeadProfile]]:
        """Every lead, newest first, a page at a time: Queries per month and shard, never a Scan."""
        now = now or datetime.now(UTC)
        year, month = now.year, now.month
        for _ in range(MAX_LIST_MONTHS):
            shards = [self._month_shard(f"{year:04d}-{month:02d}", shard, page_size) for shard in range(COUNTER_SHARDS)]
            page: list[LeadProfile] = []
            for _, profile in heapq.merge(*shards, reverse=True):
                page.append(profile)
                if len(page) == page_size:
                    yield page
                    page = []
            if page:
                yield page
            year, month = (year - 1, 12) if month == 1 else (year, month - 1)

    def _month_shard(self, month: str, shard: int, page_size: int) -> Iterator[tuple[str, LeadProfile]]:
        """One shard of a month's leads, newest first, read a page at a time as the merge asks for them."""
        start: dict[str, Any] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": LEADS_BY_CREATED_INDEX,
                "KeyConditionExpression": "gsi1pk = :m",
                "ExpressionAttributeValues": {":m": {"S": listing_partition(month, shard)}},
                "ScanIndexForward": False,
                "Limit": page_size,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            answer = self.client.query(**kwargs)
            for item in answer.get("Items", []):
                plain = plain_of(item)
                yield plain["gsi1sk"], _profile(plain)
            start = answer.get("LastEvaluatedKey")
            if not start:
                return

    def marked(self, marker: str) -> bool:
        """Whether `mark(marker)` was stored: something done once (an email sent for an event)."""
        answer = self.client.get_item(TableName=self.table_name, Key=_marker_key(marker), ConsistentRead=True)
        return "Item" in answer

    def mark(self, marker: str) -> None:
        self._retrying(lambda: self.client.put_item(TableName=self.table_name, Item=_marker_key(marker)))

    def claim(self, marker: str, token: str, now: datetime, until: datetime) -> Claim:
        """Claim something to be done once (a weekly email) for a run (`token`) that lasts `until`.

        One conditional PutItem. It takes a marker nobody holds, one released, one whose run's
        time ran out (the run died), or its own (a retried request whose first try landed);
        never one done. Otherwise it says why not: "done", or "busy" (another run has it now).
        """
        from botocore.exceptions import ClientError

        item = {**_marker_key(marker), "state": {"S": "claimed"}, "token": {"S": token}, "until": {"S": _utc(until)}}
        try:
            self._retrying(
                lambda: self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression="attribute_not_exists(pk) OR "
                    "(#state <> :done AND (#until < :now OR #token = :token))",
                    ExpressionAttributeNames={"#state": "state", "#until": "until", "#token": "token"},
                    ExpressionAttributeValues={
                        ":done": {"S": "done"},
                        ":now": {"S": _utc(now)},
                        ":token": {"S": token},
                    },
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            held = exc.response.get("Item", {})
            return "done" if held.get("state", {}).get("S") == "done" else "busy"
        return "claimed"

    def settle(self, marker: str, now: datetime) -> None:
        """What `claim` took is done: nobody claims it again."""
        item = {**_marker_key(marker), "state": {"S": "done"}, "until": {"S": _utc(now)}}
        self._retrying(lambda: self.client.put_item(TableName=self.table_name, Item=item))

    def release(self, marker: str, token: str) -> None:
        """What this run's `claim` took was not done (the send failed): the next run may claim it at once.

        Only while the claim is still this run's: a run that took it over since is left alone.
        """
        from botocore.exceptions import ClientError

        item = {**_marker_key(marker), "state": {"S": "released"}, "until": {"S": ""}}
        try:
            self._retrying(
                lambda: self.client.put_item(
                    TableName=self.table_name,
                    Item=item,
                    ConditionExpression="#state = :claimed AND #token = :token",
                    ExpressionAttributeNames={"#state": "state", "#token": "token"},
                    ExpressionAttributeValues={":claimed": {"S": "claimed"}, ":token": {"S": token}},
                )
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise

    def due_lead_ids(self, until: str) -> Iterator[str]:
        """Leads whose SLA timer (`sla_next_at`) is at or before `until` (ISO 8601 UTC), from the sparse due index.

        One Query per shard, paginated: every item read is a due lead, so a sweep reads what is due
        and nothing else. Earliest first within a shard.
        """
        return self._due(due_partition, until)

    def nurture_due_lead_ids(self, until: str) -> Iterator[str]:
        """Leads whose next nurture email (`nurture_next_at`) is at or before `until`: read as `due_lead_ids`."""
        return self._due(nurture_due_partition, until)

    def _due(self, partition: Callable[[int], str], until: str) -> Iterator[str]:
        for shard in range(COUNTER_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": LEADS_BY_DUE_INDEX,
                "KeyConditionExpression": "gsi2pk = :shard AND gsi2sk <= :until",
                "ExpressionAttributeValues": {":shard": {"S": partition(shard)}, ":until": {"S": f"{until}#~"}},
            }
            while True:
                answer = self._retrying(lambda query=kwargs: self.client.query(**query))  # type: ignore[misc]
                self.items_read += int(answer.get("ScannedCount", len(answer.get("Items", []))))
                yield from (item["pk"]["S"].removeprefix("LEAD#") for item in answer.get("Items", []))  # keys only
                if "LastEvaluatedKey" not in answer:
                    break
                kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def work_list(
        self, team: str, owner: str | None = None, queued: bool = False, most: int = 1000
    ) -> list[dict[str, Any]]:
        """A team's open leads (work links; queued ones most urgent first): one owner's, the queue, or all.

        Reads no more than `most` links: a list costs what it shows, not what the team holds.
        """
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": f"TEAM#{team}"}},
            "ConsistentRead": True,
        }
        prefix = f"OWNER#{owner}#" if owner else "QUEUE#" if queued else None
        if prefix:
            kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
            kwargs["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        links = self._query_all(most=most, **kwargs)
        return [{k: v for k, v in link.items() if k not in ("pk", "sk")} for link in links]

    def relink(self, lead_id: str) -> bool:
        """Write a lead's work link from its profile as stored now (leads stored before links existed); True if open."""
        stored = self.read(lead_id)
        link = work_link(stored.profile) if stored else None
        if link is not None:
            self._retrying(lambda: self.client.put_item(TableName=self.table_name, Item=item_of(link)))
        return link is not None

    def account_leads(self, domain: str) -> list[AccountLead]:
        """The company's owned leads (by email domain), most recently changed first: one Query."""
        links = self._query_all(
            KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"ACCOUNT#{domain}"}}
        )
        found = [
            AccountLead(domain, link["lead_id"], link["owner"], link.get("stage", ""), link.get("at", ""))
            for link in links
            if link.get("owner")
        ]
        return sorted(found, key=lambda a: a.at, reverse=True)

    def _query_all(self, most: int | None = None, **kwargs: Any) -> list[dict[str, Any]]:
        """The items a Query finds (`most` of them at the most), page by page, each retried when throttled."""
        items: list[dict[str, Any]] = []
        query: dict[str, Any] = {"TableName": self.table_name, **kwargs}
        while most is None or len(items) < most:
            if most is not None:
                query["Limit"] = most - len(items)
            answer = self._retrying(lambda: self.client.query(**query))
            items += [plain_of(i) for i in answer.get("Items", [])]
            if "LastEvaluatedKey" not in answer:
                break
            query["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return items

    def _retrying(self, call: Callable[[], Any]) -> Any:
        return with_backoff(call, on_retry=self.on_retry, give_up_at=self.give_up_at)


@dataclass(frozen=True)
class Transaction:
    """A change's TransactItems, where the profile's write is among them, its new version and its item as written."""

    items: list[dict[str, Any]]
    profile_at: int
    version: int
    profile_item: dict[str, Any]  # the whole profile item, as the table holds it once written
    reports: dict[int, str] = field(default_factory=dict)  # the report items' places among the items: dimension


def change_transaction(
    table: str,
    change: LeadChange,
    read: StoredLead | None,
    outbox: list[OutboxItem],
    held: dict[str, Any] | None = None,
) -> Transaction:
    """The transaction that writes a change of a lead read at `read` (None: a new lead).

    With `held`, the profile item as stored at the version read, the profile is written as an
    Update of the attributes that differ from it (a nurture step changes 4 of its 20-odd), else
    as a whole Put: either only if the lead is still at the version read.
    """
    profile = change.profile
    lead_id = profile["lead_id"]
    items: list[dict[str, Any]] = []
    if change.marker is not None:
        at = change.timeline[0]["at"] if change.timeline else profile.get("updated_at", "")
        marker = {"pk": f"MARKER#{change.marker}", "sk": "MARKER", "lead_id": lead_id, "at": at}
        items.append(
            {"Put": {"TableName": table, "Item": item_of(marker), "ConditionExpression": "attribute_not_exists(pk)"}}
        )
    version = (read.version if read else 0) + 1
    for position, entry in enumerate(change.timeline):
        # Ordered by time, then by the change (its version) and the entry's place in it; never two alike.
        entry_id = f"{version:08d}.{position:02d}.{entry.get('inquiry_id') or entry['type']}"
        key = {"pk": lead_pk(lead_id), "sk": f"TIMELINE#{entry['at']}#{entry_id}"}
        items.append({"Put": {"TableName": table, "Item": item_of({**key, **entry})}})
    stored = {
        **profile,
        "pk": lead_pk(lead_id),
        "sk": PROFILE,
        "gsi1pk": listing_partition(profile["created_at"][:7], counter_shard(lead_id)),
        "gsi1sk": f"{profile['created_at']}#{lead_id}",
        "version": version,
        "outbox": [{"kind": item.kind, "body": item.body} for item in outbox] or None,
    }
    if profile.get("sla_next_at"):
        stored |= {"gsi2pk": due_partition(counter_shard(lead_id)), "gsi2sk": f"{profile['sla_next_at']}#{lead_id}"}
    profile_item = item_of(stored)
    profile_at = len(items)
    if read is None:
        items.append({"Put": {"TableName": table, "Item": profile_item,
                              "ConditionExpression": "attribute_not_exists(pk)"}})  # fmt: skip
    elif held is None:
        items.append({"Put": {"TableName": table, "Item": profile_item, "ConditionExpression": "version = :v",
                              "ExpressionAttributeValues": {":v": {"N": str(read.version)}}}})  # fmt: skip
    else:
        items.append({"Update": _changed_attributes(table, held, profile_item, read.version)})
    shard = counter_shard(lead_id)
    # A lead's values enter its capture-day items' sets when its capture is counted (as it is captured, or by
    # `leadflow report backfill`); its later figures land on the same items (its capture day, its shard), which
    # hold its values already: only the change that counts the capture is checked for room.
    captured = any(delta.figure == "captured" for delta in change.figures)
    values = values_to_hold(change.figures, shard) if captured else {}
    reports: dict[int, str] = {}  # where each report item's update is among the items: its dimension
    for (pk, sk), amounts in counted(change.counters, change.figures, shard).items():
        target = {"pk": {"S": pk}, "sk": {"S": sk}}
        if pk.startswith(REPORT_PREFIX):
            reports[len(items)] = pk.removeprefix(REPORT_PREFIX)
            items.append({"Update": report_update(table, target, amounts, values.get((pk, sk), set()))})
        else:
            items.append({"Update": additions(table, target, amounts)})
    if profile.get("account_domain"):  # the company's link to this lead, naming its owner while it has one
        link = {
            "pk": f"ACCOUNT#{profile['account_domain']}",
            "sk": lead_pk(lead_id),
            "lead_id": lead_id,
            "owner": profile.get("owner"),
            "stage": profile.get("stage"),
            "at": profile.get("updated_at"),
        }
        items.append({"Put": {"TableName": table, "Item": item_of(link)}})
    before = work_link(read.profile) if read else None
    after = work_link(profile)
    if before is not None and (after is None or before["sk"] != after["sk"] or before["pk"] != after["pk"]):
        gone = {"pk": {"S": before["pk"]}, "sk": {"S": before["sk"]}}
        items.append({"Delete": {"TableName": table, "Key": gone}})
    if after is not None:
        items.append({"Put": {"TableName": table, "Item": item_of(after)}})
    items += _nurture_due(table, read.profile if read else None, profile)
    items += [ledger_update(table, entry) for entry in change.ledger]  # last: a Conflict is read from the end
    return Transaction(items, profile_at, version, profile_item, reports)


def counted(
    counters: Iterable[CounterDelta], figures: Iterable[FigureDelta], shard: int
) -> dict[tuple[str, str], dict[str, int]]:
    """What counters and report figures add to their items on `shard`: by key (pk, sk), attribute -> amount."""
    counted: dict[tuple[str, str], dict[str, int]] = {}

    def add(key: dict[str, Any], attribute: str, amount: int) -> None:
        amounts = counted.setdefault((key["pk"]["S"], key["sk"]["S"]), {})
        amounts[attribute] = amounts.get(attribute, 0) + amount

    for counter in counters:
        add(counter_key(counter.name, counter.day, shard), "count", counter.amount)
    for delta in figures:
        for dimension, value in delta.values:
            add(report_key(dimension, delta.day, shard), figure_attribute(delta.figure, value), delta.amount)
    return counted


def _changed_attributes(table: str, held: dict[str, Any], item: dict[str, Any], version: int) -> dict[str, Any]:
    """The Update that turns the profile item `held` (at `version`) into `item`: set what differs, remove what went.

    Every name goes through a placeholder (a profile's keys may be DynamoDB reserved words).
    `version` always differs, so there is always something to set.
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {":v": {"N": str(version)}}
    sets: list[str] = []
    removes: list[str] = []
    for name, value in item.items():
        if held.get(name) != value:
            names[f"#a{len(names)}"] = name
            values[f":a{len(names) - 1}"] = value
            sets.append(f"#a{len(names) - 1} = :a{len(names) - 1}")
    for name in sorted(held.keys() - item.keys()):
        names[f"#a{len(names)}"] = name
        removes.append(f"#a{len(names) - 1}")
    expression = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
    return {
        "TableName": table,
        "Key": {"pk": item["pk"], "sk": item["sk"]},
        "UpdateExpression": expression,
        "ConditionExpression": "version = :v",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }


def _nurture_due(table: str, before: LeadProfile | None, after: LeadProfile) -> list[dict[str, Any]]:
    """The lead's nurture due item, put when its time moves and deleted when nothing more is due."""
    lead_id = after["lead_id"]
    was, due = (before or {}).get("nurture_next_at"), after.get("nurture_next_at")
    if was == due:
        return []
    if due is None:
        return [{"Delete": {"TableName": table, "Key": {"pk": {"S": lead_pk(lead_id)}, "sk": {"S": NURTURE_DUE}}}}]
    item = {
        "pk": lead_pk(lead_id),
        "sk": NURTURE_DUE,
        "gsi2pk": nurture_due_partition(counter_shard(lead_id)),
        "gsi2sk": f"{due}#{lead_id}",
    }
    return [{"Put": {"TableName": table, "Item": item_of(item)}}]


# Stages in which a lead is someone's work: owned and open, or waiting in a team's queue.
OWNED_OPEN = frozenset({"assigned", "accepted", "contacted", "meeting", "opportunity", "qualifying"})


def work_link(profile: LeadProfile) -> dict[str, Any] | None:
    """The lead's link in its team's work list, or None when it is nobody's work (closed, nurtured, unrouted)."""
    stage, owner, queue, team = profile.get("stage"), profile.get("owner"), profile.get("queue"), profile.get("team")
    lead_id = profile["lead_id"]
    if owner and team and stage in OWNED_OPEN:
        pk, sk = f"TEAM#{team}", f"OWNER#{owner}#{lead_id}"
    elif not owner and queue and stage in WAITING_STAGES:
        pk, sk = f"TEAM#{queue}", f"QUEUE#{(profile.get('sla') or {}).get('due_at') or '~'}#{lead_id}"
    else:
        return None
    name = " ".join(part for part in (profile.get("first_name"), profile.get("last_name")) if part)
    summary = {
        "lead_id": lead_id,
        "stage": stage,
        "team": team or queue,
        "owner": owner,
        "owner_name": profile.get("owner_name"),
        "queue": None if owner else queue,
        "name": name or None,
        "company": profile.get("company"),
        "score": (profile.get("score") or {}).get("total"),
        "priority": profile.get("priority"),
        "assigned_at": profile.get("assigned_at") if owner else None,
        "due_at": (profile.get("sla") or {}).get("due_at") if profile.get("sla_next_at") else None,
        "updated_at": profile.get("updated_at"),
    }
    return {"pk": pk, "sk": sk, **{k: v for k, v in summary.items() if v is not None}}


def _stored(item: dict[str, Any]) -> StoredLead:
    """A profile item as read (wire format): the profile, its version and what it still has to publish."""
    plain = plain_of(item)
    outbox = tuple(OutboxItem(entry["kind"], entry["body"]) for entry in plain.get("outbox") or [])
    return StoredLead(_profile(plain), int(plain["version"]), outbox)


def _transactions(writes: Sequence[Transaction]) -> Iterator[tuple[list[int], list[dict[str, Any]]]]:
    """Changes' transactions grouped into ones of at most 100 items: each group's places in `writes` and its items.

    DynamoDB refuses two operations on one item in a transaction, so the counter updates of a
    group are summed into one per counter and day, on one shard drawn for the group. A
    group then holds one counter item of the day, not every shard, and two groups written at once
    meet on a counter one time in COUNTER_SHARDS. The shard is drawn, not taken from the group's
    leads: a sweep's batches come from the due index shard by shard, so their leads share one.
    """
    places: list[int] = []
    items: list[dict[str, Any]] = []
    counters: dict[tuple[str, str], dict[str, int]] = {}  # by counter (pk) and day: what it adds
    table = ""
    for place, written in enumerate(writes):
        keyed = [(_counter_key(item), item) for item in written.items]
        plain = [item for key, item in keyed if key is None]
        counted = [(key, item) for key, item in keyed if key is not None]
        new_counters = {key for key, _ in counted} - counters.keys()
        if places and len(items) + len(counters) + len(plain) + len(new_counters) > MAX_TRANSACTION_ITEMS:
            yield places, items + _on_one_shard(table, counters)
            places, items, counters = [], [], {}
        places.append(place)
        items.extend(plain)
        for key, item in counted:
            table = item["Update"]["TableName"]
            amounts = counters.setdefault(key, {})
            for attribute, amount in added(item["Update"]).items():
                amounts[attribute] = amounts.get(attribute, 0) + amount
    if places:
        yield places, items + _on_one_shard(table, counters)


def _on_one_shard(table: str, counters: dict[tuple[str, str], dict[str, int]]) -> list[dict[str, Any]]:
    """A group's summed counter updates, every one on the same shard of its day, drawn for the group."""
    shard = random.randrange(COUNTER_SHARDS)  # noqa: S311 - spreads writes, guards nothing
    return [
        {"Update": additions(table, {"pk": {"S": pk}, "sk": {"S": f"{day}#{shard:02d}"}}, amounts)}
        for (pk, day), amounts in counters.items()
    ]


def _counter_key(item: dict[str, Any]) -> tuple[str, str] | None:
    """The counter and day a transaction item adds to, (pk, "<day>"), whatever its shard; else None.

    Report items are never summed: a change with report figures is written alone (see `apply_changes`).
    """
    update = item.get("Update")
    if update is None or not update["Key"]["pk"]["S"].startswith(COUNTER_PREFIX):
        return None
    sort_key = update["Key"]["sk"]["S"]  # "<day>#<shard>"
    return update["Key"]["pk"]["S"], sort_key[: sort_key.rindex("#")]


def _profile(item: dict[str, Any]) -> LeadProfile:
    return {k: v for k, v in item.items() if k not in STORAGE_ATTRIBUTES}  # type: ignore[return-value]


def _entry(item: dict[str, Any]) -> TimelineEntry:
    return {k: v for k, v in item.items() if k not in ("pk", "sk")}  # type: ignore[return-value]

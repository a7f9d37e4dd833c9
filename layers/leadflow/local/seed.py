"""Seed a client's local stack with many leads, fast: the items intake would write, made in process.

Each synthetic lead goes through the same rules as a real inquiry (`plan_inquiry`: merge,
verify, score, stage) and becomes the same items (`change_transaction`: profile, timeline
entry, idempotency marker), with the lead counter summed per shard. The items are then
written straight into the local state file (`leadflow seed`, for `make run` to restore) or
into moto's tables in this process (`make bench`), never one HTTP request per item.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.aws.items import plain_of
from leadflow.aws.leads_table import (
    COUNTER_PREFIX,
    PROFILE,
    REPORT_PREFIX,
    VALUES,
    added,
    added_values,
    change_transaction,
    counted,
    counter_shard,
    values_to_hold,
)
from leadflow.config import ClientConfig
from leadflow.lead.change import CounterDelta
from leadflow.lead.ids import LeadIds
from leadflow.local.state import SCHEMA, item_key
from leadflow.qualify.changes import plan_inquiry
from leadflow.report.figures import new_figures, recount

TITLES = ("VP Operations", "Student", "CEO", "Analyst", "Head of Logistics", "Fleet Manager", "Founder")
TYPES = ("contact", "contact", "contact", "demo_request", "price_list")
SOURCES = ("google", "newsletter", "linkedin", "", "partner")


def synthetic_message(config: ClientConfig, ids: LeadIds, n: int, now: datetime) -> dict[str, Any]:
    """The n-th synthetic inquiry, as capture would enqueue it (spread over the last 180 days)."""
    email = f"seed{n}@company{n % 997}.example"
    lead_id = ids.lead_id(email)
    received = now - timedelta(minutes=(n * 37) % (180 * 24 * 60))
    fields: dict[str, Any] = {"job_title": TITLES[n % len(TITLES)], "inquiry_type": TYPES[n % len(TYPES)]}
    if SOURCES[n % len(SOURCES)]:
        fields["utm_source"] = SOURCES[n % len(SOURCES)]
    return {
        "version": 1,
        "client": config.name,
        "lead_id": lead_id,
        "inquiry_id": ids.inquiry_id_for_key(lead_id, f"seed-{n}"),
        "received_at": received.astimezone(UTC).isoformat(timespec="milliseconds"),
        "channel": "json",
        "email": email,
        "fields": fields,
        "custom": {},
    }


def seed_items(config: ClientConfig, ids: LeadIds, table: str, count: int, first: int = 0) -> Iterator[dict[str, Any]]:
    """The DynamoDB items (wire format) of `count` synthetic leads, counter and report items last."""
    now = datetime.now(UTC)
    sums: dict[tuple[str, str], Counter[str]] = {}
    sets: dict[tuple[str, str], set[str]] = {}  # report items' sets of values
    for n in range(first, first + count):
        change = plan_inquiry(None, synthetic_message(config, ids, n, now), config.qualify, now)
        change.events.clear()  # seeded leads have nothing left to publish
        change.handoffs.clear()
        change.figures = new_figures(None, change.profile, change.timeline)  # type: ignore[arg-type]
        items = change_transaction(table, change, None, []).items
        for entry in items:
            if "Put" in entry:
                yield entry["Put"]["Item"]
            else:
                update = entry["Update"]
                key = (update["Key"]["pk"]["S"], update["Key"]["sk"]["S"])
                sums.setdefault(key, Counter()).update(added(update))
                if values := added_values(update):
                    sets.setdefault(key, set()).update(values)
    for (pk, sk), amounts in sorted(sums.items()):
        item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": sk}}
        item |= {name: {"N": str(total)} for name, total in amounts.items()}
        if (pk, sk) in sets:
            item[VALUES] = {"SS": sorted(sets[pk, sk])}
        yield item


def seed_state_file(
    state_file: Path, config: ClientConfig, ids: LeadIds, table: str, count: int, first: int = 0
) -> int:
    """Add `count` leads to a (stopped) local stack's state file; the number of leads that were new.

    Seeding a range twice changes nothing: a lead already in the file is left as it is (profile,
    timeline and marker) and its counter is not moved again.
    """

    state_file.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(state_file)
    sums: dict[str, Counter[str]] = {}  # counter or report item key -> what the new leads add to it
    sets: dict[str, set[str]] = {}  # report item key -> the values the new leads add to its set
    new_leads = 0
    try:
        db.executescript(SCHEMA)
        with db:
            known: dict[str, bool] = {}  # lead id -> its profile was in the file before this run
            for item in seed_items(config, ids, table, count, first):
                if item["pk"]["S"].startswith((COUNTER_PREFIX, REPORT_PREFIX)):
                    continue  # counted below, from the profiles that were really added
                lead_id = item["lead_id"]["S"] if "lead_id" in item else item["pk"]["S"].removeprefix("LEAD#")
                if lead_id not in known:
                    profile_key = item_key({"pk": {"S": f"LEAD#{lead_id}"}, "sk": {"S": PROFILE}})
                    found = db.execute(
                        "SELECT 1 FROM items WHERE table_name = ? AND item_key = ?", (table, profile_key)
                    )
                    known[lead_id] = found.fetchone() is not None
                if known[lead_id]:
                    continue  # seeded before: none of its items is written again
                db.execute(
                    "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                    (table, item_key({"pk": item["pk"], "sk": item["sk"]}), json.dumps(item)),
                )
                if item["sk"]["S"] == PROFILE:
                    new_leads += 1
                    profile = plain_of(item)
                    lead = [CounterDelta("leads", profile["created_at"][:10])]
                    figures, shard = recount(profile), counter_shard(lead_id)  # type: ignore[arg-type]
                    for (pk, sk), amounts in counted(lead, figures, shard).items():
                        sums.setdefault(item_key({"pk": {"S": pk}, "sk": {"S": sk}}), Counter()).update(amounts)
                    for (pk, sk), values in values_to_hold(figures, shard).items():
                        sets.setdefault(item_key({"pk": {"S": pk}, "sk": {"S": sk}}), set()).update(values)
            for counter, amounts in sums.items():
                _add_to_counter(db, table, counter, amounts, sets.get(counter, set()))
        return new_leads
    finally:
        db.close()


def load_into_moto(config: ClientConfig, ids: LeadIds, table_name: str, count: int, region: str = "us-east-1") -> int:
    """Put the items of `count` leads straight into moto's table in this process; the number of items."""
    return load_items_into_moto(table_name, seed_items(config, ids, table_name, count), region)


def load_items_into_moto(table_name: str, items: Iterable[dict[str, Any]], region: str = "us-east-1") -> int:
    """Put `items` (wire format) straight into moto's table in this process, indexes kept; how many."""
    from moto.backends import get_backend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item

    from leadflow.local import moto_dynamodb

    table = get_backend("dynamodb")["123456789012"][region].get_table(table_name)
    written = 0
    with moto_dynamodb.write_lock():
        for attributes in items:
            hash_value, range_value = DynamoType(attributes["pk"]), DynamoType(attributes["sk"])
            table.items[hash_value][range_value] = Item(hash_value, range_value, attributes)
            written += 1
        moto_dynamodb.forget_index_partitions(table)
    return written


def _add_to_counter(db: sqlite3.Connection, table: str, key: str, amounts: Counter[str], values: set[str]) -> None:
    found = db.execute("SELECT attributes FROM items WHERE table_name = ? AND item_key = ?", (table, key)).fetchone()
    item = json.loads(found[0]) if found else json.loads(key)
    for name, amount in amounts.items():
        item[name] = {"N": str(int((item.get(name) or {"N": "0"})["N"]) + amount)}
    if values:
        item[VALUES] = {"SS": sorted(values | set((item.get(VALUES) or {}).get("SS", [])))}
    db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", (table, key, json.dumps(item)))

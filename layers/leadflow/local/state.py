"""The local stack's data on disk, so that stopping `make run` and starting it again loses nothing.

State lives in one SQLite file per client, `.leadflow/state/<client>.sqlite` by default:

- `items`: every DynamoDB item, written through as moto changes it (the tables' items are
  journaled by `leadflow.local.moto_dynamodb`'s change listener, batched by a writer thread
  and committed at most `FLUSH_SECONDS` later, so even a killed process loses at most that);
- `messages`: the messages of every queue, written every few seconds and at shutdown, with
  their group, deduplication id and receive count (a message that was in flight is visible
  again after a restart, as it would be once its visibility timeout passed).

At start, the stack's resources are created from the definition first, then the file's
items and messages are loaded straight into moto's backends (no HTTP round trip per item).
`leadflow local --fresh` deletes the file and starts empty.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.local import moto_dynamodb

FLUSH_SECONDS = 0.2
QUEUE_SNAPSHOT_SECONDS = 2.0
ACCOUNT = "123456789012"
# The parts of a moto SQS message that make it the same message after a restart.
MESSAGE_FIELDS = (
    "id", "body", "message_attributes", "sender_id", "sent_timestamp", "approximate_first_receive_timestamp",
    "approximate_receive_count", "deduplication_id", "group_id", "sequence_number", "system_attributes",
)  # fmt: skip

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    table_name TEXT NOT NULL, item_key TEXT NOT NULL, attributes TEXT NOT NULL,
    PRIMARY KEY (table_name, item_key)
);
CREATE TABLE IF NOT EXISTS messages (queue_name TEXT NOT NULL, position INTEGER NOT NULL, message TEXT NOT NULL);
"""


@dataclass
class Restored:
    items: int = 0
    messages: int = 0


Progress = Callable[[int], None]


class LocalState:
    """One client's local data: restored into moto at start, kept up to date while it runs."""

    def __init__(self, path: Path, region: str):
        self.path = path
        self.region = region
        self._pending: queue.SimpleQueue[tuple[str, str, str | None] | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._snapshots: threading.Thread | None = None
        self._stop = threading.Event()
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def count_items(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM items").fetchone()[0])

    def restore(self, progress: Progress | None = None) -> Restored:
        """Load the file's items and messages into moto's tables and queues that exist now."""
        restored = Restored()
        db = self._connection()
        dynamodb = _backend("dynamodb", self.region)
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        with moto_dynamodb.write_lock():
            for table_name, attributes_json in db.execute("SELECT table_name, attributes FROM items"):
                table = dynamodb.tables.get(table_name)
                if table is None:
                    continue  # a table the definition no longer has
                attributes = json.loads(attributes_json)
                hash_value = DynamoType(attributes[table.hash_key_attr])
                if table.range_key_attr is not None:
                    range_value = DynamoType(attributes[table.range_key_attr])
                    table.items[hash_value][range_value] = Item(hash_value, range_value, attributes)
                else:
                    table.items[hash_value] = Item(hash_value, None, attributes)
                restored.items += 1
                if progress and restored.items % 10_000 == 0:
                    progress(restored.items)
        sqs = _backend("sqs", self.region)
        from moto.sqs.models import Message

        for queue_name, message_json in db.execute("SELECT queue_name, message FROM messages ORDER BY position"):
            sqs_queue = sqs.queues.get(queue_name)
            if sqs_queue is None:
                continue
            fields = json.loads(message_json)
            message = Message(fields["id"], fields["body"])
            for name in MESSAGE_FIELDS:
                setattr(message, name, fields.get(name))
            sqs_queue._messages.append(message)
            restored.messages += 1
        return restored

    def start(self) -> None:
        """Journal every change from now on, and snapshot the queues every few seconds."""
        moto_dynamodb.add_change_listener(self._changed)
        self._writer = threading.Thread(target=self._write_changes, name="local-state-writer", daemon=True)
        self._writer.start()
        self._snapshots = threading.Thread(target=self._snapshot_queues_now_and_then, name="local-state-queues")
        self._snapshots.daemon = True
        self._snapshots.start()

    def stop(self) -> None:
        """Write what is pending and the queues' contents, then close the file."""
        moto_dynamodb.remove_change_listener(self._changed)
        self._stop.set()
        self._pending.put(None)
        if self._writer is not None:
            self._writer.join(timeout=30)
        if self._snapshots is not None:
            self._snapshots.join(timeout=5)
        self.snapshot_queues()
        if self._db is not None:
            self._db.close()
            self._db = None

    def snapshot_queues(self) -> None:
        sqs = _backend("sqs", self.region)
        rows = []
        for name, sqs_queue in list(sqs.queues.items()):
            for position, message in enumerate(list(sqs_queue._messages)):
                fields = {field: getattr(message, field, None) for field in MESSAGE_FIELDS}
                rows.append((name, position, json.dumps(fields, default=str)))
        db = self._connection()
        with self._transaction(db):
            db.execute("DELETE FROM messages")
            db.executemany("INSERT INTO messages VALUES (?, ?, ?)", rows)

    def _changed(self, table_name: str, key: dict[str, Any], attributes: dict[str, Any] | None) -> None:
        item_key = json.dumps(key, sort_keys=True) if key else ""
        self._pending.put((table_name, item_key, json.dumps(attributes) if attributes is not None else None))

    def _write_changes(self) -> None:
        db = self._connection()
        done = False
        while not done:
            change = self._pending.get()
            batch = [change]
            try:
                while len(batch) < 5000:
                    batch.append(self._pending.get(timeout=FLUSH_SECONDS if len(batch) == 1 else 0.0))
            except queue.Empty:
                pass
            done = None in batch
            with self._transaction(db):
                for entry in batch:
                    if entry is None:
                        continue
                    table_name, item_key, attributes = entry
                    if not item_key:
                        db.execute("DELETE FROM items WHERE table_name = ?", (table_name,))
                    elif attributes is None:
                        db.execute("DELETE FROM items WHERE table_name = ? AND item_key = ?", (table_name, item_key))
                    else:
                        db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", (table_name, item_key, attributes))

    def _snapshot_queues_now_and_then(self) -> None:
        while not self._stop.wait(QUEUE_SNAPSHOT_SECONDS):
            try:
                self.snapshot_queues()
            except Exception as exc:  # the next snapshot, or the one at shutdown, tries again
                print(f"  ! could not save the queues' contents: {type(exc).__name__}: {exc}", flush=True)

    def _transaction(self, db: sqlite3.Connection) -> Any:
        return _Transaction(db, self._lock)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the local state file is not open")
        return self._db


class _Transaction:
    """BEGIN ... COMMIT on the shared connection, one writer at a time."""

    def __init__(self, db: sqlite3.Connection, lock: threading.Lock):
        self.db, self.lock = db, lock

    def __enter__(self) -> None:
        self.lock.acquire()
        self.db.execute("BEGIN")

    def __exit__(self, kind: Any, *_: Any) -> None:
        try:
            self.db.execute("ROLLBACK" if kind else "COMMIT")
        finally:
            self.lock.release()


def _backend(service: str, region: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[ACCOUNT][region]  # type: ignore[call-overload]

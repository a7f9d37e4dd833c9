"""The local stack's data on disk, so that stopping `make run` and starting it again loses nothing.

State lives in one SQLite file per client, `.leadflow/state/<client>.sqlite` by default:

- `items`: every DynamoDB item, written through as moto changes it (the tables' items are
  journaled by `leadflow.local.moto_dynamodb`'s change listener, batched by one writer thread
  and committed at most `FLUSH_SECONDS` later);
- `messages`: the messages of every queue, saved by the same writer every `QUEUE_SNAPSHOT_SECONDS`
  and at a stop, in the same transaction as the item changes made before it, with their group,
  deduplication id and receive count (a message that was in flight is visible again after a
  restart, as it would be once its visibility timeout passed; it keeps its receive count, so a
  message in flight at five stops in a row reaches its dead-letter queue, as after five failures);
- `objects`: the objects of the stack's S3 buckets (the weekly report's CSVs), saved with the queues;
- `users`: the people of every user pool (username, `sub`, attributes, password, status, enabled,
  groups), saved with the queues. A pool is created again at each start (with the same id: the
  runtime asks moto for ids derived from the pool's name), then its people are put back in it.

A stop (Ctrl-C) saves everything. A killed process loses the item changes of its last
`FLUSH_SECONDS` and the queue changes of its last `QUEUE_SNAPSHOT_SECONDS`: an inquiry captured
(a 2xx) in those seconds, not yet stored by intake, can be lost. The file never holds a queue
without a message that was taken off it while missing the lead that message made.

At start, the stack's resources are created from the definition first, then the file's
items, messages and users are loaded straight into moto's backends (no HTTP round trip per item).
`leadflow local --fresh` deletes the file and starts empty.
"""

from __future__ import annotations

import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leadflow.local import moto_dynamodb

FLUSH_SECONDS = 0.2
_STOP = object()  # the writer's last entry
STOP_WRITE_TRIES = 5  # at a stop, how often a batch that cannot be written is tried
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
CREATE TABLE IF NOT EXISTS objects (
    bucket TEXT NOT NULL, object_key TEXT NOT NULL, content_type TEXT NOT NULL, body BLOB NOT NULL,
    PRIMARY KEY (bucket, object_key)
);
CREATE TABLE IF NOT EXISTS users (
    pool_name TEXT NOT NULL, username TEXT NOT NULL, user TEXT NOT NULL, PRIMARY KEY (pool_name, username)
);
"""


@dataclass
class Restored:
    items: int = 0
    messages: int = 0
    users: int = 0
    objects: int = 0


Progress = Callable[[int], None]


class LocalState:
    """One client's local data: restored into moto at start, kept up to date while it runs."""

    def __init__(self, path: Path, region: str):
        self.path = path
        self.region = region
        self._pending: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._restored = False
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def count_items(self) -> int:
        return int(self._connection().execute("SELECT count(*) FROM items").fetchone()[0])

    def restore(self, progress: Progress | None = None) -> Restored:
        """Load the file's items, messages and users into moto's tables, queues and user pools that exist now."""
        restored = Restored()
        db = self._connection()
        dynamodb = _backend("dynamodb", self.region)
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        with moto_dynamodb.write_lock():
            for table in dynamodb.tables.values():
                moto_dynamodb.forget_index_partitions(table)  # rebuilt from the restored items when first read
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
        restored.users = self._restore_users(db)
        restored.objects = self._restore_objects(db)
        self._restored = True  # from now on the queues may be saved over the file's messages
        return restored

    def start(self) -> None:
        """Journal every change from now on; the queues are saved with it every few seconds."""
        moto_dynamodb.add_change_listener(self._changed)
        self._writer = threading.Thread(target=self._write_changes, name="local-state-writer", daemon=True)
        self._writer.start()

    def stop(self) -> None:
        """Write what is pending and the queues' contents, then close the file.

        The queues are saved only if the file's own messages were restored first: a stop while
        the restore is still loading leaves the file's messages as they were.
        """
        with moto_dynamodb.write_lock():  # no write is half reported when the stop is queued
            moto_dynamodb.remove_change_listener(self._changed)
        if self._writer is not None:
            self._pending.put(_STOP)
            self._writer.join(timeout=60)
            self._writer = None
        if self._db is not None:
            self._db.close()
            self._db = None

    def _changed(self, table_name: str, key: dict[str, Any], attributes: dict[str, Any] | None) -> None:
        self._pending.put((table_name, item_key(key), json.dumps(attributes) if attributes is not None else None))

    def _write_changes(self) -> None:
        """The one writer: item changes in batches, and every few seconds the queues with them.

        A queue snapshot is read first, then every item change made until then is drained and
        both are committed in one transaction: a message deleted before the snapshot was read
        had its lead written before that, so the file never holds the deletion without the lead.
        """
        db = self._connection()
        carried: list[Any] = []  # a batch that could not be written: tried again
        last_snapshot = time.monotonic()
        stopping, tries_left_at_stop = False, STOP_WRITE_TRIES
        while not stopping or carried:
            batch = carried + self._take(0 if stopping else FLUSH_SECONDS)
            stopping = stopping or _STOP in batch
            messages = users = objects = None
            try:
                if self._restored and (stopping or time.monotonic() - last_snapshot >= QUEUE_SNAPSHOT_SECONDS):
                    messages, users, objects = self._queue_rows(), self._user_rows(), self._object_rows()
                    while more := self._take(0):  # every change made before the snapshot, however many
                        batch += more
                    stopping = stopping or _STOP in batch
                    last_snapshot = time.monotonic()
                self._write(db, [entry for entry in batch if entry is not _STOP], messages, users, objects)
                carried = []
            except Exception as exc:  # the file is locked, the disk full: say so loudly, keep the batch
                carried = [entry for entry in batch if entry is not _STOP]
                print(
                    f"  ! could not save {len(carried)} change(s) to {self.path}: {type(exc).__name__}: {exc};"
                    " trying again",
                    flush=True,
                )
                if stopping:
                    tries_left_at_stop -= 1
                    if not tries_left_at_stop:
                        print(f"  ! {len(carried)} change(s) were not saved: they are lost at this stop", flush=True)
                        return
                time.sleep(1)

    def _take(self, wait: float) -> list[Any]:
        """What is pending: at least one entry when one comes within `wait` seconds, at most 5,000."""
        taken: list[Any] = []
        try:
            taken.append(self._pending.get(timeout=wait) if wait else self._pending.get_nowait())
            while len(taken) < 5000:
                taken.append(self._pending.get_nowait())
        except queue.Empty:
            pass
        return taken

    def _write(
        self,
        db: sqlite3.Connection,
        changes: list[Any],
        messages: list[tuple[str, int, str]] | None,
        users: list[tuple[str, str, str]] | None = None,
        objects: list[tuple[str, str, str, bytes]] | None = None,
    ) -> None:
        with _transaction(db):
            for table_name, item_key, attributes in changes:
                if not item_key:
                    db.execute("DELETE FROM items WHERE table_name = ?", (table_name,))
                elif attributes is None:
                    db.execute("DELETE FROM items WHERE table_name = ? AND item_key = ?", (table_name, item_key))
                else:
                    db.execute("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", (table_name, item_key, attributes))
            if messages is not None:
                db.execute("DELETE FROM messages")
                db.executemany("INSERT INTO messages VALUES (?, ?, ?)", messages)
            if users is not None:
                db.execute("DELETE FROM users")
                db.executemany("INSERT INTO users VALUES (?, ?, ?)", users)
            if objects is not None:
                db.execute("DELETE FROM objects")
                db.executemany("INSERT INTO objects VALUES (?, ?, ?, ?)", objects)

    def _queue_rows(self) -> list[tuple[str, int, str]]:
        sqs = _backend("sqs", self.region)
        rows = []
        for name, sqs_queue in list(sqs.queues.items()):
            for position, message in enumerate(list(sqs_queue._messages)):
                fields = {field: getattr(message, field, None) for field in MESSAGE_FIELDS}
                rows.append((name, position, json.dumps(fields, default=str)))
        return rows

    def _object_rows(self) -> list[tuple[str, str, str, bytes]]:
        """Every object of every bucket (a few CSVs a month): bucket, key, content type, body."""
        rows = []
        for name, bucket in list(_s3_backend().buckets.items()):
            for key_name, key in list(bucket.keys.items()):
                content_type = (key.metadata or {}).get("content-type", "binary/octet-stream")
                rows.append((name, key_name, content_type, bytes(key.value)))
        return rows

    def _restore_objects(self, db: sqlite3.Connection) -> int:
        """Put the file's objects back in the buckets of their names (a bucket no longer made: skipped)."""
        s3 = _s3_backend()
        restored = 0
        for bucket, key_name, content_type, body in db.execute(
            "SELECT bucket, object_key, content_type, body FROM objects ORDER BY rowid"
        ):
            if bucket in s3.buckets:
                s3.put_object(bucket, key_name, body).set_metadata({"content-type": content_type})
                restored += 1
        return restored

    def _user_rows(self) -> list[tuple[str, str, str]]:
        """Every user of every pool, with what makes them the same person after a restart."""
        cognito = _backend("cognito-idp", self.region)
        rows = []
        for pool in list(cognito.user_pools.values()):
            for user in list(pool.users.values()):
                fields = {
                    "username": user.username,
                    "sub": user.id,
                    "password": user.password,
                    "status": str(getattr(user.status, "value", user.status)),
                    "enabled": user.enabled,
                    "attributes": list(user.attributes),
                    "groups": sorted(group.group_name for group in list(user.groups)),
                    "created": user.create_date.isoformat(),
                    "modified": user.last_modified_date.isoformat(),
                }
                rows.append((pool.name, user.username, json.dumps(fields, default=str)))
        return rows

    def _restore_users(self, db: sqlite3.Connection) -> int:
        """Put the file's users back in the pools of their names (a pool the definition no longer has: skipped)."""
        from datetime import datetime

        from moto.cognitoidp.models import CognitoIdpUser, UserStatus

        cognito = _backend("cognito-idp", self.region)
        pools = {pool.name: pool for pool in cognito.user_pools.values()}
        restored = 0
        for pool_name, user_json in db.execute("SELECT pool_name, user FROM users ORDER BY rowid"):
            pool = pools.get(pool_name)
            if pool is None:
                continue
            fields = json.loads(user_json)
            user = CognitoIdpUser(
                pool.id, fields["username"], fields["password"], UserStatus(fields["status"]), fields["attributes"]
            )
            user.id = fields["sub"]  # the same person: tokens and records name them by it
            user.update_attributes([{"Name": "sub", "Value": fields["sub"]}])
            user.enabled = fields["enabled"]
            user.create_date = datetime.fromisoformat(fields["created"])
            user.last_modified_date = datetime.fromisoformat(fields["modified"])
            for group_name in fields["groups"]:
                group = pool.groups.get(group_name)
                if group is not None:  # a group the definition no longer has is left out
                    group.users.add(user)
                    user.groups.add(group)
            pool.users[user.username] = user
            restored += 1
        return restored

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the local state file is not open")
        return self._db


@contextmanager
def _transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN ... COMMIT (ROLLBACK on an error) on a connection in autocommit mode."""
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def item_key(key: dict[str, Any]) -> str:
    """The journal's key for an item: its key attributes as canonical JSON ("" stands for a whole table)."""
    return json.dumps(key, sort_keys=True) if key else ""


def _s3_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("s3")[ACCOUNT]["aws"]  # S3's buckets are the partition's


def _backend(service: str, region: str) -> Any:
    from moto.backends import get_backend

    return get_backend(service)[ACCOUNT][region]  # type: ignore[call-overload]

"""moto's DynamoDB, made to hold a real client's data: costs that follow the request, not the table.

moto 5.2's `transact_write_items` deep-copies every table a transaction touches before it
starts ("Create a backup in case any of the transactions fail"), and a Query by partition
key walks every item of the table. With 100,000 leads, each transaction copied the whole
table and memory grew by the table's size per transaction. `install()` replaces both, in
the process that runs moto's server (the local runtime, the bench and the test fixtures):

- a transaction backs up only the items it touches, and on any failure puts exactly those
  back, so it stays all-or-nothing with the same condition checks and cancellation reasons;
- a Query on the table's own partition key reads that partition, not the table;
- writes are serialized with one lock, as DynamoDB serializes writes to an item (moto does
  not: two conditional writes could both pass the same version check);
- every change is reported to `on_change` (table name, key, the item or None), which the
  local state journal uses to keep the data across restarts.

Nothing here changes what boto3 sends or receives: clients still talk to moto over HTTP.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

Key = tuple[str, Any, Any]  # table name, hash DynamoType, range DynamoType or None
ChangeListener = Callable[[str, dict[str, Any], dict[str, Any] | None], None]

_write_lock = threading.RLock()
_listeners: list[ChangeListener] = []
_installed = False
_ORIGINALS: dict[str, Any] = {}  # moto's own methods, as it wrote them


def install() -> None:
    """Patch moto's DynamoDB backend in this process (idempotent)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    for name in ("put_item", "update_item", "delete_item", "delete_table", "transact_write_items"):
        _ORIGINALS[name] = getattr(DynamoDBBackend, name)
    _ORIGINALS["query"] = Table.query

    def put_item(self: Any, table_name: str, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            item = _ORIGINALS["put_item"](self, table_name, item_attrs, *args, **kwargs)
            _report(self, table_name, _key_of(self.get_table(table_name), item_attrs))
            return item

    def update_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            item = _ORIGINALS["update_item"](self, table_name, key, *args, **kwargs)
            _report(self, table_name, key)
            return item

    def delete_item(self: Any, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            item = _ORIGINALS["delete_item"](self, table_name, key, *args, **kwargs)
            _report(self, table_name, key)
            return item

    def delete_table(self: Any, name: str) -> Any:
        with _write_lock:
            table = _ORIGINALS["delete_table"](self, name)
            for listener in _listeners:
                listener(name, {}, None)  # an empty key: the whole table is gone
            return table

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes index_name as the eighth positional argument (after hash_key, the seventh of args)
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return _ORIGINALS["query"](self, hash_key, *args, **kwargs)
        return _query_one_partition(self, hash_key, *args, **kwargs)

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_table = delete_table  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    _installed = True


def moto_transact_write_items() -> Any:
    """moto's own transaction, as it wrote it (tests hold the replacement to its semantics)."""
    install()
    return _ORIGINALS["transact_write_items"]


def add_change_listener(listener: ChangeListener) -> None:
    _listeners.append(listener)


def remove_change_listener(listener: ChangeListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def write_lock() -> threading.RLock:
    """Held while moto's tables change; hold it to read them whole (a snapshot, a restore)."""
    return _write_lock


def _report(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    if not _listeners:
        return
    table = backend.get_table(table_name)
    hash_value, range_value = backend.get_keys_value(table, key)
    item = table.get_item(hash_value, range_value)
    attributes = item.to_json()["Attributes"] if item is not None else None
    for listener in _listeners:
        listener(table.name, key, attributes)


def _key_of(table: Any, attributes: dict[str, Any]) -> dict[str, Any]:
    key = {table.hash_key_attr: attributes[table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = attributes[table.range_key_attr]
    return key


def _query_one_partition(table: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's own Query, run on a stand-in table that holds only the asked-for partition."""
    partition = table.items.get(hash_key)
    view = copy.copy(table)  # shallow: shares everything but the item map
    view.items = {hash_key: partition} if partition else {}
    return _ORIGINALS["query"](view, hash_key, *args, **kwargs)


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items, backing up only the items the transaction touches."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with _write_lock:
        backups: dict[tuple[str, str], tuple[Any, Any, Any, Any]] = {}  # what to put back on failure
        touched: list[tuple[str, dict[str, Any]]] = []
        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []

        def roll_back() -> None:
            for table, hash_value, range_value, previous in backups.values():
                _restore(table, hash_value, range_value, previous)

        for entry in transact_items:
            if len(entry) > 1:
                roll_back()
                raise TransactWriteSingleOpException
            original_item: dict[str, Any] | None = None
            try:
                op_type, op = next(iter(entry.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                table = self.get_table(table_name)
                key = _key_of(table, op["Item"]) if op_type == "Put" else op["Key"]
                identity = (str(table_name), str(dict(sorted(key.items()))))
                if identity in backups:
                    raise MultipleTransactionsException()
                hash_value, range_value = self.get_keys_value(table, key)
                current = table.get_item(hash_value, range_value)
                backups[identity] = (table, hash_value, range_value, copy.deepcopy(current))

                condition = op.get("ConditionExpression")
                names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                if condition is not None and not get_filter_expression(condition, names, values).expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)
                write = {"condition_expression": condition, "expression_attribute_names": names,
                         "expression_attribute_values": values}  # fmt: skip
                if op_type == "Put":
                    _ORIGINALS["put_item"](self, table_name, op["Item"], **write)
                elif op_type == "Delete":
                    _ORIGINALS["delete_item"](self, table_name, key, **write)
                elif op_type == "Update":
                    _ORIGINALS["update_item"](self, table_name, key, update_expression=op["UpdateExpression"], **write)
                if op_type != "ConditionCheck":
                    touched.append((table.name, key))
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                roll_back()
                raise
            except ConditionalCheckFailed as failure:
                errors.append(("ConditionalCheckFailed", str(failure.message), original_item))
            except Exception as failure:  # as moto does: any other problem cancels with its name
                errors.append((type(failure).__name__, str(failure), original_item))

        if any(code is not None for code, _, _ in errors):
            roll_back()
            raise TransactionCanceledException(errors)
        for table_name, key in touched:
            _report(self, table_name, key)


def _restore(table: Any, hash_value: Any, range_value: Any, previous: Any) -> None:
    if range_value is not None:
        partition = table.items[hash_value]
        if previous is None:
            partition.pop(range_value, None)
            if not partition:
                table.items.pop(hash_value, None)
        else:
            partition[range_value] = previous
    elif previous is None:
        table.items.pop(hash_value, None)
    else:
        table.items[hash_value] = previous

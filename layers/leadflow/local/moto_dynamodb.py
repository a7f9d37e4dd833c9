"""moto's DynamoDB, made to hold a real client's data: costs that follow the request, not the table.

moto 5.2's `transact_write_items` deep-copies every table a transaction touches before it
starts ("Create a backup in case any of the transactions fail"), and a Query by partition
key walks every item of the table. With 100,000 leads, each transaction copied the whole
table and memory grew by the table's size per transaction. `install()` replaces both, in
the process that runs moto's server (the local runtime, the bench and the test fixtures):

- a transaction backs up only the items it touches, and on any failure puts exactly those
  back, so it stays all-or-nothing with the same condition checks and cancellation reasons;
- a Query reads the asked-for partition, not the table: the table's own partitions directly,
  an index's through a map of its partitions kept up to date as items change;
- writes are serialized with one lock (DynamoDB serializes the writes to each item; moto does
  not, so two conditional writes could both pass the same version check), and reads take the
  same lock, so none sees a write half done;
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

    for name in (
        "put_item", "update_item", "delete_item", "delete_table", "transact_write_items", "get_item", "scan",
        "execute_statement", "update_table",
    ):  # fmt: skip
        _ORIGINALS[name] = getattr(DynamoDBBackend, name)
    _ORIGINALS["query"] = Table.query
    _check_query_signature(Table.query)

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
            forget_index_partitions(table)
            for listener in _listeners:
                listener(name, {}, None)  # an empty key: the whole table is gone
            return table

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes index_name as the eighth positional argument (after hash_key, the seventh of args)
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        with _write_lock:  # reads see no write half done (moto's dicts change under a running write)
            if hash_key is None:
                return _ORIGINALS["query"](self, hash_key, *args, **kwargs)
            if index_name:
                if index_name not in {index.name for index in self.global_indexes}:
                    return _ORIGINALS["query"](self, hash_key, *args, **kwargs)  # moto's own answer, or error
                return _query_index_partition(self, index_name, hash_key, *args, **kwargs)
            return _query_one_partition(self, hash_key, *args, **kwargs)

    def writes_behind_the_patch(name: str) -> Any:
        """PartiQL and table updates change items or indexes without reporting them: forget every map."""

        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            with _write_lock:
                try:
                    return _ORIGINALS[name](self, *args, **kwargs)
                finally:
                    for table in list(self.tables.values()):
                        forget_index_partitions(table)

        return write

    def get_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return _ORIGINALS["get_item"](self, *args, **kwargs)

    def scan(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _write_lock:
            return _ORIGINALS["scan"](self, *args, **kwargs)

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    DynamoDBBackend.put_item = put_item  # type: ignore[method-assign]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_item = delete_item  # type: ignore[method-assign]
    DynamoDBBackend.delete_table = delete_table  # type: ignore[method-assign]
    DynamoDBBackend.get_item = get_item  # type: ignore[method-assign]
    DynamoDBBackend.execute_statement = writes_behind_the_patch("execute_statement")  # type: ignore[method-assign]
    DynamoDBBackend.update_table = writes_behind_the_patch("update_table")  # type: ignore[method-assign]
    DynamoDBBackend.scan = scan  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    _installed = True


def Table_query() -> Any:
    """The Query every moto table answers with once installed."""
    install()
    from moto.dynamodb.models.table import Table

    return Table.query


def moto_transact_write_items() -> Any:
    """moto's own transaction, as it wrote it (tests hold the replacement to its semantics)."""
    install()
    return _ORIGINALS["transact_write_items"]


def _check_query_signature(query: Any) -> None:
    """The patch reads moto's Query arguments by position: refuse a moto that orders them otherwise."""
    import inspect

    names = list(inspect.signature(query).parameters)
    if names[1:2] != ["hash_key"] or names[8:9] != ["index_name"]:
        raise RuntimeError(
            f"moto's Table.query takes ({', '.join(names)}): leadflow.local.moto_dynamodb expects hash_key second and "
            "index_name ninth (moto 5.2). Install the moto version pyproject.toml names, or update the patch."
        )


def add_change_listener(listener: ChangeListener) -> None:
    _listeners.append(listener)


def remove_change_listener(listener: ChangeListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def write_lock() -> threading.RLock:
    """Held while moto's tables change; hold it to read them whole (a snapshot, a restore)."""
    return _write_lock


def _report(backend: Any, table_name: str, key: dict[str, Any]) -> None:
    table = backend.get_table(table_name)
    hash_value, range_value = backend.get_keys_value(table, key)
    item = table.get_item(hash_value, range_value)
    _index_partitions_follow(table, hash_value, range_value, item)
    if not _listeners:
        return
    attributes = item.to_json()["Attributes"] if item is not None else None
    for listener in _listeners:
        listener(table.name, key, attributes)


# --- global secondary indexes: each partition's items, found without walking the table -----

# Kept on each moto Table, under this attribute: index name -> (partition -> {item key: item},
# item key -> its partition), all keyed by plain (type, value) pairs, which hash far faster than
# moto's DynamoType. A table that goes (delete, /moto-api/reset) takes its map along.
PARTITIONS = "_leadflow_index_partitions"
Plain = tuple[str, str]
IndexPartitions = tuple[dict[Plain, dict[Any, Any]], dict[Any, Plain]]


def forget_index_partitions(table: Any) -> None:
    """After items were put into a table behind moto's back (a restore, a seed): rebuilt on the next query."""
    if hasattr(table, PARTITIONS):
        delattr(table, PARTITIONS)


def _plain(value: Any) -> Plain:
    return (value.type, str(value.value))


def _plain_key(hash_value: Any, range_value: Any) -> Any:
    return (_plain(hash_value), _plain(range_value) if range_value is not None else None)


def _partition_attribute(index: Any) -> str:
    return str(next(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"))


def _index_names(table: Any) -> set[str]:
    return {index.name for index in table.global_indexes}


def _partitions_of(table: Any) -> dict[str, IndexPartitions]:
    """The table's index partitions, built by one walk over its items the first time they are needed."""
    built: dict[str, IndexPartitions] | None = getattr(table, PARTITIONS, None)
    if built is None or set(built) != _index_names(table):  # new, or the indexes changed
        built = {}
        attributes = {index.name: _partition_attribute(index) for index in table.global_indexes}
        for name in attributes:
            built[name] = ({}, {})
        for item in _every_item(table):
            key = None
            for name, attribute in attributes.items():
                value = item.attrs.get(attribute)
                if value is None:
                    continue
                key = key or _plain_key(item.hash_key, item.range_key)
                members, placed = built[name]
                partition = _plain(value)
                members.setdefault(partition, {})[key] = item
                placed[key] = partition
        setattr(table, PARTITIONS, built)
    return built


def _every_item(table: Any) -> Any:
    """The table's items in no order (moto's all_items() sorts them all: seconds at 100,000 leads)."""
    for partition in list(table.items.values()):
        if table.range_key_attr is None:
            yield partition
        else:
            yield from list(partition.values())


def _index_partitions_follow(table: Any, hash_value: Any, range_value: Any, item: Any) -> None:
    built: dict[str, IndexPartitions] | None = getattr(table, PARTITIONS, None)
    if built is None or set(built) != _index_names(table):
        forget_index_partitions(table)  # not built yet, or the indexes changed: the next query builds it anew
        return
    key = _plain_key(hash_value, range_value)
    for index in table.global_indexes:
        members, placed = built[index.name]
        before = placed.pop(key, None)
        if before is not None:
            members.get(before, {}).pop(key, None)
        value = item.attrs.get(_partition_attribute(index)) if item is not None else None
        if value is not None:
            partition = _plain(value)
            members.setdefault(partition, {})[key] = item
            placed[key] = partition


def _query_index_partition(table: Any, index_name: str, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    """moto's own index Query, run on a stand-in table holding only the items of the asked-for partition."""
    members, _ = _partitions_of(table)[index_name]
    view = copy.copy(table)
    view.items = {}
    for item in members.get(_plain(hash_key), {}).values():
        if item.range_key is None:
            view.items[item.hash_key] = item
        else:
            view.items.setdefault(item.hash_key, {})[item.range_key] = item
    return _ORIGINALS["query"](view, hash_key, *args, **kwargs)


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

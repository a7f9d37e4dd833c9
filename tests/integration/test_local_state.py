"""The local state file: what a stop saves, and what it must never overwrite."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from moto.backends import get_backend

from leadflow.local import moto_dynamodb, state
from leadflow.local.state import LocalState

REGION = "eu-central-1"  # a region no other test of this process uses


def saved_messages(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return [json.loads(row[0])["body"] for row in db.execute("SELECT message FROM messages ORDER BY position")]


@pytest.fixture
def queue_name() -> Any:
    sqs = get_backend("sqs")["123456789012"][REGION]
    sqs.create_queue("leadflow-state-test")
    yield "leadflow-state-test"
    sqs.delete_queue("leadflow-state-test")


def a_run_that_stopped(path: Path) -> None:
    """What `leadflow local` does to the file from a start to a stop: restore, journal, save at the stop."""
    earlier = LocalState(path, REGION)
    earlier.open()
    earlier.restore()
    earlier.start()
    earlier.stop()


def save_one_message(path: Path, queue_name: str) -> None:
    """A file that holds one waiting message, as an earlier run left it."""
    earlier = LocalState(path, REGION)
    earlier.open()
    earlier.restore()
    get_backend("sqs")["123456789012"][REGION].send_message(queue_name, "an inquiry")
    earlier.start()
    earlier.stop()
    get_backend("sqs")["123456789012"][REGION].queues[queue_name]._messages.clear()


def test_a_stop_saves_the_waiting_messages_and_a_restart_restores_them(tmp_path: Path, queue_name: str) -> None:
    path = tmp_path / "demo.sqlite"
    save_one_message(path, queue_name)
    assert saved_messages(path) == ["an inquiry"]
    again = LocalState(path, REGION)
    again.open()
    assert again.restore().messages == 1
    again.stop()


def test_a_stop_before_the_restore_finished_keeps_the_saved_messages(tmp_path: Path, queue_name: str) -> None:
    path = tmp_path / "demo.sqlite"
    save_one_message(path, queue_name)
    interrupted = LocalState(path, REGION)
    interrupted.open()  # the queues in moto are still empty: the restore never got to the messages
    interrupted.start()
    interrupted.stop()
    assert saved_messages(path) == ["an inquiry"]


def test_a_batch_that_could_not_be_written_is_written_on_the_next_try(
    tmp_path: Path, queue_name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.sqlite"
    journal = LocalState(path, REGION)
    journal.open()
    journal.restore()
    real_write, failures = journal._write, [sqlite3.OperationalError("database is locked")]

    def flaky(*args: Any) -> None:
        if failures:
            raise failures.pop()
        real_write(*args)

    monkeypatch.setattr(journal, "_write", flaky)
    monkeypatch.setattr(state.time, "sleep", lambda seconds: None)
    journal.start()
    journal._changed("leads", {"pk": {"S": "LEAD#a"}, "sk": {"S": "PROFILE"}}, {"pk": {"S": "LEAD#a"}})
    journal.stop()
    assert "could not save 1 change(s)" in capsys.readouterr().out
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 1


def test_the_journal_follows_writes_made_through_moto(tmp_path: Path) -> None:
    from moto.dynamodb.models import DynamoDBBackend

    moto_dynamodb.install()
    backend = DynamoDBBackend(REGION, "123456789012")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    backend.create_table(
        "leads", schema=keys, throughput=None,
        attr=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        global_indexes=None, indexes=None, streams=None, billing_mode="PAY_PER_REQUEST", sse_specification=None,
        tags=[], deletion_protection_enabled=False, warm_throughput=None,
    )  # fmt: skip
    path = tmp_path / "demo.sqlite"
    journal = LocalState(path, REGION)
    journal.open()
    journal.restore()
    journal.start()
    for n in range(3):
        backend.put_item("leads", {"pk": {"S": f"LEAD#{n}"}, "sk": {"S": "PROFILE"}, "n": {"N": str(n)}})
    backend.update_item(
        "leads", {"pk": {"S": "LEAD#0"}, "sk": {"S": "PROFILE"}}, "SET n = :n", None, {":n": {"N": "9"}}
    )
    backend.delete_item("leads", {"pk": {"S": "LEAD#1"}, "sk": {"S": "PROFILE"}})
    journal.stop()
    with sqlite3.connect(path) as db:
        saved = {
            json.loads(row[0])["pk"]["S"]: json.loads(row[0])["n"]["N"]
            for row in db.execute("SELECT attributes FROM items")
        }
    assert saved == {"LEAD#0": "9", "LEAD#2": "2"}  # put, updated and deleted as moto holds them


@pytest.fixture
def user_pool() -> Any:
    """A user pool in the test's region with groups rep and manager, as the local stack creates it at each start."""
    cognito = get_backend("cognito-idp")["123456789012"][REGION]
    pool = cognito.create_user_pool("leadflow-state-test-users", {})
    for group in ("rep", "manager"):
        cognito.create_group(pool.id, group, "", "", 0)
    yield pool
    for pool_id in [p.id for p in cognito.user_pools.values() if p.name == "leadflow-state-test-users"]:
        cognito.delete_user_pool(pool_id)


def the_pool_created_again(pool: Any) -> Any:
    """The pool gone with its users, and one of the same name and groups made anew (a new id), as at a restart."""
    cognito = get_backend("cognito-idp")["123456789012"][REGION]
    cognito.delete_user_pool(pool.id)
    again = cognito.create_user_pool(pool.name, {})
    for group in ("rep", "manager"):
        cognito.create_group(again.id, group, "", "", 0)
    return again


def test_a_stop_saves_the_pools_people_and_a_restart_puts_them_back_as_they_were(
    tmp_path: Path, user_pool: Any
) -> None:
    cognito = get_backend("cognito-idp")["123456789012"][REGION]
    email = "ada@example.com"
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    sub = cognito.admin_create_user(user_pool.id, email, "SUPPRESS", None, attributes).id
    cognito.admin_set_user_password(user_pool.id, email, "Correct-horse-1", True)
    for group in ("rep", "manager"):
        cognito.admin_add_user_to_group(user_pool.id, group, email)
    cognito.admin_create_user(user_pool.id, "lin@example.com", "SUPPRESS", None, [])
    cognito.admin_disable_user(user_pool.id, "lin@example.com")
    path = tmp_path / "demo.sqlite"
    a_run_that_stopped(path)

    pool = the_pool_created_again(user_pool)
    again = LocalState(path, REGION)
    again.open()
    assert again.restore().users == 2
    again.stop()

    ada = cognito.admin_get_user(pool.id, email)
    assert (ada.id, ada.password, ada.status, ada.enabled) == (sub, "Correct-horse-1", "CONFIRMED", True)
    assert {"Name": "email_verified", "Value": "true"} in ada.attributes
    assert {"Name": "sub", "Value": sub} in ada.attributes
    assert sorted(g.group_name for g in ada.groups) == ["manager", "rep"]
    assert sorted(u.username for u in pool.groups["rep"].users) == [email]
    assert cognito.admin_get_user(pool.id, "lin@example.com").enabled is False


def test_a_stop_before_the_restore_finished_keeps_the_saved_people(tmp_path: Path, user_pool: Any) -> None:
    cognito = get_backend("cognito-idp")["123456789012"][REGION]
    cognito.admin_create_user(user_pool.id, "ada@example.com", "SUPPRESS", None, [])
    path = tmp_path / "demo.sqlite"
    a_run_that_stopped(path)
    the_pool_created_again(user_pool)

    interrupted = LocalState(path, REGION)
    interrupted.open()  # the new pool is still empty: the restore never got to the people
    interrupted.start()
    interrupted.stop()

    with sqlite3.connect(path) as db:
        assert [row[0] for row in db.execute("SELECT username FROM users")] == ["ada@example.com"]


def test_a_stop_saves_the_weekly_csvs_and_a_restart_puts_them_back(tmp_path: Path) -> None:
    s3 = get_backend("s3")["123456789012"]["aws"]
    bucket = "leadflow-state-test-reports"
    s3.create_bucket(bucket, REGION)
    key = "weekly/2026-11-16_2026-11-22/leadflow-funnel-by-source-2026-11-16-2026-11-22.csv"
    s3.put_object(bucket, key, b"source,captured\r\ngoogle,4\r\n").set_metadata({"content-type": "text/csv"})
    path = tmp_path / "demo.sqlite"
    a_run_that_stopped(path)
    s3.delete_object(bucket, key)
    s3.delete_bucket(bucket)
    s3.create_bucket(bucket, REGION)  # made anew, empty, as `leadflow local` makes it at a start

    again = LocalState(path, REGION)
    again.open()
    assert again.restore().objects >= 1
    again.stop()

    restored = s3.get_object(bucket, key)
    assert (restored.value, restored.metadata["content-type"]) == (b"source,captured\r\ngoogle,4\r\n", "text/csv")
    s3.delete_object(bucket, key)
    s3.delete_bucket(bucket)

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
    interrupted.open()  # Ctrl-C came while the items were still loading: no restore, then a stop
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


def test_the_journal_follows_changes_made_through_moto(tmp_path: Path) -> None:
    moto_dynamodb.install()
    path = tmp_path / "demo.sqlite"
    journal = LocalState(path, REGION)
    journal.open()
    journal.restore()
    journal.start()
    journal._changed("leads", {"pk": {"S": "LEAD#a"}, "sk": {"S": "PROFILE"}}, {"pk": {"S": "LEAD#a"}, "n": {"N": "1"}})
    journal._changed("leads", {"pk": {"S": "LEAD#a"}, "sk": {"S": "PROFILE"}}, None)  # then deleted
    journal.stop()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] == 0

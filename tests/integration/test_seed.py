"""`leadflow seed` writes scored leads into a stopped stack's state file, once however often it runs."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from leadflow.config import ClientConfig
from leadflow.local.seed import seed_state_file
from tests.support import SAMPLE_IDS


def counted_leads(path: Path) -> int:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT attributes FROM items WHERE item_key LIKE '%COUNTER#leads%'").fetchall()
    return sum(int(json.loads(row[0])["count"]["N"]) for row in rows)


def profiles(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM items WHERE item_key LIKE '%\"PROFILE\"%'").fetchone()[0])


def test_seeding_adds_scored_leads_and_counts_each_once(tmp_path: Path, demo_config: ClientConfig) -> None:
    path = tmp_path / "demo.sqlite"
    assert seed_state_file(path, demo_config, SAMPLE_IDS, "leadflow-demo-leads", 50) == 50
    assert (profiles(path), counted_leads(path)) == (50, 50)


def items(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM items").fetchone()[0])


def test_seeding_the_same_leads_again_changes_nothing(tmp_path: Path, demo_config: ClientConfig) -> None:
    path, once = tmp_path / "demo.sqlite", tmp_path / "once.sqlite"
    seed_state_file(path, demo_config, SAMPLE_IDS, "leadflow-demo-leads", 50)
    assert seed_state_file(path, demo_config, SAMPLE_IDS, "leadflow-demo-leads", 60) == 10  # 50 there already
    seed_state_file(once, demo_config, SAMPLE_IDS, "leadflow-demo-leads", 60)
    assert (profiles(path), counted_leads(path)) == (60, 60)
    assert items(path) == items(once)  # no timeline entry or marker written twice

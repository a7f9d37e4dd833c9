"""`leadflow leads follow-up`: ops (or a rep, with --as) record what happened with a lead."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from leadflow.cli import app
from leadflow.route.changes import route_lead
from tests.integration.conftest import Stack
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import CLIENTS, SAMPLE_IDS


@pytest.fixture
def assigned(stack: Stack) -> str:
    add_rep(stack, "ada")
    add_rep(stack, "bob", active=False)
    route_lead(sales_ready(stack, "lin@acme-robotics.example"), stack.services(), stack.config, roster(stack),
               stack.store())  # fmt: skip
    return "lin@acme-robotics.example"


def follow_up(endpoint: str, tmp_path: Path, *args: str) -> Result:
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    flags = ["--local", "--endpoint", endpoint, "--clients-dir", str(tmp_path)]
    return CliRunner().invoke(app, ["leads", "follow-up", *args, *flags])


def test_the_owner_accepts_through_the_cli(stack: Stack, assigned: str, moto_endpoint: str, tmp_path: Path) -> None:
    result = follow_up(moto_endpoint, tmp_path, assigned, "accept", "--as", "ada@demo.example")
    assert result.exit_code == 0, result.output
    assert "the lead is accepted now" in result.output


def test_a_move_the_lifecycle_forbids_names_both_stages(
    stack: Stack, assigned: str, moto_endpoint: str, tmp_path: Path
) -> None:
    result = follow_up(moto_endpoint, tmp_path, assigned, "won", "--amount", "10", "--currency", "EUR")
    assert result.exit_code == 1
    assert "cannot move from assigned to won" in result.output


def test_another_rep_cannot_act_on_the_lead(stack: Stack, assigned: str, moto_endpoint: str, tmp_path: Path) -> None:
    result = follow_up(moto_endpoint, tmp_path, assigned, "accept", "--as", "bob@demo.example")
    assert result.exit_code == 1
    profile = stack.store().get_profile(SAMPLE_IDS.lead_id(assigned))
    assert profile is not None
    assert profile["stage"] == "assigned"


def test_relink_puts_leads_stored_before_work_links_back_in_their_owners_list(
    stack: Stack, assigned: str, moto_endpoint: str, tmp_path: Path
) -> None:
    store = stack.store()
    [link] = store.work_list("sales", owner="ada")
    dynamodb = stack.session.client("dynamodb")
    key = {"pk": {"S": "TEAM#sales"}, "sk": {"S": f"OWNER#ada#{link['lead_id']}"}}
    dynamodb.delete_item(TableName=stack.definition.table("leads").name, Key=key)  # as stored before links
    assert store.work_list("sales", owner="ada") == []
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    flags = ["--local", "--endpoint", moto_endpoint, "--clients-dir", str(tmp_path)]
    result = CliRunner().invoke(app, ["leads", "relink", *flags])
    assert result.exit_code == 0, result.output
    assert "Open leads in their teams' work lists (their owners' and the queues): 1." in result.output
    assert [entry["lead_id"] for entry in store.work_list("sales", owner="ada")] == [link["lead_id"]]

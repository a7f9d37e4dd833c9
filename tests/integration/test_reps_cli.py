"""`leadflow reps`: a client's sales reps kept in the stack's table, run as ops run it with --local.

The client file is written for each test (clients/demo.toml's teams change as routing grows):
the commented template `leadflow client new` writes, named demo so that it names the demo
stack's table, plus two teams.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from leadflow.aws.roster import RosterTable, rep_key
from leadflow.cli import CLIENT_TEMPLATE, app
from leadflow.cli.stack_access import console
from leadflow.route.roster import Rep
from tests.integration.conftest import Stack

# The template has a sales team (Europe/Berlin); a second team beside it.
TEAMS = """
[route.teams.partners]
manager = "partners@example.com"
"""


class Reps:
    """`leadflow reps ...` against the test's stack, and its roster as stored."""

    def __init__(self, stack: Stack, endpoint: str, clients_dir: Path) -> None:
        self.stack = stack
        self.flags = ["--local", "--endpoint", endpoint, "--clients-dir", str(clients_dir)]

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(app, ["reps", *args, *self.flags])

    def ok(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 0, result.output
        return result.stdout

    def refused(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 1, result.output
        return result.stderr

    def roster(self) -> RosterTable:
        return RosterTable(self.stack.definition.table("leads").name, client=self.stack.session.client("dynamodb"))

    def stored(self, email: str) -> Rep:
        [rep] = [rep for rep in self.roster().list_reps() if rep.email == email]
        return rep


@pytest.fixture
def reps(stack: Stack, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Reps:
    (tmp_path / "demo.toml").write_text(CLIENT_TEMPLATE.format(name="demo") + TEAMS)
    monkeypatch.setattr(console, "width", 200)
    return Reps(stack, moto_endpoint, tmp_path)


def test_a_rep_added_is_listed_with_their_teams_and_load(reps: Reps) -> None:
    added = reps.ok("add", "Ada@Example.com", "--name", "Ada Lovelace", "--team", "sales", "--capacity", "10")
    assert "Added Ada Lovelace (ada@example.com) as rep_" in added

    [line] = [line for line in reps.ok("list").splitlines() if "Ada Lovelace" in line]
    assert "ada@example.com" in line
    assert "sales" in line
    assert "0/10" in line
    assert "active" in line


def test_adding_an_email_already_on_the_roster_is_refused(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")

    refused = reps.refused("add", "ADA@example.com", "--name", "Ada Again", "--team", "partners")

    assert "ada@example.com is on the roster already, as Ada Lovelace" in refused
    assert len(reps.roster().list_reps()) == 1


def test_an_unknown_team_is_refused_naming_the_teams_of_the_client_file(reps: Reps) -> None:
    refused = reps.refused("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "marketing")

    assert "No team 'marketing'" in refused
    assert "use one of sales, partners" in refused
    assert reps.roster().list_reps() == []


def test_set_by_email_changes_the_weight(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")

    changed = reps.ok("set", "ada@example.com", "--weight", "2.5")

    assert "weight: 1 -> 2.5" in changed
    assert reps.stored("ada@example.com").weight == 2.5


def test_away_until_a_date_stores_the_start_of_that_day_in_the_reps_time_zone_in_utc(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--timezone", "America/New_York")

    reps.ok("away", "ada@example.com", "--until", "2099-12-07")

    assert reps.stored("ada@example.com").away_until == "2099-12-07T05:00:00.000+00:00"


def test_away_back_clears_the_away_time(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")
    reps.ok("away", "ada@example.com", "--until", "2099-12-07")

    reps.ok("away", "ada@example.com", "--back")

    assert reps.stored("ada@example.com").away_until is None


def test_remove_refuses_a_rep_with_open_leads_and_force_removes_them(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")
    rep_id = reps.stored("ada@example.com").rep_id
    reps.stack.session.client("dynamodb").update_item(
        TableName=reps.roster().table_name,
        Key=rep_key(rep_id),
        UpdateExpression="SET open_leads = :three",
        ExpressionAttributeValues={":three": {"N": "3"}},
    )

    refused = reps.refused("remove", "ada@example.com")
    assert "has 3 open lead(s)" in refused
    assert "--inactive" in refused
    assert reps.roster().get_rep(rep_id) is not None

    reps.ok("remove", rep_id, "--force")
    assert reps.roster().get_rep(rep_id) is None


def test_bad_hours_are_refused_with_the_calendars_message(reps: Reps) -> None:
    refused = reps.refused("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--hours", "9-5")

    assert 'hours "9-5": write each interval as HH:MM-HH:MM, like 09:00-17:00' in refused
    assert reps.roster().list_reps() == []


def test_list_json_prints_the_reps_as_json(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--territory", "DE")

    [rep] = json.loads(reps.ok("list", "--json"))

    assert (rep["email"], rep["teams"], rep["territories"]) == ("ada@example.com", ["sales"], ["DE"])
    assert rep["rep_id"].startswith("rep_")


def test_a_name_with_an_escape_sequence_is_listed_as_text_never_sent_to_the_terminal(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada\x1b[31m Lovelace", "--team", "sales")

    listed = reps.ok("list")

    assert "\x1b" not in listed
    assert "Ada\\u001b[31m Lovelace" in listed

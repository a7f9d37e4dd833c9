"""`leadflow reps`: a client's sales reps kept in the stack's table, run as ops run it with --local.

The client file is written for each test (clients/demo.toml's teams change as routing grows):
the commented template `leadflow client new` writes, named demo so that it names the demo
stack's table, plus two teams. The stack's user pool (where a rep's sign-in lives) is created
with its other resources.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from leadflow.aws.roster import RosterTable, rep_key
from leadflow.aws.users import Person, UserPool
from leadflow.cli import CLIENT_TEMPLATE, app, user_commands
from leadflow.cli.stack_access import console
from leadflow.route.roster import Rep
from tests.integration.conftest import Stack
from tests.support import sign_in

PASSWORD = "Correct-horse-1"

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

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, ["reps", *args, *self.flags], input=input)

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

    def pool(self) -> UserPool:
        spec = self.stack.definition.user_pool("users")
        return UserPool(spec.name, spec.client_name, client=self.stack.session.client("cognito-idp"))

    def person(self, email: str) -> Person | None:
        return self.pool().person(email)

    def sign_in_of(self, email: str) -> tuple[bool, tuple[str, ...]] | None:
        """Whether the person may sign in, and their groups; None: they have no user."""
        person = self.person(email)
        return None if person is None else (person.enabled, person.groups)

    def signs_in(self, email: str, password: str = PASSWORD) -> bool:
        endpoint = self.flags[self.flags.index("--endpoint") + 1]
        return bool(sign_in(endpoint, self.stack.definition.user_pool("users").name, email, password))


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


def test_a_rep_added_with_a_password_signs_in_at_once_in_group_rep(reps: Reps) -> None:
    added = reps.ok("add", "Ada@Example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", PASSWORD)

    assert reps.sign_in_of("ada@example.com") == (True, ("rep",))
    assert reps.signs_in("ada@example.com")
    assert "`leadflow token ada@example.com --clients-dir" in added


def test_a_rep_added_in_a_terminal_is_asked_for_their_password_hidden(
    reps: Reps, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(user_commands, "in_terminal", lambda: True)

    result = reps.run("add", "ada@example.com", "--name", "Ada", "--team", "sales", input=f"{PASSWORD}\n{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output  # hidden as it is typed
    assert reps.signs_in("ada@example.com")


def test_a_rep_added_by_a_script_without_a_password_is_told_how_to_set_one(reps: Reps) -> None:
    added = reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")

    assert "has no password yet" in added
    assert "`leadflow users password ada@example.com --clients-dir" in added
    assert reps.sign_in_of("ada@example.com") == (True, ("rep",))


def test_a_rep_the_roster_cannot_store_leaves_no_sign_in_behind(reps: Reps, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.exceptions import ClientError

    def refused(self: RosterTable, rep: Rep) -> None:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "the table is down"}}, "PutItem")

    monkeypatch.setattr(RosterTable, "add_rep", refused)

    failed = reps.refused("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", PASSWORD)

    assert "Could not add ada@example.com to the roster" in failed
    assert "ada@example.com's sign-in was left as it was before" in failed
    assert reps.person("ada@example.com") is None


def test_a_rep_whose_sign_in_cannot_be_made_is_not_put_on_the_roster(reps: Reps) -> None:
    failed = reps.refused("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", "short")

    assert "Cognito refused that password: give one of at least 12 characters" in failed
    assert reps.roster().list_reps() == []
    assert reps.person("ada@example.com") is None


def test_a_removed_rep_cannot_sign_in_and_adding_them_again_restores_their_sign_in(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", PASSWORD)
    first = reps.person("ada@example.com")

    removed = reps.ok("remove", "ada@example.com")
    assert "cannot sign in any more" in removed
    assert reps.sign_in_of("ada@example.com") == (False, ("rep",))

    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "partners")
    back = reps.person("ada@example.com")
    assert first is not None
    assert back is not None
    assert (back.enabled, back.sub, back.groups) == (True, first.sub, ("rep",))
    assert reps.signs_in("ada@example.com")  # with her own password, as before


def test_removing_a_rep_who_is_also_a_manager_keeps_their_sign_in_without_group_rep(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", PASSWORD)
    reps.pool().add_to_group("ada@example.com", "manager")

    removed = reps.ok("remove", "ada@example.com")

    assert "keeps signing in, no longer as a rep" in removed
    assert reps.sign_in_of("ada@example.com") == (True, ("manager",))


def test_adding_a_rep_to_a_stack_without_its_user_pool_says_to_start_the_local_stack(reps: Reps) -> None:
    cognito = reps.stack.session.client("cognito-idp")
    cognito.delete_user_pool(UserPoolId=reps.stack.resources.user_pool_ids["users"])

    failed = reps.refused("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales")

    assert "has no user pool leadflow-demo-users: start it with `leadflow local`" in failed
    assert reps.roster().list_reps() == []


def test_a_new_email_for_a_rep_who_signs_in_is_refused_saying_why(reps: Reps) -> None:
    reps.ok("add", "ada@example.com", "--name", "Ada Lovelace", "--team", "sales", "--password", PASSWORD)
    refused = reps.refused("set", "ada@example.com", "--email", "ada.l@example.com")
    assert "signs in with that address" in refused
    assert [rep.email for rep in reps.roster().list_reps()] == ["ada@example.com"]

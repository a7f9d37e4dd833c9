"""`leadflow users` and `leadflow token`: who signs in to the stack's API, run with --local against moto."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from click.testing import Result
from joserfc import jwt
from joserfc.jwk import KeySet
from typer.testing import CliRunner

from leadflow.aws.users import Person, UserPool
from leadflow.cli import app
from leadflow.cli.stack_access import console
from tests.integration.conftest import Stack
from tests.support import CLIENTS, sign_in

PASSWORD = "Correct-horse-1"


class People:
    """`leadflow users ...` and `leadflow token` against the test's stack, and its user pool as Cognito holds it."""

    def __init__(self, stack: Stack, endpoint: str, clients_dir: Path) -> None:
        self.stack = stack
        self.endpoint = endpoint
        self.flags = ["--local", "--endpoint", endpoint, "--clients-dir", str(clients_dir)]
        spec = stack.definition.user_pool("users")
        self.pool = UserPool(spec.name, spec.client_name, client=stack.session.client("cognito-idp"))

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(app, [*args, *self.flags], input=input)

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, result.output
        return result.stdout

    def refused(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code == 1, result.output
        assert result.stdout == ""
        return result.stderr

    def person(self, email: str) -> Person | None:
        return self.pool.person(email)

    def sign_in_of(self, email: str) -> tuple[bool, tuple[str, ...]] | None:
        """Whether the person may sign in, and their groups; None: they have no user."""
        person = self.person(email)
        return None if person is None else (person.enabled, person.groups)

    def signs_in(self, email: str, password: str = PASSWORD) -> bool:
        return bool(sign_in(self.endpoint, self.pool.pool_name, email, password))


@pytest.fixture
def people(stack: Stack, moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> People:
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text())
    monkeypatch.setattr(console, "width", 200)
    return People(stack, moto_endpoint, tmp_path)


def test_a_manager_added_signs_in_in_group_manager(people: People) -> None:
    people.ok("users", "add", "Grace@Example.com", "--group", "manager", "--password", PASSWORD)

    assert people.sign_in_of("grace@example.com") == (True, ("manager",))
    assert people.signs_in("grace@example.com")


def test_users_list_shows_each_person_with_their_groups(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "manager", "--group", "ops", "--password", PASSWORD)

    [line] = [line for line in people.ok("users", "list").splitlines() if "grace@example.com" in line]

    assert "manager, ops" in line
    assert "signs in" in line


def test_an_unknown_group_is_refused_naming_the_groups(people: People) -> None:
    refused = people.refused("users", "add", "grace@example.com", "--group", "admin")

    assert "No group 'admin': use one of rep, manager, ops." in refused
    assert people.person("grace@example.com") is None


def test_adding_someone_to_group_rep_who_is_not_on_the_roster_says_how_to_put_them_on_it(people: People) -> None:
    result = people.run("users", "add", "ada@example.com", "--group", "rep", "--password", PASSWORD)

    assert result.exit_code == 0
    assert "not on the roster" in result.stderr
    assert "leadflow reps add ada@example.com" in result.stderr


def test_token_prints_only_an_id_token_that_the_pools_keys_verify(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "manager", "--password", PASSWORD)

    printed = people.ok("token", "grace@example.com", "--password", PASSWORD)

    token = printed.strip()
    assert printed == token + "\n"
    pool_id = people.stack.resources.user_pool_ids["users"]
    keys = KeySet.import_key_set(requests.get(f"{people.endpoint}/{pool_id}/.well-known/jwks.json", timeout=10).json())
    claims = jwt.decode(token, keys, algorithms=["RS256"]).claims
    assert (claims["token_use"], claims["email"], claims["cognito:groups"]) == ("id", "grace@example.com", ["manager"])


def test_token_asks_for_the_password_hidden_when_it_is_not_given(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "ops", "--password", PASSWORD)

    result = people.run("token", "grace@example.com", input=f"{PASSWORD}\n")

    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert result.stdout.count(".") == 2  # the token alone: header.payload.signature


def test_token_with_a_temporary_password_sets_the_new_password_given(people: People) -> None:
    people.pool.add_person("grace@example.com", ("manager",), temporary_password="Temporary-pass-1", invite=False)

    people.ok("token", "grace@example.com", "--password", "Temporary-pass-1", "--new-password", PASSWORD)

    assert people.signs_in("grace@example.com", PASSWORD)


def test_token_asks_for_a_new_password_when_cognito_wants_one(people: People) -> None:
    people.pool.add_person("grace@example.com", ("manager",), temporary_password="Temporary-pass-1", invite=False)

    result = people.run(
        "token", "grace@example.com", "--password", "Temporary-pass-1", input=f"{PASSWORD}\n{PASSWORD}\n"
    )

    assert result.exit_code == 0, result.output
    assert "password is temporary" in result.stderr
    assert people.signs_in("grace@example.com", PASSWORD)


def test_token_with_a_wrong_password_says_so_and_how_to_set_a_new_one(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "manager", "--password", PASSWORD)

    refused = people.refused("token", "grace@example.com", "--password", "Not-her-password-1")

    assert "Wrong password for grace@example.com" in refused
    assert "leadflow users password grace@example.com" in refused


def test_token_for_someone_without_a_sign_in_says_how_to_give_them_one(people: People) -> None:
    refused = people.refused("token", "nobody@example.com", "--password", PASSWORD)

    assert "nobody@example.com has no sign-in on client demo's stack" in refused
    assert "leadflow users add nobody@example.com" in refused


def test_remove_disables_the_sign_in_and_keeps_the_user(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "manager", "--password", PASSWORD)

    removed = people.ok("users", "remove", "grace@example.com")

    assert "cannot sign in any more" in removed
    assert people.sign_in_of("grace@example.com") == (False, ("manager",))
    assert "grace@example.com was removed" in people.refused("token", "grace@example.com", "--password", PASSWORD)


def test_adding_a_removed_person_again_restores_them_with_their_password(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "manager", "--password", PASSWORD)
    people.ok("users", "remove", "grace@example.com")

    restored = people.ok("users", "add", "grace@example.com", "--group", "manager")

    assert "restored" in restored
    assert people.signs_in("grace@example.com")


def test_removing_a_rep_on_the_roster_says_they_still_get_leads(people: People) -> None:
    people.ok(
        "reps", "add", "ada@example.com", "--name", "Ada", "--team", "sales", "--password", PASSWORD
    )  # fmt: skip

    result = people.run("users", "remove", "ada@example.com")

    assert result.exit_code == 0
    assert "still on the roster" in result.stderr
    assert "leadflow reps remove ada@example.com" in result.stderr


def test_password_sets_a_new_password_on_the_local_stack(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "ops")

    people.ok("users", "password", "grace@example.com", "--password", PASSWORD)

    assert people.signs_in("grace@example.com")


def test_list_json_prints_the_people_as_json(people: People) -> None:
    people.ok("users", "add", "grace@example.com", "--group", "ops", "--password", PASSWORD)

    [person] = json.loads(people.ok("users", "list", "--json"))

    assert (person["email"], person["groups"], person["enabled"]) == ("grace@example.com", ["ops"], True)


def test_a_stack_without_its_user_pool_says_to_start_the_local_stack(people: People) -> None:
    people.stack.session.client("cognito-idp").delete_user_pool(
        UserPoolId=people.stack.resources.user_pool_ids["users"]
    )

    refused = people.refused("users", "list")

    assert "has no user pool leadflow-demo-users: start it with `leadflow local`" in refused

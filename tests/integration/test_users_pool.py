"""`leadflow.aws.users`: the people of the stack's user pool, against moto's Cognito."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt

from leadflow.aws.users import (
    NewPasswordRequired,
    PasswordRefused,
    PoolNotFound,
    UnknownUser,
    UserDisabled,
    UserExists,
    UserPool,
    WrongPassword,
)
from tests.integration.conftest import Stack
from tests.support import moto_signing_key

PASSWORD = "Correct-horse-1"


@pytest.fixture
def pool(stack: Stack) -> UserPool:
    spec = stack.definition.user_pool("users")
    return UserPool(spec.name, spec.client_name, client=stack.session.client("cognito-idp"))


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, its signature checked with the key moto signs with."""
    return dict(jwt.decode(token, moto_signing_key()).claims)


def test_a_person_added_is_in_their_groups_with_their_email_verified(pool: UserPool) -> None:
    added = pool.add_person("ada@example.com", ("manager", "ops"), invite=False)

    assert (added.email, added.groups, added.enabled) == ("ada@example.com", ("manager", "ops"), True)
    user = pool.client.admin_get_user(UserPoolId=pool.pool_id, Username="ada@example.com")
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]


def test_adding_an_email_the_pool_has_is_refused_as_user_exists(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep",), invite=False)
    pool.disable("ada@example.com")

    with pytest.raises(UserExists):
        pool.add_person("ada@example.com", ("manager",), invite=False)


def test_a_person_with_a_password_signs_in_with_an_id_token_naming_their_groups(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep", "manager"), invite=False)
    pool.set_password("ada@example.com", PASSWORD)

    claims = claims_of(pool.sign_in("ada@example.com", PASSWORD))

    assert claims["token_use"] == "id"
    assert claims["email"] == "ada@example.com"
    assert sorted(claims["cognito:groups"]) == ["manager", "rep"]


def test_a_temporary_password_asks_for_a_new_one_which_then_is_theirs(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep",), temporary_password="Temporary-pass-1", invite=False)

    with pytest.raises(NewPasswordRequired):
        pool.sign_in("ada@example.com", "Temporary-pass-1")
    pool.sign_in("ada@example.com", "Temporary-pass-1", new_password=PASSWORD)

    assert claims_of(pool.sign_in("ada@example.com", PASSWORD))["email"] == "ada@example.com"


def test_a_wrong_password_is_refused_as_wrong_password(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep",), invite=False)
    pool.set_password("ada@example.com", PASSWORD)

    with pytest.raises(WrongPassword):
        pool.sign_in("ada@example.com", "Not-her-password-1")


def test_an_email_without_a_user_is_refused_as_unknown_user(pool: UserPool) -> None:
    with pytest.raises(UnknownUser):
        pool.sign_in("nobody@example.com", PASSWORD)


def test_a_disabled_person_cannot_sign_in_and_enabling_restores_them_as_they_were(pool: UserPool) -> None:
    added = pool.add_person("ada@example.com", ("rep",), invite=False)
    pool.set_password("ada@example.com", PASSWORD)

    pool.disable("ada@example.com")
    with pytest.raises(UserDisabled):
        pool.sign_in("ada@example.com", PASSWORD)
    pool.enable("ada@example.com")

    assert claims_of(pool.sign_in("ada@example.com", PASSWORD))["sub"] == added.sub


def test_a_password_the_pools_policy_refuses_is_password_refused(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep",), invite=False)

    with pytest.raises(PasswordRefused):
        pool.set_password("ada@example.com", "short")


def test_people_lists_everyone_with_their_groups_removed_ones_too(pool: UserPool) -> None:
    pool.add_person("ada@example.com", ("rep",), invite=False)
    pool.add_person("grace@example.com", ("manager", "ops"), invite=False)
    pool.add_person("lin@example.com", (), invite=False)
    pool.disable("ada@example.com")

    people = {person.email: (person.groups, person.enabled) for person in pool.people()}

    assert people == {
        "ada@example.com": (("rep",), False),
        "grace@example.com": (("manager", "ops"), True),
        "lin@example.com": ((), True),
    }


def test_a_pool_of_another_name_is_pool_not_found_saying_to_deploy_or_start_the_local_stack(stack: Stack) -> None:
    missing = UserPool("leadflow-nobody-users", "leadflow-nobody-api", client=stack.session.client("cognito-idp"))

    with pytest.raises(PoolNotFound, match="deploy the stack") as raised:
        missing.person("ada@example.com")

    assert "leadflow local" in str(raised.value)


def test_the_pool_and_its_app_client_are_found_by_name_past_the_first_page_of_pools(stack: Stack) -> None:
    cognito = stack.session.client("cognito-idp")
    for n in range(60):  # a page of list_user_pools before it
        cognito.create_user_pool(PoolName=f"other-{n:02d}")
    late = cognito.create_user_pool(PoolName="late-users")["UserPool"]["Id"]
    app_client = cognito.create_user_pool_client(UserPoolId=late, ClientName="late-api")["UserPoolClient"]

    pool = UserPool("late-users", "late-api", client=cognito)

    assert (pool.pool_id, pool.app_client_id) == (late, app_client["ClientId"])

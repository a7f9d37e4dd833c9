"""Data access for the stack's Cognito user pool: the people who sign in to its API.

Reps, managers and ops each have one user in the pool (leadflow.definition.UserPoolSpec),
named by their normalised email, with the email as a verified attribute, in one or more of
the pool's groups (rep, manager, ops). API Gateway's Cognito authorizer checks their ID
tokens; the function behind a route reads who they are, and their groups, from the claims.

The pool and its app client are found by name (the deployed stack names them from the
definition; their ids are Cognito's). Removing a person disables their user rather than
deleting it: a disabled user cannot sign in, and a rep who comes back is restored with
their user as it was (the same `sub`, the same groups), so nothing that recorded who did
what with their `sub` points at a stranger. Deleting is kept for undoing an add that could
not be finished (the user was never used).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from leadflow.aws.client import LazyClient

PAGE = 60  # the most Cognito lists in one page


class PoolNotFound(LookupError):
    """No user pool (or no app client in it) of that name where the client looks."""

    def __init__(self, pool_name: str, client_name: str | None = None):
        what = f"app client {client_name} in user pool {pool_name}" if client_name else f"user pool {pool_name}"
        super().__init__(
            f"no {what}: deploy the stack (it creates the pool), or for the local stack start `leadflow local`"
        )
        self.pool_name = pool_name
        self.client_name = client_name


class UserExists(Exception):
    """The pool has a user with that email already (maybe disabled: see `UserPool.person`)."""


class UnknownUser(LookupError):
    """The pool has no user with that email."""


class WrongPassword(Exception):
    """Cognito refused the email and password (the user exists and is enabled)."""


class UserDisabled(Exception):
    """The user was removed (disabled): they cannot sign in until restored."""


class NewPasswordRequired(Exception):
    """The password was a temporary one: Cognito asks for a new one before it gives tokens."""


class PasswordRefused(ValueError):
    """The pool's password policy refuses the password (Cognito's message says why)."""


class SignInChallenge(Exception):
    """Cognito asks for a step this sign-in does not take (MFA, say): its challenge name."""


@dataclass(frozen=True)
class Person:
    email: str
    username: str  # Cognito's (the normalised email, or the sub where a pool signs in with an email alias)
    sub: str  # the user's id, kept for life: the `sub` claim of their tokens
    groups: tuple[str, ...]
    enabled: bool
    status: str  # Cognito's UserStatus: CONFIRMED, FORCE_CHANGE_PASSWORD (invited, no own password yet), ...
    created_at: datetime | None = None

    @property
    def must_choose_password(self) -> bool:
        return self.status in ("FORCE_CHANGE_PASSWORD", "RESET_REQUIRED")


class UserPool(LazyClient):
    """The people of one user pool, found by the pool's name and its app client's name."""

    service = "cognito-idp"

    def __init__(self, pool_name: str, client_name: str, client: Any = None):
        super().__init__(client)
        self.pool_name = pool_name
        self.client_name = client_name

    @cached_property
    def pool_id(self) -> str:
        """The pool's id (`PoolNotFound` when no pool has the name)."""
        for pool in self._pages("list_user_pools", "UserPools", "NextToken", MaxResults=PAGE):
            if pool["Name"] == self.pool_name:
                return str(pool["Id"])
        raise PoolNotFound(self.pool_name)

    @cached_property
    def app_client_id(self) -> str:
        """The id of the app client people sign in through (`PoolNotFound` when the pool has none of the name)."""
        clients = self._pages(
            "list_user_pool_clients", "UserPoolClients", "NextToken", UserPoolId=self.pool_id, MaxResults=PAGE
        )
        for app_client in clients:
            if app_client["ClientName"] == self.client_name:
                return str(app_client["ClientId"])
        raise PoolNotFound(self.pool_name, self.client_name)

    def add_person(
        self, email: str, groups: Iterable[str], temporary_password: str | None = None, invite: bool = True
    ) -> Person:
        """A new user for `email` (normalised by the caller), in `groups`.

        With `invite`, Cognito emails them an invitation with a temporary password (the one
        given, else one it makes up); they choose their own at their first sign-in. Without
        it nothing is sent (the local stack, where a password is set with `set_password`).
        `UserExists` when the pool has a user with that email already, enabled or not.
        """
        from botocore.exceptions import ClientError

        arguments: dict[str, Any] = {
            "UserPoolId": self.pool_id,
            "Username": email,
            "UserAttributes": [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
            "DesiredDeliveryMediums": ["EMAIL"],
        }
        if temporary_password is not None:
            arguments["TemporaryPassword"] = temporary_password
        if not invite:
            arguments["MessageAction"] = "SUPPRESS"
        try:
            self.client.admin_create_user(**arguments)
        except ClientError as exc:
            _raise_known(exc, email)
            raise
        try:
            for group in groups:
                self.add_to_group(email, group)
        except BaseException:
            self.delete(email)  # never a user left behind in none of the groups asked for
            raise
        return self._person_or_raise(email)

    def set_password(self, email: str, password: str, permanent: bool = True) -> None:
        """Set a user's password: permanent (the local stack), or temporary (to be changed at the next sign-in)."""
        from botocore.exceptions import ClientError

        try:
            self.client.admin_set_user_password(
                UserPoolId=self.pool_id, Username=email, Password=password, Permanent=permanent
            )
        except ClientError as exc:
            _raise_known(exc, email)
            raise

    def add_to_group(self, email: str, group: str) -> None:
        self._admin("admin_add_user_to_group", email, GroupName=group)

    def remove_from_group(self, email: str, group: str) -> None:
        self._admin("admin_remove_user_from_group", email, GroupName=group)

    def disable(self, email: str) -> None:
        """Remove a person: they cannot sign in any more; `enable` restores them as they were.

        Their refresh tokens are revoked too, so no app signs them in again silently; an ID token
        already issued stays good until it expires (an hour at most), as API Gateway checks no more.
        """
        self._admin("admin_user_global_sign_out", email)
        self._admin("admin_disable_user", email)

    def enable(self, email: str) -> None:
        self._admin("admin_enable_user", email)

    def delete(self, email: str) -> None:
        """Delete a user for good: only to undo an add that could not be finished (see the module's docstring)."""
        self._admin("admin_delete_user", email)

    def person(self, email: str) -> Person | None:
        """The user with this email, with their groups; None when the pool has none."""
        from botocore.exceptions import ClientError

        try:
            user = self.client.admin_get_user(UserPoolId=self.pool_id, Username=email)
        except ClientError as exc:
            if _code(exc) == "UserNotFoundException":
                return None
            raise
        groups = self._pages(
            "admin_list_groups_for_user", "Groups", "NextToken", UserPoolId=self.pool_id, Username=email, Limit=PAGE
        )
        return _person(user, user.get("UserAttributes", []), [group["GroupName"] for group in groups])

    def people(self) -> list[Person]:
        """Every user of the pool with their groups, enabled or not (a Cognito list per group, not per user)."""
        members: dict[str, list[str]] = {}
        for group in self._pages("list_groups", "Groups", "NextToken", UserPoolId=self.pool_id, Limit=PAGE):
            name = group["GroupName"]
            users = self._pages(
                "list_users_in_group", "Users", "NextToken", UserPoolId=self.pool_id, GroupName=name, Limit=PAGE
            )
            for user in users:
                members.setdefault(user["Username"], []).append(name)
        users = self._pages("list_users", "Users", "PaginationToken", UserPoolId=self.pool_id, Limit=PAGE)
        return [_person(user, user.get("Attributes", []), members.get(user["Username"], [])) for user in users]

    def sign_in(self, email: str, password: str, new_password: str | None = None) -> str:
        """An ID token for the person, through the app client's USER_PASSWORD_AUTH flow.

        When their password is a temporary one, Cognito asks for a new one: `new_password` is
        set as their own, else `NewPasswordRequired`. `UnknownUser`, `UserDisabled`,
        `WrongPassword` or `PasswordRefused` (the new password) say why no token was given.
        """
        from botocore.exceptions import ClientError

        try:
            answer = self.client.initiate_auth(
                ClientId=self.app_client_id,
                AuthFlow="USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": email, "PASSWORD": password},
            )
            if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
                if new_password is None:
                    raise NewPasswordRequired(email)
                answer = self.client.respond_to_auth_challenge(
                    ClientId=self.app_client_id,
                    ChallengeName="NEW_PASSWORD_REQUIRED",
                    Session=answer["Session"],
                    ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": new_password},
                )
        except ClientError as exc:
            if _code(exc) == "NotAuthorizedException":
                self._why_refused(email)
            _raise_known(exc, email)
            raise
        if "AuthenticationResult" not in answer:
            raise SignInChallenge(str(answer.get("ChallengeName")))
        return str(answer["AuthenticationResult"]["IdToken"])

    def password_policy(self) -> dict[str, Any]:
        """The pool's password policy, as Cognito describes it (MinimumLength, RequireSymbols, ...)."""
        pool = self.client.describe_user_pool(UserPoolId=self.pool_id)["UserPool"]
        return dict(pool.get("Policies", {}).get("PasswordPolicy", {}))

    def _why_refused(self, email: str) -> None:
        """After Cognito refused a sign-in (it says the same for a wrong password and an unknown or disabled user,
        where the pool prevents user existence errors): raise what it was, as an admin can tell."""
        person = self.person(email)
        if person is None:
            raise UnknownUser(email)
        if not person.enabled:
            raise UserDisabled(email)
        raise WrongPassword(email)

    def _person_or_raise(self, email: str) -> Person:
        person = self.person(email)
        if person is None:
            raise UnknownUser(email)
        return person

    def _admin(self, operation: str, email: str, **arguments: Any) -> None:
        from botocore.exceptions import ClientError

        try:
            getattr(self.client, operation)(UserPoolId=self.pool_id, Username=email, **arguments)
        except ClientError as exc:
            _raise_known(exc, email)
            raise

    def _pages(self, operation: str, items: str, token: str, **arguments: Any) -> Iterator[dict[str, Any]]:
        """Every item of a Cognito list, page after page (`token` names the list's next-page field)."""
        from botocore.exceptions import ClientError

        while True:
            try:
                answer = getattr(self.client, operation)(**arguments)
            except ClientError as exc:
                if _code(exc) == "ResourceNotFoundException" and operation != "list_user_pools":
                    raise PoolNotFound(self.pool_name) from exc
                raise
            yield from answer.get(items, [])
            if not answer.get(token):
                return
            arguments[token] = answer[token]


def _person(user: dict[str, Any], attributes: list[dict[str, str]], groups: list[str]) -> Person:
    values = {attribute["Name"]: attribute["Value"] for attribute in attributes}
    created = user.get("UserCreateDate")
    return Person(
        email=values.get("email", user["Username"]),
        username=user["Username"],
        sub=values.get("sub", ""),
        groups=tuple(sorted(groups)),
        enabled=bool(user.get("Enabled", True)),
        status=str(user.get("UserStatus", "")),
        created_at=created if isinstance(created, datetime) else None,
    )


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _raise_known(exc: Any, email: str) -> None:
    """The leadflow error a Cognito error stands for, if it stands for one (else the caller re-raises it)."""
    code = _code(exc)
    if code in ("UsernameExistsException", "AliasExistsException"):
        raise UserExists(email) from exc
    if code == "UserNotFoundException":
        raise UnknownUser(email) from exc
    if code == "InvalidPasswordException":
        raise PasswordRefused(str(exc.response.get("Error", {}).get("Message", ""))) from exc

"""`leadflow users ...` and `leadflow token`: the people who sign in to the stack's API (Cognito).

Everyone signs in with their email and a password to the stack's user pool, in one or more of
its groups (rep, manager, ops); `leadflow token` prints the ID token the API wants in its
`Authorization` header. Reps get their sign-in with `leadflow reps add`, which puts them on the
roster too (`grant_sign_in`, `revoke_rep_sign_in`); managers and ops, who are not reps, with
`leadflow users add`.

Passwords: in AWS, Cognito emails a new person an invitation with a temporary password (the
one --password gives, else one it makes up), and they choose their own at their first sign-in
(`leadflow token` asks for it). The local stack sends no email: there the password given (asked
for, hidden, when the command runs in a terminal) is the person's own at once.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from functools import partial
from typing import Annotated, Any, NoReturn

import typer
from rich.table import Table

from leadflow.aws.roster import RosterTable
from leadflow.aws.users import (
    NewPasswordRequired,
    PasswordRefused,
    Person,
    PoolNotFound,
    SignInChallenge,
    UnknownUser,
    UserDisabled,
    UserExists,
    UserPool,
    WrongPassword,
)
from leadflow.capture.inquiry import email_problem, normalize_email
from leadflow.cli.lead_commands import as_text
from leadflow.cli.stack_access import (
    DEFAULT_CLIENT,
    DEFAULT_CLIENTS_DIR,
    DEFAULT_ENDPOINT,
    ClientOption,
    ClientsDir,
    EndpointOption,
    LocalFlag,
    StackAccess,
    console,
    errors,
    open_stack,
)
from leadflow.route.roster import Rep

SIGN_IN_POOL = "users"  # the key of the definition's user pool people sign in to
REP_GROUP = "rep"

users_app = typer.Typer(
    help="The people who sign in to the stack's API (Cognito): managers and ops; reps come with `leadflow reps add`.",
    no_args_is_help=True,
)

EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The person's work email: they sign in with it.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help="With --local: the person's password (asked for, hidden, when left out in a terminal). "
        "In AWS: the temporary password of Cognito's invitation (left out: Cognito makes one up); "
        "they choose their own at their first sign-in.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@dataclass
class SignInChange:
    """What was done to a person's sign-in, so that it can be taken back (`undo_sign_in`)."""

    email: str
    created: bool = False  # a new user
    enabled: bool = False  # a removed (disabled) user restored
    disabled: bool = False
    groups_added: tuple[str, ...] = ()
    groups_removed: tuple[str, ...] = ()
    password_set: bool = False  # the local stack: the person's own password, set at once
    password_kept: bool = False  # a password was given for someone who has one already: theirs is kept
    invited: bool = False  # AWS: Cognito emailed an invitation with a temporary password

    @property
    def changed(self) -> bool:
        return self.created or self.enabled or self.disabled or bool(self.groups_added or self.groups_removed)


def user_pool_of(stack: StackAccess) -> UserPool:
    """The stack's user pool, found (by name) before anything is changed; a message and exit 1 when there is none."""
    spec = stack.definition.user_pool(SIGN_IN_POOL)
    pool = UserPool(spec.name, spec.client_name, client=stack.aws_client("cognito-idp"))
    try:
        stack.call(lambda: (pool.pool_id, pool.app_client_id), f"find user pool {spec.name}")
    except PoolNotFound:
        if stack.is_local:
            fail(
                f"The local stack at {stack.endpoint} has no user pool {spec.name}: start it with "
                f"`{_serve_command(stack)}` (`make run` serves client demo), or restart it if it runs an older "
                "leadflow."
            )
        region = stack.session.region_name or "(none set)"
        fail(
            f"Stack {stack.config.stack_name} has no user pool {spec.name} in region {region}: deploy it "
            f"(`make deploy CLIENT={stack.config.name}`), which creates the pool; for the local stack add --local."
        )
    return pool


def checked_email(email: str) -> str:
    problem = email_problem(email.strip())
    if problem:
        fail(f"The email {email!r} {problem}.")
    return normalize_email(email.strip())


def grant_sign_in(
    stack: StackAccess, pool: UserPool, email: str, groups: tuple[str, ...], password: str | None
) -> SignInChange:
    """Let a person sign in, in `groups`: a new user, or theirs restored (enabled) and put in the groups.

    A new person's password: see the module's docstring. A person who has a sign-in already
    keeps their password.
    """
    person = stack.call(lambda: pool.person(email), f"read the sign-in of {email}")
    if person is None:
        return _new_person(stack, pool, email, groups, password)
    change = SignInChange(email, password_kept=password is not None)
    if not person.enabled:
        stack.call(lambda: pool.enable(email), f"restore the sign-in of {email}")
        change.enabled = True
    for group in groups:
        if group not in person.groups:
            try:
                stack.call(partial(pool.add_to_group, email, group), f"add {email} to group {group}")
            except BaseException:
                undo_sign_in(stack, pool, change)
                raise
            change.groups_added += (group,)
    return change


def revoke_rep_sign_in(stack: StackAccess, pool: UserPool, email: str) -> SignInChange | None:
    """A rep who leaves the roster stops signing in as a rep: out of group rep when they are in another
    group too (a manager keeps signing in as one), else their user is disabled (`reps add` restores it).
    None when they have no sign-in."""
    person = stack.call(lambda: pool.person(email), f"read the sign-in of {email}")
    if person is None:
        return None
    change = SignInChange(email)
    if REP_GROUP in person.groups and set(person.groups) - {REP_GROUP}:
        stack.call(lambda: pool.remove_from_group(email, REP_GROUP), f"take {email} out of group {REP_GROUP}")
        change.groups_removed = (REP_GROUP,)
    elif person.enabled:
        stack.call(lambda: pool.disable(email), f"disable the sign-in of {email}")
        change.disabled = True
    return change


def undo_sign_in(stack: StackAccess, pool: UserPool, change: SignInChange) -> None:
    """Take a change to a sign-in back (what could not be stored with it failed); says so when that fails too."""
    from botocore.exceptions import BotoCoreError, ClientError

    email = change.email
    try:
        if change.created:
            pool.delete(email)
        else:
            for group in change.groups_added:
                pool.remove_from_group(email, group)
            for group in change.groups_removed:
                pool.add_to_group(email, group)
            if change.enabled:
                pool.disable(email)
            if change.disabled:
                pool.enable(email)
    except (BotoCoreError, ClientError, UnknownUser) as exc:
        errors.print(
            as_text(
                f"Could not take back the change to {email}'s sign-in ({exc}): "
                f"`{stack.command('users', 'list')}` shows it as it is now."
            )
        )
        return
    if change.changed:
        errors.print(as_text(f"{email}'s sign-in was left as it was before."))


def sign_in_note(stack: StackAccess, change: SignInChange) -> str:
    """What a person can do now, after `grant_sign_in`."""
    email = change.email
    groups = ", ".join(change.groups_added)
    if change.created and change.password_set:
        return f"{email} signs in with that password (in group {groups}): `{stack.command('token', email)}`."
    if change.created and change.invited:
        return (
            f"Cognito emailed {email} an invitation with a temporary password (group {groups}); "
            f"they choose their own at their first sign-in (`{stack.command('token', email)}` asks for it)."
        )
    if change.created:
        return f"{email} has no password yet (group {groups}): `{stack.command('users', 'password', email)}` sets one."
    done = []
    if change.enabled:
        done.append("restored (it was removed)")
    if change.groups_added:
        done.append(f"now also in group {groups}")
    note = f"{email} signs in as before, with their own password" + (f": {', '.join(done)}." if done else ".")
    if change.password_kept:
        note += f" The password given was not set: `{stack.command('users', 'password', email)}` sets one."
    return note


@users_app.command("add")
def users_add(
    email: EmailArgument,
    groups: Annotated[
        list[str], typer.Option("--group", help="manager, ops or rep; repeat for more groups.", show_default=False)
    ],
    password: PasswordOption = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Let a manager or ops person sign in to the stack's API. Someone who signs in already is put in the groups."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    email = checked_email(email)
    wanted = _checked_groups(stack, groups)
    pool = user_pool_of(stack)
    change = grant_sign_in(stack, pool, email, wanted, password)
    if not change.changed:
        console.print(as_text(f"{email} signs in already, in group(s) {', '.join(wanted)}: nothing changed."))
        if change.password_kept:
            console.print(as_text(f"Their password is unchanged: `{stack.command('users', 'password', email)}`."))
    else:
        console.print(as_text(sign_in_note(stack, change)), soft_wrap=True)
    if REP_GROUP in wanted and _on_roster(stack, email) is None:
        errors.print(
            as_text(
                f"{email} is in group {REP_GROUP} but not on the roster, so routing gives them no leads: "
                f"`{stack.command('reps', 'add', email, '--name', 'NAME', '--team', 'TEAM')}` puts them on it."
            )
        )


@users_app.command("list")
def users_list(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """The people who sign in (and those removed), with their groups."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    pool = user_pool_of(stack)
    people = sorted(stack.call(pool.people, f"list the users of {pool.pool_name}"), key=lambda p: p.email)
    if as_json:
        print(json.dumps([_as_dict(person) for person in people], indent=2))
        return
    if not people:
        add = stack.command("users", "add", "ops@example.com", "--group", "ops")
        console.print(as_text(f"Nobody signs in to client {stack.config.name}'s stack yet. Add someone: {add}"))
        return
    table = Table("email", "groups", "status", "since")
    for person in people:
        table.add_row(
            as_text(person.email),
            as_text(", ".join(person.groups) or "(none)"),
            as_text(_status(stack, person)),
            as_text(f"{person.created_at:%Y-%m-%d}" if person.created_at else ""),
        )
    console.print(table)
    console.print(f"{len(people)} people.")


@users_app.command("remove")
def users_remove(
    email: EmailArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Stop a person signing in (their user is disabled, not deleted: `users add` restores it)."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    email = checked_email(email)
    pool = user_pool_of(stack)
    person = stack.call(lambda: pool.person(email), f"read the sign-in of {email}")
    if person is None:
        _no_such_person(stack, email)
    if not person.enabled:
        console.print(as_text(f"{email} was removed already: they cannot sign in."))
        return
    stack.call(lambda: pool.disable(email), f"disable the sign-in of {email}")
    restore = stack.command("users", "add", email, *(f"--group {group}" for group in person.groups))
    console.print(as_text(f"Removed {email}: they cannot sign in any more (`{restore}` restores them)."))
    if _on_roster(stack, email) is not None:
        errors.print(
            as_text(
                f"{email} is still on the roster and routing still gives them leads: "
                f"`{stack.command('reps', 'remove', email)}` takes them off it."
            )
        )


@users_app.command("password")
def users_password(
    email: EmailArgument,
    password: Annotated[
        str | None, typer.Option("--password", help="The new password (asked for when left out).")
    ] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Set a person's password: on the local stack their own; in AWS a temporary one, replaced at their next sign-in."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    email = checked_email(email)
    pool = user_pool_of(stack)
    if stack.call(lambda: pool.person(email), f"read the sign-in of {email}") is None:
        _no_such_person(stack, email)
    if password is None:
        password = typer.prompt(f"New password for {email}", hide_input=True, confirmation_prompt=True, err=True)
    _set_password(stack, pool, email, password, permanent=stack.is_local)
    if stack.is_local:
        console.print(as_text(f"{email} signs in with the new password: `{stack.command('token', email)}`."))
    else:
        console.print(
            as_text(
                f"{email}'s password is a temporary one now (Cognito does not send it: tell them); "
                "they choose their own at their next sign-in."
            )
        )


def token(
    email: EmailArgument,
    password: Annotated[
        str | None, typer.Option("--password", help="The person's password (asked for, hidden, when left out).")
    ] = None,
    new_password: Annotated[
        str | None,
        typer.Option(
            "--new-password",
            help="Their own password, when the one they have is temporary (asked for when Cognito wants one).",
        ),
    ] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Sign in and print the ID token, alone, for the API's Authorization header (valid for an hour).

    curl -H "Authorization: $(leadflow token ada@example.com --local)" http://127.0.0.1:3000/me
    """
    stack = open_stack(client, clients_dir, use_local, endpoint)
    email = checked_email(email)
    pool = user_pool_of(stack)
    if password is None:
        password = typer.prompt(f"Password for {email}", hide_input=True, err=True)
    try:
        try:
            id_token = stack.call(lambda: pool.sign_in(email, password), f"sign {email} in")
        except NewPasswordRequired:
            if new_password is None:
                new_password = typer.prompt(
                    f"{email}'s password is temporary: choose their own", hide_input=True, confirmation_prompt=True,
                    err=True,
                )  # fmt: skip
            chosen = new_password
            id_token = stack.call(lambda: pool.sign_in(email, password, chosen), f"sign {email} in")
    except UnknownUser:
        _no_such_person(stack, email)
    except UserDisabled:
        fail(
            f"{email} was removed: they cannot sign in. "
            f"`{stack.command('users', 'add', email, '--group', 'GROUP')}` (or `reps add` for a rep) restores them."
        )
    except WrongPassword:
        fail(
            f"Wrong password for {email}. Try again; "
            f"`{stack.command('users', 'password', email)}` sets a new one if it is forgotten."
        )
    except PasswordRefused:
        _password_refused(stack, pool)
    except SignInChallenge as exc:
        fail(f"Cognito asks {email} for a step this command does not take ({exc}): sign in through the app instead.")
    print(id_token)


def _new_person(
    stack: StackAccess, pool: UserPool, email: str, groups: tuple[str, ...], password: str | None
) -> SignInChange:
    if not stack.is_local:
        try:
            stack.call(
                lambda: pool.add_person(email, groups, temporary_password=password, invite=True),
                f"add {email} to user pool {pool.pool_name}",
            )
        except PasswordRefused:
            _password_refused(stack, pool)
        except UserExists:  # added by someone else since it was read
            fail(f"{email} was given a sign-in a moment ago by someone else: run the same command again.")
        return SignInChange(email, created=True, groups_added=groups, invited=True)
    if password is None and in_terminal():
        password = typer.prompt(
            f"Password for {email} (they sign in to the local stack with it)",
            hide_input=True, confirmation_prompt=True, err=True,
        )  # fmt: skip
    try:
        stack.call(lambda: pool.add_person(email, groups, invite=False), f"add {email} to user pool {pool.pool_name}")
    except UserExists:
        fail(f"{email} was given a sign-in a moment ago by someone else: run the same command again.")
    change = SignInChange(email, created=True, groups_added=groups)
    if password is not None:
        try:
            _set_password(stack, pool, email, password, permanent=True)
        except BaseException:
            undo_sign_in(stack, pool, change)
            raise
        change.password_set = True
    return change


def in_terminal() -> bool:
    """Whether a person at a terminal can be asked for a password: one reads the question (on stderr) and
    answers it (on stdin). A script, or a test that captures the output, is never asked."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def _set_password(stack: StackAccess, pool: UserPool, email: str, password: str, permanent: bool) -> None:
    try:
        stack.call(lambda: pool.set_password(email, password, permanent=permanent), f"set {email}'s password")
    except PasswordRefused:
        _password_refused(stack, pool)
    except UnknownUser:
        _no_such_person(stack, email)


def _password_refused(stack: StackAccess, pool: UserPool) -> NoReturn:
    policy = stack.call(pool.password_policy, f"read the password policy of {pool.pool_name}")
    fail(f"Cognito refused that password: give one of {password_rules(policy)}.")


def password_rules(policy: dict[str, Any]) -> str:
    """A pool's password policy in words: "at least 8 characters, with an upper-case letter, ..."."""
    needs = [
        what
        for setting, what in (
            ("RequireUppercase", "an upper-case letter"),
            ("RequireLowercase", "a lower-case letter"),
            ("RequireNumbers", "a digit"),
            ("RequireSymbols", "a symbol (like - or !)"),
        )
        if policy.get(setting, True)
    ]
    text = f"at least {policy.get('MinimumLength', 8)} characters"
    if needs:
        text += ", with " + (", ".join(needs[:-1]) + " and " + needs[-1] if len(needs) > 1 else needs[0])
    return text


def _checked_groups(stack: StackAccess, groups: list[str]) -> tuple[str, ...]:
    known = stack.definition.user_pool(SIGN_IN_POOL).groups
    for group in groups:
        if group.strip() not in known:
            fail(f"No group {group!r}: use one of {', '.join(known)}.")
    return tuple(dict.fromkeys(group.strip() for group in groups))


def _on_roster(stack: StackAccess, email: str) -> Rep | None:
    roster = RosterTable(stack.definition.table("leads").name, client=stack.aws_client("dynamodb"))
    reps = stack.call(roster.list_reps, "read the roster")
    return next((rep for rep in reps if rep.email == email), None)


def _status(stack: StackAccess, person: Person) -> str:
    if not person.enabled:
        return "removed (cannot sign in)"
    if person.must_choose_password:
        if stack.is_local:
            return "no password yet (`users password`)"
        return "invited: chooses a password at first sign-in"
    return "signs in"


def _as_dict(person: Person) -> dict[str, Any]:
    return {
        "email": person.email,
        "groups": list(person.groups),
        "enabled": person.enabled,
        "status": person.status,
        "sub": person.sub,
        "created_at": person.created_at.isoformat() if person.created_at else None,
    }


def _no_such_person(stack: StackAccess, email: str) -> NoReturn:
    fail(
        f"{email} has no sign-in on client {stack.config.name}'s stack. "
        f"`{stack.command('users', 'list')}` shows who signs in; "
        f"`{stack.command('users', 'add', email, '--group', 'manager')}` (or `reps add` for a rep) gives them one."
    )


def _serve_command(stack: StackAccess) -> str:
    return "leadflow local" if stack.config.name == DEFAULT_CLIENT else f"leadflow local --client {stack.config.name}"


def fail(message: str) -> NoReturn:
    errors.print(as_text(message))
    raise typer.Exit(1)

"""`leadflow reps ...`: the sales reps a client's leads are routed to, changed without a deploy.

The roster lives in the stack's leads table (`leadflow.aws.roster`); routing reads it for
every lead, so a rep added, set inactive or away here gets (or stops getting) leads at once.
A rep signs in to the stack's API (their leads, their team's queue) as a user of its Cognito
user pool, in group rep: `reps add` gives them the sign-in with the place on the roster, and
`reps remove` takes both; neither is left without the other when one cannot be written.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, date, datetime, time
from functools import partial
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from leadflow.aws.roster import RepExists, RosterTable, UnknownRep
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
from leadflow.cli.user_commands import (
    REP_GROUP,
    PasswordOption,
    grant_sign_in,
    revoke_rep_sign_in,
    sign_in_note,
    undo_sign_in,
    user_pool_of,
)
from leadflow.config import ClientConfig, WorkingHours
from leadflow.lead.profile import utc_stamp
from leadflow.route.calendar import WEEKDAY_NAMES, WorkingCalendar
from leadflow.route.roster import DEFAULT_CAPACITY, Rep

MAX_WEIGHT = 100.0
COLUMNS = ("name", "email", "teams", "territories", "weight", "open/capacity", "hours", "status", "last assigned")
OWN_TIME = ("timezone", "workdays", "hours")  # the rep's own working time; unset, the team's is used

reps_app = typer.Typer(
    help="The sales reps leads are routed to: add them, put them in teams, mark them away or inactive. "
    "Changes take effect at once, without a deploy.",
    no_args_is_help=True,
)

RepArgument = Annotated[str, typer.Argument(metavar="REP", help="The rep: their email, or their id (rep_...).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameOption = Annotated[str | None, typer.Option("--name", help="The rep's name, as colleagues know them.")]
TerritoriesOption = Annotated[
    list[str] | None,
    typer.Option(
        "--territory",
        help="A country (ISO code, like DE) or segment the rep covers; repeat for more. Left out: the rep covers all.",
    ),
]
WeightOption = Annotated[
    float | None,
    typer.Option(
        "--weight",
        help="The rep's share of leads in a weighted round-robin team, relative to the others (2: twice as many). "
        "Above 0, at most 100.",
    ),
]
CapacityOption = Annotated[
    int | None, typer.Option("--capacity", help="How many open leads the rep can hold at once; when full, none more.")
]
TimezoneOption = Annotated[
    str | None, typer.Option("--timezone", help="The rep's own time zone, like Europe/Berlin. Unset: the team's.")
]
WorkdaysOption = Annotated[
    str | None,
    typer.Option("--workdays", help="The rep's own working days, like mon,tue,wed or mon-fri. Unset: the team's."),
]
HoursOption = Annotated[
    list[str] | None,
    typer.Option(
        "--hours",
        help="The rep's own working hours, like 09:00-17:00; repeat for a break (09:00-12:00, 13:00-17:00). "
        "Unset: the team's.",
    ),
]


@reps_app.command("add")
def reps_add(
    email: Annotated[str, typer.Argument(metavar="EMAIL", help="The rep's work email: the rep is known by it.")],
    name: Annotated[str, typer.Option("--name", help="The rep's name, as colleagues know them.")],
    teams: Annotated[
        list[str], typer.Option("--team", help="A team of the client file (its route.teams); repeat for more teams.")
    ],
    territories: TerritoriesOption = None,
    weight: WeightOption = 1.0,
    capacity: CapacityOption = DEFAULT_CAPACITY,
    timezone: TimezoneOption = None,
    workdays: WorkdaysOption = None,
    hours: HoursOption = None,
    inactive: Annotated[
        bool, typer.Option("--inactive", help="Add the rep without giving them leads yet (`reps set --active` later).")
    ] = False,
    password: PasswordOption = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """Add a sales rep to the roster: routing gives them leads of their teams from now on (unless --inactive).

    The rep signs in to the stack's API with their email, in group rep: in AWS Cognito emails
    them an invitation; on the local stack they sign in with the password given at once.
    """
    stack = open_stack(client, clients_dir, use_local, endpoint)
    email = _checked_email(email)
    rep = Rep(
        rep_id=new_rep_id(),
        name=_checked_name(name),
        email=email,
        teams=_checked_teams(stack, teams),
        territories=_checked_territories(territories or []),
        weight=_checked_weight(1.0 if weight is None else weight),
        capacity=_checked_capacity(DEFAULT_CAPACITY if capacity is None else capacity),
        timezone=_timezone(timezone) if timezone is not None else None,
        workdays=_workdays(workdays) if workdays is not None else None,
        hours=_hours(hours) if hours else None,
        active=not inactive,
    )
    _check_working_time(stack.config, rep)
    roster = roster_of(stack)
    taken = _rep_with_email(stack, roster, email)
    if taken is not None:
        _fail(
            f"{email} is on the roster already, as {taken.name} ({taken.rep_id}). "
            f"`{stack.command('reps', 'set', email)}` with the settings to change changes that rep."
        )
    pool = user_pool_of(stack)
    sign_in = grant_sign_in(stack, pool, email, (REP_GROUP,), password)
    try:
        rep = _added(stack, roster, rep)
    except BaseException:  # not on the roster: no sign-in as a rep either
        undo_sign_in(stack, pool, sign_in)
        raise
    if as_json:
        print(json.dumps(rep.as_dict(), indent=2))
        return
    console.print(
        as_text(f"Added {rep.name} ({rep.email}) as {rep.rep_id}, in team(s) {', '.join(rep.teams)}."), soft_wrap=True
    )
    console.print(as_text(sign_in_note(stack, sign_in)), soft_wrap=True)
    if not rep.active:
        console.print(as_text(f"Inactive: no leads until `{stack.command('reps', 'set', rep.email, '--active')}`."))


@reps_app.command("list")
def reps_list(
    team: Annotated[str | None, typer.Option("--team", help="Only the reps of this team.")] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """The reps on the roster, by name: their teams, load, working time and whether they get leads now."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    roster = roster_of(stack)
    reps = sorted(stack.call(roster.list_reps, "read the roster"), key=lambda rep: (rep.name.casefold(), rep.email))
    if team is not None:
        if team not in stack.config.route.teams and not any(team in rep.teams for rep in reps):
            _unknown_team(stack, team)
        reps = [rep for rep in reps if team in rep.teams]
    if as_json:
        print(json.dumps([rep.as_dict() for rep in reps], indent=2))
        return
    if not reps:
        where = f"in team {team}" if team is not None else f"on client {stack.config.name}'s roster"
        example = next(iter(stack.config.route.teams), "sales") if team is None else team
        add = stack.command("reps", "add", "ada@example.com", "--name", '"Ada Lovelace"', "--team", example)
        console.print(as_text(f"No reps {where} yet. Add one: {add}"), soft_wrap=True)
        return
    now = datetime.now(UTC)
    table = Table(*COLUMNS)
    for rep in reps:
        table.add_row(
            *(
                as_text(value)
                for value in (
                    rep.name,
                    rep.email,
                    ", ".join(rep.teams),
                    ", ".join(rep.territories) or "all",
                    f"{rep.weight:g}",
                    f"{rep.open_leads}/{rep.capacity}",
                    rep.works(_team_hours(stack.config, rep)) if _has_own_time(rep) else "team's",
                    status(stack.config, rep, now),
                    _moment(rep.last_assigned_at) if rep.last_assigned_at else "never",
                )
            )
        )
    console.print(table)
    console.print(f"{len(reps)} rep(s).")


@reps_app.command("set")
def reps_set(
    rep_ref: RepArgument,
    name: NameOption = None,
    email: Annotated[str | None, typer.Option("--email", help="A new email for the rep.")] = None,
    teams: Annotated[
        list[str] | None,
        typer.Option("--team", help="The rep's teams, replacing the ones they have; repeat for more teams."),
    ] = None,
    territories: Annotated[
        list[str] | None,
        typer.Option("--territory", help="The rep's territories, replacing the ones they have; repeat for more."),
    ] = None,
    no_territories: Annotated[
        bool, typer.Option("--no-territories", help="Clear the rep's territories: they cover all.")
    ] = False,
    weight: WeightOption = None,
    capacity: CapacityOption = None,
    timezone: TimezoneOption = None,
    workdays: WorkdaysOption = None,
    hours: HoursOption = None,
    team_hours: Annotated[
        bool,
        typer.Option("--team-hours", help="Forget the rep's own time zone, workdays and hours: work the team's."),
    ] = False,
    active: Annotated[
        bool | None,
        typer.Option("--active/--inactive", help="Whether routing gives the rep leads (inactive: none at all)."),
    ] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """Change a rep's settings; the ones not given stay as they are."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    if territories and no_territories:
        _fail("Give either --territory (the rep's new territories) or --no-territories (none: they cover all).")
    if team_hours and (timezone is not None or workdays is not None or hours):
        _fail("Give either --team-hours (the team's working time) or the rep's own --timezone, --workdays, --hours.")
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = _checked_name(name)
    if email is not None:
        wanted["email"] = _checked_email(email)
    if teams:
        wanted["teams"] = _checked_teams(stack, teams)
    if territories or no_territories:
        wanted["territories"] = _checked_territories(territories or [])
    if weight is not None:
        wanted["weight"] = _checked_weight(weight)
    if capacity is not None:
        wanted["capacity"] = _checked_capacity(capacity)
    if timezone is not None:
        wanted["timezone"] = _timezone(timezone)
    if workdays is not None:
        wanted["workdays"] = _workdays(workdays)
    if hours:
        wanted["hours"] = _hours(hours)
    if team_hours:
        wanted.update(dict.fromkeys(OWN_TIME))
    if active is not None:
        wanted["active"] = active
    if not wanted:
        _fail(
            "Nothing to change: give what to set, like --weight 2, --team sales, --inactive. "
            "`leadflow reps set --help` lists every setting."
        )
    roster = roster_of(stack)
    current = find_rep(stack, roster, rep_ref)
    if "email" in wanted and wanted["email"] != current.email:
        taken = _rep_with_email(stack, roster, wanted["email"])
        if taken is not None:
            _fail(f"{wanted['email']} is on the roster already, as {taken.name} ({taken.rep_id}).")
        pool = user_pool_of(stack)
        if stack.call(lambda: pool.person(current.email), f"read the sign-in of {current.email}") is not None:
            _fail(
                f"{current.email} signs in with that address: the API knows the rep by it, and a sign-in's "
                "username cannot change. Leave the email as it is, or take them off with "
                f"`{stack.command('reps', 'remove', current.email)}` and add them with the new one."
            )
    changed = {key: value for key, value in wanted.items() if getattr(current, key) != value}
    if not changed:
        console.print(as_text(f"Nothing changed: {current.name} ({current.email}) has those settings already."))
        return
    _check_working_time(stack.config, current.with_changes(**changed))
    try:
        updated = stack.call(
            lambda: roster.update_rep(current.rep_id, _stored(changed)), f"change rep {current.rep_id}"
        )
    except UnknownRep:
        _no_such_rep(stack, rep_ref)
    if as_json:
        print(json.dumps(updated.as_dict(), indent=2))
        return
    console.print(as_text(f"Changed {updated.name} ({updated.email}, {updated.rep_id}):"), soft_wrap=True)
    for key in changed:
        console.print(as_text(f"  {key}: {_shown(key, getattr(current, key))} -> {_shown(key, getattr(updated, key))}"))


@reps_app.command("away")
def reps_away(
    rep_ref: RepArgument,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            help="When the rep is back: a date like 2026-12-07 (back at the start of that day, in the rep's "
            "time zone) or a date and time like 2026-12-07T13:00.",
        ),
    ] = None,
    back: Annotated[bool, typer.Option("--back", help="The rep is back now: routing gives them leads again.")] = False,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """Mark a rep away (holiday, sick) until a date: routing gives them no new leads until then. --back ends it."""
    if (until is None) == (not back):
        _fail("Give either --until DATE (when the rep is back, like 2026-12-07) or --back (the rep is back now).")
    stack = open_stack(client, clients_dir, use_local, endpoint)
    roster = roster_of(stack)
    rep = find_rep(stack, roster, rep_ref)
    away_until = None
    if until is not None:
        zone = rep_zone(stack.config, rep)
        instant = back_at(until, zone)
        at = datetime.now(UTC)
        if instant <= at:
            _fail(
                f"--until {until} is in the past (it is {at.astimezone(zone):%Y-%m-%d %H:%M} now in {zone.key}, "
                "the rep's time zone): give the day the rep is back, or --back if they are back already."
            )
        away_until = utc_stamp(instant)
    try:
        updated = stack.call(
            lambda: roster.update_rep(rep.rep_id, {"away_until": away_until}), f"change rep {rep.rep_id}"
        )
    except UnknownRep:
        _no_such_rep(stack, rep_ref)
    if as_json:
        print(json.dumps(updated.as_dict(), indent=2))
        return
    if away_until is None:
        message = f"{updated.name} ({updated.email}) is back: routing gives them leads again."
        if not updated.active:
            message += f" They are still inactive: `{stack.command('reps', 'set', updated.email, '--active')}`."
    else:
        back_on = _local(datetime.fromisoformat(away_until), rep_zone(stack.config, updated))
        message = f"{updated.name} ({updated.email}) is away until {back_on} ({away_until}): no new leads until then."
    console.print(as_text(message), soft_wrap=True)


@reps_app.command("remove")
def reps_remove(
    rep_ref: RepArgument,
    force: Annotated[bool, typer.Option("--force", help="Remove the rep even though they have open leads.")] = False,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Take a rep off the roster (someone who left) and their sign-in as a rep (`reps add` restores it).

    To stop their leads for a while, use `reps set --inactive`.
    """
    stack = open_stack(client, clients_dir, use_local, endpoint)
    roster = roster_of(stack)
    rep = find_rep(stack, roster, rep_ref)
    if rep.open_leads > 0 and not force:
        _fail(
            f"{rep.name} ({rep.email}) has {rep.open_leads} open lead(s), which would be left with an owner who is "
            f"not on the roster. `{stack.command('reps', 'set', rep.email, '--inactive')}` keeps them on it and "
            "routing gives them no new leads; to remove them all the same, add --force."
        )
    pool = user_pool_of(stack)
    sign_in = revoke_rep_sign_in(stack, pool, rep.email)
    try:
        stack.call(lambda: roster.remove_rep(rep.rep_id), f"remove rep {rep.rep_id}")
    except UnknownRep:
        if sign_in is not None:
            undo_sign_in(stack, pool, sign_in)
        _no_such_rep(stack, rep_ref)
    except BaseException:  # still on the roster: they keep signing in
        if sign_in is not None:
            undo_sign_in(stack, pool, sign_in)
        raise
    left = f"; their {rep.open_leads} open lead(s) keep them as owner" if rep.open_leads else ""
    console.print(as_text(f"Removed {rep.name} ({rep.email}, {rep.rep_id}) from the roster{left}."), soft_wrap=True)
    if sign_in is None:
        console.print(as_text(f"{rep.email} had no sign-in to the stack's API."))
    elif sign_in.groups_removed:
        console.print(as_text(f"{rep.email} keeps signing in, no longer as a rep."))
    else:
        console.print(as_text(f"{rep.email} cannot sign in any more (`reps add` restores their sign-in)."))


def new_rep_id() -> str:
    return f"rep_{secrets.token_hex(4)}"


def _added(stack: StackAccess, roster: RosterTable, rep: Rep) -> Rep:
    """The rep as written: a new id that is taken already (1 in 4 billion) is drawn again."""
    for _ in range(3):
        try:
            stack.call(partial(roster.add_rep, rep), f"add {rep.email} to the roster")
            return rep
        except RepExists:
            rep = rep.with_changes(rep_id=new_rep_id())
    _fail(f"Could not find a free rep id for {rep.email}: run the same command again.")


def roster_of(stack: StackAccess) -> RosterTable:
    return RosterTable(stack.definition.table("leads").name, client=stack.aws_client("dynamodb"))


def find_rep(stack: StackAccess, roster: RosterTable, rep_ref: str) -> Rep:
    """The rep named by an email or a rep id; a message and exit 1 when there is none."""
    if "@" in rep_ref:
        rep = _rep_with_email(stack, roster, normalize_email(rep_ref.strip()))
    else:
        rep_id = rep_ref.strip()
        rep = stack.call(lambda: roster.get_rep(rep_id), f"read rep {rep_id}")
    if rep is None:
        _no_such_rep(stack, rep_ref)
    return rep


def rep_zone(config: ClientConfig, rep: Rep) -> ZoneInfo:
    """The rep's own time zone, else their first team's, else UTC."""
    return ZoneInfo(rep.timezone or _team_hours(config, rep).timezone)


def back_at(until: str, zone: ZoneInfo) -> datetime:
    """The instant --until names: a date is the start of that day, a time without an offset is the rep's."""
    try:
        if len(until.strip()) == len("2026-12-07"):
            return datetime.combine(date.fromisoformat(until.strip()), time(), zone)
        moment = datetime.fromisoformat(until.strip())
    except ValueError:
        _fail(
            f"--until {until!r} is not a date: give one like 2026-12-07 (back at the start of that day), "
            "or a date and time like 2026-12-07T13:00."
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def status(config: ClientConfig, rep: Rep, now: datetime) -> str:
    if not rep.active:
        return "inactive"
    if rep.away(now) and rep.away_until is not None:
        return f"away until {_local(datetime.fromisoformat(rep.away_until), rep_zone(config, rep))}"
    return "active"


def _rep_with_email(stack: StackAccess, roster: RosterTable, email: str) -> Rep | None:
    reps = stack.call(roster.list_reps, "read the roster")
    return next((rep for rep in reps if rep.email == email), None)


def _team_hours(config: ClientConfig, rep: Rep) -> WorkingHours:
    """The working time of the rep's first team in the client file (UTC, mon-fri 09:00-17:00 when none is)."""
    teams = config.route.teams
    return next((teams[name].calendar for name in rep.teams if name in teams), WorkingHours())


def _has_own_time(rep: Rep) -> bool:
    return any(getattr(rep, key) is not None for key in OWN_TIME)


def _check_working_time(config: ClientConfig, rep: Rep) -> None:
    """The rep's own working time must make a calendar with each of their teams' (which fills in what it leaves out)."""
    if not _has_own_time(rep):
        return
    teams = config.route.teams
    for hours in [teams[name].calendar for name in rep.teams if name in teams] or [WorkingHours()]:
        try:
            WorkingCalendar.parse(
                rep.timezone or hours.timezone, rep.workdays or hours.workdays, rep.hours or hours.hours, hours.holidays
            )
        except ValueError as exc:
            _fail(f"Cannot use that working time: {exc}.")


def _checked_email(email: str) -> str:
    problem = email_problem(email.strip())
    if problem:
        _fail(f"The email {email!r} {problem}.")
    return normalize_email(email.strip())


def _checked_name(name: str) -> str:
    if not name.strip():
        _fail('The rep\'s name is empty: give it as colleagues know them, like --name "Ada Lovelace".')
    return name.strip()


def _checked_teams(stack: StackAccess, teams: list[str]) -> tuple[str, ...]:
    for team in teams:
        if team not in stack.config.route.teams:
            _unknown_team(stack, team)
    return tuple(dict.fromkeys(teams))


def _unknown_team(stack: StackAccess, team: str) -> NoReturn:
    known = ", ".join(stack.config.route.teams)
    if not known:
        _fail(
            f"Client {stack.config.name} has no teams yet: add one to {stack.config_file}, like [route.teams.sales], "
            "then add reps to it."
        )
    _fail(f"No team {team!r} in {stack.config_file}: use one of {known} (or add it under [route.teams]).")


def _checked_territories(territories: list[str]) -> tuple[str, ...]:
    cleaned = [territory.strip() for territory in territories]
    if "" in cleaned:
        _fail("A --territory is empty: give a country (like DE) or segment, or --no-territories to cover all.")
    return tuple(dict.fromkeys(cleaned))


def _checked_weight(weight: float) -> float:
    if not 0 < weight <= MAX_WEIGHT:
        _fail(
            f"--weight {weight:g} is out of range: give more than 0 and at most {MAX_WEIGHT:g} "
            "(1 is a normal share, 2 twice as many leads, 0.5 half). To give a rep no leads, use --inactive."
        )
    return float(weight)


def _checked_capacity(capacity: int) -> int:
    if capacity < 0:
        _fail(f"--capacity {capacity} is below 0: give how many open leads the rep can hold at once, like 25.")
    return capacity


def _timezone(text: str) -> str:
    """A time zone name, checked with the rest of the rep's working time (see _check_working_time)."""
    if not text.strip():
        _fail("--timezone is empty: give an IANA name like Europe/Berlin (or --team-hours for the team's).")
    return text.strip()


def _workdays(text: str) -> tuple[str, ...]:
    """Days like "mon,tue,wed" or "mon-fri", in week order; unknown names are kept for the calendar to name."""
    days: list[str] = []
    for part in (part.strip().lower() for part in text.split(",")):
        first, dash, last = part.partition("-")
        if (
            dash
            and first in WEEKDAY_NAMES
            and last in WEEKDAY_NAMES
            and WEEKDAY_NAMES.index(first) <= WEEKDAY_NAMES.index(last)
        ):
            days += WEEKDAY_NAMES[WEEKDAY_NAMES.index(first) : WEEKDAY_NAMES.index(last) + 1]
        else:
            days.append(part)
    unique = list(dict.fromkeys(days))
    if all(day in WEEKDAY_NAMES for day in unique):
        unique.sort(key=WEEKDAY_NAMES.index)
    return tuple(unique)


def _hours(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for value in values for part in value.split(",")))


def _stored(changes: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in changes.items()}


def _shown(key: str, value: object) -> str:
    if value is None:
        return "team's" if key in OWN_TIME else "(none)"
    if isinstance(value, tuple):
        return ", ".join(value) or ("all" if key == "territories" else "(none)")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _local(instant: datetime, zone: ZoneInfo) -> str:
    """An instant in the rep's time zone: just the date when it is the start of a day."""
    local = instant.astimezone(zone)
    shown = local.date().isoformat() if local.time() == time() else local.strftime("%Y-%m-%d %H:%M")
    return f"{shown} {zone.key}"


def _moment(stamp: str) -> str:
    try:
        return datetime.fromisoformat(stamp).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _no_such_rep(stack: StackAccess, rep_ref: str) -> NoReturn:
    _fail(
        f"No rep {rep_ref} on client {stack.config.name}'s roster. "
        f"`{stack.command('reps', 'list')}` shows the reps with their emails."
    )


def _fail(message: str) -> NoReturn:
    errors.print(as_text(message))
    raise typer.Exit(1)

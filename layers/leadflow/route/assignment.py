"""Who gets a lead: a team by the client's rules, an owner by the team's strategy, explained.

`pick_owner` is pure: the lead, its facts, the client's routing settings, the roster as
read, what account matching found, and the time in; a `Pick` out: the `Decision` (the
rule that matched or why none did, the team, the strategy, the owner or the queue, every
rep passed over with the reason, the accept deadline) and the change to the owner's
ledger, which the applier writes in the lead's transaction only if the rep is still at the
version read. Two routings that pick the same rep at once therefore cannot both win: the
second plans again from a fresh read.

The ledger. Each rep keeps, per team, the leads it was given, each counted as 1/weight at
the time (`served`). The team's next lead goes to the available rep with the least served;
so over time each rep's share follows its weight, and a weight change applies from the
next lead on. Only available reps move, so a rep away for two weeks falls behind; to keep
them from being flooded on return, nobody's count is read below the team's floor: the
highest count among the available reps less one lead of the largest stride. Reps who
were there all along are never below it (their counts stay within one stride of each
other), and a new rep starts on it: level with the team.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from leadflow.config import Condition, RouteSettings, RoutingRule, Team
from leadflow.lead.change import LedgerEntry
from leadflow.lead.profile import SlaTimer, utc_stamp
from leadflow.qualify.scoring import rule_matches
from leadflow.route.roster import Rep

# Stages of a lead whose owner is working it: a lead from the same company goes to that owner.
OPEN_STAGES = frozenset({"assigned", "accepted", "contacted", "meeting", "opportunity"})
ACCOUNT_STAGES = OPEN_STAGES | {"won"}
RETRY_MINUTES = 15  # a queued lead is offered to its team again this often (working minutes)
DEFAULT_QUEUE = "unassigned"  # where leads wait when the client file names no team


@dataclass(frozen=True)
class PassedOver:
    rep_id: str
    name: str
    reason: str


@dataclass(frozen=True)
class AccountLead:
    """A lead of the same company (email domain), as account matching found it."""

    domain: str
    lead_id: str
    owner: str  # rep id
    stage: str
    at: str  # when it last changed, ISO 8601 UTC


@dataclass(frozen=True)
class Decision:
    decided_at: str
    why: str  # the rule that matched, or why none did (or the account that matched)
    rule: str | None
    team: str | None
    strategy: str | None
    priority: str
    owner: str | None  # rep id; None: the lead waits in the team's queue
    owner_name: str | None
    queue: str | None  # the team whose queue holds the lead, when nobody took it
    passed_over: tuple[PassedOver, ...]
    account: str | None  # the email domain, when account matching chose the owner
    deadline_minutes: int
    due_at: str | None  # accept by then (working minutes of the team's calendar)
    remind_at: str | None
    retry_at: str | None = None  # queued: when to look for a free rep again (the team's next working moment)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed_over"] = [asdict(p) for p in self.passed_over]
        return data

    def timer(self, **more: Any) -> SlaTimer:
        """The SLA timer this decision starts (see leadflow.route.sla)."""
        timer: SlaTimer = {"started_at": self.decided_at, "deadline_minutes": self.deadline_minutes,
                           "due_at": str(self.due_at), "remind_at": self.remind_at, "reminded": False}  # fmt: skip
        timer.update(more)  # type: ignore[typeddict-item]
        return timer


@dataclass(frozen=True)
class Pick:
    decision: Decision
    ledger: LedgerEntry | None  # None: nobody took it


def pick_owner(
    facts: dict[str, Any],
    settings: RouteSettings,
    roster: Sequence[Rep],
    now: datetime,
    *,
    accounts: Iterable[AccountLead] = (),
    team_name: str | None = None,
    exclude: Iterable[str] = (),
) -> Pick:
    """Route one lead. `team_name` forces the team (phone first, reassignment); `exclude` lists reps who had it."""
    rule: str | None = None
    if team_name is not None:
        why, priority = f"to team {team_name}", "normal"
    else:
        matched, why, team_name, priority = choose_team(facts, settings)
        if matched is not None:
            rule = matched.name
            facts = {**facts, "segment": matched.segment} if matched.segment else facts
    if team_name is None:
        return _unrouted(why, now)
    team = settings.teams[team_name]
    excluded = set(exclude)
    passed: list[PassedOver] = []
    chosen: tuple[Rep, str] | None = None
    pool: list[Rep] = []  # the available reps of the chosen rep's team: the ledger's floor is theirs
    account_domain = None
    match = _account_owner(facts, settings, roster, accounts, now, excluded)
    if match is not None:
        account, owner = match
        owner_team = (
            team_name if team_name in owner.teams else next((t for t in owner.teams if t in settings.teams), team_name)
        )
        reason = unavailable(owner, settings.teams[owner_team], facts, now, check_territory=False)
        if reason is None:
            team_name, team, chosen, account_domain = (
                owner_team,
                settings.teams[owner_team],
                (owner, owner_team),
                account.domain,
            )
            why = f"account {account.domain}: its lead {account.lead_id} is {account.stage} with {owner.name}"
            pool = [r for r in roster if owner_team in r.teams and unavailable(r, team, facts, now) is None]
        else:
            passed.append(PassedOver(owner.rep_id, owner.name, f"owner of account {account.domain}, but {reason}"))
    if chosen is None:
        members = sorted((r for r in roster if team_name in r.teams), key=lambda r: r.rep_id)
        available: list[Rep] = []
        for rep in members:
            reason = "had this lead before" if rep.rep_id in excluded else unavailable(rep, team, facts, now)
            if reason is None:
                available.append(rep)
            elif all(p.rep_id != rep.rep_id for p in passed):  # an away account owner is named once
                passed.append(PassedOver(rep.rep_id, rep.name, reason))
        picked = _by_strategy(team, team_name, available)
        if picked is not None:
            chosen, pool = (picked, team_name), available
        elif not members:
            why += f"; team {team_name} has no reps: the lead waits in its queue"
        else:
            why += f"; nobody in team {team_name} can take it now: the lead waits in its queue"
    minutes, due_at, remind_at = deadline(team, priority, facts, now)
    ledger = None
    if chosen is not None:
        rep, ledger_team = chosen
        served = _floored(rep, ledger_team, [*pool, rep]) + _stride(team, rep)
        ledger = LedgerEntry(rep.rep_id, rep.version, ledger_team, round(served, 9), rep.open_leads + 1, utc_stamp(now))
    decision = Decision(
        decided_at=utc_stamp(now),
        why=why,
        rule=rule,
        team=team_name,
        strategy=team.strategy,
        priority=priority,
        owner=chosen[0].rep_id if chosen else None,
        owner_name=chosen[0].name if chosen else None,
        queue=None if chosen else team_name,
        passed_over=tuple(passed),
        account=account_domain,
        deadline_minutes=minutes,
        due_at=due_at,
        remind_at=remind_at,
        retry_at=None if chosen else retry_queued(team, now),
    )
    return Pick(decision, ledger)


def choose_team(facts: dict[str, Any], settings: RouteSettings) -> tuple[RoutingRule | None, str, str | None, str]:
    """The first rule whose conditions all hold: (rule, why, team, priority); else the default team."""
    misses = []
    for rule in settings.rules:
        miss = next((describe_miss(c, facts) for c in rule.when if not rule_matches(c, facts)), None)  # type: ignore[arg-type]
        if miss is None:
            return rule, f'rule "{rule.name}" matched', rule.team, rule.priority
        misses.append(f'"{rule.name}": {miss}')
    fallback = settings.fallback_team
    where = f"the default team {fallback}" if fallback else "no team: the client file has none ([route.teams])"
    tried = f" ({'; '.join(misses)})" if misses else ""
    return None, f"no rule matched{tried}: to {where}", fallback, "normal"


def describe_miss(condition: Condition, facts: dict[str, Any]) -> str:
    """Why a condition does not hold, in the words of the client file."""
    value = facts.get(condition.field)
    if value is None:
        return f"no {condition.field}"
    if condition.equals is not None:
        wanted = f"not {condition.equals}"
    elif condition.in_ is not None:
        wanted = f"not one of {', '.join(map(str, condition.in_))}"
    elif condition.contains is not None:
        wanted = f"does not contain {condition.contains}"
    elif condition.between is not None:
        wanted = f"not between {condition.between[0]:g} and {condition.between[1]:g}"
    else:
        wanted = f"does not match {condition.matches}"
    return f"{condition.field} is {value}, {wanted}"


def unavailable(rep: Rep, team: Team, facts: dict[str, Any], now: datetime, check_territory: bool = True) -> str | None:
    """Why the rep cannot take a lead now, or None when they can."""
    if not rep.active:
        return "inactive"
    if rep.away(now):
        return f"away until {rep.away_until}"
    if team.only_at_work and not rep.calendar(team.calendar).is_working(now):
        return f"off hours (works {rep.works(team.calendar)})"
    if rep.open_leads >= rep.capacity:
        return f"full at {rep.open_leads} of {rep.capacity}"
    if check_territory and rep.territories:
        country, segment = facts.get("country"), facts.get("segment")
        if country not in rep.territories and segment not in rep.territories:
            lead = " and ".join(filter(None, [f"in {country}" if country else "in no known country", segment]))
            return f"outside territory ({', '.join(rep.territories)}; the lead is {lead})"
    return None


def retry_queued(team: Team, now: datetime) -> str:
    """When a queued lead is offered to the team again: when it starts work, or RETRY_MINUTES later at work."""
    calendar = team.calendar.calendar()
    if calendar.is_working(now):
        return utc_stamp(calendar.add_working_minutes(now, RETRY_MINUTES))
    return utc_stamp(calendar.next_working_moment(now))


def deadline(team: Team, priority: str, facts: dict[str, Any], now: datetime) -> tuple[int, str, str | None]:
    """Working minutes to accept, the deadline and the reminder time, on the team's calendar."""
    accept = team.accept
    candidates = [accept.by_priority.get(priority), accept.by_inquiry_type.get(str(facts.get("inquiry_type")))]
    specific = [m for m in candidates if m is not None]
    minutes = min(specific) if specific else accept.minutes
    calendar = team.calendar.calendar()
    due = calendar.add_working_minutes(now, minutes)
    remind = None
    if accept.remind_before_minutes:
        remind = utc_stamp(calendar.add_working_minutes(now, minutes - accept.remind_before_minutes))
    return minutes, utc_stamp(due), remind


def claim_ledger(rep: Rep, team_name: str, team: Team, now: datetime) -> LedgerEntry:
    """A rep's side of claiming a queued lead: one open lead more, and the lead counted in their turn."""
    served = rep.served.get(team_name, 0.0) + _stride(team, rep)
    return LedgerEntry(rep.rep_id, rep.version, team_name, round(served, 9), rep.open_leads + 1, utc_stamp(now))


def _by_strategy(team: Team, team_name: str, available: list[Rep]) -> Rep | None:
    if not available:
        return None

    def turn(rep: Rep) -> tuple[float, str, str]:
        return (_floored(rep, team_name, available), rep.last_assigned_at or "", rep.rep_id)

    if team.strategy == "least_loaded":
        return min(available, key=lambda rep: (rep.open_leads / max(rep.capacity, 1), *turn(rep)))
    return min(available, key=turn)


def _stride(team: Team, rep: Rep) -> float:
    return 1.0 / rep.weight if team.strategy == "weighted_round_robin" and rep.weight > 0 else 1.0


def _floored(rep: Rep, team_name: str, available: Sequence[Rep]) -> float:
    """The rep's count in the team's ledger, read no lower than the floor of the reps available now."""
    known = [r.served[team_name] for r in available if team_name in r.served]
    if not known:
        return rep.served.get(team_name, 0.0)
    floor = max(known) - max(1.0 / r.weight if r.weight > 0 else 1.0 for r in available)
    return max(rep.served.get(team_name, floor), floor)


def _account_owner(
    facts: dict[str, Any],
    settings: RouteSettings,
    roster: Sequence[Rep],
    accounts: Iterable[AccountLead],
    now: datetime,
    excluded: set[str],
) -> tuple[AccountLead, Rep] | None:
    """The owner of the company's most recent open (or won) lead in the window, when on the roster."""
    if not settings.account_match_days or facts.get("email_kind") != "corporate":
        return None
    since = utc_stamp(now - timedelta(days=settings.account_match_days))
    reps = {rep.rep_id: rep for rep in roster}
    candidates = sorted(
        (
            a
            for a in accounts
            if a.stage in ACCOUNT_STAGES
            and a.at >= since
            and a.owner in reps
            and a.owner not in excluded
            and a.domain == facts.get("email_domain")
            and a.lead_id != facts.get("lead_id")
        ),
        key=lambda a: a.at,
        reverse=True,
    )
    return (candidates[0], reps[candidates[0].owner]) if candidates else None


def _unrouted(why: str, now: datetime) -> Pick:
    """No team to route to: the lead waits in the client's default queue, with no deadline to keep."""
    decision = Decision(
        utc_stamp(now), why, None, None, None, "normal", None, None, DEFAULT_QUEUE, (), None, 0, None, None
    )
    return Pick(decision, None)

"""What a rep's (or a manager's) follow-up changes about a lead (pure: the applier writes it).

    assigned -> accepted | rejected (-> nurture or junk, by the reason)
    accepted -> contacted -> meeting -> opportunity -> won
    accepted | contacted | meeting | opportunity -> lost
    qualifying -> sales_ready (handed to sales with the notes) | nurture (not yet) | junk (phone first)

Each step moves the stage along the lifecycle (anything else is an `InvalidTransition`,
naming both stages), is a timeline entry, a domain event and a counter. Accepting stops the
SLA timer and records the time to accept; the first contact records the time from accept;
both in working minutes of the team's calendar. A lead leaving a rep's hands (rejected,
won, lost) frees a place in the rep's capacity. Asking for the stage a lead is already in
changes nothing (a double tap, a retried request).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Literal, Protocol

from leadflow.config import ClientConfig
from leadflow.lead.change import Applied, CounterDelta, Handoff, LeadChange, LeadServices, RepRelease, apply_change
from leadflow.lead.events import lead_followed_up
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.lead.profile import LeadProfile, utc_stamp
from leadflow.qualify.changes import ROUTING_QUEUE
from leadflow.report.figures import cents_of
from leadflow.route.assignment import claim_ledger
from leadflow.route.roster import Rep

Action = Literal[
    "accept", "reject", "contacted", "meeting", "opportunity", "won", "lost", "note", "sales_ready", "not_yet", "junk"
]
ACTIONS: tuple[Action, ...] = (
    "accept", "reject", "contacted", "meeting", "opportunity", "won", "lost", "note",
    "sales_ready", "not_yet", "junk",  # a qualifier's call outcomes (phone first)
)  # fmt: skip
CALL_OUTCOMES = frozenset({"sales_ready", "not_yet", "junk"})
TARGET_STAGE: dict[str, str] = {
    "accept": "accepted", "reject": "rejected", "contacted": "contacted", "meeting": "meeting",
    "opportunity": "opportunity", "won": "won", "lost": "lost",
    "sales_ready": "sales_ready", "not_yet": "nurture", "junk": "junk",
}  # fmt: skip
EVENT_TYPE: dict[str, str] = {
    "accept": "LeadAccepted", "reject": "LeadRejected", "contacted": "LeadContacted", "meeting": "LeadMeetingBooked",
    "opportunity": "LeadOpportunityOpened", "won": "LeadWon", "lost": "LeadLost", "note": "LeadNoteAdded",
    "sales_ready": "LeadCallOutcome", "not_yet": "LeadCallOutcome", "junk": "LeadCallOutcome",
}  # fmt: skip
CLOSING = frozenset({"reject", "won", "lost"}) | CALL_OUTCOMES  # the lead leaves its owner's hands
MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class Actor:
    """Who acts: a rep (on their own leads), a manager (on their teams' leads) or ops (on every lead)."""

    role: Literal["rep", "manager", "ops"]
    rep_id: str | None = None
    name: str = ""
    teams: tuple[str, ...] = ()
    via: str = "api"  # api, link (a signed email link) or cli

    def may_see(self, profile: LeadProfile) -> bool:
        """Ops: every lead; a manager: their teams' leads; a rep: their own, and their teams' queues."""
        if self.role == "ops":
            return True
        if self.role == "manager":
            return (profile.get("team") or profile.get("queue")) in self.teams
        if self.rep_id is None:
            return False
        return profile.get("owner") == self.rep_id or (not profile.get("owner") and profile.get("queue") in self.teams)

    def may_change(self, profile: LeadProfile) -> bool:
        """Follow-up is recorded by a lead's owner, their team's manager or ops (a queued lead is claimed first)."""
        if self.role == "rep":
            return self.rep_id is not None and profile.get("owner") == self.rep_id
        return self.may_see(profile)

    @property
    def label(self) -> str:
        return self.rep_id or f"{self.role}:{self.name}"


@dataclass(frozen=True)
class FollowUp:
    action: Action
    reason: str | None = None  # reject and lost: one of the client's reasons
    amount: str | None = None  # won: a decimal number, like "12500.00"
    currency: str | None = None  # won: ISO 4217, one of the client's currencies
    note: str | None = None  # any action may carry one; "note" is only that


class RepSource(Protocol):
    def get_rep(self, rep_id: str) -> Rep | None: ...


class FollowUpError(ValueError):
    """A follow-up that names a bad value: the field and what is allowed."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotYourLead(LookupError):
    """The lead does not exist, or is not the actor's to see: the same answer for both (404)."""


class NotTheOwner(PermissionError):
    """The actor may see the lead but not record its follow-up (a rep on their team's queued lead: claim it first)."""


class ClaimRefused(Exception):
    """A claim that cannot be had (409): somebody was quicker, the lead left the queue, or the rep is full."""


def check_follow_up(follow_up: FollowUp, config: ClientConfig) -> FollowUp:
    """The follow-up with its values checked against the client's lists; FollowUpError naming the field."""
    settings = config.follow_up
    if follow_up.note is not None and not 0 < len(follow_up.note) <= MAX_NOTE_CHARS:
        raise FollowUpError("note", f"must be 1 to {MAX_NOTE_CHARS} characters")
    if follow_up.action == "note" and not follow_up.note:
        raise FollowUpError("note", "is required to add a note")
    if follow_up.action in ("reject", "junk") and follow_up.reason not in settings.reject_reasons:
        raise FollowUpError("reason", f"must be one of {', '.join(settings.reject_reasons)}")
    if follow_up.action == "lost" and follow_up.reason not in settings.lost_reasons:
        raise FollowUpError("reason", f"must be one of {', '.join(settings.lost_reasons)}")
    if follow_up.action == "won":
        if follow_up.currency not in settings.currencies:
            raise FollowUpError("currency", f"must be one of {', '.join(settings.currencies)}")
        try:
            amount = Decimal(str(follow_up.amount))
        except InvalidOperation:
            raise FollowUpError("amount", "must be a number, like 12500.00") from None
        if not amount.is_finite() or amount <= 0 or amount >= Decimal("1e12"):
            raise FollowUpError("amount", "must be more than 0 and less than 1,000,000,000,000")
        return FollowUp("won", amount=str(amount.quantize(Decimal("0.01"), ROUND_HALF_UP)),
                        currency=follow_up.currency, note=follow_up.note)  # fmt: skip
    return follow_up


def plan_follow_up(
    current: LeadProfile, follow_up: FollowUp, actor: Actor, now: datetime, config: ClientConfig
) -> LeadChange | None:
    """The change a checked follow-up makes; None when the lead is already where it asks (a retry)."""
    if not actor.may_see(current):
        raise NotYourLead(current.get("lead_id", ""))
    if not actor.may_change(current):
        raise NotTheOwner("only the lead's owner records its follow-up: claim it from the queue first")
    stamp = utc_stamp(now)
    stage = current.get("stage", "new")
    target = TARGET_STAGE.get(follow_up.action)
    if follow_up.action in CALL_OUTCOMES and stage != "qualifying":
        if target == stage and current.get("qualification"):
            return None  # the outcome was recorded (a retry)
        raise InvalidTransition(stage, f"{target} (a call outcome, for a lead being qualified)")
    if target is not None and target == stage:
        return None
    profile = copy.deepcopy(current)
    profile["updated_at"] = stamp
    lead_id = profile["lead_id"]
    change = LeadChange(profile)
    detail: dict[str, object] = {"by": actor.label, "via": actor.via}
    team = config.route.teams.get(profile.get("team") or "")
    calendar = team.calendar.calendar() if team else None
    if follow_up.action == "accept":
        profile.pop("sla_next_at", None)
        profile["accepted_at"] = stamp
        if calendar and profile.get("assigned_at"):
            minutes = calendar.working_minutes_between(datetime.fromisoformat(profile["assigned_at"]), now)
            profile["minutes_to_accept"] = detail["working_minutes"] = round(minutes, 1)
    elif follow_up.action == "contacted":
        profile["first_contact_at"] = stamp
        if calendar and profile.get("accepted_at"):
            minutes = calendar.working_minutes_between(datetime.fromisoformat(profile["accepted_at"]), now)
            profile["minutes_to_first_contact"] = detail["working_minutes"] = round(minutes, 1)
    elif follow_up.action == "reject":
        profile.pop("sla_next_at", None)
        profile.pop("handed_off_at", None)  # sales-ready again later: handed to routing again
        outcome = config.follow_up.reject_reasons[str(follow_up.reason)]
        profile["rejected"] = {"by": actor.label, "at": stamp, "reason": str(follow_up.reason), "outcome": outcome}
        detail |= {"reason": follow_up.reason, "outcome": outcome}
    elif follow_up.action == "won":
        profile["won"] = {"at": stamp, "amount": str(follow_up.amount), "currency": str(follow_up.currency)}
        detail |= {"amount": follow_up.amount, "currency": follow_up.currency}
    elif follow_up.action == "lost":
        profile["lost"] = {"at": stamp, "reason": str(follow_up.reason)}
        detail["reason"] = follow_up.reason
    elif follow_up.action in CALL_OUTCOMES:
        profile.pop("sla_next_at", None)
        call: dict[str, str] = {"outcome": follow_up.action, "by": actor.label, "at": stamp}
        call |= {k: v for k, v in (("reason", follow_up.reason), ("note", follow_up.note)) if v}
        profile["qualification"] = call
        detail |= {"outcome": follow_up.action, **({"reason": follow_up.reason} if follow_up.reason else {})}
        if follow_up.action == "sales_ready":  # to sales, with the qualifier's notes on the lead
            profile["handed_off_at"] = stamp
            message = {"lead_id": lead_id, "handed_off_at": stamp}
            change.handoffs.append(Handoff(ROUTING_QUEUE, message, deduplication_id=f"{lead_id}-sales-{stamp}"))
    if follow_up.note:
        detail["note"] = follow_up.note
        change.timeline.append({"type": "note", "at": stamp, "reason": follow_up.note, "by": actor.label})
    if target is not None:
        why = f"{follow_up.action} by {actor.name or actor.label}" + (
            f": {follow_up.reason}" if follow_up.reason else ""
        )
        change.move(target, why, stamp)
        change.counters.append(CounterDelta(target, stamp[:10]))
    if follow_up.action == "reject":
        change.move(profile["rejected"]["outcome"], f"rejected: {follow_up.reason}", stamp)
    if follow_up.action == "won":
        cents = cents_of(follow_up.amount)
        change.counters.append(CounterDelta(f"revenue_cents_{follow_up.currency}", stamp[:10], cents))
    if follow_up.action in CLOSING and profile.get("owner"):
        change.ledger.append(RepRelease(profile["owner"]))
        if follow_up.action == "reject" or follow_up.action in CALL_OUTCOMES:
            profile.pop("owner", None)
            profile.pop("owner_name", None)
    change.events.append(lead_followed_up(EVENT_TYPE[follow_up.action], lead_id, stamp, profile["stage"], detail))
    return change


def follow_up_lead(
    lead_id: str,
    follow_up: FollowUp,
    actor: Actor,
    services: LeadServices,
    config: ClientConfig,
    now: datetime,
) -> Applied:
    """Record a follow-up on a lead: "changed", or "unchanged" when it was there already. NotYourLead: 404."""

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None:
            raise NotYourLead(lead_id)
        return plan_follow_up(current, follow_up, actor, now, config)

    return apply_change(lead_id, plan, services)


def plan_claim(current: LeadProfile, rep: Rep, now: datetime, config: ClientConfig) -> LeadChange | None:
    """A rep takes a lead waiting in their team's queue; None when it is theirs already (a retried claim).

    A sales lead is the rep's at once, accepted (they chose it); a qualification team's lead
    becomes theirs to call, its deadline still running. Only one claim wins: the applier
    writes at the version read, so the loser reads again and is refused (ClaimRefused: 409).
    """
    lead_id = current["lead_id"]
    owner, queue = current.get("owner"), current.get("queue")
    if owner == rep.rep_id:
        return None
    if owner and current.get("left_queue") in rep.teams:  # a teammate (or the sweep) took it from the queue first
        taker = current.get("owner_name") or owner
        raise ClaimRefused(f"{taker} took this lead first, at {current.get('assigned_at')}")
    if owner or queue not in rep.teams:
        raise NotYourLead(lead_id)  # another rep's lead, never in this rep's queue: not theirs to know of
    settings = config.route
    team = settings.teams.get(str(queue))
    calling = queue == settings.qualification_team
    waiting, owned = ("nurture", "qualifying") if calling else ("sales_ready", "assigned")
    if team is None or current.get("stage") != waiting:
        raise ClaimRefused(f"the lead is no longer waiting in the {queue} queue (it is {current.get('stage')})")
    if not rep.active:
        raise ClaimRefused("you are marked inactive: ask your manager or ops to reactivate you")
    if rep.open_leads >= rep.capacity:
        raise ClaimRefused(f"you hold {rep.open_leads} of {rep.capacity} leads: close or hand back one first")
    stamp = utc_stamp(now)
    profile = copy.deepcopy(current)
    profile.update({"owner": rep.rep_id, "owner_name": rep.name, "assigned_at": stamp, "updated_at": stamp,
                    "left_queue": str(queue)})  # fmt: skip
    profile.pop("queue", None)
    why = f"claimed from the {queue} queue by {rep.name}"
    routed = {**(profile.get("routing") or {}), "decided_at": stamp, "why": why, "owner": rep.rep_id,
              "owner_name": rep.name, "queue": None, "passed_over": []}  # fmt: skip
    profile["routing"] = routed
    change = LeadChange(profile)
    change.ledger.append(claim_ledger(rep, str(queue), team, now))
    change.timeline.append({"type": "routed", "at": stamp, "decision": routed})
    change.move(owned, why, stamp)
    change.counters += [CounterDelta("claimed", stamp[:10]), CounterDelta(owned, stamp[:10])]
    detail: dict[str, object] = {"by": rep.rep_id, "via": "api", "team": str(queue)}
    sla = profile.get("sla") or {}
    if calling:  # theirs to call: the deadline keeps running, as for a lead routed to them
        ahead = [at for at in (None if sla.get("reminded") else sla.get("remind_at"), sla.get("due_at")) if at]
        ahead = [at for at in ahead if at > stamp]
        if ahead and not sla.get("escalated"):
            profile["sla_next_at"] = min(ahead)
        else:  # overdue (breached, or escalated already): the claimer is not held to a deadline that has passed
            profile.pop("sla_next_at", None)
    else:  # sales: accepted as it is claimed; the time to accept runs from when it was queued
        profile.pop("sla_next_at", None)
        profile["accepted_at"] = stamp
        if sla.get("started_at"):
            minutes = team.calendar.calendar().working_minutes_between(datetime.fromisoformat(sla["started_at"]), now)
            profile["minutes_to_accept"] = detail["working_minutes"] = round(minutes, 1)
        change.move("accepted", why, stamp)
        change.counters.append(CounterDelta("accepted", stamp[:10]))
    change.events.append(lead_followed_up("LeadClaimed", lead_id, stamp, profile["stage"], detail))
    return change


def claim_lead(
    lead_id: str, rep_id: str, roster: RepSource, services: LeadServices, config: ClientConfig, now: datetime
) -> Applied:
    """A rep claims a queued lead: "changed", or "unchanged" when it was theirs already; ClaimRefused: 409."""

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None:
            raise NotYourLead(lead_id)
        rep = roster.get_rep(rep_id)  # read again for every plan: the ledger is written at the rep's version
        if rep is None:
            raise NotYourLead(lead_id)
        return plan_claim(current, rep, now, config)

    return apply_change(lead_id, plan, services)

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
from typing import Literal

from leadflow.config import ClientConfig
from leadflow.lead.change import Applied, CounterDelta, Handoff, LeadChange, LeadServices, RepRelease, apply_change
from leadflow.lead.events import lead_followed_up
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.lead.profile import LeadProfile, utc_stamp
from leadflow.qualify.changes import ROUTING_QUEUE

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
        if self.role == "ops":
            return True
        if self.role == "manager":
            return profile.get("team") in self.teams
        return self.rep_id is not None and profile.get("owner") == self.rep_id

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


class FollowUpError(ValueError):
    """A follow-up that names a bad value: the field and what is allowed."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class NotYourLead(LookupError):
    """The lead does not exist, or is not the actor's to see: the same answer for both (404)."""


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
        cents = int(Decimal(str(follow_up.amount)) * 100)
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

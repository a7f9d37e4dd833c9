"""The accept deadline: a reminder before it, then reassignment, then escalation (pure plans, and the sweep).

Routing starts a timer on every lead it places (`LeadProfile.sla`): the deadline to accept
(or, in a queue, to claim) in the team's working minutes, and a reminder some working
minutes before. `sla_next_at` is when the timer next needs a look; the lead store keeps
leads with one in a sparse due index, which the sweep (every minute) Queries.

`plan_sla` decides for one lead at `now`:
- the reminder is due: remind the owner (or the team), once;
- the deadline passed: the breach is recorded; the lead goes to the next available rep of
  the team (never one who had it) while the team's `reassign_times` allow, with a new
  deadline; else it is escalated: to the manager (the owner keeps it) or back to the queue.
Every step is a timeline entry, an event and a counter. A lead accepted (or moved on) in
the meantime has no timer: nothing happens.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

from leadflow.config import ClientConfig, RouteSettings
from leadflow.lead.change import Applied, CounterDelta, LeadChange, LeadServices, RepRelease, apply_change
from leadflow.lead.events import (
    lead_assigned,
    lead_escalated,
    lead_reassigned,
    lead_sla_breached,
    lead_sla_reminder,
)
from leadflow.lead.profile import LeadProfile, SlaTimer, utc_stamp
from leadflow.route.assignment import Pick, pick_owner, retry_queued
from leadflow.route.changes import Roster
from leadflow.route.facts import routing_facts
from leadflow.route.roster import Rep

# Owned and not yet accepted (or called), or waiting in a queue (nurture: for the qualification team).
logger = logging.getLogger(__name__)

TIMED_STAGES = frozenset({"assigned", "sales_ready", "qualifying", "nurture"})


class DueLeads(Protocol):
    def due_lead_ids(self, until: str) -> Iterator[str]: ...


def plan_sla(
    current: LeadProfile, now: datetime, settings: RouteSettings, roster: Sequence[Rep], facts: dict[str, Any]
) -> LeadChange | None:
    """What the lead's timer does at `now`; None when nothing is due (a sweep got there first, or it moved on)."""
    stamp = utc_stamp(now)
    next_at = current.get("sla_next_at")
    if next_at is None or next_at > stamp:
        return None
    profile = copy.deepcopy(current)
    change = LeadChange(profile)
    profile["updated_at"] = stamp
    sla: SlaTimer = profile.get("sla") or {}
    team_name = profile.get("team")
    team = settings.teams.get(team_name or "")
    if current.get("stage") not in TIMED_STAGES or team is None or not sla.get("due_at"):
        profile.pop("sla_next_at", None)  # nothing to time any more (or its team left the client file)
        return change
    lead_id, owner = profile["lead_id"], profile.get("owner")
    # A qualification team's lead is "qualifying" while owned and waits in "nurture"; sales' are assigned, sales_ready.
    calling = team_name == settings.qualification_team
    owned, waiting = ("qualifying", "nurture") if calling else ("assigned", "sales_ready")
    assert team_name is not None
    due_at = sla["due_at"]
    if owner is None and due_at > stamp:  # queued: offered to the team again, the clock still running
        pick = pick_owner(facts, settings, roster, now, team_name=team_name, exclude=sla.get("previous_owners", []))
        if pick.decision.owner is not None and pick.ledger is not None:
            return _claimed_from_queue(change, pick, owned, stamp)
    reminder_due = not sla.get("reminded") and (sla.get("remind_at") or "~") <= stamp
    if due_at > stamp and not reminder_due:  # nothing due but the next look: queued, nobody free yet
        pending = [at for at in (None if sla.get("reminded") else sla.get("remind_at"), due_at) if at]
        profile["sla_next_at"] = min(retry_queued(team, now), *pending) if owner is None else min(pending)
        return change
    if due_at > stamp:
        sla["reminded"] = True
        profile["sla_next_at"] = due_at if owner else min(retry_queued(team, now), due_at)
        whom = profile.get("owner_name") or f"team {team_name}"
        change.timeline.append({"type": "sla_reminder", "at": stamp, "reason": f"{whom}: accept by {due_at}"})
        change.events.append(lead_sla_reminder(lead_id, stamp, team_name, owner, due_at))
        change.counters.append(CounterDelta("sla_reminded", stamp[:10]))
        return change
    change.timeline.append({"type": "sla_breached", "at": stamp, "reason": f"not accepted by {due_at}"})
    change.events.append(lead_sla_breached(lead_id, stamp, team_name, owner, due_at))
    change.counters.append(CounterDelta("sla_breached", stamp[:10]))
    reassignments = int(sla.get("reassignments", 0))
    had_it = [*sla.get("previous_owners", []), *([owner] if owner else [])]
    on_roster = {rep.rep_id for rep in roster}
    if reassignments < team.accept.reassign_times:
        pick = pick_owner(facts, settings, roster, now, team_name=team_name, exclude=had_it)
        decision = pick.decision
        if decision.owner is not None and pick.ledger is not None:
            routed = decision.as_dict()
            routed["why"] = f"not accepted by {due_at}: to the next available rep of team {team_name}"
            profile.update({"owner": decision.owner, "owner_name": str(decision.owner_name), "routing": routed,
                            "assigned_at": stamp})  # fmt: skip
            profile.pop("queue", None)
            profile["sla"] = decision.timer(reassignments=reassignments + 1, previous_owners=had_it)
            profile["sla_next_at"] = decision.remind_at or str(decision.due_at)
            if owner in on_roster:
                change.ledger.append(RepRelease(str(owner)))
            change.ledger.append(pick.ledger)
            if profile.get("stage") != owned:  # it waited in the queue
                change.move(owned, f"assigned to {decision.owner_name}: not claimed by {due_at}", stamp)
            change.timeline.append({"type": "reassigned", "at": stamp, "decision": routed})
            change.events.append(lead_reassigned(lead_id, owner, routed))
            change.counters.append(CounterDelta("sla_reassigned", stamp[:10]))
            return change
    spent = "reassignment spent" if reassignments >= team.accept.reassign_times else "nobody else can take it"
    to = team.accept.escalate_to
    sla["escalated"] = {"to": to, "at": stamp}
    profile.pop("sla_next_at", None)
    if to == "queue" and owner:
        if owner in on_roster:
            change.ledger.append(RepRelease(str(owner)))
        for name in ("owner", "owner_name"):
            profile.pop(name, None)  # type: ignore[misc]
        profile["queue"] = team_name
        change.move(waiting, f"back to the {team_name} queue: not accepted by {due_at}", stamp)
    reason = f"not accepted by {due_at}; {spent}"
    change.timeline.append({"type": "escalated", "at": stamp, "reason": f"to the {to} of team {team_name}: {reason}"})
    change.events.append(lead_escalated(lead_id, stamp, team_name, to, team.manager if to == "manager" else None,
                                        profile.get("owner"), reason))  # fmt: skip
    change.counters.append(CounterDelta("sla_escalated", stamp[:10]))
    return change


def _claimed_from_queue(change: LeadChange, pick: Pick, owned: str, stamp: str) -> LeadChange:
    """A rep became free for a queued lead: it is theirs now, with the deadline it had (the clock kept running)."""
    profile, decision = change.profile, pick.decision
    routed = {**decision.as_dict(), "why": f"a rep of team {decision.team} became free: {decision.why}"}
    profile.update({"owner": str(decision.owner), "owner_name": str(decision.owner_name), "routing": routed,
                    "assigned_at": stamp, "left_queue": str(decision.team)})  # fmt: skip
    profile.pop("queue", None)
    sla = profile["sla"]
    pending = [at for at in (None if sla.get("reminded") else sla.get("remind_at"), sla["due_at"]) if at and at > stamp]
    profile["sla_next_at"] = min(pending) if pending else sla["due_at"]
    assert pick.ledger is not None
    change.ledger.append(pick.ledger)
    change.move(owned, f"assigned to {decision.owner_name}: {routed['why']}", stamp)
    change.timeline.append({"type": "routed", "at": stamp, "decision": routed})
    change.events.append(lead_assigned(profile["lead_id"], routed))
    change.counters.append(CounterDelta(owned, stamp[:10]))
    return change


def run_sla(lead_id: str, services: LeadServices, config: ClientConfig, roster: Roster, now: datetime) -> Applied:
    """Act on one lead's timer (read, plan, write at the version read, publish)."""
    region = config.qualify.verification.default_phone_region

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None or current.get("sla_next_at", "~") > utc_stamp(now):
            return None
        due = current["sla"].get("due_at", "~") <= utc_stamp(now)
        reps = roster.list_reps() if due or not current.get("owner") else []  # to reassign, or to offer it again
        return plan_sla(current, now, config.route, reps, routing_facts(current, region))

    return apply_change(lead_id, plan, services)


# What a sweep did to the leads it found due, counted by the timeline entry each step leaves (the SLA handler's
# metrics, which the client's dashboard shows).
SLA_STEPS = {
    "sla_reminder": "reminded",
    "sla_breached": "breached",
    "reassigned": "reassigned",
    "escalated": "escalated",
}


def sweep(
    services: LeadServices,
    config: ClientConfig,
    roster: Roster,
    due: DueLeads,
    now: datetime,
    give_up_at: float | None = None,
) -> dict[str, int]:
    """Every lead due at `now`, one by one, until `give_up_at` (time.monotonic()); what it did, counted."""
    done = {"due": 0, "changed": 0, "unchanged": 0, "failed": 0, "left": 0, **dict.fromkeys(SLA_STEPS.values(), 0)}
    for lead_id in due.due_lead_ids(utc_stamp(now)):
        if give_up_at is not None and time.monotonic() > give_up_at:
            done["left"] = 1  # at least one: the next tick takes them
            break
        done["due"] += 1
        try:
            applied = run_sla(lead_id, services, config, roster, now)
        except Exception:  # one lead that fails (its change conflicts ten times, say) holds back no other
            logger.exception("sla step failed; the next tick tries it again", extra={"lead_id": lead_id})
            done["failed"] += 1
            continue
        done["changed" if applied.outcome == "changed" else "unchanged"] += 1
        for entry in applied.change.timeline if applied.change else ():
            if entry["type"] in SLA_STEPS:
                done[SLA_STEPS[entry["type"]]] += 1
    return done

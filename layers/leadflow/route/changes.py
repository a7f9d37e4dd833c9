"""What routing changes about a lead (pure: the applier writes it, with the owner's ledger).

`plan_routing` turns a `Pick` (leadflow.route.assignment) into the lead's `LeadChange`: the
owner, team and deadline on the profile, the decision on the timeline, `LeadAssigned` (or
`LeadQueued`) and the stage change on the bus, the counters, and the owner's ledger entry.
`route_lead` reads what the decision needs (the roster, the company's owned leads) and
applies it; a redelivered hand-off changes nothing.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any, Protocol

from leadflow.config import ClientConfig
from leadflow.lead.change import Applied, CounterDelta, LeadChange, LeadServices, apply_change
from leadflow.lead.events import lead_assigned, lead_queued
from leadflow.lead.profile import LeadProfile
from leadflow.route.assignment import AccountLead, Pick, pick_owner
from leadflow.route.facts import routing_facts
from leadflow.route.roster import Rep


class Roster(Protocol):
    def list_reps(self) -> list[Rep]: ...


class Accounts(Protocol):
    def account_leads(self, domain: str) -> list[AccountLead]: ...


def plan_routing(
    current: LeadProfile, handed_off_at: str, pick: Pick, facts: dict[str, Any], to_stage: str = "assigned"
) -> LeadChange:
    """The change a routing decision makes; `to_stage` is "qualifying" when a qualifier is given the lead."""
    decision = pick.decision
    routed = decision.as_dict()
    stamp = decision.decided_at
    lead_id = current["lead_id"]
    profile = copy.deepcopy(current)
    profile["routed_for"] = handed_off_at
    profile["routed_at"] = profile["updated_at"] = stamp
    profile["routing"] = routed
    profile["priority"] = decision.priority
    profile.pop("left_queue", None)  # routed afresh: not taken from a queue
    for name, value in (("team", decision.team), ("queue", decision.queue), ("owner", decision.owner),
                        ("owner_name", decision.owner_name)):  # fmt: skip
        if value is None:
            profile.pop(name, None)  # type: ignore[misc]
        else:
            profile[name] = value  # type: ignore[literal-required]
    if decision.due_at is not None:
        profile["sla"] = decision.timer(reassignments=0)
        profile["sla_next_at"] = min(filter(None, (decision.retry_at, decision.remind_at, decision.due_at)))
    if facts.get("email_kind") == "corporate" and facts.get("email_domain"):
        profile["account_domain"] = facts["email_domain"]  # its account link names the owner, when it has one
    change = LeadChange(profile)
    change.timeline.append({"type": "routed", "at": stamp, "decision": routed})
    if decision.owner is not None:
        profile["assigned_at"] = stamp
        change.move(to_stage, f"assigned to {decision.owner_name}: {decision.why}", stamp)
        change.events.append(lead_assigned(lead_id, routed))
        change.counters.append(CounterDelta(to_stage, stamp[:10]))
    else:
        change.events.append(lead_queued(lead_id, routed))
        change.counters.append(CounterDelta("queued", stamp[:10]))
    if pick.ledger is not None:
        change.ledger.append(pick.ledger)
    return change


def route_lead(
    message: dict[str, Any],
    services: LeadServices,
    config: ClientConfig,
    roster: Roster,
    accounts: Accounts,
    now: datetime | None = None,
) -> Applied:
    """Give a handed-off lead its owner (or a queue): "changed", or "unchanged" when routed before.

    A hand-off with purpose "qualify" (phone first) gives a marketing-qualified lead to the
    client's qualification team, to be called; any other gives a sales-ready lead to sales.
    """
    lead_id, handed_off_at = message["lead_id"], message["handed_off_at"]
    qualifying = message.get("purpose") == "qualify"

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None:
            raise LookupError(f"no lead {lead_id}: a hand-off names a stored lead")
        waiting_in = "nurture" if qualifying else "sales_ready"
        if current.get("routed_for") == handed_off_at or current.get("stage") != waiting_in:
            return None  # routed for this hand-off already (a redelivery), or moved on since
        at = now or datetime.now(UTC)
        facts = routing_facts(current, config.qualify.verification.default_phone_region)
        settings = config.route
        if qualifying:
            if settings.qualification_team is None:
                return None  # the client stopped phone first since the hand-off
            pick = pick_owner(facts, settings, roster.list_reps(), at, team_name=settings.qualification_team)
            return plan_routing(current, handed_off_at, pick, facts, to_stage="qualifying")
        found: list[AccountLead] = []
        if settings.account_match_days and facts.get("email_kind") == "corporate" and facts.get("email_domain"):
            found = accounts.account_leads(facts["email_domain"])
        pick = pick_owner(facts, settings, roster.list_reps(), at, accounts=found)
        return plan_routing(current, handed_off_at, pick, facts)

    return apply_change(lead_id, plan, services)

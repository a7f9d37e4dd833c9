"""The domain events a lead's changes publish, built in one place beside their JSON Schemas.

Each event leaves the stack on its EventBridge bus as `source = leadflow.<client>`,
`detail-type` = its type, and a detail that matches `events/schemas/<type>.schema.json`
(a contract test checks that). The applier adds `client` to every detail when publishing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DomainEvent:
    type: str
    detail: dict[str, Any]


def lead_stage_changed(lead_id: str, from_stage: str, to_stage: str, at: str, reason: str) -> DomainEvent:
    return DomainEvent(
        "LeadStageChanged",
        {"lead_id": lead_id, "from_stage": from_stage, "to_stage": to_stage, "at": at, "reason": reason},
    )


def lead_qualified(
    lead_id: str,
    stage: str,
    score: dict[str, Any],
    marketing_qualified: bool,
    qualified_at: str,
) -> DomainEvent:
    return DomainEvent(
        "LeadQualified",
        {
            "lead_id": lead_id,
            "stage": stage,
            "fit": score["fit"],
            "engagement": score["engagement"],
            "score": score["total"],
            "marketing_qualified": marketing_qualified,
            "reasons": score["reasons"],
            "qualified_at": qualified_at,
        },
    )


def lead_assigned(lead_id: str, decision: dict[str, Any]) -> DomainEvent:
    """A lead has an owner: the routing decision, with the deadline to accept it."""
    return DomainEvent("LeadAssigned", {"lead_id": lead_id, **_routing(decision), "owner": decision["owner"]})


def lead_queued(lead_id: str, decision: dict[str, Any]) -> DomainEvent:
    """Nobody could take the lead now: it waits in a team's queue (or the client's default queue) to be claimed."""
    return DomainEvent("LeadQueued", {"lead_id": lead_id, **_routing(decision), "queue": decision["queue"]})


def _routing(decision: dict[str, Any]) -> dict[str, Any]:
    keys = ("team", "rule", "strategy", "priority", "account", "why", "due_at", "passed_over")
    return {"at": decision["decided_at"], **{key: decision[key] for key in keys}}


def lead_sla_reminder(lead_id: str, at: str, team: str, owner: str | None, due_at: str) -> DomainEvent:
    """The accept (or claim) deadline is near: the owner, or the team when nobody owns the lead, is reminded."""
    return DomainEvent(
        "LeadSlaReminder", {"lead_id": lead_id, "at": at, "team": team, "owner": owner, "due_at": due_at}
    )


def lead_sla_breached(lead_id: str, at: str, team: str, owner: str | None, due_at: str) -> DomainEvent:
    """Nobody accepted (or claimed) the lead by its deadline."""
    return DomainEvent(
        "LeadSlaBreached", {"lead_id": lead_id, "at": at, "team": team, "owner": owner, "due_at": due_at}
    )


def lead_reassigned(lead_id: str, previous_owner: str | None, decision: dict[str, Any]) -> DomainEvent:
    """Past its deadline, the lead went to the next available rep: the new decision."""
    detail = {"lead_id": lead_id, **_routing(decision), "owner": decision["owner"], "previous_owner": previous_owner}
    return DomainEvent("LeadReassigned", detail)


def lead_escalated(
    lead_id: str, at: str, team: str, to: str, manager: str | None, owner: str | None, reason: str
) -> DomainEvent:
    """Reassignment is spent (or nobody can take the lead): its team's manager, or its queue, has it now."""
    detail = {
        "lead_id": lead_id,
        "at": at,
        "team": team,
        "to": to,
        "manager": manager,
        "owner": owner,
        "reason": reason,
    }
    return DomainEvent("LeadEscalated", detail)


def lead_followed_up(event_type: str, lead_id: str, at: str, stage: str, detail: dict[str, Any]) -> DomainEvent:
    """A rep's follow-up (LeadAccepted, LeadRejected, ..., LeadWon, LeadLost, LeadNoteAdded): who, and what."""
    return DomainEvent(event_type, {"lead_id": lead_id, "at": at, "stage": stage, **detail})


def lead_suppressed(lead_id: str, at: str, reason: str) -> DomainEvent:
    """The lead's address gets no nurture email again: it unsubscribed, bounced, complained or is undeliverable."""
    return DomainEvent("LeadSuppressed", {"lead_id": lead_id, "at": at, "reason": reason})

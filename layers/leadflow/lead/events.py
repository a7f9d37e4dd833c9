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

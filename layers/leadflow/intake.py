"""Applying changes to leads: store an inquiry, qualify, publish what changed, hand off.

Each change is planned from the profile as read (`leadflow.leads`), written in one
transaction with its events and hand-off in the profile's outbox, then the outbox is
published and cleared. A concurrent change to the same lead makes the write fail its
version check; the change is then planned again from a fresh read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from leadflow.config import QualifySettings
from leadflow.event_bus import EventBus
from leadflow.leads import LeadChange, plan_inquiry, plan_requalify
from leadflow.leads_store import Conflict, LeadStore
from leadflow.queues import FifoQueue

MAX_ATTEMPTS = 3


@dataclass
class LeadServices:
    client: str
    settings: QualifySettings
    store: LeadStore
    bus: EventBus
    routing: FifoQueue


def record_inquiry(
    message: dict[str, Any], services: LeadServices, now: datetime | None = None
) -> Literal["stored", "duplicate"]:
    lead_id = message["lead_id"]
    for _ in range(MAX_ATTEMPTS):
        current = services.store.get_profile(lead_id)
        change = plan_inquiry(current, message, services.settings, now or datetime.now(UTC))
        try:
            stored = services.store.save_change(change, _version(current), message["inquiry_id"])
        except Conflict:
            continue
        publish_outbox(change.profile if stored else current, services)
        return "stored" if stored else "duplicate"
    raise Conflict(lead_id)


def requalify_lead(
    lead_id: str, services: LeadServices, reason: str, restore: bool = False, now: datetime | None = None
) -> LeadChange | None:
    """Qualify a stored lead again; None when nothing about it would change."""
    for _ in range(MAX_ATTEMPTS):
        current = services.store.get_profile(lead_id)
        if current is None:
            raise LookupError(f"no lead {lead_id}")
        change = plan_requalify(current, services.settings, now or datetime.now(UTC), reason, restore)
        unchanged = (
            not restore
            and change.profile["stage"] == current.get("stage")
            and change.profile["score"] == current.get("score")
        )
        if unchanged:
            publish_outbox(current, services)  # what an earlier change could not publish goes now
            return None
        try:
            services.store.save_change(change, _version(current))
        except Conflict:
            continue
        publish_outbox(change.profile, services)
        return change
    raise Conflict(lead_id)


def publish_outbox(profile: dict[str, Any] | None, services: LeadServices) -> None:
    """Publish a lead's pending events and hand-off, then clear them (at least once)."""
    if not profile or not profile.get("outbox"):
        return
    outbox = profile["outbox"]
    events = [
        {"type": item["type"], "detail": {**item["detail"], "client": services.client}}
        for item in outbox
        if item["kind"] == "event"
    ]
    if events:
        services.bus.publish(f"leadflow.{services.client}", events)
    for item in outbox:
        if item["kind"] == "handoff":
            services.routing.send(
                {"lead_id": item["lead_id"], "handed_off_at": item["at"], "client": services.client},
                group_id=item["lead_id"],
                deduplication_id=f"{item['lead_id']}-handoff",
            )
    services.store.clear_outbox(profile["lead_id"], int(profile["version"]))


def _version(profile: dict[str, Any] | None) -> int | None:
    return int(profile["version"]) if profile else None

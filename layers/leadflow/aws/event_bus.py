"""Data access for the stack's EventBridge bus: where domain events leave the stack.

Every event is `source = leadflow.<client>`, `detail-type` its name (LeadQualified,
LeadStageChanged) and a JSON detail that matches its schema in `events/schemas/`.
"""

from __future__ import annotations

import json
from typing import Any

from leadflow.aws.client import LazyClient

MAX_ENTRIES_PER_CALL = 10


class EventsNotPublished(Exception):
    """EventBridge refused some entries; they stay in the lead's outbox for the next try."""


class EventBus(LazyClient):
    service = "events"

    def __init__(self, bus_name: str, client: Any = None):
        super().__init__(client)
        self.bus_name = bus_name

    def publish(self, source: str, events: list[dict[str, Any]]) -> None:
        """Publish `{"type": ..., "detail": {...}}` events, ten to a call."""
        for start in range(0, len(events), MAX_ENTRIES_PER_CALL):
            entries = [
                {
                    "EventBusName": self.bus_name,
                    "Source": source,
                    "DetailType": event["type"],
                    "Detail": json.dumps(event["detail"], default=str),
                }
                for event in events[start : start + MAX_ENTRIES_PER_CALL]
            ]
            answer = self.client.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                codes = {e.get("ErrorCode") for e in answer.get("Entries", []) if e.get("ErrorCode")}
                raise EventsNotPublished(", ".join(sorted(c for c in codes if c)))

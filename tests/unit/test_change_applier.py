"""The change applier with in-memory ports: conflicts are planned again, nothing written is left unpublished."""

from __future__ import annotations

from typing import Any

import pytest

from leadflow.lead.change import (
    AlreadyApplied,
    Conflict,
    Handoff,
    LeadChange,
    LeadServices,
    OutboxItem,
    StoredLead,
    apply_change,
)
from leadflow.lead.events import DomainEvent
from leadflow.lead.profile import LeadProfile


class MemoryStore:
    """A lead store in a dict, with the same version and marker rules as the table."""

    def __init__(self) -> None:
        self.leads: dict[str, StoredLead] = {}
        self.markers: set[str] = set()
        self.before_write: list[Any] = []  # callables run just before a write lands (another writer, say)
        self.answer_lost = False  # the write lands, its answer is lost, and the retried write meets the marker

    def read(self, lead_id: str) -> StoredLead | None:
        return self.leads.get(lead_id)

    def write(self, change: LeadChange, read: StoredLead | None, outbox: list[OutboxItem]) -> int:
        waiting, self.before_write = self.before_write, []
        for run in waiting:
            run()
        lead_id = change.profile["lead_id"]
        if change.marker in self.markers:
            raise AlreadyApplied(change.marker)
        current = self.leads.get(lead_id)
        if (current.version if current else None) != (read.version if read else None):
            raise Conflict(lead_id)
        version = (read.version if read else 0) + 1
        self.leads[lead_id] = StoredLead(change.profile, version, tuple(outbox))
        if change.marker:
            self.markers.add(change.marker)
        if self.answer_lost:
            self.answer_lost = False
            raise AlreadyApplied(change.marker)  # what the resent transaction is answered
        return version

    def clear_outbox(self, lead_id: str, version: int) -> bool:
        current = self.leads[lead_id]
        if current.version != version:
            return False
        self.leads[lead_id] = StoredLead(current.profile, version, ())
        return True


class Recorder:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []

    def publish(self, source: str, events: list[dict[str, Any]]) -> None:
        self.events += events

    def send(self, message: dict[str, Any], *, group_id: str, deduplication_id: str) -> None:
        self.sent.append(message)


@pytest.fixture
def parts() -> tuple[MemoryStore, Recorder, LeadServices]:
    store, recorder = MemoryStore(), Recorder()
    return store, recorder, LeadServices("demo", store, recorder, {"routing": recorder})


def counting_plan(marker: str) -> Any:
    """A plan that adds one to the lead's count, with an event and a hand-off."""

    def plan(current: LeadProfile | None) -> LeadChange:
        count = (current or {}).get("inquiry_count", 0) + 1
        profile: LeadProfile = {"lead_id": "ld_a", "created_at": "2026-11-23T09:00:00Z", "inquiry_count": count}
        return LeadChange(
            profile,
            events=[DomainEvent("Counted", {"count": count})],
            handoffs=[Handoff("routing", {"lead_id": "ld_a"}, f"ld_a-{count}")],
            marker=marker,
        )

    return plan


def test_a_change_that_meets_another_is_planned_again_from_a_fresh_read(parts: Any) -> None:
    store, _, services = parts
    apply_change("ld_a", counting_plan("m1"), services)
    store.before_write.append(lambda: apply_change("ld_a", counting_plan("m2"), services))
    applied = apply_change("ld_a", counting_plan("m3"), services)
    assert applied.outcome == "changed"
    assert store.leads["ld_a"].profile["inquiry_count"] == 3  # counted on top of m2, not over it


def test_a_redelivered_change_is_a_duplicate_and_writes_nothing(parts: Any) -> None:
    store, _, services = parts
    apply_change("ld_a", counting_plan("m1"), services)
    assert apply_change("ld_a", counting_plan("m1"), services).outcome == "duplicate"
    assert store.leads["ld_a"].version == 1


def test_a_write_retried_after_its_answer_was_lost_still_publishes_its_events_and_hand_off(parts: Any) -> None:
    store, recorder, services = parts
    store.answer_lost = True
    assert apply_change("ld_a", counting_plan("m1"), services).outcome == "duplicate"
    assert [e["type"] for e in recorder.events] == ["Counted"]
    assert recorder.sent == [{"lead_id": "ld_a", "client": "demo"}]
    assert store.leads["ld_a"].outbox == ()


def test_nothing_to_change_publishes_what_an_earlier_change_left(parts: Any) -> None:
    store, recorder, services = parts
    store.leads["ld_a"] = StoredLead({"lead_id": "ld_a"}, 4, (OutboxItem("event", {"type": "Left", "detail": {}}),))
    assert apply_change("ld_a", lambda current: None, services).outcome == "unchanged"
    assert [e["type"] for e in recorder.events] == ["Left"]
    assert store.leads["ld_a"].outbox == ()


def test_a_lead_that_never_stops_changing_gives_up_with_a_conflict(parts: Any) -> None:
    store, _, services = parts
    apply_change("ld_a", counting_plan("m0"), services)

    def another_writer() -> None:
        current = store.leads["ld_a"]
        store.leads["ld_a"] = StoredLead(current.profile, current.version + 1, ())
        store.before_write.append(another_writer)

    store.before_write.append(another_writer)
    with pytest.raises(Conflict):
        apply_change("ld_a", counting_plan("m1"), services)


def test_a_redelivered_message_publishes_what_its_first_delivery_could_not(parts: Any) -> None:
    store, recorder, services = parts
    store.leads["ld_a"] = StoredLead({"lead_id": "ld_a"}, 1, (OutboxItem("event", {"type": "Counted", "detail": {}}),))
    store.markers.add("m1")
    assert apply_change("ld_a", counting_plan("m1"), services).outcome == "duplicate"
    assert [e["type"] for e in recorder.events] == ["Counted"]


def test_a_change_planned_again_counts_only_what_the_writer_before_it_did_not(parts: Any) -> None:
    store, _, services = parts
    created = {"lead_id": "ld_a", "created_at": "2026-11-23T09:00:00Z", "stage": "sales_ready"}
    apply_change("ld_a", lambda _: LeadChange(dict(created)), services)  # type: ignore[arg-type]

    def assign(current: LeadProfile | None) -> LeadChange:
        change = LeadChange({**(current or {}), "stage": "assigned", "owner": "ann"})  # type: ignore[typeddict-item]
        if (current or {}).get("stage") != "assigned":
            change.timeline.append({"type": "stage_changed", "at": "2026-11-23T10:00:00Z", "to": "assigned"})
        return change

    store.before_write.append(lambda: apply_change("ld_a", assign, services))  # another writer assigns it first
    applied = apply_change("ld_a", assign, services)

    assert applied.change is not None
    assert [delta.figure for delta in applied.change.figures] == []  # planned again: assigned was counted before
    assert store.leads["ld_a"].profile["report"]["counted"] == {"captured": "", "assigned": "ann"}

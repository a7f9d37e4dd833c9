"""The one way a lead changes: read, plan, write at the version read, publish.

Every step (an inquiry arriving, a requalification, and routing, follow-up and nurture as
they come) changes a lead the same way, through `apply_change`:

1. read the lead's profile (and the version it is at) by key;
2. let the step's pure rules plan a `LeadChange` from that profile: the new profile, the
   timeline entries, the domain events it implies, the hand-offs to other steps and the
   counters it moves. The rules see the profile only, never what is still to be published;
3. write it in one transaction, only if the lead is still at the version read (else read
   and plan again), together with an idempotency marker when the change has one (so a
   redelivered message changes nothing), the counters, and an outbox of what it publishes;
4. publish the events and hand-offs, then clear the outbox. A crash in between leaves the
   outbox, which the next change of the lead (or the redelivered message) publishes.

The store, bus and queues are ports (Protocols): the AWS implementations are in
`leadflow.aws`; a simulator can fold leads through the same rules with none of them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from leadflow.lead.events import DomainEvent, lead_stage_changed
from leadflow.lead.lifecycle import check_transition
from leadflow.lead.profile import LeadProfile, TimelineEntry
from leadflow.report.figures import FigureDelta, MinutesBetween, new_figures, note_speed_to_owner

# The stages a lead waits in a team's queue in: sales-ready for sales, nurture for a qualification team.
WAITING_STAGES = frozenset({"sales_ready", "nurture"})
MAX_ATTEMPTS = 10  # plans made from a fresh read when another change got in first
REPLAN_PAUSE_S = 0.01  # the longest pause before plan n is n times this


@dataclass(frozen=True)
class Handoff:
    """A message for another step's queue, grouped by lead and deduplicated by `deduplication_id`."""

    queue: str  # the queue's key in the stack definition, like "routing"
    message: dict[str, Any]
    deduplication_id: str


@dataclass(frozen=True)
class CounterDelta:
    """A report figure the change moves, counted in the same transaction (so never twice)."""

    name: str  # like "leads"
    day: str  # yyyy-mm-dd, UTC
    amount: int = 1


@dataclass(frozen=True)
class LedgerEntry:
    """A rep's side of an assignment: written with the lead, only if the rep is still at `version`.

    The rep's open leads become `open_leads`, its count in `team`'s ledger `served` (see
    leadflow.route.assignment). A rep changed since it was read makes the change a Conflict:
    read and plan again, so two assignments can never both take a rep's last free place.
    """

    rep_id: str
    version: int
    team: str
    served: float
    open_leads: int
    assigned_at: str


@dataclass(frozen=True)
class RepRelease:
    """A lead leaves a rep's hands (rejected, reassigned, closed): one open lead fewer for the rep.

    It moves the rep's version too, so an assignment planned from the count before is planned again.
    """

    rep_id: str


@dataclass
class LeadChange:
    """What a step's rules decided for one lead: pure data, written and published by the applier."""

    profile: LeadProfile
    timeline: list[TimelineEntry] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    handoffs: list[Handoff] = field(default_factory=list)
    counters: list[CounterDelta] = field(default_factory=list)
    figures: list[FigureDelta] = field(default_factory=list)  # the report's, counted by the applier (`_kept`)
    ledger: list[LedgerEntry | RepRelease] = field(default_factory=list)  # the reps the change moves
    marker: str | None = None  # an idempotency key: a change with a marker is written once
    # The step that planned it brought the lead's nurture schedule up to its `updated_at` itself (a nurture
    # send's claim or record): LeadServices.keep need not plan it again.
    nurture_scheduled: bool = False

    def move(self, to: str, reason: str, at: str) -> None:
        """Move the lead to stage `to`, on its timeline and the bus (InvalidTransition where the lifecycle forbids)."""
        from_stage = self.profile.get("stage", "new")
        check_transition(from_stage, to)
        self.profile["stage"] = to
        if to not in WAITING_STAGES:
            self.profile.pop("queue", None)  # it waits in no queue any more (a junked lead restored later neither)
        self.timeline.append({"type": "stage_changed", "at": at, "from": from_stage, "to": to, "reason": reason})
        self.events.append(lead_stage_changed(self.profile["lead_id"], from_stage, to, at, reason))


@dataclass(frozen=True)
class OutboxItem:
    """What a written change still has to publish (stored with the profile until published)."""

    kind: Literal["event", "handoff"]
    body: dict[str, Any]

    @classmethod
    def of(cls, change: LeadChange) -> list[OutboxItem]:
        events = [cls("event", {"type": e.type, "detail": e.detail}) for e in change.events]
        handoffs = [
            cls("handoff", {"queue": h.queue, "message": h.message, "deduplication_id": h.deduplication_id})
            for h in change.handoffs
        ]
        return events + handoffs


@dataclass(frozen=True)
class StoredLead:
    profile: LeadProfile
    version: int
    outbox: tuple[OutboxItem, ...] = ()


class Conflict(Exception):
    """The lead changed between read and write: read it again and plan again."""


class AlreadyApplied(Exception):
    """The change's marker is stored: this change was written before (a redelivered message)."""


class LeadStore(Protocol):
    def read(self, lead_id: str) -> StoredLead | None: ...

    def write(self, change: LeadChange, read: StoredLead | None, outbox: list[OutboxItem]) -> int:
        """Write the change if the lead is still as read; the new version. Raises Conflict, AlreadyApplied."""
        ...

    def clear_outbox(self, lead_id: str, version: int) -> bool: ...


class EventPublisher(Protocol):
    def publish(self, source: str, events: list[dict[str, Any]]) -> None: ...


class MessageSender(Protocol):
    def send(self, message: dict[str, Any], *, group_id: str, deduplication_id: str) -> None: ...


@dataclass
class LeadServices:
    """Where a client's leads are stored and what they publish to."""

    client: str
    store: LeadStore
    bus: EventPublisher
    queues: Mapping[str, MessageSender]  # by the queue's key in the definition
    # What every change must keep in step before it is written, whichever step planned it (the lead's nurture
    # schedule: leadflow.nurture.sequences.NurtureKeeper). None: nothing (a client without nurture, a test).
    keep: Callable[[LeadChange], None] | None = None
    # The working minutes between two moments for a team (its calendar), for the report's speed-to-owner.
    # None: not counted (a test).
    working_minutes: MinutesBetween | None = None


Outcome = Literal["changed", "unchanged", "duplicate"]


@dataclass(frozen=True)
class Applied:
    outcome: Outcome
    change: LeadChange | None
    before: LeadProfile | None
    # The lead as this left it, when that is known without reading it again (nothing left to publish);
    # `apply_changes(known=...)` plans a next change from it and writes at its version.
    after: StoredLead | None = None


Planner = Callable[[LeadProfile | None], LeadChange | None]


def apply_change(lead_id: str, plan: Planner, services: LeadServices) -> Applied:
    """Read the lead, plan with `plan` (None: nothing to change), write, publish. See the module doc."""
    for attempt in range(MAX_ATTEMPTS):
        stored = services.store.read(lead_id)
        before = stored.profile if stored else None
        change = plan(dict(before) if before else None)  # type: ignore[arg-type]
        if change is not None:
            _kept(before, change, services)
        if change is None:
            if stored is not None:
                publish(stored.profile["lead_id"], stored.version, list(stored.outbox), services)
            return Applied("unchanged", None, before, stored if stored and not stored.outbox else None)
        outbox = [*(stored.outbox if stored else ()), *OutboxItem.of(change)]
        try:
            version = services.store.write(change, stored, outbox)
        except Conflict:
            # Another writer got in first (often one routing to the same rep): read and plan again after a short,
            # random pause, so that the writers who met here do not meet again at once.
            time.sleep(random.uniform(0, REPLAN_PAUSE_S * (attempt + 1)))  # noqa: S311 - jitter, not secrecy
            continue
        except AlreadyApplied:
            # Written before: by an earlier delivery of the message, or by this very write when its
            # answer was lost and it was sent again. Publish what the lead still holds to publish.
            written = services.store.read(lead_id)
            if written is not None:
                publish(lead_id, written.version, list(written.outbox), services)
            return Applied("duplicate", None, before)
        publish(lead_id, version, outbox, services)
        return Applied("changed", change, before, None if outbox else StoredLead(change.profile, version))
    raise Conflict(lead_id)


def _kept(before: LeadProfile | None, change: LeadChange, services: LeadServices) -> None:
    """What every change keeps in step, whichever step planned it: the nurture schedule, the report's figures."""
    if services.keep is not None:
        services.keep(change)
    if services.working_minutes is not None:
        note_speed_to_owner(before, change.profile, services.working_minutes)
    change.figures = new_figures(before, change.profile, change.timeline)  # type: ignore[arg-type]


@runtime_checkable
class BatchLeadStore(LeadStore, Protocol):
    """A store that reads and writes many leads per request (leadflow.aws.leads_table.LeadsTable)."""

    def read_many(self, lead_ids: Sequence[str]) -> dict[str, StoredLead]: ...

    def write_many(self, writes: Sequence[tuple[LeadChange, StoredLead]]) -> list[int]:
        """Write each change at the version read, all or nothing per transaction; the places not written."""
        ...


def apply_changes(
    plans: Mapping[str, Planner], services: LeadServices, known: Mapping[str, StoredLead] | None = None
) -> dict[str, Applied]:
    """`apply_change` for many leads at once, by lead id: one read and one write for them all when nothing conflicts.

    The leads are read together and planned one by one, as `apply_change` plans. The changes that
    are plain (no marker, no rep's ledger, nothing to publish, no report figure, from a lead with
    nothing left to publish) are written together, each at the version read. Every other lead,
    and every lead of a transaction that found one of its leads moved on, goes through
    `apply_change` alone: read
    again, planned again, exactly as if it had been called for it. So a batch never changes what
    is written, only how many requests it takes. A lead in `known` (as an earlier `Applied.after`
    left it) is not read again: planned from it and written at its version, which conflicts like
    any other if the lead has moved on since.
    """
    store, known = services.store, known or {}
    if not isinstance(store, BatchLeadStore) or (len(plans) < 2 and not known.keys() & plans.keys()):
        return {lead_id: apply_change(lead_id, plan, services) for lead_id, plan in plans.items()}
    applied: dict[str, Applied] = {}
    alone: list[str] = []
    plain: list[tuple[str, LeadChange, StoredLead]] = []
    stored_leads = {lead_id: known[lead_id] for lead_id in plans if lead_id in known}
    if unread := [lead_id for lead_id in plans if lead_id not in known]:
        stored_leads |= store.read_many(unread)
    for lead_id, plan in plans.items():
        stored = stored_leads.get(lead_id)
        if stored is None or stored.outbox:
            alone.append(lead_id)
            continue
        change = plan(dict(stored.profile))  # type: ignore[arg-type]
        if change is not None:
            _kept(stored.profile, change, services)
        if change is None:
            applied[lead_id] = Applied("unchanged", None, stored.profile, stored)
        elif change.marker is not None or change.ledger or change.events or change.handoffs or change.figures:
            alone.append(lead_id)
        else:
            plain.append((lead_id, change, stored))
    not_written = set(store.write_many([(change, stored) for _, change, stored in plain]))
    for place, (lead_id, change, stored) in enumerate(plain):
        if place in not_written:
            alone.append(lead_id)
        else:
            written = StoredLead(change.profile, stored.version + 1)
            applied[lead_id] = Applied("changed", change, stored.profile, written)
    for lead_id in alone:
        applied[lead_id] = apply_change(lead_id, plans[lead_id], services)
    return applied


def publish(lead_id: str, version: int, outbox: list[OutboxItem], services: LeadServices) -> None:
    """Publish a written change's events and hand-offs, then clear its outbox (at least once)."""
    if not outbox:
        return
    events = [
        {"type": item.body["type"], "detail": {**item.body["detail"], "client": services.client}}
        for item in outbox
        if item.kind == "event"
    ]
    if events:
        services.bus.publish(f"leadflow.{services.client}", events)  # definition.event_source
    for item in outbox:
        if item.kind == "handoff":
            services.queues[item.body["queue"]].send(
                {**item.body["message"], "client": services.client},
                group_id=lead_id,
                deduplication_id=item.body["deduplication_id"],
            )
    services.store.clear_outbox(lead_id, version)

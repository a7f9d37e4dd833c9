"""Which nurture sequences a lead is in, and the next email it is due (pure: the sweep writes what it plans).

A lead enters each sequence of the client file whose stages hold its stage, whose score band
holds its score and whose conditions all hold (on the facts routing rules test). In a
sequence it gets the steps in order, each `after_days` after the one before (the first after
it entered). It leaves a sequence when its stage is no longer one the sequence takes (it
became sales-ready, was assigned), after the last step or `max_steps`, when the sequence is
no longer in the client file, and, from every sequence at once, when it is suppressed
(unsubscribed, bounced, complained).

Of the steps due across a lead's sequences, the earliest goes first, at the first moment
inside the client's send window in the lead's time zone at which the frequency cap (across
every sequence) has room (leadflow.nurture.timing): a step held back waits, it is never
skipped. What a lead was sent is kept on its profile (`nurture`), so planning needs nothing
but the profile, the client file and the time.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypedDict

from leadflow.config import ClientConfig, NurtureSequence, NurtureSettings
from leadflow.lead.change import Handoff, LeadChange
from leadflow.lead.profile import LeadProfile, utc_stamp
from leadflow.nurture.timing import FrequencyCap, SendWindow, lead_zone, send_time
from leadflow.qualify.scoring import rule_matches
from leadflow.route.facts import routing_facts

NURTURE_QUEUE = "nurture"  # the queue's key in the stack definition: acknowledgements and fanned-out steps


class SequenceState(TypedDict, total=False):
    entered_at: str
    steps_sent: int
    last_sent_at: str
    ended: str  # why it left: finished, stage <x>, removed, unsubscribed, bounced, complained
    ended_at: str


class Sending(TypedDict):
    """A step a sweep claimed and is sending: no other sweep sends it until `until` (then it is due again).

    `until` is on the wall clock, not the tick's: a claim is a lease on the sender's own time, and
    must outlast its invocation however fast the schedules' clock runs (`leadflow local --clock`).
    """

    sequence: str
    step: int
    until: str


class NurtureState(TypedDict, total=False):
    """A lead's nurture, on its profile: its sequences, its recent sends (for the cap), a suppression."""

    sequences: dict[str, SequenceState]
    sent_at: list[str]  # every nurture send of the lead within the cap's window, any sequence, oldest first
    suppressed: dict[str, str]  # reason (unsubscribed, bounced, complained) and at: no nurture email again
    sending: Sending  # the step in flight, claimed by one sweep
    acknowledged: list[str]  # the inquiries (ids, the latest few) whose acknowledgement went out


@dataclass(frozen=True)
class NextStep:
    sequence: str
    step: int  # the step's place in its sequence, from 0
    due_at: datetime  # by its delay alone
    send_at: datetime  # inside the lead's send window, with room under the cap (never before due_at)


@dataclass(frozen=True)
class NurturePlan:
    state: NurtureState  # the lead's nurture with the sequences it entered and left now
    next: NextStep | None  # the next email, or None: nothing more to send


def plan_nurture(profile: LeadProfile, config: ClientConfig, now: datetime) -> NurturePlan:
    """The lead's nurture at `now`: sequences entered and left, and its next email (pure)."""
    settings = config.nurture
    state: NurtureState = copy.deepcopy(profile.get("nurture") or {})  # type: ignore[assignment]
    sequences = state.setdefault("sequences", {})
    stamp = utc_stamp(now)
    configured = {sequence.name: sequence for sequence in settings.sequences}
    suppressed = (state.get("suppressed") or {}).get("reason")
    facts = routing_facts(profile, config.qualify.verification.default_phone_region)
    for name, progress in sequences.items():
        if progress.get("ended"):
            continue
        sequence = configured.get(name)
        why = suppressed or _why_it_leaves(sequence, progress, profile)
        if why:
            progress.update({"ended": why, "ended_at": stamp})
    if suppressed:
        return NurturePlan(state, None)
    for name, sequence in configured.items():
        if name not in sequences and enters(sequence, profile, facts):
            sequences[name] = {"entered_at": stamp, "steps_sent": 0}
    due = [
        _due_step(configured[name], name, progress)
        for name, progress in sequences.items()
        if not progress.get("ended") and name in configured
    ]
    if not due:
        return NurturePlan(state, None)
    sequence_name, step, due_at = min(due, key=lambda d: (d[2], d[0]))
    zone = lead_zone(profile, settings.default_timezone, config.qualify.verification.default_phone_region, facts)
    sent = [datetime.fromisoformat(at) for at in state.get("sent_at", [])]
    at = send_time(max(due_at, now), zone, send_window(settings), sent, frequency_cap(settings))
    return NurturePlan(state, NextStep(sequence_name, step, due_at, at))


def schedule_nurture(
    profile: LeadProfile, config: ClientConfig, now: datetime, wall: datetime | None = None
) -> NextStep | None:
    """Bring the profile's nurture up to `now` in place: its state, and `nurture_next_at` for the due index.

    Run on every change of a lead, so whatever changed it (an inquiry, a rep's rejection, a
    loss, a suppression) enters and leaves sequences at once and moves its next email. A step a
    sweep has claimed keeps the lead out of the due index until the claim runs out: the claim is
    held on the wall clock (`wall`, else `wall_clock()`), and the index, on `now`'s clock, sees
    the lead again when as much of `now`'s time has passed. Returns the next step (None: nothing
    more to send).
    """
    had = profile.get("nurture")
    plan = plan_nurture(profile, config, now)
    state = plan.state
    sending = state.get("sending")
    held = (datetime.fromisoformat(sending["until"]) - (wall or wall_clock())) if sending else timedelta(0)
    if plan.next is not None and held > timedelta(0):
        next_at: str | None = utc_stamp(now + held)
    else:
        state.pop("sending", None)
        next_at = utc_stamp(plan.next.send_at) if plan.next else None
    if had or state.get("sequences") or state.get("suppressed"):
        profile["nurture"] = dict(state)
    if next_at:
        profile["nurture_next_at"] = next_at
    else:
        profile.pop("nurture_next_at", None)
    return plan.next


class NurtureKeeper:
    """Keeps every change's nurture in step (LeadServices.keep): the schedule, and the acknowledgement promised.

    The time is the change's own (`updated_at`, which every step sets to the moment it planned
    for), so a sweep on a faster clock and a rep's click plan alike. A change that stores an
    inquiry whose type the client promises an email for (`[nurture.acknowledgements]`) hands the
    lead to the nurture queue, once per inquiry, to be sent within a minute.
    """

    def __init__(self, config: ClientConfig):
        self.config = config
        self.stages = frozenset(stage for sequence in config.nurture.sequences for stage in sequence.stages)

    def __call__(self, change: LeadChange) -> None:
        profile = change.profile
        stamp = profile.get("updated_at")
        now = datetime.fromisoformat(stamp) if stamp else datetime.now(UTC)
        # Planned already when the nurture sender made the change; else only a lead a sequence can take needs it.
        if not change.nurture_scheduled and (profile.get("nurture") or profile.get("stage") in self.stages):
            schedule_nurture(profile, self.config, now)
        promised = self.config.nurture.acknowledgements
        suppressed = ((profile.get("nurture") or {}).get("suppressed") or {}).get("reason")
        for entry in change.timeline:
            inquiry_type = (entry.get("fields") or {}).get("inquiry_type")
            if entry.get("type") == "inquiry" and inquiry_type in promised and not suppressed:
                lead_id, inquiry_id = profile["lead_id"], entry["inquiry_id"]
                message = {"kind": "acknowledge", "lead_id": lead_id, "inquiry_id": inquiry_id,
                           "inquiry_type": inquiry_type}  # fmt: skip
                change.handoffs.append(Handoff(NURTURE_QUEUE, message, deduplication_id=f"{inquiry_id}-ack"))


def wall_clock() -> datetime:
    """What a claim's lease is measured on (see Sending): the one real clock, whatever the ticks say."""
    return datetime.now(UTC)


def nurture_keeper(config: ClientConfig) -> NurtureKeeper | None:
    """What keeps a client's changes' nurture in step; None for a client with no sequence and no acknowledgement."""
    return NurtureKeeper(config) if config.nurture.sequences or config.nurture.acknowledgements else None


def enters(sequence: NurtureSequence, profile: LeadProfile, facts: dict[str, Any]) -> bool:
    """Whether a lead not yet in the sequence enters it: its stage, its score band, every condition."""
    if profile.get("stage") not in sequence.stages:
        return False
    if sequence.score_between is not None:
        score = (profile.get("score") or {}).get("total")
        low, high = sequence.score_between
        if score is None or not low <= score <= high:
            return False
    return all(rule_matches(condition, facts) for condition in sequence.when)  # type: ignore[arg-type]


def record_sent(state: NurtureState, step: NextStep, at: datetime, settings: NurtureSettings) -> NurtureState:
    """The lead's nurture once `step` went out at `at`: the step counted, the send kept for the cap."""
    updated: NurtureState = copy.deepcopy(state)
    updated.pop("sending", None)
    progress = updated.setdefault("sequences", {})[step.sequence]
    progress["steps_sent"] = step.step + 1
    progress["last_sent_at"] = utc_stamp(at)
    horizon = at - timedelta(days=settings.frequency_cap.days)
    kept = [stamp for stamp in updated.get("sent_at", []) if datetime.fromisoformat(stamp) > horizon]
    updated["sent_at"] = [*kept, utc_stamp(at)]
    return updated


def send_window(settings: NurtureSettings) -> SendWindow:
    start, end = settings.send_window.hours.split("-")
    return SendWindow(time.fromisoformat(start), time.fromisoformat(end), tuple(settings.send_window.weekdays))


def frequency_cap(settings: NurtureSettings) -> FrequencyCap:
    return FrequencyCap(settings.frequency_cap.most, settings.frequency_cap.days)


def _why_it_leaves(sequence: NurtureSequence | None, progress: SequenceState, profile: LeadProfile) -> str | None:
    if sequence is None:
        return "removed"  # the sequence left the client file
    if profile.get("stage") not in sequence.stages:
        return f"stage {profile.get('stage')}"
    sent = int(progress.get("steps_sent", 0))
    if sent >= len(sequence.steps) or (sequence.max_steps is not None and sent >= sequence.max_steps):
        return "finished"
    return None


def _due_step(sequence: NurtureSequence, name: str, progress: SequenceState) -> tuple[str, int, datetime]:
    step = int(progress.get("steps_sent", 0))
    since = datetime.fromisoformat(progress.get("last_sent_at") or progress["entered_at"])
    return name, step, since + timedelta(days=sequence.steps[step].after_days)

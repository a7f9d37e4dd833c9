"""Sending nurture emails: a due step, claimed so it goes out once, and the acknowledgement an inquiry promised.

A due step is sent in three moves, each through the applier:
1. **claim**: plan the lead's nurture at `now` from a fresh read; if its next step is due, write
   the claim (`nurture.sending`, until `CLAIM_MINUTES` from now on the wall clock: a lease on the
   sender's own time, however fast a local clock's ticks come) at the version read. Of two
   sweeps that found the same step, one writes the claim; the other's write conflicts, it plans
   again from the lead as written and finds the step claimed: it sends nothing.
2. **send** the step through SES (throttling is retried with backoff by the mailer). A batch's
   emails go out together, in as few SendBulkEmail requests as SES takes (`MailPort.send_bulk`):
   one request's processor time and one wait for SES serve up to fifty emails (the pacer still
   holds the rate: at most a second's worth of it at once). Where the rate leaves room, a sweep
   has several batches in flight (`batches_in_flight`), so their waits for DynamoDB and SES
   overlap instead of adding up to the run's function time.
3. **record** it sent: the step counted, the send kept for the frequency cap, the next step
   scheduled. If the send failed, the claim is given back instead, so the step stays due: it is
   never silently dropped. A crash between sending and recording leaves the claim, which runs
   out and makes the step due again: at least once, never lost.

Whatever the claim finds (the lead left its sequences, the window is closed, the cap is full)
it writes too, so the due index moves on with the lead and a sweep never reads it again early.

An acknowledgement (`acknowledge`) is transactional: neither the send window nor the frequency
cap holds it, but suppression does. It comes from the nurture queue, whose messages are grouped
by lead, so one lead's acknowledgements are sent one at a time; each is recorded on the lead
(`nurture.acknowledged`), so a redelivered message sends nothing.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Literal, Protocol

from leadflow.aws.retry import aws_error_code
from leadflow.config import ClientConfig, EmailTemplates
from leadflow.lead.change import CounterDelta, LeadChange, LeadServices, StoredLead, apply_change, apply_changes
from leadflow.lead.profile import LeadProfile, utc_stamp
from leadflow.links import LinkSigner
from leadflow.nurture.email_links import click_url, mailto_subject, unsubscribe_url
from leadflow.nurture.sequences import NextStep, NurtureState, plan_nurture, record_sent, schedule_nurture, wall_clock
from leadflow.nurture.suppression import is_suppressed, suppress_lead
from leadflow.nurture.templates import EmailTemplate, Outgoing, Rendered
from leadflow.route.notice import OutcomeUnknown, Undeliverable

logger = logging.getLogger(__name__)

CONCURRENT_SENDERS = 2  # the nurture queue's consumers at once (its trigger's maximum concurrency)
CLAIM_MINUTES = 15  # a claimed step no sweep sends again, for longer than one send takes
SWEEP_BATCH = 50  # due steps a sweep claims together (one read, one write), then sends, then records together
BATCHES_IN_FLIGHT = 4  # a sweep's batches at once, at most: their waits for DynamoDB and SES overlap
OVERLAP_SECONDS = 5.0  # the most pacing time of the batches a sweep has in flight (see batches_in_flight)
KEEP_ACKNOWLEDGED = 20  # the latest inquiries acknowledged, kept on the lead against redelivery

StepOutcome = Literal["sent", "not_due", "ended", "claimed_elsewhere"]  # a failed send: SentSteps.failures


class MailPort(Protocol):
    def send_email(self, to: str, rendered: Rendered, headers: dict[str, str], tags: dict[str, str]) -> str:
        """Send it; SES's message id. Raises `Undeliverable` for an address no retry can send to."""
        ...

    def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
        """Send them together; for each, SES's message id or why it was not sent (`Undeliverable`: no retry can)."""
        ...


class LinkPort(Protocol):
    """Turns a lead's links into signed ones (leadflow.nurture.email_links), at the time of sending."""

    def click(self, lead_id: str, url: str, sequence: str, step: int | None) -> str: ...

    def unsubscribe(self, lead_id: str) -> str: ...

    def unsubscribe_mailto(self, lead_id: str) -> str | None: ...


def compose(
    profile: LeadProfile, template: EmailTemplate, links: LinkPort, kind: str, step: NextStep | None = None
) -> Outgoing:
    """The email for this lead: rendered, its links signed, the one-click unsubscribe headers (RFC 8058)."""
    lead_id = profile["lead_id"]
    sequence, index = (step.sequence, step.step) if step else ("", None)
    unsubscribe = links.unsubscribe(lead_id)
    rendered = template.render(profile, lambda url: links.click(lead_id, url, sequence, index), unsubscribe)
    mailto = links.unsubscribe_mailto(lead_id)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>, <{mailto}>" if mailto else f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return Outgoing(profile["email"], rendered, headers, {"lead_id": lead_id, "kind": kind})


def step_template(config: ClientConfig, step: NextStep) -> EmailTemplate:
    sequence = next(s for s in config.nurture.sequences if s.name == step.sequence)
    source = sequence.steps[step.step]
    return EmailTemplate(f"sequence {step.sequence}, step {step.step + 1}", source.subject, source.html, source.text)


@dataclass
class SentSteps:
    """What became of each lead's due step: its outcome, or the error its send failed with (given back)."""

    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    failures: dict[str, Exception] = field(default_factory=dict)
    # Sent, but the record could not be written (DynamoDB failing on): the claim runs out and the step goes again.
    unrecorded: dict[str, Exception] = field(default_factory=dict)


def send_due_steps(
    lead_ids: Sequence[str],
    services: LeadServices,
    config: ClientConfig,
    mail: MailPort,
    links: LinkPort,
    now: datetime,
    pacer: Pacer | None = None,
) -> SentSteps:
    """Claim, send and record each lead's due step (see the module doc): the claims written together, then the
    sends, then the records together.

    `now` is the tick: what is due, and when it counts as sent. A claim is a lease on the wall
    clock (`wall_clock`), so it outlasts the sending however fast the ticks come. `apply_changes`
    only saves requests (one read and one write for the claims of all the leads, the same for the
    records), and a lead whose write conflicts is claimed or recorded alone. The emails go to the mailer
    together (`MailPort.send_bulk`), at most a second's worth of `pacer`'s rate at a time. A
    failed send is given back and kept in `failures`; it holds back no other lead.
    """
    found: dict[str, StepOutcome] = {}
    claimed: dict[str, NextStep] = {}

    def claim(lead_id: str) -> Callable[[LeadProfile | None], LeadChange | None]:
        def plan(current: LeadProfile | None) -> LeadChange | None:
            claimed.pop(lead_id, None)
            change, found[lead_id], step = _claim_step(current, config, now, wall_clock())
            if step is not None:
                claimed[lead_id] = step
            return change

        return plan

    done = SentSteps()
    unique = list(dict.fromkeys(lead_ids))
    claims = apply_changes({lead_id: claim(lead_id) for lead_id in unique}, services)
    to_send: list[tuple[str, NextStep, LeadProfile]] = []
    for lead_id in unique:
        step, applied = claimed.get(lead_id), claims[lead_id]
        if step is None or applied.change is None:
            done.outcomes[lead_id] = found.get(lead_id) or "claimed_elsewhere"
        else:
            to_send.append((lead_id, step, applied.change.profile))

    sent = _send_all([(step, profile) for _, step, profile in to_send], config, mail, links, pacer)
    outgoing: dict[str, tuple[NextStep, Outgoing]] = {}
    refused: dict[str, tuple[NextStep, Exception]] = {}
    for (lead_id, step, _), result in zip(to_send, sent, strict=True):
        if isinstance(result, Exception):
            refused[lead_id] = (step, result)
        else:
            outgoing[lead_id] = (step, result)
    records = {
        lead_id: partial(_recorded, step=step, outgoing=email, config=config, at=now)
        for lead_id, (step, email) in outgoing.items()
    }
    known = {lead_id: after for lead_id in records if (after := claims[lead_id].after) is not None}
    _record(records, services, known, done)  # first: they were sent
    done.outcomes.update(dict.fromkeys(outgoing, "sent"))
    for lead_id, (step, error) in refused.items():
        if isinstance(error, OutcomeUnknown):  # it may have gone out: the claim stands until it runs out
            done.failures[lead_id] = error
            continue
        if isinstance(error, Undeliverable):  # no sweep could ever send it: the address is out, its sequences end
            done.outcomes[lead_id] = "ended"
            settle: Callable[[], object] = partial(undeliverable, lead_id, error, services, now)
            unsettled = "address not suppressed"
        else:  # the step is due again at once
            done.failures[lead_id] = error
            until = claims[lead_id].change.profile["nurture"]["sending"]["until"]  # type: ignore[union-attr]
            settle = partial(apply_change, lead_id, partial(_give_back, step=step, until=until, config=config, now=now),
                             services)  # fmt: skip
            unsettled = "nurture claim not given back; it runs out"
        try:
            settle()
        except Exception as exc:  # the claim then runs out, and a sweep after CLAIM_MINUTES finds the step again
            logger.error(unsettled, extra={"lead_id": lead_id, "error": error_code(exc)})
    return done


def _record(
    records: Mapping[str, Callable[[LeadProfile | None], LeadChange | None]],
    services: LeadServices,
    known: Mapping[str, StoredLead],
    done: SentSteps,
) -> None:
    """Record the sent steps together, from the claims as written (no second read); if that write fails, each
    alone (a record is idempotent: one written before is not written again), and keep what still fails.

    One lead failing alone as well says DynamoDB is failing: the rest are not tried (each try could take
    botocore's own retries and timeouts, past the run's end), they are kept as unrecorded at once.
    """
    try:
        apply_changes(records, services, known)
        return
    except Exception as exc:  # the emails went out: try each record before giving up on any
        logger.warning("nurture records not written together; each alone", extra={"error": error_code(exc)})
    failed: Exception | None = None
    for lead_id, record in records.items():
        if failed is None:
            try:
                apply_change(lead_id, record, services)
                continue
            except Exception as exc:
                failed = exc
        done.unrecorded[lead_id] = failed
        logger.error("nurture step sent but not recorded; it goes again once its claim runs out",
                     extra={"lead_id": lead_id, "error": error_code(failed)})  # fmt: skip


def _send_all(
    steps: list[tuple[NextStep, LeadProfile]],
    config: ClientConfig,
    mail: MailPort,
    links: LinkPort,
    pacer: Pacer | None,
) -> list[Outgoing | Exception]:
    """Each step's email composed and sent in bulk: the email that went out, or why it did not."""
    done: list[Outgoing | Exception] = []
    composed: list[tuple[int, Outgoing]] = []
    for step, profile in steps:
        try:
            email = compose(profile, step_template(config, step), links, "nurture", step)
        except Exception as exc:  # a template that does not render for this lead: given back, as a refused send
            done.append(exc)
        else:
            composed.append((len(done), email))
            done.append(email)
    at_once = pacer.most_at_once if pacer is not None else max(len(composed), 1)
    for start in range(0, len(composed), at_once):
        chunk = composed[start : start + at_once]
        if pacer is not None:
            pacer.wait(len(chunk))
        try:
            answers: list[str | Exception] = mail.send_bulk([email for _, email in chunk])
        except Exception as exc:  # the mailer answers for each email; an error of its own: all of them given back
            answers = [exc] * len(chunk)
        for (index, _), answer in zip(chunk, answers, strict=True):
            if isinstance(answer, Exception):
                done[index] = answer
    return done


def _claim_step(
    current: LeadProfile | None, config: ClientConfig, now: datetime, leased: datetime
) -> tuple[LeadChange | None, StepOutcome, NextStep | None]:
    """The claim of the lead's due step at `now` (a lease until `leased` + CLAIM_MINUTES), or why there is none.

    Whatever else it finds (the lead left its sequences, the window is closed, the cap is full)
    is written too when it moves the schedule, so the due index moves on with the lead.
    """
    if current is None:
        return None, "ended", None
    sending = (current.get("nurture") or {}).get("sending")
    if sending and sending["until"] > utc_stamp(leased):
        return None, "claimed_elsewhere", None
    plan = plan_nurture(current, config, now)
    profile = copy.copy(current)  # only its top-level keys are set below: the nurture state is the plan's own copy
    profile["updated_at"] = utc_stamp(now)
    step = plan.next
    if step is None or step.send_at > now:
        schedule_nurture(profile, config, now, leased)
        moved = None if _same_schedule(current, profile) else LeadChange(profile, nurture_scheduled=True)
        return moved, "ended" if step is None else "not_due", None
    state: NurtureState = plan.state
    state["sending"] = {"sequence": step.sequence, "step": step.step, "until": utc_stamp(leased + _claim())}
    profile["nurture"] = dict(state)
    profile["nurture_next_at"] = utc_stamp(now + _claim())  # the due index runs on the tick's clock
    return LeadChange(profile, nurture_scheduled=True), "sent", step


def _claim() -> timedelta:
    return timedelta(minutes=CLAIM_MINUTES)


def _same_schedule(before: LeadProfile, after: LeadProfile) -> bool:
    return before.get("nurture") == after.get("nurture") and before.get("nurture_next_at") == after.get(
        "nurture_next_at"
    )


def _recorded(
    current: LeadProfile | None, step: NextStep, outgoing: Outgoing, config: ClientConfig, at: datetime
) -> LeadChange | None:
    """The lead once `step` went out: counted, kept for the cap, the next step scheduled."""
    if current is None:
        return None
    state: NurtureState = current.get("nurture") or {}  # type: ignore[assignment]
    progress = (state.get("sequences") or {}).get(step.sequence)
    if progress is None or int(progress.get("steps_sent", 0)) > step.step:
        return None  # recorded before (the answer to an earlier write was lost)
    profile = copy.copy(current)  # only its top-level keys are set below: record_sent copies the state it changes
    profile["nurture"] = dict(record_sent(state, step, at, config.nurture))
    stamp = utc_stamp(at)
    profile["updated_at"] = stamp
    schedule_nurture(profile, config, at)
    change = LeadChange(profile, nurture_scheduled=True)
    subject = outgoing.rendered.subject
    change.timeline.append(
        {"type": "nurture_sent", "at": stamp, "reason": f"sequence {step.sequence}, step {step.step + 1}: {subject}"}
    )
    change.counters.append(CounterDelta("nurture_sent", stamp[:10]))
    return change


def _give_back(
    current: LeadProfile | None, step: NextStep, until: str, config: ClientConfig, now: datetime
) -> LeadChange | None:
    """The send failed: this sweep's claim (the one held `until`) is given back, and the step is due again at once.

    Only its own: had its claim run out and another sweep claimed the step since, that claim stays.
    """
    if current is None:
        return None
    sending = (current.get("nurture") or {}).get("sending")
    if not sending or (sending["sequence"], sending["step"], sending["until"]) != (step.sequence, step.step, until):
        return None
    profile = copy.copy(current)  # only its top-level keys are set below: the nurture state is copied
    nurture = dict(profile.get("nurture") or {})
    nurture.pop("sending", None)
    profile["nurture"] = nurture
    profile["updated_at"] = utc_stamp(now)
    schedule_nurture(profile, config, now)
    return LeadChange(profile)


def acknowledge(
    lead_id: str,
    inquiry_id: str,
    inquiry_type: str,
    services: LeadServices,
    config: ClientConfig,
    mail: MailPort,
    links: LinkPort,
    now: datetime,
) -> Literal["sent", "suppressed", "sent_before", "not_promised", "no_lead"]:
    """Send the email an inquiry's type promises (a guide, a price list), unless the address is suppressed."""
    source = config.nurture.acknowledgements.get(inquiry_type)
    if source is None:
        return "not_promised"  # the client file no longer promises one for this type
    stored = services.store.read(lead_id)
    if stored is None:
        return "no_lead"
    profile = stored.profile
    if is_suppressed(profile):
        return "suppressed"
    if inquiry_id in (profile.get("nurture") or {}).get("acknowledged", []):
        return "sent_before"
    template = acknowledgement_template(inquiry_type, source)
    outgoing = compose(profile, template, links, "acknowledgement")
    try:
        mail.send_email(outgoing.to, outgoing.rendered, outgoing.headers, outgoing.tags)
    except Undeliverable as error:  # a redelivery would be refused alike
        undeliverable(lead_id, error, services, now)
        return "suppressed"
    apply_change(lead_id, lambda current: _acknowledged(current, inquiry_id, outgoing, now), services)
    return "sent"


def undeliverable(lead_id: str, error: Undeliverable, services: LeadServices, now: datetime) -> None:
    """The mailer refused the lead's address before sending: suppressed, so nothing is tried again at every sweep."""
    logger.warning("nurture address undeliverable; suppressed", extra={"lead_id": lead_id, "error": str(error)})
    suppress_lead(lead_id, "undeliverable", services, now, detail=str(error))


def acknowledgement_template(inquiry_type: str, source: EmailTemplates) -> EmailTemplate:
    return EmailTemplate(f"acknowledgement {inquiry_type}", source.subject, source.html, source.text)


def _acknowledged(current: LeadProfile | None, inquiry_id: str, outgoing: Outgoing, now: datetime) -> LeadChange | None:
    if current is None:
        return None
    nurture = dict(current.get("nurture") or {})
    done = list(nurture.get("acknowledged", []))
    if inquiry_id in done:
        return None
    profile = copy.deepcopy(current)
    nurture["acknowledged"] = [*done, inquiry_id][-KEEP_ACKNOWLEDGED:]
    profile["nurture"] = nurture
    stamp = utc_stamp(now)
    profile["updated_at"] = stamp
    change = LeadChange(profile)
    subject = outgoing.rendered.subject
    change.timeline.append({"type": "acknowledged", "at": stamp, "reason": f"inquiry {inquiry_id}: {subject}"})
    change.counters.append(CounterDelta("acknowledgement_sent", stamp[:10]))
    return change


class SignedLinks:
    """The links of emails sent at `now`, signed with the stack's link key (LinkPort)."""

    def __init__(self, signer: LinkSigner, base_url: str, mailbox: str | None, now: datetime):
        self.signer, self.base_url, self.mailbox, self.now = signer, base_url, mailbox, now

    def click(self, lead_id: str, url: str, sequence: str, step: int | None) -> str:
        return click_url(self.signer, self.base_url, lead_id, url, self.now, sequence, step)

    def unsubscribe(self, lead_id: str) -> str:
        return unsubscribe_url(self.signer, self.base_url, lead_id, self.now)

    def unsubscribe_mailto(self, lead_id: str) -> str | None:
        """The mailto of List-Unsubscribe: the stack's unsubscribe mailbox, the link's token in the subject
        (what leadflow.nurture.unsubscribe_mail reads when SES receives it); None when the stack has no mailbox."""
        if self.mailbox is None:
            return None
        return f"mailto:{self.mailbox}?subject={mailto_subject(self.unsubscribe(lead_id).rsplit('/', 1)[-1])}"


class Pacer:
    """Keeps sends under a rate: `wait(n)` returns when n emails may go out together, and holds the
    next wait back n/rate seconds after it.

    Safe from many threads: each wait takes the next free moment under the lock, then sleeps
    until it outside the lock.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.per_second = per_second
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None
        self._lock = threading.Lock()

    @property
    def most_at_once(self) -> int:
        """The most emails sent together: a second's worth of the rate (SES's own limit is per second)."""
        return max(1, int(self.per_second))

    def wait(self, count: int = 1) -> None:
        """Wait for the moment to send `count` emails together; the next waits `count` intervals after it."""
        with self._lock:
            now = self.clock()
            at = now if self.next_at is None else max(now, self.next_at)
            self.next_at = at + self.interval * count
        if at > now:
            self.sleep(at - now)


def rate_share(per_second: float) -> float:
    """Each sender's part of the client's send rate: the sweep and every queue consumer may send at once."""
    return per_second / (CONCURRENT_SENDERS + 1)


def batches_in_flight(batch_seconds: float) -> int:
    """How many batches a run sends at once: as many as the rate lets go out within OVERLAP_SECONDS.

    A batch mostly waits (for DynamoDB's read and writes, for SES's answer), and batches in flight
    together overlap their waits. At a low rate a batch's time is the pacer's, which overlapping
    cannot shorten: one at a time.
    """
    return max(1, min(BATCHES_IN_FLIGHT, int(OVERLAP_SECONDS / batch_seconds))) if batch_seconds > 0 else 1


def sweep_nurture(
    due: Iterable[str],
    send_batch: Callable[[list[str]], SentSteps],
    fan_out: Callable[[list[str]], None],
    inline_most: int,
    give_up_at: float | None = None,
    batch_seconds: float = 0.0,
    in_flight: int = 1,
) -> dict[str, int]:
    """Send what is due, or hand it to the nurture queue when there is more than one run should send.

    `inline_most` is what the run sends itself at its share of the rate within its time; beyond
    that every due lead goes to the queue (in batches), whose consumers send at their share. The
    run sends SWEEP_BATCH leads at a time (`send_batch`, which holds the rate: see
    `send_due_steps`), `in_flight` batches at once. A run whose next batch would not be sent by
    `give_up_at` (a batch takes `batch_seconds` at the rate, behind the others in flight) hands
    the rest to the queue too: nothing due waits for luck.
    """
    ids = list(due)
    done = {"due": len(ids), "sent": 0, "fanned_out": 0, "not_sent": 0, "failed": 0, "unrecorded": 0}
    if len(ids) > inline_most:
        fan_out(ids)
        done["fanned_out"] = len(ids)
        return done
    batches = [ids[start : start + SWEEP_BATCH] for start in range(0, len(ids), SWEEP_BATCH)]
    in_flight = max(in_flight, 1)
    with ThreadPoolExecutor(in_flight, thread_name_prefix="nurture-sweep") as pool:
        running: dict[Future[SentSteps], list[str]] = {}
        for number, batch in enumerate(batches):
            if len(running) >= in_flight:
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    _tally(done, running.pop(future), future)
            if give_up_at is not None and time.monotonic() + batch_seconds * in_flight > give_up_at:
                rest = [lead_id for later in batches[number:] for lead_id in later]
                fan_out(rest)
                done["fanned_out"] = len(rest)
                break
            running[pool.submit(send_batch, batch)] = batch
        for future, batch in running.items():  # _tally waits for each (future.result())
            _tally(done, batch, future)
    return done


def _tally(done: dict[str, int], batch: list[str], future: Future[SentSteps]) -> None:
    """Count a finished batch into the run's figures, and log what it could not send."""
    try:
        sent = future.result()
    except Exception as exc:  # the batch's claims were not written: its steps stay due, or their claims run out
        logger.error("nurture steps not sent; they stay due", extra={"lead_ids": batch, "error": error_code(exc)})
        done["failed"] += len(batch)
        return
    for lead_id, error in sent.failures.items():  # one lead's failure (SES still throttling) holds back no other
        logger.error("nurture step not sent; it stays due", extra={"lead_id": lead_id, "error": error_code(error)})
    done["failed"] += len(sent.failures)
    done["unrecorded"] += len(sent.unrecorded)  # sent, each logged where its record failed
    done["sent"] += sum(outcome == "sent" for outcome in sent.outcomes.values())
    done["not_sent"] += sum(outcome != "sent" for outcome in sent.outcomes.values())


def error_code(exc: Exception) -> str:
    """What failed, for a log line: AWS's error code or the exception's type, never its text.

    SES's messages name the addresses they refused, and a log line never carries a person's address.
    """
    return aws_error_code(exc) or type(exc).__name__

"""Sending nurture emails: a due step, claimed so it goes out once, and the acknowledgement an inquiry promised.

A due step is sent in three moves, each through the applier:
1. **claim**: plan the lead's nurture at `now` from a fresh read; if its next step is due, write
   the claim (`nurture.sending`, until `CLAIM_MINUTES` from now on the wall clock: a lease on the
   sender's own time, however fast a local clock's ticks come) at the version read. Of two
   sweeps that found the same step, one writes the claim; the other's write conflicts, it plans
   again from the lead as written and finds the step claimed: it sends nothing.
2. **send** the step through SES (throttling is retried with backoff by the mailer).
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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from leadflow.config import ClientConfig, EmailTemplates
from leadflow.lead.change import CounterDelta, LeadChange, LeadServices, apply_change
from leadflow.lead.profile import LeadProfile, utc_stamp
from leadflow.links import LinkSigner
from leadflow.nurture.email_links import click_url, unsubscribe_url
from leadflow.nurture.sequences import NextStep, NurtureState, plan_nurture, record_sent, schedule_nurture
from leadflow.nurture.suppression import is_suppressed
from leadflow.nurture.templates import EmailTemplate, Rendered

logger = logging.getLogger(__name__)

CONCURRENT_SENDERS = 2  # the nurture queue's consumers at once (its trigger's maximum concurrency)
CLAIM_MINUTES = 15  # a claimed step no sweep sends again, for longer than one send takes
KEEP_ACKNOWLEDGED = 20  # the latest inquiries acknowledged, kept on the lead against redelivery

StepOutcome = Literal["sent", "not_due", "ended", "claimed_elsewhere", "failed"]


class MailPort(Protocol):
    def send_email(self, to: str, rendered: Rendered, headers: dict[str, str], tags: dict[str, str]) -> str: ...


class LinkPort(Protocol):
    """Turns a lead's links into signed ones (leadflow.nurture.email_links), at the time of sending."""

    def click(self, lead_id: str, url: str, sequence: str, step: int | None) -> str: ...

    def unsubscribe(self, lead_id: str) -> str: ...

    def unsubscribe_mailto(self, lead_id: str) -> str: ...


@dataclass(frozen=True)
class Outgoing:
    """One email to send: to whom, what, with which headers and tags (SES's events carry the tags back)."""

    to: str
    rendered: Rendered
    headers: dict[str, str]
    tags: dict[str, str]


def compose(
    profile: LeadProfile, template: EmailTemplate, links: LinkPort, kind: str, step: NextStep | None = None
) -> Outgoing:
    """The email for this lead: rendered, its links signed, the one-click unsubscribe headers (RFC 8058)."""
    lead_id = profile["lead_id"]
    sequence, index = (step.sequence, step.step) if step else ("", None)
    unsubscribe = links.unsubscribe(lead_id)
    rendered = template.render(profile, lambda url: links.click(lead_id, url, sequence, index), unsubscribe)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>, <{links.unsubscribe_mailto(lead_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    return Outgoing(profile["email"], rendered, headers, {"lead_id": lead_id, "kind": kind})


def step_template(config: ClientConfig, step: NextStep) -> EmailTemplate:
    sequence = next(s for s in config.nurture.sequences if s.name == step.sequence)
    source = sequence.steps[step.step]
    return EmailTemplate(f"sequence {step.sequence}, step {step.step + 1}", source.subject, source.html, source.text)


def send_due_step(
    lead_id: str,
    services: LeadServices,
    config: ClientConfig,
    mail: MailPort,
    links: LinkPort,
    now: datetime,
    wall: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> StepOutcome:
    """Claim, send and record the lead's due step (see the module doc); what happened.

    `now` is the tick: what is due, and when it counts as sent. The claim is a lease on `wall`,
    the sender's own clock, so it outlasts the sending however fast the ticks come.
    """
    claimed: list[NextStep] = []
    found: list[StepOutcome] = []

    def claim(current: LeadProfile | None) -> LeadChange | None:
        claimed.clear()
        found.clear()
        if current is None:
            found.append("ended")
            return None
        sending = (current.get("nurture") or {}).get("sending")
        leased = wall()
        if sending and sending["until"] > utc_stamp(leased):
            found.append("claimed_elsewhere")
            return None
        plan = plan_nurture(current, config, now)
        profile = copy.deepcopy(current)
        profile["updated_at"] = utc_stamp(now)
        step = plan.next
        if step is None or step.send_at > now:
            found.append("ended" if step is None else "not_due")
            schedule_nurture(profile, config, now, leased)
            return None if _same_schedule(current, profile) else LeadChange(profile)  # the due index moves on
        state: NurtureState = plan.state
        state["sending"] = {"sequence": step.sequence, "step": step.step, "until": utc_stamp(leased + _claim())}
        profile["nurture"] = dict(state)
        profile["nurture_next_at"] = utc_stamp(now + _claim())  # the due index runs on the tick's clock
        claimed.append(step)
        return LeadChange(profile)

    applied = apply_change(lead_id, claim, services)
    if not claimed or applied.change is None:
        return found[0] if found else "claimed_elsewhere"
    step = claimed[0]
    profile = applied.change.profile
    try:
        outgoing = compose(profile, step_template(config, step), links, "nurture", step)
        mail.send_email(outgoing.to, outgoing.rendered, outgoing.headers, outgoing.tags)
    except Exception:
        apply_change(lead_id, lambda current: _give_back(current, step, config, now), services)
        raise
    sent_at = now
    apply_change(lead_id, lambda current: _recorded(current, step, outgoing, config, sent_at), services)
    return "sent"


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
    state: NurtureState = copy.deepcopy(current.get("nurture") or {})  # type: ignore[assignment]
    progress = (state.get("sequences") or {}).get(step.sequence)
    if progress is None or int(progress.get("steps_sent", 0)) > step.step:
        return None  # recorded before (the answer to an earlier write was lost)
    profile = copy.deepcopy(current)
    profile["nurture"] = dict(record_sent(state, step, at, config.nurture))
    stamp = utc_stamp(at)
    profile["updated_at"] = stamp
    schedule_nurture(profile, config, at)
    change = LeadChange(profile)
    subject = outgoing.rendered.subject
    change.timeline.append(
        {"type": "nurture_sent", "at": stamp, "reason": f"sequence {step.sequence}, step {step.step + 1}: {subject}"}
    )
    change.counters.append(CounterDelta("nurture_sent", stamp[:10]))
    return change


def _give_back(current: LeadProfile | None, step: NextStep, config: ClientConfig, now: datetime) -> LeadChange | None:
    """The send failed: the claim is given back and the step is due again at once (it waits for no other sweep)."""
    if current is None:
        return None
    sending = (current.get("nurture") or {}).get("sending")
    if not sending or (sending["sequence"], sending["step"]) != (step.sequence, step.step):
        return None
    profile = copy.deepcopy(current)
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
    mail.send_email(outgoing.to, outgoing.rendered, outgoing.headers, outgoing.tags)
    apply_change(lead_id, lambda current: _acknowledged(current, inquiry_id, outgoing, now), services)
    return "sent"


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

    def __init__(self, signer: LinkSigner, base_url: str, mailbox: str, now: datetime):
        self.signer, self.base_url, self.mailbox, self.now = signer, base_url, mailbox, now

    def click(self, lead_id: str, url: str, sequence: str, step: int | None) -> str:
        return click_url(self.signer, self.base_url, lead_id, url, self.now, sequence, step)

    def unsubscribe(self, lead_id: str) -> str:
        return unsubscribe_url(self.signer, self.base_url, lead_id, self.now)

    def unsubscribe_mailto(self, lead_id: str) -> str:
        """The mailto of List-Unsubscribe: the client's sender mailbox, the link's token in the subject."""
        token = self.unsubscribe(lead_id).rsplit("/", 1)[-1]
        return f"mailto:{self.mailbox}?subject=unsubscribe%20{token}"


class Pacer:
    """Keeps sends under a rate: each `wait()` returns no sooner than 1/rate seconds after the one before."""

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self.next_at: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self.next_at is not None and now < self.next_at:
            self.sleep(self.next_at - now)
            now = self.next_at
        self.next_at = now + self.interval


def rate_share(per_second: float) -> float:
    """Each sender's part of the client's send rate: the sweep and every queue consumer may send at once."""
    return per_second / (CONCURRENT_SENDERS + 1)


def sweep_nurture(
    due: Iterable[str],
    send_one: Callable[[str], StepOutcome],
    fan_out: Callable[[list[str]], None],
    inline_most: int,
    pacer: Pacer,
    give_up_at: float | None = None,
) -> dict[str, int]:
    """Send what is due, or hand it to the nurture queue when there is more than one run should send.

    `inline_most` is what the run sends itself at its share of the rate within its time; beyond
    that every due lead goes to the queue (in batches), whose consumers send at their share. A
    run that reaches `give_up_at` hands the rest to the queue too: nothing due waits for luck.
    """
    ids = list(due)
    done = {"due": len(ids), "sent": 0, "fanned_out": 0, "not_sent": 0, "failed": 0}
    if len(ids) > inline_most:
        fan_out(ids)
        done["fanned_out"] = len(ids)
        return done
    for position, lead_id in enumerate(ids):
        if give_up_at is not None and time.monotonic() > give_up_at:
            fan_out(ids[position:])
            done["fanned_out"] = len(ids) - position
            break
        pacer.wait()
        try:
            outcome = send_one(lead_id)
        except Exception:  # one lead's failure (SES still throttling) holds back no other; its step stays due
            logger.exception("nurture step not sent; it stays due", extra={"lead_id": lead_id})
            done["failed"] += 1
            continue
        done["sent" if outcome == "sent" else "not_sent"] += 1
    return done

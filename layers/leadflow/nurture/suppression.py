"""An address that must get no nurture email again (pure plan, and its apply).

It unsubscribed, bounced or complained, or it is undeliverable: the mailer refused it before
sending, as SES would at every attempt (`leadflow.route.notice.Undeliverable`).

One lead per person (its id is keyed from the email address), so suppressing the lead
suppresses the address. The suppression is kept on the lead's nurture state
(`nurture.suppressed`): `leadflow.nurture.sequences.plan_nurture` ends every sequence of a
suppressed lead and plans nothing more, and the change that suppresses removes the lead from
the due index in the same transaction. The first reason stays (a complaint after an unsubscribe
changes nothing: the address is already out); each suppression is on the timeline, counted
for the reports and published as `LeadSuppressed`.

Acknowledgements an inquiry asks for are transactional, but suppression holds them too: an
address that bounced or complained is not mailed again at all.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Literal

from leadflow.lead.change import Applied, CounterDelta, LeadChange, LeadServices, apply_change
from leadflow.lead.events import lead_suppressed
from leadflow.lead.profile import LeadProfile, utc_stamp

SuppressionReason = Literal["unsubscribed", "bounced", "complained", "undeliverable"]
REASONS: tuple[SuppressionReason, ...] = ("unsubscribed", "bounced", "complained", "undeliverable")


def is_suppressed(profile: LeadProfile) -> bool:
    return bool(((profile.get("nurture") or {}).get("suppressed") or {}).get("reason"))


def plan_suppression(
    current: LeadProfile, reason: SuppressionReason, now: datetime, detail: str = ""
) -> LeadChange | None:
    """Suppress the lead's address for `reason`; None when it is suppressed already (a repeat changes nothing)."""
    if reason not in REASONS:
        raise ValueError(f"a suppression's reason is one of {', '.join(REASONS)}, not {reason!r}")
    if is_suppressed(current):
        return None
    stamp = utc_stamp(now)
    profile = copy.deepcopy(current)
    nurture = dict(profile.get("nurture") or {})
    nurture["suppressed"] = {"reason": reason, "at": stamp, **({"detail": detail} if detail else {})}
    profile["nurture"] = nurture
    profile["updated_at"] = stamp
    change = LeadChange(profile)
    why = {"unsubscribed": "unsubscribed", "bounced": "the address bounced", "complained": "marked an email as spam",
           "undeliverable": f"the address cannot be mailed ({detail or 'SES refuses it'})"}  # fmt: skip
    change.timeline.append({"type": "suppressed", "at": stamp, "reason": f"{why[reason]}: no nurture email again"})
    change.events.append(lead_suppressed(profile["lead_id"], stamp, reason))
    change.counters.append(CounterDelta(reason, stamp[:10]))
    return change


def suppress_lead(
    lead_id: str, reason: SuppressionReason, services: LeadServices, now: datetime, detail: str = ""
) -> Applied:
    """Suppress a stored lead ("unchanged" when it was already, or no such lead: nothing to suppress)."""
    return apply_change(
        lead_id, lambda current: None if current is None else plan_suppression(current, reason, now, detail), services
    )

"""What an inquiry, or a second look, changes about a lead (pure: the applier writes it).

`plan_inquiry` merges one inquiry into the lead's profile (one lead per person: fields
already known are never overwritten), records the engagement it carries, qualifies the
lead and returns the `LeadChange`: the new profile, the inquiry on its timeline, the stage
change, the events, the hand-off to routing and the counters. `plan_requalify` does the
same without an inquiry (ops restored the lead, the lead definition changed).
`plan_engagement` records something the lead did elsewhere (a click in a nurture email) and
qualifies the lead the same way, so engagement can make it sales-ready like an inquiry can.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from leadflow.config import QualifySettings
from leadflow.lead.change import Applied, CounterDelta, Handoff, LeadChange, LeadServices, apply_change
from leadflow.lead.events import lead_qualified
from leadflow.lead.profile import EngagementEntry, LeadProfile, TimelineEntry, Touch, utc_stamp
from leadflow.qualify.qualification import qualify
from leadflow.qualify.scoring import EngagementEvent

PROFILE_FIELDS = ("first_name", "last_name", "company", "job_title", "phone")
TOUCH_FIELDS = (
    "inquiry_type", "page_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)  # fmt: skip
MAX_ENGAGEMENT_EVENTS = 50
ROUTING_QUEUE = "routing"
# What an engagement message may record: each kind is a points setting of [qualify.engagement].
ENGAGEMENT_KINDS = ("email_click",)


def plan_inquiry(
    current: LeadProfile | None,
    message: dict[str, Any],
    settings: QualifySettings,
    now: datetime,
    phone_first: bool = False,
) -> LeadChange:
    at = message["received_at"]
    fields = message.get("fields", {})
    touch: Touch = {k: fields[k] for k in TOUCH_FIELDS if k in fields}  # type: ignore[assignment]
    profile = _new_profile(message, touch) if current is None else _merged(current, message, touch)
    engagement = list(profile.get("engagement", []))
    if current is not None:
        engagement.append({"kind": "repeat_inquiry", "at": at})
    if fields.get("page_url"):
        engagement.append({"kind": "page", "at": at, "detail": fields["page_url"]})
    profile["engagement"] = engagement[-MAX_ENGAGEMENT_EVENTS:]
    inquiry: TimelineEntry = {
        "type": "inquiry",
        "at": at,
        "inquiry_id": message["inquiry_id"],
        "channel": message.get("channel", "json"),
        "fields": fields,
        "custom": message.get("custom", {}),
    }
    if message.get("ignored_fields"):
        inquiry["ignored_fields"] = list(message["ignored_fields"])
    change = _qualified(current, profile, settings, now, f"inquiry {message['inquiry_id']}", phone_first)
    change.timeline.insert(0, inquiry)
    change.marker = message["inquiry_id"]
    if current is None:
        change.counters.append(CounterDelta("leads", at[:10]))
    return change


def plan_requalify(
    current: LeadProfile,
    settings: QualifySettings,
    now: datetime,
    reason: str,
    restore: bool = False,
    phone_first: bool = False,
) -> LeadChange | None:
    """The lead qualified again; None when neither its stage nor its score would change."""
    profile = copy.deepcopy(current)
    if restore:
        profile["restored"] = True
    change = _qualified(current, profile, settings, now, reason, phone_first)
    unchanged = change.profile["stage"] == current.get("stage") and change.profile["score"] == current.get("score")
    return None if unchanged and not restore else change


def plan_engagement(
    current: LeadProfile | None,
    message: dict[str, Any],
    settings: QualifySettings,
    now: datetime,
    phone_first: bool = False,
) -> LeadChange | None:
    """The lead with one more engagement event, qualified again; None when there is no such lead.

    The same qualification as an inquiry's (`_qualified`): a lead the engagement makes sales-ready
    is handed to routing once. The change's marker is the engagement's id, so a message delivered
    again changes nothing.
    """
    if current is None:
        return None  # a click on an old email of a lead no longer stored: nothing to score
    event = message["engagement"]
    if event["kind"] not in ENGAGEMENT_KINDS:
        raise ValueError(f"an engagement is one of {', '.join(ENGAGEMENT_KINDS)}, not {event['kind']!r}")
    entry: EngagementEntry = {"kind": event["kind"], "at": event["at"], "detail": event.get("detail", "")}
    profile = copy.deepcopy(current)
    profile["engagement"] = [*profile.get("engagement", []), entry][-MAX_ENGAGEMENT_EVENTS:]
    reason = f"{event['kind'].replace('_', ' ')} {message['engagement_id']}"
    email = [f"{name} {message[name]}" for name in ("sequence", "step") if message.get(name)]
    if email:  # which nurture email was clicked, when the link said
        reason += f" ({', '.join(email)})"
    change = _qualified(current, profile, settings, now, reason, phone_first)
    change.marker = message["engagement_id"]
    return change


def engagement_events(profile: LeadProfile) -> list[EngagementEvent]:
    return [
        EngagementEvent(e["kind"], datetime.fromisoformat(e["at"]), e.get("detail", ""))
        for e in profile.get("engagement", [])
    ]


def _qualified(
    before: LeadProfile | None,
    profile: LeadProfile,
    settings: QualifySettings,
    now: datetime,
    reason: str,
    phone_first: bool = False,
) -> LeadChange:
    result = qualify(dict(profile), engagement_events(profile), settings, now)
    stamp = utc_stamp(now)
    lead_id = profile["lead_id"]
    from_stage = (before or {}).get("stage", "new")
    profile["score"] = result.score.as_dict()
    profile["marketing_qualified"] = result.marketing_qualified
    profile["qualified_at"] = profile["updated_at"] = stamp
    if result.facts.get("phone_country"):  # it parsed: keep E.164 beside what was sent
        profile["phone_e164"] = result.facts["phone"]
    change = LeadChange(profile)
    profile["stage"] = from_stage
    if result.stage != from_stage:
        change.move(result.stage, reason, stamp)
    change.events.append(lead_qualified(lead_id, profile["stage"], profile["score"], result.marketing_qualified, stamp))
    if profile["stage"] == "sales_ready" and not profile.get("handed_off_at"):
        # Once each time it becomes sales-ready: a lead rejected back to nurture loses its hand-off.
        profile["handed_off_at"] = stamp
        message = {"lead_id": lead_id, "handed_off_at": stamp}
        change.handoffs.append(Handoff(ROUTING_QUEUE, message, deduplication_id=f"{lead_id}-handoff-{stamp}"))
    elif phone_first and _to_be_called(profile):  # once: to the qualification team
        profile["qualification_handed_off_at"] = stamp
        message = {"lead_id": lead_id, "handed_off_at": stamp, "purpose": "qualify"}
        change.handoffs.append(Handoff(ROUTING_QUEUE, message, deduplication_id=f"{lead_id}-qualify"))
    return change


def _to_be_called(profile: LeadProfile) -> bool:
    """Phone first: a marketing-qualified lead in nurture, not yet handed to the qualification team."""
    return (
        profile["stage"] == "nurture"
        and bool(profile.get("marketing_qualified"))
        and not profile.get("qualification_handed_off_at")
    )


def _new_profile(message: dict[str, Any], touch: Touch) -> LeadProfile:
    fields, at = message.get("fields", {}), message["received_at"]
    profile: LeadProfile = {
        "lead_id": message["lead_id"],
        "email": message["email"],
        "stage": "new",
        "created_at": at,
        "inquiry_count": 1,
        "last_inquiry_at": at,
        "first_touch": touch,
        "last_touch": touch,
        "custom": dict(message.get("custom", {})),
    }
    for name in PROFILE_FIELDS:
        if name in fields:
            profile[name] = fields[name]  # type: ignore[literal-required]
    if fields.get("message"):
        profile["last_message"] = fields["message"]
    _consent(profile, fields, at)
    return profile


def _merged(current: LeadProfile, message: dict[str, Any], touch: Touch) -> LeadProfile:
    profile = copy.deepcopy(current)
    fields, at = message.get("fields", {}), message["received_at"]
    for name in PROFILE_FIELDS:
        if name in fields and not profile.get(name):
            profile[name] = fields[name]  # type: ignore[literal-required]
    custom = dict(profile.get("custom", {}))
    for name, value in message.get("custom", {}).items():
        custom.setdefault(name, value)
    profile["custom"] = custom
    profile["inquiry_count"] = int(profile.get("inquiry_count", 0)) + 1
    profile["last_inquiry_at"] = max(at, profile.get("last_inquiry_at", at))
    profile["last_touch"] = touch
    if fields.get("message"):
        profile["last_message"] = fields["message"]
    _consent(profile, fields, at)
    return profile


def _consent(profile: LeadProfile, fields: dict[str, Any], at: str) -> None:
    if fields.get("marketing_consent"):
        profile["marketing_consent"] = True
        profile["marketing_consent_at"] = at
        profile["marketing_consent_text"] = fields.get("consent_text", "")


def record_inquiry(
    message: dict[str, Any],
    services: LeadServices,
    settings: QualifySettings,
    now: datetime | None = None,
    phone_first: bool = False,
) -> Applied:
    """Store one inquiry on its lead and qualify the lead: "changed", or "duplicate" if stored before.

    `phone_first`: the client routes marketing-qualified leads to a qualification team (inside
    sales) too, to be qualified by phone; sales-ready leads go to sales either way.
    """
    return apply_change(
        message["lead_id"],
        lambda current: plan_inquiry(current, message, settings, now or datetime.now(UTC), phone_first),
        services,
    )


def record_engagement(
    message: dict[str, Any],
    services: LeadServices,
    settings: QualifySettings,
    now: datetime | None = None,
    phone_first: bool = False,
) -> Applied:
    """Record one engagement on its lead and qualify it: "changed", "duplicate" if recorded before, or
    "unchanged" when there is no such lead."""
    return apply_change(
        message["lead_id"],
        lambda current: plan_engagement(current, message, settings, now or datetime.now(UTC), phone_first),
        services,
    )


def requalify_lead(
    lead_id: str,
    services: LeadServices,
    settings: QualifySettings,
    reason: str,
    restore: bool = False,
    now: datetime | None = None,
    phone_first: bool = False,
) -> Applied:
    """Qualify a stored lead again; "unchanged" when neither its stage nor its score moves."""

    def plan(current: LeadProfile | None) -> LeadChange | None:
        if current is None:
            raise LookupError(f"no lead {lead_id}")
        return plan_requalify(current, settings, now or datetime.now(UTC), reason, restore, phone_first)

    return apply_change(lead_id, plan, services)

"""What happens to a lead when an inquiry arrives or it is qualified again (pure: no I/O).

`plan_inquiry` merges one inquiry into the lead's profile (filling only empty fields, one
lead per person), records the engagement it carries, qualifies the lead and returns the
new profile with the timeline entries and outbox items that go with it. `plan_requalify`
does the same without an inquiry (a restore by ops, a changed definition). Domain events
and the hand-off to routing are put in the profile's outbox in the same write as the
change itself, then published; so a change is never recorded without its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leadflow.config import QualifySettings
from leadflow.lifecycle import check_transition
from leadflow.qualification import Qualification, qualify
from leadflow.scoring import EngagementEvent

PROFILE_FIELDS = ("first_name", "last_name", "company", "job_title", "phone")
TOUCH_FIELDS = (
    "inquiry_type", "page_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)  # fmt: skip
MAX_ENGAGEMENT_EVENTS = 50


@dataclass
class LeadChange:
    profile: dict[str, Any]
    timeline: list[dict[str, Any]] = field(default_factory=list)
    qualification: Qualification | None = None


def plan_inquiry(
    current: dict[str, Any] | None, message: dict[str, Any], settings: QualifySettings, now: datetime
) -> LeadChange:
    at = message["received_at"]
    fields = message.get("fields", {})
    touch = {k: fields[k] for k in TOUCH_FIELDS if k in fields}
    profile = _new_profile(message, touch) if current is None else _merged(current, message, touch)
    engagement = list(profile.get("engagement", []))
    if current is not None:
        engagement.append({"kind": "repeat_inquiry", "at": at})
    if fields.get("page_url"):
        engagement.append({"kind": "page", "at": at, "detail": fields["page_url"]})
    profile["engagement"] = engagement[-MAX_ENGAGEMENT_EVENTS:]
    inquiry = {
        "type": "inquiry",
        "at": at,
        "inquiry_id": message["inquiry_id"],
        "channel": message.get("channel", "json"),
        "fields": fields,
        "custom": message.get("custom", {}),
    }
    change = _qualified(profile, settings, now, reason=f"inquiry {message['inquiry_id']}")
    change.timeline.insert(0, inquiry)
    return change


def plan_requalify(
    current: dict[str, Any], settings: QualifySettings, now: datetime, reason: str, restore: bool = False
) -> LeadChange:
    profile = dict(current)
    if restore:
        profile["restored"] = True
    return _qualified(profile, settings, now, reason)


def engagement_events(profile: dict[str, Any]) -> list[EngagementEvent]:
    return [
        EngagementEvent(e["kind"], datetime.fromisoformat(e["at"]), e.get("detail", ""))
        for e in profile.get("engagement", [])
    ]


def _qualified(profile: dict[str, Any], settings: QualifySettings, now: datetime, reason: str) -> LeadChange:
    result = qualify(profile, engagement_events(profile), settings, now)
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds")
    before = profile.get("stage", "new")
    profile.update(
        score=result.score.as_dict(),
        marketing_qualified=result.marketing_qualified,
        qualified_at=stamp,
        updated_at=stamp,
    )
    change = LeadChange(profile, qualification=result)
    outbox = list(profile.get("outbox", []))
    lead_id = profile["lead_id"]
    if result.stage != before:
        check_transition(before, result.stage)
        profile["stage"] = result.stage
        change.timeline.append(
            {"type": "stage_changed", "at": stamp, "from": before, "to": result.stage, "reason": reason}
        )
        outbox.append({"kind": "event", "type": "LeadStageChanged", "detail": {
            "lead_id": lead_id, "from_stage": before, "to_stage": result.stage, "at": stamp, "reason": reason,
        }})  # fmt: skip
    outbox.append({"kind": "event", "type": "LeadQualified", "detail": {
        "lead_id": lead_id,
        "stage": profile["stage"],
        "fit": result.score.fit,
        "engagement": result.score.engagement,
        "score": result.score.total,
        "marketing_qualified": result.marketing_qualified,
        "reasons": result.explanation,
        "qualified_at": stamp,
    }})  # fmt: skip
    if profile["stage"] == "sales_ready" and not profile.get("handed_off_at"):
        profile["handed_off_at"] = stamp  # set once: a lead is handed to routing exactly once
        outbox.append({"kind": "handoff", "lead_id": lead_id, "at": stamp})
    profile["outbox"] = outbox
    return change


def _new_profile(message: dict[str, Any], touch: dict[str, Any]) -> dict[str, Any]:
    fields, at = message.get("fields", {}), message["received_at"]
    profile: dict[str, Any] = {
        "lead_id": message["lead_id"],
        "email": message["email"],
        "stage": "new",
        "created_at": at,
        "inquiry_count": 1,
        "last_inquiry_at": at,
        "first_touch": touch,
        "last_touch": touch,
        "custom": dict(message.get("custom", {})),
        **{name: fields[name] for name in PROFILE_FIELDS if name in fields},
    }
    if fields.get("message"):
        profile["last_message"] = fields["message"]
    _consent(profile, fields, at)
    return profile


def _merged(current: dict[str, Any], message: dict[str, Any], touch: dict[str, Any]) -> dict[str, Any]:
    profile = {k: v for k, v in current.items()}
    fields, at = message.get("fields", {}), message["received_at"]
    for name in PROFILE_FIELDS:
        if name in fields and not profile.get(name):
            profile[name] = fields[name]
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


def _consent(profile: dict[str, Any], fields: dict[str, Any], at: str) -> None:
    if fields.get("marketing_consent"):
        profile.update(
            marketing_consent=True, marketing_consent_at=at, marketing_consent_text=fields.get("consent_text", "")
        )

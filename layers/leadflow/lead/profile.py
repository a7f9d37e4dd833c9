"""A lead's profile: the one place that says which keys a lead has and what each holds.

A lead is one person (one normalised email) of one client. Its profile is what every step
reads and plans from; it holds business state only. How it is stored (keys, version, the
outbox of events not yet published) is `leadflow.aws.leads_table`'s business.

Profiles travel as plain dicts (JSON in DynamoDB, in events, in the CLI's --json), so the
shape is a TypedDict: checked by mypy, free at run time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict


class Touch(TypedDict, total=False):
    """Where an inquiry came from: its type, page and campaign (all as the website sent them)."""

    inquiry_type: str
    page_url: str
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    utm_term: str
    utm_content: str


class EngagementEntry(TypedDict, total=False):
    """Something the lead did that counts towards its engagement score (it fades with time)."""

    kind: str  # repeat_inquiry, page or email_click
    at: str  # ISO 8601, UTC
    detail: str  # the page URL, the link


class SlaTimer(TypedDict, total=False):
    """The deadline to accept (or claim) a lead, counted in its team's working minutes."""

    started_at: str
    deadline_minutes: int
    due_at: str
    remind_at: str | None
    reminded: bool
    reassignments: int
    previous_owners: list[str]  # rep ids who had the lead and let the deadline pass
    escalated: dict[str, str]  # to (manager or queue) and at: the timer ended there


class LeadProfile(TypedDict, total=False):
    lead_id: str  # the normalised email, keyed with the stack's lead id key (leadflow.lead.ids)
    email: str  # normalised: NFC, lower case, the domain in Unicode (leadflow.capture.inquiry)
    stage: str  # see leadflow.lead.lifecycle
    created_at: str
    updated_at: str
    # Who the person is, as first sent: filled once, never overwritten by a later inquiry.
    first_name: str
    last_name: str
    company: str
    job_title: str
    phone: str  # as sent
    phone_e164: str  # the same number in E.164, when it parses
    custom: dict[str, str]  # the client's own form fields
    # What the person sent.
    inquiry_count: int
    last_inquiry_at: str
    last_message: str
    first_touch: Touch
    last_touch: Touch
    marketing_consent: bool
    marketing_consent_at: str
    marketing_consent_text: str
    engagement: list[EngagementEntry]
    # What qualification made of it.
    score: dict[str, Any]  # fit, engagement, total and the reasons (leadflow.qualify.scoring.Score.as_dict)
    marketing_qualified: bool
    qualified_at: str
    restored: bool  # ops took it out of junk: the rules never make it junk again
    handed_off_at: str  # when it was last handed to routing for sales; cleared when a rep rejects it
    qualification_handed_off_at: str  # phone first: when it went to the qualification team (once)
    qualification: dict[str, str]  # phone first: the qualifier's outcome, by, at, reason and note
    # What routing made of it (leadflow.route): the decision, who owns it, by when it must be accepted.
    routed_for: str  # the hand-off (its handed_off_at) the lead was routed for: a redelivery changes nothing
    routed_at: str
    routing: dict[str, Any]  # the latest decision (leadflow.route.assignment.Decision.as_dict)
    priority: str
    team: str
    queue: str  # the team whose queue holds it while nobody owns it (or "unassigned")
    left_queue: str  # the team whose queue its owner took it from (a claim, or a rep become free): a late claim is 409
    owner: str  # the owner's rep id
    owner_name: str
    assigned_at: str
    minutes_to_owner: float  # from captured to its first owner, in the owner's team's working minutes
    account_domain: str  # the company's email domain (corporate addresses only): account matching finds its owner
    sla: SlaTimer
    sla_next_at: str  # when the SLA sweep next looks at it (the reminder, then the deadline); absent: never
    # What its owner recorded (leadflow.follow_up), with the speed of each step in working minutes.
    accepted_at: str
    minutes_to_accept: float  # from assigned to accepted
    first_contact_at: str
    minutes_to_first_contact: float  # from accepted to the first contact
    rejected: dict[str, str]  # by, at, reason, outcome (nurture or junk)
    won: dict[str, str]  # at, amount (a decimal string), currency
    lost: dict[str, str]  # at, reason
    # Its nurture (leadflow.nurture.sequences.NurtureState): sequences, recent sends, a suppression.
    nurture: dict[str, Any]
    nurture_next_at: str  # when its next nurture email may go out (the nurture sweep's due index); absent: none
    # What the report has counted for it (leadflow.report.figures): figure -> the owner it was counted with,
    # and the scoring rules that had fired when it was won or lost.
    report: dict[str, Any]


# One thing that happened to a lead, kept as its own item: an inquiry, or a stage change.
# (The functional form, because a stage change's keys are `from` and `to`.)
TimelineEntry = TypedDict(
    "TimelineEntry",
    {
        "type": str,  # inquiry, stage_changed, routed, sla_reminder, sla_breached, reassigned, escalated, note
        "at": str,
        # an inquiry: what capture took from the website, and which fields it set aside
        "inquiry_id": str,
        "channel": str,
        "fields": dict[str, Any],
        "custom": dict[str, str],
        "ignored_fields": list[str],
        # a stage change
        "from": str,
        "to": str,
        "reason": str,
        # a routing decision (leadflow.route.assignment.Decision.as_dict)
        "decision": dict[str, Any],
        # a note: who wrote it (the text is in reason)
        "by": str,
    },
    total=False,
)


def utc_stamp(at: datetime) -> str:
    """A moment as every profile and timeline entry holds it: ISO 8601 in UTC, to the millisecond."""
    return at.astimezone(UTC).isoformat(timespec="milliseconds")

"""What SES's bounce and complaint events mean for the stack: which leads' addresses get no nurture email again.

Pure: `read_ses_event` turns one event, as EventBridge delivers it, into `EmailFeedback` (the
suppressions to apply and the outcome the handler counts); `ses_event` builds the event SES
would send, for `leadflow local bounce|complain` and the tests.

The shape, as AWS documents it (not guessed):
- The envelope is EventBridge's, the same for every event on a bus: `version`, `id`,
  `detail-type`, `source`, `account`, `time`, `region`, `resources`, `detail` (EventBridge User
  Guide, "Event structure reference", eb-events-structure).
- SES sends its email sending events straight to the account's *default* bus (a configuration
  set's EventBridge destination takes the default bus only: SES API v2 `EventBridgeDestination`,
  CloudFormation `AWS::SES::ConfigurationSetEventDestination EventBridgeDestination`), with
  `source` "aws.ses" and the detail-types "Email Bounced" and "Email Complaint Received" among
  others (EventBridge events reference, "Amazon Simple Email Service events", events-ref-ses;
  SES Developer Guide, "Monitoring SES events using Amazon EventBridge").
- The `detail` is SES's event publishing record (SES Developer Guide, "Contents of event data
  that Amazon SES publishes" and its "Examples of event data"): `eventType` ("Bounce",
  "Complaint", ...); `mail` with `messageId`, `destination` and `tags`, a dict of lists that holds
  SES's own tags (`ses:configuration-set`, ...) and the EmailTags the email was sent with (ours:
  `lead_id`); `bounce` with `bounceType` (Permanent, Transient or Undetermined), `bounceSubType`
  and `bouncedRecipients[].emailAddress`; `complaint` with `complainedRecipients[].emailAddress`
  and, when the provider attached a feedback report, `complaintFeedbackType` (abuse, ...).
- One envelope field was not confirmed in the documentation: what SES puts in `resources`.
  `ses_event` leaves it empty, and nothing here reads it.

What each event means:
- A **Permanent** bounce suppresses the lead ("bounced"): the address does not exist or SES will
  not send to it, and every further send would count against the account's bounce rate.
- A **Transient** or **Undetermined** bounce does *not* suppress: it is counted only. SES
  publishes a soft bounce only once it has stopped retrying, but a full mailbox or a refused
  message recovers (SES's own words: "You may be able to successfully send to this recipient in
  the future"), and a later Permanent bounce suppresses then.
- A **complaint** suppresses the lead ("complained"): the person marked a nurture email as spam.
  The lead is found by our tag, never by `complainedRecipients`, which most providers redact.
- An event **without our `lead_id` tag** is an email to a rep (an owner's notification, a
  reminder): it suppresses nothing, since reps are not nurtured, and is reported as an owner's
  email so that ops see a rep's address bouncing.
The lead is always found by its tag, so no address is ever read from the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from leadflow.lead.profile import utc_stamp
from leadflow.nurture.suppression import SuppressionReason

SOURCE = "aws.ses"
BOUNCED, COMPLAINED = "Email Bounced", "Email Complaint Received"  # the detail-types of the rule
DETAIL_TYPES = (BOUNCED, COMPLAINED)
LEAD_ID_TAG = "lead_id"  # the EmailTag every email to a lead is sent with (leadflow.nurture.send.compose)
CONFIGURATION_SET_TAG = "ses:configuration-set"  # SES's own tag: the rule picks the stack's events by it

FeedbackKind = Literal["bounce", "complaint"]
BounceType = Literal["Permanent", "Transient", "Undetermined"]
# What `ses_event` reports for each bounce type: SES's subtype, the DSN status and the receiving server's words.
EXAMPLE_BOUNCES: dict[str, tuple[str, str, str]] = {
    "Permanent": ("General", "5.1.1", "550 5.1.1 user unknown"),
    "Transient": ("MailboxFull", "4.2.2", "452 4.2.2 mailbox full"),
    "Undetermined": ("Undetermined", "5.0.0", "550 5.0.0 undetermined"),
}
# bounced, complained: about a lead's email (bounced suppressed it); bounced_transient: a soft or undetermined
# bounce of a lead's email, not suppressed; owner_*: an email to a rep; ignored: neither bounce nor complaint.
FeedbackOutcome = Literal["bounced", "bounced_transient", "complained", "owner_bounced", "owner_complained", "ignored"]


@dataclass(frozen=True)
class Suppression:
    """A lead whose address gets no nurture email again, why, and what SES said (no address in it)."""

    lead_id: str
    reason: SuppressionReason
    detail: str


@dataclass(frozen=True)
class EmailFeedback:
    """What one SES event means for the stack: the suppressions to apply and the outcome to count."""

    outcome: FeedbackOutcome
    lead_id: str | None  # the email's `lead_id` tag; None: an email to a rep (or not an email event at all)
    message_id: str  # SES's id of the email, for logs: it names no person
    suppressions: tuple[Suppression, ...] = ()


def read_ses_event(event: Mapping[str, Any]) -> EmailFeedback:
    """The feedback one SES email event (the EventBridge envelope) gives: see the module doc for each case."""
    detail = event.get("detail") or {}
    mail = detail.get("mail") or {}
    lead_id = _first_tag(mail.get("tags") or {}, LEAD_ID_TAG)
    message_id = str(mail.get("messageId") or "")
    event_type = detail.get("eventType")
    if event_type == "Bounce":
        bounce = detail.get("bounce") or {}
        bounce_type = str(bounce.get("bounceType") or "Undetermined")
        if lead_id is None:
            return EmailFeedback("owner_bounced", None, message_id)
        if bounce_type != "Permanent":
            return EmailFeedback("bounced_transient", lead_id, message_id)
        why = _bounce_detail(bounce_type, bounce)
        return EmailFeedback("bounced", lead_id, message_id, (Suppression(lead_id, "bounced", why),))
    if event_type == "Complaint":
        if lead_id is None:
            return EmailFeedback("owner_complained", None, message_id)
        complaint = detail.get("complaint") or {}
        why = "complaint: " + str(complaint.get("complaintFeedbackType") or "no feedback report")
        return EmailFeedback("complained", lead_id, message_id, (Suppression(lead_id, "complained", why),))
    return EmailFeedback("ignored", lead_id, message_id)


def _first_tag(tags: Mapping[str, Any], name: str) -> str | None:
    """A tag's value: SES gives each tag as a list of values; ours have one."""
    values = tags.get(name) or ()
    return str(values[0]) if values else None


def _bounce_detail(bounce_type: str, bounce: Mapping[str, Any]) -> str:
    """SES's words for a bounce, kept on the lead: type, subtype and the DSN status codes (never an address).

    The diagnostic text is left out: a receiving server may quote the address in it.
    """
    statuses = sorted({str(r["status"]) for r in bounce.get("bouncedRecipients") or () if r.get("status")})
    kind = f"{bounce_type}/{bounce.get('bounceSubType') or 'Undetermined'}"
    return f"bounce: {kind}" + (f" ({', '.join(statuses)})" if statuses else "")


def ses_event(
    kind: FeedbackKind,
    email: str,
    lead_id: str | None,
    configuration_set: str,
    message_id: str,
    now: datetime,
    *,
    bounce_type: BounceType = "Permanent",
    sender: str = "leads@example.com",
    account: str = "123456789012",  # moto's account, which `leadflow local` runs in
    region: str = "us-east-1",
) -> dict[str, Any]:
    """The event SES sends to EventBridge when the email `message_id` to `email` bounces or draws a complaint.

    Shaped field by field as the SES Developer Guide's examples of a Bounce and a Complaint record
    (inside EventBridge's envelope), with the tags of an email sent through `configuration_set`:
    a `lead_id` tag when the email went to a lead (None: an email to a rep, sent untagged). The
    email was sent a minute before `now`. Deterministic: the same arguments give the same event.
    """
    sent, stamp = now - timedelta(minutes=1), _ses_stamp(now)
    feedback_id = f"{uuid.uuid5(uuid.NAMESPACE_URL, f'ses:{kind}:{message_id}')}-000000"
    subject = "A note from us"
    tags: dict[str, list[str]] = {
        CONFIGURATION_SET_TAG: [configuration_set],
        "ses:source-ip": ["192.0.2.0"],
        "ses:from-domain": [sender.rpartition("@")[2]],
        "ses:caller-identity": ["leadflow"],
    }
    if lead_id is not None:
        tags[LEAD_ID_TAG] = [lead_id]
    mail = {
        "timestamp": _ses_stamp(sent),
        "source": sender,
        "sourceArn": f"arn:aws:ses:{region}:{account}:identity/{sender.rpartition('@')[2]}",
        "sendingAccountId": account,
        "messageId": message_id,
        "destination": [email],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": sender},
            {"name": "To", "value": email},
            {"name": "Subject", "value": subject},
            {"name": "MIME-Version", "value": "1.0"},
            {"name": "Content-Type", "value": 'multipart/alternative; boundary="leadflow"'},
        ],
        "commonHeaders": {"from": [sender], "to": [email], "messageId": message_id, "subject": subject},
        "tags": tags,
    }
    detail: dict[str, Any]
    if kind == "bounce":
        subtype, status, diagnostic = EXAMPLE_BOUNCES[bounce_type]
        detail = {
            "eventType": "Bounce",
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": subtype,
                "bouncedRecipients": [
                    {
                        "emailAddress": email,
                        "action": "failed",
                        "status": status,
                        "diagnosticCode": f"smtp; {diagnostic}",
                    }
                ],
                "timestamp": stamp,
                "feedbackId": feedback_id,
                "reportingMTA": "dsn; mta.example.com",
            },
            "mail": mail,
        }
    else:
        detail = {
            "eventType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": email}],
                "timestamp": stamp,
                "feedbackId": feedback_id,
                "complaintSubType": None,
                "userAgent": "Mozilla/5.0",
                "complaintFeedbackType": "abuse",
                "arrivalDate": stamp,
            },
            "mail": mail,
        }
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"eventbridge:{kind}:{message_id}")),
        "detail-type": BOUNCED if kind == "bounce" else COMPLAINED,
        "source": SOURCE,
        "account": account,
        "time": _envelope_time(now),
        "region": region,
        "resources": [],
        "detail": detail,
    }


def _ses_stamp(at: datetime) -> str:
    """A time as SES writes it in its records: ISO 8601 in UTC, to the millisecond, with a Z."""
    return utc_stamp(at).replace("+00:00", "Z")


def _envelope_time(at: datetime) -> str:
    """A time as EventBridge writes an event's `time`: ISO 8601 in UTC, to the second, with a Z."""
    return utc_stamp(at)[:19] + "Z"

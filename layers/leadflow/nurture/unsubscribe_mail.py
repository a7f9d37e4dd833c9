"""Unsubscribing by email: the mailto of every nurture email's List-Unsubscribe, as SES receives it.

Beside its HTTPS link (`/u/{token}`, one click), List-Unsubscribe names a mailto (RFC 2369):
`mailto:unsubscribe-<client>[-<stage>]@<domain>?subject=unsubscribe%20<token>`, with the same signed token
as the link. Mail apps that do not POST the link (Apple Mail's unsubscribe banner among them)
send an email to that address with that subject. SES receives it by the stack's receipt rule
(leadflow.definition.InboundMailSpec), publishes it to the stack's topic, and the topic delivers
it in SNS's envelope to the ses-events queue, whose consumer reads it here.

The token is the only authority, as for the one-click POST: the sender's address proves nothing
(anyone can write any From), and a person may write from another mailbox of theirs. A token
is looked for in the subject, where the mailto puts it (SES's decoded `commonHeaders.subject`,
and the email's own Subject header, decoded), then in its text and HTML bodies, decoded (an app
that moved it to the body, a person who forwarded the email). What is read is bounded: the
first MOST_CHARS characters of each part, the first MOST_CANDIDATES token-shaped strings. An
email with no valid token unsubscribes nobody; it is counted, and logged by SES's message id,
never by its address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Literal

from leadflow.links import LinkRefused, LinkSigner

# Imported where used, not here: the SES events consumer imports this module for every bounce and complaint,
# and only an unsubscribe email needs the email package's parser or email_links' pages (about 29 ms of cold start).

# A link token's shape (leadflow.links): base64url payload, a dot, base64url MAC (32 bytes: 43 characters). The
# lookbehind starts a match only where a run of such characters starts: a long run is tried once, not at each place.
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])")
MOST_CANDIDATES = 20  # token-shaped strings checked per email
MOST_CHARS = 64_000  # of each place a token is looked for (a subject, a body): a long email cannot make the check long

Outcome = Literal["unsubscribed", "refused", "ignored"]


@dataclass(frozen=True)
class MailedUnsubscribe:
    """What one received email asks, and the lead it unsubscribes."""

    outcome: Outcome  # ignored: an SNS notification that is no received email
    message_id: str = ""  # SES's id of the received email, for the logs
    lead_id: str = ""
    refused: str = ""  # why no lead: no_token, or the best reason a candidate token was refused (leadflow.links)


def is_sns_notification(body: Mapping[str, Any]) -> bool:
    """A queue message SNS delivered (its envelope), as opposed to an EventBridge event."""
    return body.get("Type") == "Notification" and isinstance(body.get("Message"), str)


def read_unsubscribe_mail(envelope: Mapping[str, Any], signer: LinkSigner, now: datetime) -> MailedUnsubscribe:
    """The lead an email to the unsubscribe mailbox unsubscribes, from SNS's envelope of SES's notification."""
    from leadflow.nurture.email_links import UNSUBSCRIBE

    try:
        notification = json.loads(envelope["Message"])
    except ValueError:
        return MailedUnsubscribe("ignored")
    if not isinstance(notification, dict) or notification.get("notificationType") != "Received":
        return MailedUnsubscribe("ignored")
    mail = _object(notification.get("mail"))
    message_id = str(mail.get("messageId", ""))
    subject = _object(mail.get("commonHeaders")).get("subject")
    content = notification.get("content")
    places = [subject] if isinstance(subject, str) else []
    places += _decoded(content) if isinstance(content, str) else []
    found = (match.group() for text in places for match in _TOKEN.finditer(text[:MOST_CHARS]))
    candidates = list(islice(found, MOST_CANDIDATES))
    refusals: list[str] = []
    for token in candidates:
        try:
            claims = signer.verify(token, UNSUBSCRIBE, now)
        except LinkRefused as refused:
            refusals.append(refused.reason)
            continue
        return MailedUnsubscribe("unsubscribed", message_id, claims.lead_id)
    # The reason that says most: an expired link is a person we could not help, a forged one is not.
    order = ("expired", "wrong_purpose", "forged", "malformed")
    reason = min(refusals, key=order.index) if refusals else "no_token"
    return MailedUnsubscribe("refused", message_id, refused=reason)


def _decoded(content: str) -> list[str]:
    """The email's Subject and its text and HTML bodies, decoded (RFC 2047 words, quoted-printable, base64)."""
    from email import message_from_string, policy

    email = message_from_string(content[: 4 * MOST_CHARS], policy=policy.default)
    return [str(email.get("Subject", "")), *_bodies(email)]


def _bodies(email: Any) -> Iterator[str]:
    for part in islice(email.walk(), 20):
        if part.get_content_type() in ("text/plain", "text/html"):
            try:
                yield str(part.get_content())
            except (LookupError, ValueError):  # an unknown charset or a broken encoding: the raw text
                yield str(part.get_payload())


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def received_notification(
    sender: str, recipient: str, subject: str, message_id: str, now: datetime, *, topic_arn: str
) -> dict[str, Any]:
    """SES's notification of an email it received, as a receipt rule's SNS action publishes it.

    For the local stack (`leadflow local unsubscribe-by-email`) and tests: SES's fields as it
    fills them for an email that passed its scans, and the email itself in `content` (UTF-8).
    """
    from email.message import EmailMessage
    from email.utils import format_datetime

    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = sender, recipient, subject
    email["Date"], email["Message-ID"] = format_datetime(now.astimezone(UTC)), f"<{message_id}@local.leadflow>"
    email.set_content(subject)
    passed = {"status": "PASS"}
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": stamp,
            "source": sender,
            "messageId": message_id,
            "destination": [recipient],
            "headersTruncated": False,
            "headers": [{"name": name, "value": str(value)} for name, value in email.items()],
            "commonHeaders": {
                "returnPath": sender,
                "from": [sender],
                "date": email["Date"],
                "to": [recipient],
                "messageId": email["Message-ID"],
                "subject": subject,
            },
        },
        "receipt": {
            "timestamp": stamp,
            "processingTimeMillis": 1,
            "recipients": [recipient],
            "spamVerdict": passed,
            "virusVerdict": passed,
            "spfVerdict": passed,
            "dkimVerdict": passed,
            "dmarcVerdict": passed,
            "action": {"type": "SNS", "topicArn": topic_arn, "encoding": "UTF8"},
        },
        "content": email.as_string(),
    }

"""The outbox of the local stack: every email SES (moto) was asked to send, as a person reads it.

moto's server runs inside `leadflow local`'s process, and its SES backend keeps each email it
is sent in one list, in the order they were sent (an SES v2 send lands there too).
`outbox_in_process` reads that list where it lives, in the process that runs moto's server:
the local API's `/outbox` pages do, and its `/outbox.json` serves the same list as JSON, so
`read_outbox` (and `leadflow outbox`, in a second terminal) reads it from there over HTTP.

moto stores an email in one of two shapes. A `Raw` MIME message (how `leadflow.aws.mailer`
sends every email) is stored whole and parsed here with the `email` package: every header as
written (`List-Unsubscribe` included), the text and the HTML body. A `Simple` message is stored
as sender, recipients, subject and one body (the HTML one when both were given); moto drops
its custom headers, so an outbox cannot show them. Templated sends (leadflow makes none) are
not shown. moto records no time of sending: the time shown is the message's own `Date` header
(none for a Simple message); the order, newest first, is the order moto was sent them in.
"""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any
from urllib.parse import urlencode

JSON_PATH = "/outbox.json"  # where the local API serves the outbox
TIMEOUT_S = 10.0


class OutboxUnavailable(Exception):
    """Nothing answered at the URL as the local API would: the local stack is not running there."""

    def __init__(self, api_url: str, reason: str):
        super().__init__(f"no local API answered at {api_url} ({reason})")
        self.api_url = api_url
        self.reason = reason


@dataclass(frozen=True)
class OutboxEmail:
    """One email as SES would have sent it."""

    message_id: str  # the MessageId SES (moto) answered the send with
    sent_at: datetime | None  # from its Date header, in UTC; None when it has none (a Simple message)
    source: str  # the sender the send named (FromEmailAddress)
    to: tuple[str, ...]  # every recipient's address (To, Cc and Bcc), each once
    subject: str
    headers: list[tuple[str, str]]  # in the message's order, values decoded
    text: str | None  # the text/plain body, None when the email has none
    html: str | None  # the text/html body, None when the email has none

    def header(self, name: str) -> str | None:
        """The first value of the header (names compare without case), None when the email has none."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    def is_to(self, address: str) -> bool:
        return _names(self.to, address)

    def as_json(self) -> dict[str, Any]:
        """The email as `/outbox.json` serves it; `from_json` makes it again."""
        return {
            "message_id": self.message_id,
            "sent_at": self.sent_at.isoformat() if self.sent_at else None,
            "source": self.source,
            "to": list(self.to),
            "subject": self.subject,
            "headers": [[name, value] for name, value in self.headers],
            "text": self.text,
            "html": self.html,
        }

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> OutboxEmail:
        """The email `as_json` served; KeyError, TypeError or ValueError when `item` is not one."""
        sent_at = item["sent_at"]
        return cls(
            message_id=str(item["message_id"]),
            sent_at=datetime.fromisoformat(sent_at) if sent_at is not None else None,
            source=str(item["source"]),
            to=tuple(str(address) for address in item["to"]),
            subject=str(item["subject"]),
            headers=[(str(name), str(value)) for name, value in item["headers"]],
            text=None if item["text"] is None else str(item["text"]),
            html=None if item["html"] is None else str(item["html"]),
        )


def outbox_in_process(
    to: str | None = None, message_id: str | None = None, most: int | None = None
) -> list[OutboxEmail]:
    """Every email the SES of the moto in this process holds, newest first; only those to `to`, or the one
    SES answered with `message_id`, if given (the others are not parsed); the `most` newest, if given
    (older ones are not parsed: a local stack that sent 50,000 emails lists its newest at once).

    Reads moto's SES backends where they are, creating none: in a process that runs no moto
    server, or before anything was sent, the outbox is empty. The local stack sends from one
    region; were there several, each one's emails would come in send order, one region after another.
    """
    from moto.ses.models import Message, RawMessage, ses_backends

    from leadflow.aws.mailer import mailable
    from leadflow.route.notice import Undeliverable

    if to is not None:
        with contextlib.suppress(Undeliverable):  # never sent to: nothing in the outbox is to it
            to = mailable(to)  # as the mailer addressed it: ada@bücher.de is ada@xn--bcher-kva.de
    sent: list[Any] = []
    for regions in list(ses_backends.values()):  # a snapshot: moto's server adds to them from its own threads
        for backend in list(regions.values()):
            sent += list(backend.sent_messages)
    emails: list[OutboxEmail] = []
    for message in reversed(sent):
        if most is not None and len(emails) >= most:
            break
        if message_id is not None and getattr(message, "id", None) != message_id:
            continue
        if to is not None and not _may_be_to(vars(message), to):
            continue  # parsing a MIME message takes milliseconds: only those the filter may keep are
        if isinstance(message, RawMessage):
            email = _from_raw(vars(message))
        elif isinstance(message, Message):
            email = _from_simple(vars(message))
        else:
            continue
        if to is None or email.is_to(to):
            emails.append(email)
    return emails


def _may_be_to(stored: dict[str, Any], address: str) -> bool:
    """False when the recipients moto kept with the send (for a Raw one, those of its To, Cc and Bcc
    among them) do not name `address`; True when they do, or when it kept none."""
    destinations = stored.get("destinations") or []
    if isinstance(destinations, dict):  # a Simple send's, by kind
        destinations = [found for addresses in destinations.values() for found in addresses]
    recipients = _addresses(list(destinations))
    return not recipients or _names(recipients, address)


def _names(recipients: Iterable[str], address: str) -> bool:
    """Whether `address` is among `recipients`, in any case."""
    return address.strip().lower() in (recipient.lower() for recipient in recipients)


def outbox_json(to: str | None = None, most: int | None = None) -> str:
    """What the local API's `/outbox.json` answers: `outbox_in_process(to, most=most)` as a JSON list, newest first."""
    return json.dumps([email.as_json() for email in outbox_in_process(to, most=most)], ensure_ascii=False)


def read_outbox(
    api_url: str, to: str | None = None, timeout_s: float = TIMEOUT_S, most: int | None = None
) -> list[OutboxEmail]:
    """Every email in the outbox of the local stack whose API is at `api_url` (http://host:port), newest first;
    only those to `to`, and only the `most` newest, if given.

    `OutboxUnavailable` when nothing answers there as the local API would.
    """
    query = {key: str(value) for key, value in (("to", to), ("last", most)) if value is not None}
    url = api_url.rstrip("/") + JSON_PATH + (f"?{urlencode(query)}" if query else "")
    if not url.startswith(("http://", "https://")):
        raise OutboxUnavailable(api_url, "not an http:// URL")
    try:
        # The local stack's own API, named by the person running it or by a test.
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 - http(s) only, checked above
            items = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise OutboxUnavailable(api_url, f"HTTP {exc.code} for {JSON_PATH}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OutboxUnavailable(api_url, str(reason)) from None
    except ValueError:
        raise OutboxUnavailable(
            api_url, f"{JSON_PATH} is not JSON: something other than leadflow serves there"
        ) from None
    not_an_outbox = f"{JSON_PATH} is not an outbox: something other than leadflow serves there"
    if not isinstance(items, list):
        raise OutboxUnavailable(api_url, not_an_outbox)
    try:
        return [OutboxEmail.from_json(item) for item in items]
    except (KeyError, TypeError, ValueError):
        raise OutboxUnavailable(api_url, not_an_outbox) from None


def _from_raw(stored: dict[str, Any]) -> OutboxEmail:
    """A Raw message as moto keeps it: its id, the send's sender and recipients, and the MIME text."""
    message = message_from_string(str(stored.get("raw_data", "")), policy=policy.default)
    assert isinstance(message, EmailMessage)  # what policy.default makes
    headers = _headers(message)
    sender = stored.get("source") or _first(headers, "From") or ""
    return OutboxEmail(
        message_id=str(stored.get("id", "")),
        sent_at=_date(message),
        source=str(sender),
        to=_addresses(list(stored.get("destinations") or []) or _values(headers, "To", "Cc")),
        subject=_first(headers, "Subject") or "",
        headers=headers,
        text=_body(message, "plain"),
        html=_body(message, "html"),
    )


def _from_simple(stored: dict[str, Any]) -> OutboxEmail:
    """A Simple message as moto keeps it: sender, recipients by kind, subject and one body, no headers."""
    destinations: dict[str, list[str]] = stored.get("destinations") or {}
    kinds = (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses"))
    headers = [("From", str(stored.get("source", "")))]
    headers += [(name, ", ".join(destinations[key])) for name, key in kinds if destinations.get(key)]
    headers.append(("Subject", str(stored.get("subject", ""))))
    body = str(stored.get("body", ""))
    is_html = body.lstrip().startswith("<")  # moto keeps the HTML body when both were sent, else the text
    return OutboxEmail(
        message_id=str(stored.get("id", "")),
        sent_at=None,
        source=str(stored.get("source", "")),
        to=_addresses([address for _, key in kinds for address in destinations.get(key, [])]),
        subject=str(stored.get("subject", "")),
        headers=headers,
        text=None if is_html else body,
        html=body if is_html else None,
    )


def _headers(message: EmailMessage) -> list[tuple[str, str]]:
    """Every header, its value decoded (`=?utf-8?q?...?=` becomes text); as written when it cannot be parsed."""
    parsed = []
    for name, raw in message.raw_items():
        try:
            value = str(message.policy.header_fetch_parse(name, raw))
        except Exception:  # a malformed header is shown as sent, not dropped: the outbox is for finding such things
            value = str(raw)
        parsed.append((name, value))
    return parsed


def _first(headers: list[tuple[str, str]], name: str) -> str | None:
    return next((value for key, value in headers if key.lower() == name.lower()), None)


def _values(headers: list[tuple[str, str]], *names: str) -> list[str]:
    wanted = {name.lower() for name in names}
    return [value for key, value in headers if key.lower() in wanted]


def _addresses(values: list[str]) -> tuple[str, ...]:
    """The addresses named in header-like values ("Ada <ada@x>, bo@y"), each once, in order."""
    found: dict[str, str] = {}
    for _, address in getaddresses([str(value) for value in values]):
        if address:
            found.setdefault(address.lower(), address)
    return tuple(found.values())


def _date(message: EmailMessage) -> datetime | None:
    try:
        header = message["Date"]
        moment = getattr(header, "datetime", None)
    except Exception:  # an unreadable Date is no date
        return None
    if not isinstance(moment, datetime):
        return None
    # "-0000" (what formatdate writes for UTC) parses as a naive time: it is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _body(message: EmailMessage, subtype: str) -> str | None:
    """The message's text/<subtype> body, lines ended by \\n; None when it has none."""
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return None
    try:
        content = part.get_content()
    except Exception:  # an unknown charset or a broken encoding: show what can be read
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if not isinstance(content, str):
        return None
    return content.replace("\r\n", "\n")

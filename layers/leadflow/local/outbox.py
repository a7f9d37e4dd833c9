"""The outbox of the local stack: every email SES (moto) was asked to send, as a person reads it.

moto keeps what it is sent and shows it, with all its other state, at `/moto-api/data.json` of
its server. That is read over HTTP, so `leadflow outbox` in a second terminal sees what a
running `leadflow local` sent, and the local API's `/outbox` page sees the same.

moto stores an email in one of two shapes. A `Raw` MIME message (how `leadflow.aws.mailer`
sends every email) is stored whole and parsed here with the `email` package: every header as
written (`List-Unsubscribe` included), the text and the HTML body. A `Simple` message is stored
as sender, recipients, subject and one body (the HTML one when both were given); moto drops
its custom headers, so an outbox cannot show them. moto records no time of sending: the time
shown is the message's own `Date` header, and the order is the order moto received them in.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

DATA_PATH = "/moto-api/data.json"
TIMEOUT_S = 10.0


class OutboxUnavailable(Exception):
    """Nothing answered at the endpoint as moto's server would: the local stack is not running there."""

    def __init__(self, endpoint: str, reason: str):
        super().__init__(f"no moto server answered at {endpoint} ({reason})")
        self.endpoint = endpoint
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
        return address.strip().lower() in (recipient.lower() for recipient in self.to)


def read_outbox(endpoint: str, to: str | None = None, timeout_s: float = TIMEOUT_S) -> list[OutboxEmail]:
    """Every email moto's SES holds at `endpoint` (http://host:port), newest first; only those to `to` if given.

    `OutboxUnavailable` when no moto server answers there.
    """
    emails = outbox_of(_moto_state(endpoint, timeout_s))
    return [email for email in emails if to is None or email.is_to(to)]


def find_email(endpoint: str, message_id: str, timeout_s: float = TIMEOUT_S) -> OutboxEmail | None:
    """The email SES answered with `message_id`, if moto holds it."""
    return next((email for email in read_outbox(endpoint, timeout_s=timeout_s) if email.message_id == message_id), None)


def outbox_of(state: dict[str, Any]) -> list[OutboxEmail]:
    """The emails in moto's state (what `/moto-api/data.json` answers), newest first.

    Raw and Simple messages are kept in two lists, each in the order moto received them;
    which of two came first across the lists is not recorded. The dated (Raw) ones come
    first, newest first, then the Simple ones, newest first.
    """
    ses = state.get("ses", {})
    raw = [_from_raw(stored) for stored in ses.get("RawMessage", [])]
    simple = [_from_simple(stored) for stored in ses.get("Message", [])]
    return raw[::-1] + simple[::-1]


def _moto_state(endpoint: str, timeout_s: float) -> dict[str, Any]:
    url = endpoint.rstrip("/") + DATA_PATH
    if not url.startswith(("http://", "https://")):
        raise OutboxUnavailable(endpoint, "not an http:// URL")
    try:
        # The local stack's own moto server, named by the person running it or by the runtime itself.
        with urllib.request.urlopen(url, timeout=timeout_s) as answer:  # noqa: S310 - http(s) only, checked above
            state = json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        raise OutboxUnavailable(endpoint, f"HTTP {exc.code} for {DATA_PATH}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OutboxUnavailable(endpoint, str(reason)) from None
    except ValueError:
        raise OutboxUnavailable(endpoint, f"{DATA_PATH} is not JSON: something other than moto serves there") from None
    if not isinstance(state, dict):
        raise OutboxUnavailable(endpoint, f"{DATA_PATH} is not moto's state")
    return state


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

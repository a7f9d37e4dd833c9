"""Webhooks: a client's own systems (a CRM, a chat) told of leads' events, signed and retried.

Configured in the client file, each with a name, a URL and the events it wants:

    [[notify.webhooks]]
    name = "crm"
    url = "https://crm.example.com/hooks/leadflow"
    events = ["LeadAssigned", "LeadWon"]

How an event reaches them (functions/webhooks, on the stack's webhooks queue):

1. An EventBridge rule copies every event any webhook wants from the stack's bus to the
   webhooks queue, whole (EventBridge's envelope, the domain event in `detail`).
2. On its first receipt the function splits the event into one message per webhook that
   wants it, `{"webhook": NAME, "event": ...}`, sent back to the same queue; the event's own
   message is then done. EventBridge cannot fan out per webhook to one queue, and one message
   per (event, webhook) is what lets each receiver be retried alone: a receiver that is down
   never makes another one get the event twice.
3. For a delivery message it POSTs the event to the webhook's URL, signed. A 2xx answer is
   delivered. Anything else (another status, a redirect, which is never followed, a timeout,
   a refused connection) fails the message, which comes back after a backoff that doubles
   with each attempt (30 s, 1, 2, 4, 8 minutes, then 15 minutes); after MAX_ATTEMPTS (about
   45 minutes) it waits in the dead-letter queue, which raises the stack's alarm:
   `leadflow webhooks failed` lists those deliveries, `leadflow webhooks resend` sends them again.

Delivery is at least once: a receiver may get an event twice (after a crash between its
answer and the message's deletion, or a split that was retried). The Leadflow-Event-Id
header is the same each time: skip an id already handled.

The request:

    POST <url>
    Content-Type: application/json
    User-Agent: leadflow-webhooks
    Leadflow-Event-Id: <the event's id>
    Leadflow-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>

    {"id": "<the event's id>", "type": "LeadAssigned", "time": "2026-11-23T09:41:09Z", "detail": {...}}

Verifying it (Stripe's scheme): the key is the stack's webhook key (`leadflow webhooks key`).
Take `t` and every `v1` from the header, compute HMAC-SHA256 with the key over `t`, a dot and
the raw body exactly as received (bytes, before any JSON parsing), compare it with each v1 in
constant time, and refuse a `t` more than five minutes from now (a replayed request).
`verify_signature` below does exactly that with Python's standard library only: copy it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from leadflow.config import Webhook

SIGNATURE_HEADER = "Leadflow-Signature"
EVENT_ID_HEADER = "Leadflow-Event-Id"
USER_AGENT = "leadflow-webhooks"
SIGNATURE_TOLERANCE_S = 300  # how far a signature's time may be from the receiver's clock

# Retries: the first after 30 s, each next one twice as late, none later than 15 minutes after
# the last; the dead-letter queue takes a delivery after its MAX_ATTEMPTS-th failure (the
# webhooks queue's max receive count), at once: that failure waits no longer.
MAX_ATTEMPTS = 8
FIRST_RETRY_S = 30
LONGEST_RETRY_S = 15 * 60


def retry_delay_s(attempt: int) -> int:
    """How long a delivery that failed its `attempt`-th time (1, 2, ...) waits before the next; 0 after
    the last attempt, whose next receipt moves it to the dead-letter queue."""
    if attempt >= MAX_ATTEMPTS:
        return 0
    return int(min(FIRST_RETRY_S * 2 ** (max(attempt, 1) - 1), LONGEST_RETRY_S))


def retries_span_s() -> int:
    """How long a delivery waits, in all, between its first attempt and its last (about 45 minutes)."""
    return sum(retry_delay_s(attempt) for attempt in range(1, MAX_ATTEMPTS + 1))


# --- which webhooks get which event ---------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One event for one webhook: a message of its own on the webhooks queue."""

    webhook: str
    event: Mapping[str, Any]  # as EventBridge delivered it: id, detail-type, time, detail, ...

    def message(self) -> dict[str, Any]:
        return {"webhook": self.webhook, "event": dict(self.event)}

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> Delivery:
        return cls(webhook=str(message["webhook"]), event=message["event"])


def is_delivery(message: Mapping[str, Any]) -> bool:
    """A message for one webhook (split from an event), rather than an event as the bus sent it."""
    return "webhook" in message and "event" in message


def deliveries_for(event: Mapping[str, Any], webhooks: Sequence[Webhook]) -> list[Delivery]:
    """One delivery for each webhook that wants this event's type, in the client file's order."""
    return [Delivery(hook.name, event) for hook in webhooks if event.get("detail-type") in hook.events]


def webhook_for(delivery: Delivery, webhooks: Sequence[Webhook]) -> Webhook | None:
    """The webhook a delivery is for, as the client file has it now; None once it is gone or no longer
    wants this event type (then the delivery is dropped: nobody asks for it any more)."""
    for hook in webhooks:
        if hook.name == delivery.webhook:
            return hook if delivery.event.get("detail-type") in hook.events else None
    return None


# --- what is sent ---------------------------------------------------------------------------


def request_body(event: Mapping[str, Any]) -> bytes:
    """The JSON a receiver gets: the event's id, type, time and detail (compact, UTF-8)."""
    body = {"id": event["id"], "type": event["detail-type"], "time": event.get("time"), "detail": event["detail"]}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(body: bytes, key: bytes, timestamp: int) -> str:
    """The Leadflow-Signature header's value: t=<timestamp>,v1=<hex HMAC-SHA256(key, "<t>.<body>")>."""
    mac = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def request_headers(event: Mapping[str, Any], body: bytes, key: bytes, now: float) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(event["id"]),
        SIGNATURE_HEADER: signature(body, key, int(now)),
    }


def verify_signature(
    body: bytes | str, header: str, key: bytes | str, now: float, tolerance_s: float = SIGNATURE_TOLERANCE_S
) -> bool:
    """Whether a webhook request is leadflow's and recent: for receivers (copy it; standard library only).

    body: the raw request body as received; header: the Leadflow-Signature header; key: the
    stack's webhook key; now: the receiver's clock in unix seconds (time.time()).
    """
    body_bytes = body.encode() if isinstance(body, str) else body
    key_bytes = key.encode() if isinstance(key, str) else key
    timestamp, signatures = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and re.fullmatch(r"[0-9]{1,12}", value):
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value)
    if timestamp is None or not signatures or abs(now - timestamp) > tolerance_s:
        return False
    expected = hmac.new(key_bytes, f"{timestamp}.".encode() + body_bytes, hashlib.sha256).hexdigest().encode()
    return any(hmac.compare_digest(expected, candidate.encode()) for candidate in signatures)


# --- what ops see of a failed delivery ------------------------------------------------------


@dataclass(frozen=True)
class FailedDelivery:
    """A message of the webhooks dead-letter queue, as `leadflow webhooks failed` lists it."""

    webhook: str  # "" for an event that was never split (its split failed every time)
    event_type: str
    lead_id: str
    event_id: str


def describe_message(message: Mapping[str, Any]) -> FailedDelivery:
    event = message["event"] if is_delivery(message) else message
    detail = event.get("detail") or {}
    return FailedDelivery(
        webhook=str(message["webhook"]) if is_delivery(message) else "",
        event_type=str(event.get("detail-type", "")),
        lead_id=str(detail.get("lead_id", "")) if isinstance(detail, Mapping) else "",
        event_id=str(event.get("id", "")),
    )

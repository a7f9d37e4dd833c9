"""Identifiers for leads and inquiries.

A lead is one person, so its id is derived from the normalised email: every function that
sees the email knows the lead's id without a read, and two inquiries from one person can
only ever land on one lead. The derivation is keyed (HMAC-SHA256) with the client stack's
own secret, the lead id key, so an id that leaves the stack (in an answer, a log line, an
event) cannot be recomputed from an email address by anyone without that key.

An inquiry's id comes from the website's idempotency key when there is one (so a retried
post is the same inquiry), else it is time-ordered.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass

MIN_KEY_BYTES = 32

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass(frozen=True)
class LeadIds:
    """How one client stack names its leads and keyed inquiries."""

    client: str
    key: bytes  # the stack's lead id key: never logged, never leaves the stack

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_BYTES:
            raise ValueError(f"the lead id key must be at least {MIN_KEY_BYTES} bytes; it is {len(self.key)}")

    def lead_id(self, normalized_email: str) -> str:
        return "ld_" + self._digest("lead", normalized_email)

    def inquiry_id_for_key(self, lead_id: str, idempotency_key: str) -> str:
        return "iq_" + self._digest("inquiry", lead_id, idempotency_key)

    def _digest(self, *parts: str) -> str:
        raw = hmac.new(self.key, "\x1f".join((self.client, *parts)).encode(), hashlib.sha256).digest()
        return base64.b32encode(raw).decode().lower().rstrip("=")[:24]

    def __repr__(self) -> str:  # the key stays out of tracebacks and logs
        return f"LeadIds(client={self.client!r}, key=<{len(self.key)} bytes>)"


def new_lead_id_key() -> str:
    """A fresh lead id key, as text (what Secrets Manager generates for a deployed stack)."""
    return base64.b32encode(os.urandom(40)).decode().lower()


def new_inquiry_id(now_ms: int | None = None) -> str:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "iq_" + "".join(reversed(chars)).lower()

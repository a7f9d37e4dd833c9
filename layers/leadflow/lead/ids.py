"""Identifiers for leads and inquiries.

A lead is one person, so its id is derived from the client and the normalised email: every
function that sees the email knows the lead's id without a read, and two inquiries from one
person can only ever land on one lead. An inquiry's id comes from the website's idempotency
key when there is one (so a retried post is the same inquiry), else it is time-ordered.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _digest(*parts: str, length: int) -> str:
    raw = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(raw).decode().lower().rstrip("=")[:length]


def lead_id_for(client: str, normalized_email: str) -> str:
    return "ld_" + _digest("lead", client, normalized_email, length=24)


def inquiry_id_for_key(client: str, lead_id: str, idempotency_key: str) -> str:
    return "iq_" + _digest("inquiry", client, lead_id, idempotency_key, length=24)


def new_inquiry_id(now_ms: int | None = None) -> str:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, Crockford base32."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "iq_" + "".join(reversed(chars)).lower()

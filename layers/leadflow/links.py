"""Signed links for emails: accept or reject a lead today, unsubscribe and click later.

A link carries a token that names one purpose, one lead, who may act and when the link
expires. The token is signed with the stack's link key, so nobody without that key can make
one or change one; a page that opens from a link shows what it will do, and acting on it
takes a POST, never a GET (mail scanners follow every link they see).

A token is ``base64url(payload) + "." + base64url(mac)``, unpadded, so it fits in one URL
path segment. The payload is compact JSON with sorted keys (signing is deterministic); the
MAC is HMAC-SHA256 over a domain-separation prefix and the payload's exact bytes, so a MAC
made for anything else the key signs can never pass as a link. Decoding is strict: a token
has exactly one encoding, and any other string is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

MIN_KEY_BYTES = 32
MAX_TOKEN_CHARS = 2048  # what a URL path segment can carry through mail clients and proxies

RefusalReason = Literal["malformed", "forged", "expired", "wrong_purpose"]

_VERSION = 1
_DOMAIN = b"leadflow-link/v1\n"
_MAC_BYTES = hashlib.sha256().digest_size
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_REQUIRED_FIELDS = frozenset({"v", "p", "l", "s", "e"})
_ALL_FIELDS = _REQUIRED_FIELDS | {"x"}


class LinkRefused(Exception):
    """A link that may not be acted on, and why: the page it opens says which."""

    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason)
        self.reason: RefusalReason = reason

    def __str__(self) -> str:
        return f"link refused: {self.reason}"


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link lets someone do."""

    purpose: str  # "respond" (accept or reject a lead); later "unsubscribe", "click"
    lead_id: str
    subject: str  # who may act: a rep id for "respond"; "" when the link is the lead's own
    expires_at: datetime  # UTC, whole seconds
    extra: dict[str, str]  # e.g. {"url": ...} for a click link; often empty


class LinkSigner:
    """Makes and checks the links of one stack, with that stack's link key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(f"the link key must be at least {MIN_KEY_BYTES} bytes; it is {len(key)}")
        self._key = bytes(key)

    def __repr__(self) -> str:  # the key stays out of tracebacks and logs
        return f"LinkSigner(key=<{len(self._key)} bytes>)"

    def sign(
        self,
        purpose: str,
        lead_id: str,
        subject: str,
        expires_at: datetime,
        extra: Mapping[str, str] | None = None,
    ) -> str:
        """The token for one action on one lead, valid until ``expires_at`` (floored to the second)."""
        if not purpose or not lead_id:
            raise ValueError("a link needs a purpose and a lead id")
        extra = dict(extra or {})
        if not all(map(_is_str, (purpose, lead_id, subject, *extra.keys(), *extra.values()))):
            raise TypeError("a link's purpose, lead id, subject and extra keys and values must be strings")
        payload: dict[str, object] = {
            "v": _VERSION,
            "p": purpose,
            "l": lead_id,
            "s": subject,
            "e": int(_utc(expires_at, "expires_at").timestamp()),
        }
        if extra:  # left out when empty: a shorter link
            payload["x"] = extra
        payload_bytes = json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
        token = f"{_encode(payload_bytes)}.{_encode(self._mac(payload_bytes))}"
        if len(token) > MAX_TOKEN_CHARS:
            raise ValueError(
                f"the link would be {len(token)} characters, more than the {MAX_TOKEN_CHARS} a link may be; "
                "shorten what goes in extra"
            )
        return token

    def verify(self, token: str, purpose: str, now: datetime) -> LinkClaims:
        """The claims of a token signed with this key for ``purpose`` and not yet expired at ``now``.

        Raises LinkRefused: "malformed" (not a token), "forged" (not signed with this key, or
        changed), "wrong_purpose" (a link for another action), "expired".
        """
        now = _utc(now, "now")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
            raise LinkRefused("malformed")
        parts = token.split(".")
        if len(parts) != 2:
            raise LinkRefused("malformed")
        payload_bytes, mac = _decode(parts[0]), _decode(parts[1])
        if len(mac) != _MAC_BYTES:
            raise LinkRefused("malformed")
        if not hmac.compare_digest(mac, self._mac(payload_bytes)):
            raise LinkRefused("forged")
        claims = _claims(payload_bytes)
        if claims.purpose != purpose:
            raise LinkRefused("wrong_purpose")
        if now >= claims.expires_at:
            raise LinkRefused("expired")
        return claims

    def _mac(self, payload_bytes: bytes) -> bytes:
        return hmac.new(self._key, _DOMAIN + payload_bytes, hashlib.sha256).digest()


def _claims(payload_bytes: bytes) -> LinkClaims:
    """The claims in a payload this key signed, if it has the shape this version writes."""
    try:
        payload = json.loads(payload_bytes.decode())
    except ValueError:  # not UTF-8, or not JSON
        raise LinkRefused("malformed") from None
    if not isinstance(payload, dict) or not _REQUIRED_FIELDS <= payload.keys() <= _ALL_FIELDS:
        raise LinkRefused("malformed")
    version, purpose, lead_id, subject = payload["v"], payload["p"], payload["l"], payload["s"]
    expires, extra = payload["e"], payload.get("x", {})
    if (
        type(version) is not int
        or version != _VERSION
        or not all(map(_is_str, (purpose, lead_id, subject)))
        or type(expires) is not int
        or not isinstance(extra, dict)
        or not all(_is_str(key) and _is_str(value) for key, value in extra.items())
    ):
        raise LinkRefused("malformed")
    try:
        expires_at = datetime.fromtimestamp(expires, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise LinkRefused("malformed") from None
    return LinkClaims(purpose=purpose, lead_id=lead_id, subject=subject, expires_at=expires_at, extra=extra)


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    """Bytes from unpadded base64url, refusing every string but the one canonical encoding."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise LinkRefused("malformed")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise LinkRefused("malformed") from None
    if _encode(raw) != text:  # unused low bits in the last character set: another spelling of the same bytes
        raise LinkRefused("malformed")
    return raw


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC); it is naive: {moment.isoformat()}")
    return moment.astimezone(UTC)


def _is_str(value: object) -> bool:
    return isinstance(value, str)

"""The two links every nurture email carries: unsubscribe (`/u/{token}`) and click tracking (`/c/{token}`).

Pure: the links are made and checked here with the stack's `LinkSigner` (leadflow.links), and
the pages are decided here; the handler (functions/email_links) only turns events into inputs
and does what the answer says (suppress the lead, queue the click).

Unsubscribe follows RFC 8058. The email's `List-Unsubscribe` header holds the HTTPS link, and
mail providers POST `List-Unsubscribe=One-Click` to it with no cookie and no login: the signed
token is the only authority, so any POST with a valid token unsubscribes (the page's own button
posts the same body). A GET only shows a page with that button, because mail scanners follow
every link they see and must never unsubscribe anybody.

A click link redirects to the one URL it was signed for and to nothing else (no open
redirect), and hands back the engagement the click is: the intake queue records it on the
lead, where it raises the score through the same qualification as an inquiry.

No page says anything about the lead (no name, no address): whoever holds the link sees only
what it does.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from leadflow.follow_up.link_page import PAGE_HEADERS, _document
from leadflow.lead.profile import EngagementEntry, utc_stamp
from leadflow.links import LinkClaims, LinkRefused, LinkSigner

UNSUBSCRIBE = "unsubscribe"  # the links' purposes
CLICK = "click"
# How long the links in a nurture email work. People keep emails and click them months later (a
# guide they saved, a search of their inbox), and inbox providers offer their own unsubscribe button
# on every old email that has a List-Unsubscribe header: a link that died after a week would leave a
# person unable to unsubscribe, or on an error page instead of the guide. The expiry still bounds
# what a leaked link can do.
UNSUBSCRIBE_DAYS = 180
CLICK_DAYS = 180

Outcome = Literal["shown", "unsubscribed", "clicked", "refused"]

# Printable ASCII without the space: what a click target may hold once other characters are percent-encoded.
_URL_SAFE = "".join(c for c in string.printable if not c.isspace())
_UNSAFE_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f\\]|\s")  # control characters, whitespace, and a backslash
_NOT_VALID = "This link is not valid"
_UNSUBSCRIBE_HELP = (
    "Open the unsubscribe link in the latest email you had from us, or reply to that email and ask to be removed."
)
_CLICK_HELP = "Open the link from your email again, without changing it, or visit our website."
_REDIRECT_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class LinkAnswer:
    """What an email link answers, and what the handler does for it."""

    status: int
    headers: Mapping[str, str]
    html: str
    outcome: Outcome
    lead_id: str = ""  # the link's lead (a pseudonymous id, never the address); "" when refused
    refused: str = ""  # why a link was refused (leadflow.links.RefusalReason), for the logs
    engagement_message: dict[str, Any] | None = None  # a click: the intake message recording it


def unsubscribe_url(signer: LinkSigner, base_url: str, lead_id: str, now: datetime) -> str:
    """The lead's one-click unsubscribe link (for the List-Unsubscribe header and `unsubscribe_url` in templates)."""
    token = signer.sign(UNSUBSCRIBE, lead_id, "", now + timedelta(days=UNSUBSCRIBE_DAYS))
    return f"{base_url.rstrip('/')}/u/{token}"


def mailto_subject(token: str) -> str:
    """The subject the mailto of List-Unsubscribe asks for, percent-encoded for the URL: `unsubscribe <token>`
    (leadflow.nurture.unsubscribe_mail reads the token back)."""
    return f"{UNSUBSCRIBE}%20{token}"


def click_url(
    signer: LinkSigner,
    base_url: str,
    lead_id: str,
    url: str,
    now: datetime,
    sequence: str = "",
    step: int | None = None,
) -> str:
    """A link that records the lead's click and then goes to `url` (what `link(url)` gives templates).

    The sequence and step, when given, travel in the token: they say which email was clicked.
    Raises ValueError for a URL a redirect must not go to.
    """
    extra = {"url": click_target(url)}
    if sequence:
        extra["sequence"] = sequence
    if step is not None:
        extra["step"] = str(step)
    token = signer.sign(CLICK, lead_id, "", now + timedelta(days=CLICK_DAYS), extra)
    return f"{base_url.rstrip('/')}/c/{token}"


def click_target(url: str) -> str:
    """`url` as a click link may redirect to: absolute http(s) with a host; other characters percent-encoded.

    Raises ValueError for anything else: a redirect to `javascript:`, to a relative path, or a URL
    with spaces or control characters (which could split the Location header) is never signed.
    """
    if not isinstance(url, str) or _UNSAFE_IN_URL.search(url):
        raise ValueError(
            f"a link in an email may not contain spaces, control characters or backslashes: {url!r}; "
            "percent-encode them (a space is %20)"
        )
    encoded = quote(url, safe=_URL_SAFE)  # only what is not printable ASCII changes (an accented path, say)
    parts = urlsplit(encoded)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"a link in an email must be an absolute http or https URL, like https://example.com/guide: {url!r}"
        )
    return encoded


def unsubscribe_page(
    method: str, token: str, now: datetime, *, signer: LinkSigner, unsubscribe: Callable[[str], object]
) -> LinkAnswer:
    """`GET /u/{token}` asks (a page with one button); `POST /u/{token}` unsubscribes, with `unsubscribe(lead_id)`.

    A bad link (malformed, forged, altered, for another purpose, or expired) is a 404 either way.
    Unsubscribing twice is no error: the second POST changes nothing and says the same.
    """
    try:
        claims = signer.verify(token, UNSUBSCRIBE, now)
    except LinkRefused as refused:
        return _refused(404, _UNSUBSCRIBE_HELP, refused)
    if method.upper() != "POST":
        body = (
            "<h1>Unsubscribe from these emails?</h1>"
            "<p>Press the button and we will send you no more of these emails.</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
            '<button style="background:#344054">Unsubscribe</button></form>'
        )
        return LinkAnswer(200, PAGE_HEADERS, _document("Unsubscribe", body), "shown", claims.lead_id)
    unsubscribe(claims.lead_id)
    page = _message("You are unsubscribed", "You will get no more of these emails from us.")
    return LinkAnswer(200, PAGE_HEADERS, page, "unsubscribed", claims.lead_id)


def follow_click(token: str, now: datetime, request_id: str, *, signer: LinkSigner) -> LinkAnswer:
    """`GET /c/{token}`: a redirect to the URL the token was signed for, and the engagement to record.

    A bad link is a 400 page with no Location: nothing but a signed URL is ever redirected to.
    `request_id` (API Gateway's) makes the engagement's id, so a retried request counts once.
    """
    try:
        claims = signer.verify(token, CLICK, now)
    except LinkRefused as refused:
        return _refused(400, _CLICK_HELP, refused)
    target = claims.extra.get("url", "")
    if not _is_click_target(target):  # signed with this key, but not by click_url: nowhere to trust
        return _refused(400, _CLICK_HELP, LinkRefused("malformed"))
    headers = {"Location": target, **_REDIRECT_HEADERS}
    message = engagement_message(claims, token, request_id, now)
    return LinkAnswer(302, headers, "", "clicked", claims.lead_id, engagement_message=message)


def engagement_message(claims: LinkClaims, token: str, request_id: str, now: datetime) -> dict[str, Any]:
    """The intake queue's message for one click: its id is the same for the same request, and only for it."""
    digest = hashlib.sha256(f"click\x1f{token}\x1f{request_id}".encode()).digest()
    engagement_id = "ec_" + base64.b32encode(digest).decode().lower().rstrip("=")[:24]
    engagement: EngagementEntry = {"kind": "email_click", "at": utc_stamp(now), "detail": claims.extra["url"]}
    message: dict[str, Any] = {
        "kind": "engagement",
        "lead_id": claims.lead_id,
        "engagement_id": engagement_id,
        "engagement": engagement,
    }
    if claims.extra.get("sequence"):  # which email it was in: the reason a stage change gives
        message["sequence"] = claims.extra["sequence"]
    if claims.extra.get("step"):
        message["step"] = int(claims.extra["step"])
    return message


def _is_click_target(url: str) -> bool:
    try:
        return click_target(url) == url
    except ValueError:
        return False


def _refused(status: int, help_text: str, refused: LinkRefused) -> LinkAnswer:
    # Expired or forged alike: the page says the same, so it tells nobody which links exist.
    return LinkAnswer(status, PAGE_HEADERS, _message(_NOT_VALID, help_text), "refused", refused=refused.reason)


def _message(title: str, text: str) -> str:
    return _document(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>")

"""The one-tap page behind the Accept and Reject links in an owner's email (no login: the link is the key).

`GET /r/{token}` shows the lead and two buttons; only `POST /r/{token}` acts (a mail
scanner that follows every link must never accept a lead). The token (leadflow.links) is
signed for one rep and one lead and expires; it acts only while that rep owns the lead and
it waits for an answer, so a reused, altered, expired or overtaken link is refused with a
page that says why. Pages are small, readable on a phone, with no script and no external
resource; the token never leaves in a Referer.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from leadflow.config import ClientConfig
from leadflow.follow_up.changes import Actor, FollowUp, FollowUpError, NotYourLead, check_follow_up, follow_up_lead
from leadflow.lead.change import LeadServices
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.lead.profile import LeadProfile
from leadflow.links import LinkRefused, LinkSigner
from leadflow.route.notice import lead_summary

RESPOND = "respond"  # the links' purpose
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}
REFUSED = {
    "malformed": (404, "This link is not valid", "Open the link from your email again, without changing it."),
    "forged": (404, "This link is not valid", "Open the link from your email again, without changing it."),
    "wrong_purpose": (404, "This link is not valid", "Open the link from your email again, without changing it."),
    "expired": (410, "This link has expired", "Find the lead in your leads list, or ask your manager."),
}


@dataclass(frozen=True)
class Page:
    status: int
    html: str


def respond(
    method: str,
    token: str,
    form: Mapping[str, str],
    now: datetime,
    *,
    signer: LinkSigner,
    read_profile: Callable[[str], LeadProfile | None],
    services: LeadServices,
    config: ClientConfig,
) -> Page:
    """What the link shows (GET) or does (POST)."""
    try:
        claims = signer.verify(token, RESPOND, now)
    except LinkRefused as refused:
        return _message(*REFUSED[refused.reason])
    profile = read_profile(claims.lead_id)
    same_assignment = claims.extra.get("assigned_at", "") == str((profile or {}).get("assigned_at", ""))
    if profile is None or profile.get("owner") != claims.subject or not same_assignment:
        return _message(410, "This lead is no longer yours", "It was reassigned, or it left your list.")
    if profile.get("stage") != "assigned":
        done = {"accepted": "You accepted this lead."}.get(str(profile.get("stage")), "This lead has moved on.")
        return _message(409, "Already answered", f"{done} Nothing more to do on this link.")
    reasons = config.follow_up.reject_reasons
    if method != "POST":
        return _lead_page(profile, form.get("action", ""), reasons)
    action = form.get("action", "")
    if action not in ("accept", "reject"):
        return _lead_page(profile, "", reasons, problem="Choose Accept or Reject.", status=400)
    actor = Actor("rep", rep_id=claims.subject, name=str(profile.get("owner_name", "")), via="link")
    try:
        follow_up = check_follow_up(FollowUp(action, reason=form.get("reason") or None), config)  # type: ignore[arg-type]
        follow_up_lead(claims.lead_id, follow_up, actor, services, config, now)
    except FollowUpError as error:
        return _lead_page(profile, action, reasons, problem=f"Choose a reason ({error.problem}).", status=400)
    except (InvalidTransition, NotYourLead):
        return _message(409, "Already answered", "Someone answered for this lead first. Nothing more to do.")
    if action == "accept":
        return _message(
            200, "Accepted: the lead is yours", "Contact them now: leads called within the hour qualify far more often."
        )
    return _message(200, "Rejected", f"Thank you. The lead went back ({reasons[str(follow_up.reason)]}).")


def _lead_page(
    profile: LeadProfile, action: str, reasons: Mapping[str, str], problem: str = "", status: int = 200
) -> Page:
    rows = "".join(
        f"<dt>{html.escape(label)}</dt><dd>{html.escape(value)}</dd>" for label, value in lead_summary(profile)
    )
    sla = profile.get("sla") or {}
    due = f"<p>Accept by <b>{html.escape(str(sla['due_at']))}</b>.</p>" if sla.get("due_at") else ""
    options = "".join(
        f'<option value="{html.escape(reason)}">{html.escape(reason.replace("_", " "))}</option>' for reason in reasons
    )
    warn = f'<p class="problem" role="alert">{html.escape(problem)}</p>' if problem else ""
    accept_first = action != "reject"
    accept = '<button name="action" value="accept" class="accept">Accept</button>'
    reject = (
        f'<label>Reason <select name="reason"><option value="">choose…</option>{options}</select></label>'
        '<button name="action" value="reject" class="reject">Reject</button>'
    )
    forms = (accept, reject) if accept_first else (reject, accept)
    body = f"""<h1>A lead for you</h1>{warn}{due}<dl>{rows}</dl>
<form method="post">{forms[0]}</form><form method="post">{forms[1]}</form>"""
    return Page(status, _document("A lead for you", body))


def _message(status: int, title: str, text: str) -> Page:
    return Page(status, _document(title, f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"))


def _document(title: str, body: str) -> str:
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<title>{html.escape(title)}</title><style>
body{{font-family:system-ui,sans-serif;margin:0 auto;max-width:32rem;padding:1rem;font-size:1.05rem;color:#222}}
dt{{color:#666;font-size:.85rem;margin-top:.6rem}}dd{{margin:0;overflow-wrap:anywhere}}
form{{margin:1rem 0}}button{{width:100%;padding:1rem;font-size:1.1rem;border:0;border-radius:.5rem;color:#fff}}
.accept{{background:#1a7f37}}.reject{{background:#b42318;margin-top:.5rem}}select{{width:100%;padding:.6rem;font-size:1rem}}
label{{display:block}}.problem{{background:#fde8e8;padding:.6rem;border-radius:.4rem}}</style></head>
<body>{body}</body></html>"""

"""The email that tells a lead's owner at once: who the lead is, why it scored, why it is theirs, by when.

Pure: the lead's profile and the links in, an `Email` out (subject, plain text, HTML). What
a person typed is data: every value is escaped in the HTML, and the subject is one line
(control characters, CR and LF included, are replaced) so no lead can add a header.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

from leadflow.lead.profile import LeadProfile

_NOT_IN_A_HEADER = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
SUMMARY_FIELDS = (
    ("Name", "name"), ("Company", "company"), ("Job title", "job_title"), ("Email", "email"), ("Phone", "phone"),
    ("Asked for", "inquiry_type"), ("Source", "source"), ("Message", "last_message"),
    ("Qualifier's notes", "qualification_note"),
)  # fmt: skip


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class Undeliverable(ValueError):
    """An address no email can be sent to, whatever is retried: the mailer refuses it before sending.

    Its message says why without naming the address (it goes into log lines).
    """


class OutcomeUnknown(RuntimeError):
    """SES was asked to send an email and gave no readable answer for it: it may have gone out.

    Neither recorded as sent nor given back: the step's claim runs out, and the step is due
    again after it (at least once, never lost; a step is not sent twice while its claim holds).
    """


def one_line(value: object, limit: int = 150) -> str:
    """Text fit for a header: control characters (CR and LF too) become one space, and it is cut at `limit`."""
    text = _NOT_IN_A_HEADER.sub(" ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def lead_summary(profile: LeadProfile) -> list[tuple[str, str]]:
    """The lead as its owner first needs it: (label, value) pairs of what is known."""
    name = " ".join(str(profile.get(part, "")) for part in ("first_name", "last_name")).strip()
    touch = profile.get("first_touch") or {}
    values: dict[str, Any] = {
        **profile,
        "name": name,
        "inquiry_type": (profile.get("last_touch") or {}).get("inquiry_type"),
        "source": touch.get("utm_source") or touch.get("referrer") or "direct",
        "qualification_note": (profile.get("qualification") or {}).get("note"),
    }
    return [(label, str(values[key])) for label, key in SUMMARY_FIELDS if values.get(key)]


def owner_email(
    profile: LeadProfile, to: str, respond_url: str, *, reminder: bool = False, client_name: str = ""
) -> Email:
    """The owner's email: the lead, its score and the reasons, the routing decision, Accept and Reject."""
    decision = profile.get("routing") or {}
    sla = profile.get("sla") or {}
    who = one_line(
        " ".join(filter(None, (profile.get("first_name"), profile.get("last_name")))) or profile["email"], 60
    )
    company = one_line(profile.get("company") or "", 60)
    subject = one_line(
        f"{'Reminder: ' if reminder else ''}New lead for you: {who}" + (f", {company}" if company else "")
    )
    score = profile.get("score") or {}
    reasons = [
        (r["rule"], r["points"]) for r in score.get("reasons", []) if r.get("points") or r["kind"] == "hand_raise"
    ]
    passed = decision.get("passed_over") or []
    deadline = (
        f"Accept by {sla['due_at']} ({sla.get('deadline_minutes')} working minutes)." if sla.get("due_at") else ""
    )
    accept, reject = f"{respond_url}?action=accept", f"{respond_url}?action=reject"
    text = "\n".join(
        [
            f"{'Reminder: this lead is still waiting for you.' if reminder else 'A new lead is yours.'} {deadline}",
            "",
            *(f"{label}: {one_line(value, 500)}" for label, value in lead_summary(profile)),
            "",
            f"Score {score.get('total', 0)}: " + "; ".join(f"{rule} ({points:+g})" for rule, points in reasons),
            f"Why you: {decision.get('why', '')}",
            *(f"Passed over: {p['name']}: {p['reason']}" for p in passed),
            "",
            f"Accept: {accept}",
            f"Reject: {reject}",
        ]
    )
    rows = "".join(
        f"<tr><th align='left' style='padding:4px 12px 4px 0;color:#555'>{html.escape(label)}</th>"
        f"<td style='padding:4px 0'>{html.escape(value)}</td></tr>"
        for label, value in lead_summary(profile)
    )
    reason_items = "".join(f"<li>{html.escape(str(rule))} ({points:+g})</li>" for rule, points in reasons)
    passed_items = "".join(f"<li>{html.escape(p['name'])}: {html.escape(p['reason'])}</li>" for p in passed)
    button = (
        "display:inline-block;padding:14px 28px;margin:0 8px 8px 0;border-radius:6px;color:#fff;text-decoration:none"
    )
    body = f"""<!doctype html><html><body style="font-family:sans-serif;font-size:16px;color:#222;max-width:600px">
<p>{"Reminder: this lead is still waiting for you." if reminder else "A new lead is yours."} {html.escape(deadline)}</p>
<table>{rows}</table>
<p><b>Score {html.escape(str(score.get("total", 0)))}</b></p><ul>{reason_items}</ul>
<p><b>Why you:</b> {html.escape(str(decision.get("why", "")))}</p>
{f"<p>Passed over:</p><ul>{passed_items}</ul>" if passed_items else ""}
<p><a href="{html.escape(accept)}" style="{button};background:#1a7f37">Accept</a>
<a href="{html.escape(reject)}" style="{button};background:#b42318">Reject</a></p>
<p style="color:#777;font-size:13px">The buttons open a page where you confirm. {html.escape(client_name)}</p>
</body></html>"""
    return Email(to=to, subject=subject, text=text, html=body)


def manager_email(profile: LeadProfile, to: str, reason: str) -> Email:
    """The escalation: a lead of the manager's team was not accepted in time."""
    who = one_line(
        " ".join(filter(None, (profile.get("first_name"), profile.get("last_name")))) or profile["email"], 60
    )
    owner = profile.get("owner_name") or "nobody"
    subject = one_line(f"Escalated: {who} was not accepted in time")
    lines = [f"{label}: {one_line(value, 500)}" for label, value in lead_summary(profile)]
    text = "\n".join([f"Owner: {owner}. {reason}.", "", *lines, "", f"Lead id: {profile['lead_id']}"])
    rows = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    body = (
        '<!doctype html><html><body style="font-family:sans-serif;font-size:16px;color:#222;max-width:600px">'
        f"<p><b>Owner: {html.escape(str(owner))}.</b> {html.escape(reason)}.</p><ul>{rows}</ul>"
        f"<p>Lead id: {html.escape(profile['lead_id'])}</p></body></html>"
    )
    return Email(to=to, subject=subject, text=text, html=body)


def notice_for(event_type: str, detail: dict[str, Any], profile: LeadProfile, owner_email_address: str | None,
               respond_url: str, client_name: str = "") -> Email | None:  # fmt: skip
    """The email an event calls for, if the lead is still as the event found it; None when it moved on."""
    waiting = profile.get("stage") == "assigned" and profile.get("owner") == detail.get("owner")
    if event_type in ("LeadAssigned", "LeadReassigned", "LeadSlaReminder"):
        if not (waiting and owner_email_address):
            return None  # accepted, reassigned or rejected since, or a reminder for a team queue
        reminder = event_type == "LeadSlaReminder"
        return owner_email(profile, owner_email_address, respond_url, reminder=reminder, client_name=client_name)
    if event_type == "LeadEscalated" and detail.get("to") == "manager" and detail.get("manager"):
        return manager_email(profile, str(detail["manager"]), str(detail["reason"]))
    return None

"""The owner's and the manager's emails (leadflow.route.notice): what they say, and that typed text stays data."""

from __future__ import annotations

from email import message_from_bytes, policy

from leadflow.aws.mailer import Mailer
from leadflow.lead.profile import LeadProfile
from leadflow.route.notice import manager_email, notice_for, one_line, owner_email

URL = "https://api.example.com/prod/r/token123"


def profile(**more: object) -> LeadProfile:
    lead: LeadProfile = {
        "lead_id": "ld_" + "a" * 24, "email": "lin@northwind.example", "first_name": "Lin", "last_name": "Park",
        "company": "Northwind", "stage": "assigned", "owner": "rep_ann", "owner_name": "Ann",
        "last_touch": {"inquiry_type": "demo_request"}, "first_touch": {"utm_source": "google"},
        "score": {"total": 65, "fit": 50, "engagement": 15, "reasons": [
            {"kind": "fit", "rule": "Company email", "points": 25},
            {"kind": "fit", "rule": "Decision maker", "points": 25},
            {"kind": "engagement", "rule": "page /pricing", "points": 15},
            {"kind": "hand_raise", "rule": "asked for: demo_request", "points": 0}]},
        "routing": {"why": 'rule "DACH" matched',
                    "passed_over": [{"rep_id": "rep_bob", "name": "Bob", "reason": "inactive"}]},
        "sla": {"due_at": "2026-11-24T09:30:00.000+00:00", "deadline_minutes": 30},
    }  # fmt: skip
    lead.update(more)  # type: ignore[typeddict-item]
    return lead


def test_the_owners_email_has_the_lead_the_reasons_the_decision_and_both_links() -> None:
    email = owner_email(profile(), "ann@demo.example", URL)
    assert email.subject == "New lead for you: Lin Park, Northwind"
    for expected in ("Company: Northwind", "Company email (+25)", 'Why you: rule "DACH" matched',
                     "Passed over: Bob: inactive", f"Accept: {URL}?action=accept", f"Reject: {URL}?action=reject",
                     "Accept by 2026-11-24T09:30:00.000+00:00 (30 working minutes)"):  # fmt: skip
        assert expected in email.text
    assert f'href="{URL}?action=accept"' in email.html


def test_what_a_lead_typed_is_escaped_in_the_html() -> None:
    email = owner_email(profile(company='<img src=x onerror="alert(1)">'), "ann@demo.example", URL)
    assert "<img" not in email.html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in email.html


def test_a_name_with_a_line_break_cannot_add_a_header() -> None:
    lead = profile(first_name="Ada\r\nBcc: x@example.com", company="")
    email = owner_email(lead, "ann@demo.example", URL)
    assert "\r" not in email.subject
    assert "\n" not in email.subject
    sent = message_from_bytes(Mailer("leads@demo.example", "Demo leads").mime(email), policy=policy.default)
    assert sent["Bcc"] is None
    assert sent["To"] == "ann@demo.example"


def test_one_line_cuts_long_text_and_folds_controls() -> None:
    assert one_line("a\u2028b\x00c") == "a b c"
    assert one_line("x" * 200, limit=10) == "xxxxxxxxx…"


def test_no_email_for_a_lead_that_moved_on_since_the_event() -> None:
    accepted = profile(stage="accepted")
    assert notice_for("LeadAssigned", {"owner": "rep_ann"}, accepted, "ann@demo.example", URL) is None
    reassigned = profile(owner="rep_bob")
    assert notice_for("LeadAssigned", {"owner": "rep_ann"}, reassigned, "ann@demo.example", URL) is None


def test_a_reminder_says_so_in_its_subject() -> None:
    email = notice_for("LeadSlaReminder", {"owner": "rep_ann"}, profile(), "ann@demo.example", URL)
    assert email is not None
    assert email.subject.startswith("Reminder: ")


def test_an_escalation_to_the_manager_mails_the_manager() -> None:
    detail = {"owner": "rep_ann", "to": "manager", "manager": "maria@demo.example", "reason": "not accepted by X"}
    email = notice_for("LeadEscalated", detail, profile(), "ann@demo.example", URL)
    assert email == manager_email(profile(), "maria@demo.example", "not accepted by X")
    assert email.subject == "Escalated: Lin Park was not accepted in time"

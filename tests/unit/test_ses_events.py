"""What SES's bounce and complaint events mean (leadflow.nurture.ses_events), read from the shape AWS documents."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.nurture.ses_events import BOUNCED, COMPLAINED, Suppression, read_ses_event, ses_event

NOW = datetime(2026, 11, 24, 10, 3, 12, 418000, tzinfo=UTC)
LEAD = "ld_455cnifkyq3jhunqm6ncxct2"
ADDRESS = "dana.whitfield@northwind-logistics.com"

# The SES Developer Guide's example Bounce record ("Examples of event data that Amazon SES publishes"), as
# written there, inside EventBridge's envelope ("Event structure reference"), plus the tag we send with.
DOCUMENTED_BOUNCE: dict[str, Any] = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Email Bounced",
    "source": "aws.ses",
    "account": "123456789012",
    "time": "2017-08-05T00:41:02Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {
        "eventType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "bouncedRecipients": [
                {
                    "emailAddress": "recipient@example.com",
                    "action": "failed",
                    "status": "5.1.1",
                    "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                }
            ],
            "timestamp": "2017-08-05T00:41:02.669Z",
            "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
            "reportingMTA": "dsn; mta.example.com",
        },
        "mail": {
            "timestamp": "2017-08-05T00:40:02.012Z",
            "source": "Sender Name <sender@example.com>",
            "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
            "sendingAccountId": "123456789012",
            "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
            "destination": ["recipient@example.com"],
            "headersTruncated": False,
            "headers": [
                {"name": "From", "value": "Sender Name <sender@example.com>"},
                {"name": "To", "value": "recipient@example.com"},
                {"name": "Subject", "value": "Message sent from Amazon SES"},
                {"name": "MIME-Version", "value": "1.0"},
                {
                    "name": "Content-Type",
                    "value": 'multipart/alternative; boundary="----=_Part_7307378_1629847660.1516840721503"',
                },
            ],
            "commonHeaders": {
                "from": ["Sender Name <sender@example.com>"],
                "to": ["recipient@example.com"],
                "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
                "subject": "Message sent from Amazon SES",
            },
            "tags": {
                "ses:configuration-set": ["ConfigSet"],
                "ses:source-ip": ["192.0.2.0"],
                "ses:from-domain": ["example.com"],
                "ses:caller-identity": ["ses_user"],
                "lead_id": [LEAD],
            },
        },
    },
}
# The same guide's Complaint record: its `complaint` object.
DOCUMENTED_COMPLAINT = {
    "complainedRecipients": [{"emailAddress": "recipient@example.com"}],
    "timestamp": "2017-08-05T00:41:02.669Z",
    "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
    "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/60.0",
    "complaintFeedbackType": "abuse",
    "arrivalDate": "2017-08-05T00:41:02.669Z",
}


def documented(event_type: str = "Bounce", lead_id: str | None = LEAD, **bounce: Any) -> dict[str, Any]:
    """The documented record, as a bounce (its fields replaced by `bounce`) or a complaint, tagged or not."""
    event = copy.deepcopy(DOCUMENTED_BOUNCE)
    detail = event["detail"]
    detail["bounce"].update(bounce)
    if event_type == "Complaint":
        event["detail-type"] = COMPLAINED
        detail["eventType"] = "Complaint"
        detail["complaint"] = copy.deepcopy(DOCUMENTED_COMPLAINT)
        del detail["bounce"]
    if lead_id is None:
        del detail["mail"]["tags"]["lead_id"]
    return event


def built(kind: Any = "bounce", lead_id: str | None = LEAD, **options: Any) -> dict[str, Any]:
    return ses_event(kind, ADDRESS, lead_id, "leadflow-demo", "0102-test-000000", NOW, **options)


def test_a_permanent_bounce_of_a_leads_email_suppresses_the_lead_as_bounced() -> None:
    feedback = read_ses_event(documented())
    assert feedback.outcome == "bounced"
    assert feedback.suppressions == (Suppression(LEAD, "bounced", "bounce: Permanent/General (5.1.1)"),)
    assert feedback.message_id == "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"


@pytest.mark.parametrize(("bounce_type", "subtype"), [("Transient", "MailboxFull"), ("Undetermined", "Undetermined")])
def test_a_soft_or_undetermined_bounce_is_counted_but_suppresses_nothing(bounce_type: str, subtype: str) -> None:
    feedback = read_ses_event(documented(bounceType=bounce_type, bounceSubType=subtype))
    assert (feedback.outcome, feedback.lead_id, feedback.suppressions) == ("bounced_transient", LEAD, ())


def test_a_complaint_suppresses_the_lead_as_complained() -> None:
    feedback = read_ses_event(documented("Complaint"))
    assert feedback.outcome == "complained"
    assert feedback.suppressions == (Suppression(LEAD, "complained", "complaint: abuse"),)


def test_a_complaint_whose_recipients_the_provider_redacted_still_finds_the_lead_by_its_tag() -> None:
    event = documented("Complaint")
    event["detail"]["complaint"] = {"complainedRecipients": [], "timestamp": "2017-08-05T00:41:02.669Z",
                                    "feedbackId": "0100-x", "complaintSubType": None}  # fmt: skip
    feedback = read_ses_event(event)
    assert feedback.suppressions == (Suppression(LEAD, "complained", "complaint: no feedback report"),)


@pytest.mark.parametrize(("event_type", "outcome"), [("Bounce", "owner_bounced"), ("Complaint", "owner_complained")])
def test_an_email_without_the_lead_id_tag_is_a_reps_and_suppresses_nobody(event_type: str, outcome: str) -> None:
    feedback = read_ses_event(documented(event_type, lead_id=None))
    assert (feedback.outcome, feedback.lead_id, feedback.suppressions) == (outcome, None, ())


def test_an_event_that_is_neither_bounce_nor_complaint_is_ignored() -> None:
    event = documented()
    event["detail-type"], event["detail"]["eventType"] = "Email Delivered", "Delivery"
    del event["detail"]["bounce"]
    assert read_ses_event(event).outcome == "ignored"
    assert read_ses_event(event).suppressions == ()


def test_what_is_kept_on_the_lead_about_a_bounce_never_holds_an_address() -> None:
    recipient = {"emailAddress": ADDRESS, "status": "5.1.1", "diagnosticCode": f"smtp; 550 <{ADDRESS}> unknown"}
    [suppression] = read_ses_event(documented(bouncedRecipients=[recipient])).suppressions
    assert "@" not in suppression.detail


@pytest.mark.parametrize("kind", ["bounce", "complaint"])
def test_the_built_event_has_every_field_of_the_documented_record(kind: str) -> None:
    event, reference = built(kind), documented("Complaint" if kind == "complaint" else "Bounce")
    assert event.keys() == reference.keys()
    assert event["detail"].keys() == reference["detail"].keys()
    assert event["detail"]["mail"].keys() == reference["detail"]["mail"].keys()
    assert event["detail"][kind].keys() >= reference["detail"][kind].keys()


@pytest.mark.parametrize(("kind", "detail_type"), [("bounce", BOUNCED), ("complaint", COMPLAINED)])
def test_the_built_event_carries_what_the_stacks_rule_matches_on(kind: str, detail_type: str) -> None:
    event = built(kind)
    assert (event["source"], event["detail-type"]) == ("aws.ses", detail_type)
    assert event["detail"]["mail"]["tags"]["ses:configuration-set"] == ["leadflow-demo"]


def test_a_built_event_reads_back_as_the_suppression_it_stands_for() -> None:
    assert read_ses_event(built("bounce")).suppressions == (
        Suppression(LEAD, "bounced", "bounce: Permanent/General (5.1.1)"),
    )
    assert read_ses_event(built("complaint")).suppressions == (Suppression(LEAD, "complained", "complaint: abuse"),)
    assert read_ses_event(built("bounce", bounce_type="Transient")).outcome == "bounced_transient"
    assert read_ses_event(built("bounce", lead_id=None)).outcome == "owner_bounced"

"""Unsubscribing by email (leadflow.nurture.unsubscribe_mail): the mailto every nurture email offers, and what an
email to it unsubscribes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from leadflow.links import LinkSigner
from leadflow.nurture.email_links import UNSUBSCRIBE_DAYS
from leadflow.nurture.send import SignedLinks, compose
from leadflow.nurture.templates import SAMPLE_LEAD, EmailTemplate
from leadflow.nurture.unsubscribe_mail import MOST_CANDIDATES, read_unsubscribe_mail, received_notification

SIGNER = LinkSigner(b"k" * 32)
SENT = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MAILBOX = "unsubscribe-demo@unsubscribe.demo.example"
TOPIC = "arn:aws:sns:us-east-1:123456789012:leadflow-demo-unsubscribe-mail"
LEAD = "ld_0123456789abcdefghijklmn"


def links(mailbox: str | None = MAILBOX, now: datetime = SENT) -> SignedLinks:
    return SignedLinks(SIGNER, "https://leads.example", mailbox, now)


def mailto_subject(lead_id: str = LEAD, now: datetime = SENT) -> str:
    mailto = links(now=now).unsubscribe_mailto(lead_id)
    assert mailto is not None
    return parse_qs(urlsplit(mailto).query)["subject"][0]


def envelope(subject: str, content: str | None = None, **changes: Any) -> dict[str, Any]:
    """SNS's envelope around SES's notification of an email to the mailbox, as the queue receives it."""
    notification = received_notification("dana@example.com", MAILBOX, subject, "mail-1", SENT, topic_arn=TOPIC)
    if content is not None:
        notification["content"] = content
    notification.update(changes)
    return {"Type": "Notification", "TopicArn": TOPIC, "Message": json.dumps(notification)}


def test_the_mailto_names_the_stacks_mailbox_and_asks_for_unsubscribe_and_the_links_token() -> None:
    mailto = links().unsubscribe_mailto(LEAD)
    assert mailto is not None
    parts = urlsplit(mailto)
    token = links().unsubscribe(LEAD).rsplit("/", 1)[-1]
    assert (parts.scheme, parts.path, parse_qs(parts.query)) == (
        "mailto",
        MAILBOX,
        {"subject": [f"unsubscribe {token}"]},
    )


def test_every_nurture_email_carries_the_https_link_and_the_mailto_in_list_unsubscribe() -> None:
    outgoing = compose(SAMPLE_LEAD, EmailTemplate("t", "Hi", "<p>Hi</p>", "Hi"), links(), "nurture")
    https, mailto = (part.strip(" <>") for part in outgoing.headers["List-Unsubscribe"].split(","))
    assert https == links().unsubscribe(SAMPLE_LEAD["lead_id"])
    assert mailto == links().unsubscribe_mailto(SAMPLE_LEAD["lead_id"])
    assert outgoing.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_stack_with_no_mailbox_offers_the_https_link_alone() -> None:
    outgoing = compose(SAMPLE_LEAD, EmailTemplate("t", "Hi", "<p>Hi</p>", "Hi"), links(None), "nurture")
    assert outgoing.headers["List-Unsubscribe"] == f"<{links().unsubscribe(SAMPLE_LEAD['lead_id'])}>"


def test_the_email_the_mailto_asks_for_unsubscribes_the_lead_of_its_token() -> None:
    asked = read_unsubscribe_mail(envelope(mailto_subject()), SIGNER, SENT + timedelta(days=3))
    assert (asked.outcome, asked.lead_id, asked.message_id) == ("unsubscribed", LEAD, "mail-1")


def test_a_token_moved_to_the_body_still_unsubscribes() -> None:
    token = mailto_subject().split(" ")[1]
    asked = read_unsubscribe_mail(
        envelope("unsubscribe", content=f"Subject: x\r\n\r\nPlease {token}\r\n"), SIGNER, SENT
    )
    assert (asked.outcome, asked.lead_id) == ("unsubscribed", LEAD)


def encoded_email(subject: str, body: str) -> str:
    """An email as a mail app writes it: a non-ASCII subject as RFC 2047 words, the body quoted-printable."""
    from email.message import EmailMessage

    email = EmailMessage()
    email["From"], email["To"], email["Subject"] = "dana@example.com", MAILBOX, subject
    email.set_content(body, cte="quoted-printable")
    return email.as_string()


def test_a_token_in_an_encoded_subject_is_found_when_ses_gives_no_decoded_one() -> None:
    content = encoded_email(f"Désabonnement: {mailto_subject()}", "Merci")
    assert "=?utf-8?" in content  # the Subject header is encoded words, the token split across them
    notification = envelope("", content=content)
    message = json.loads(notification["Message"])
    del message["mail"]["commonHeaders"]["subject"]
    asked = read_unsubscribe_mail({**notification, "Message": json.dumps(message)}, SIGNER, SENT)
    assert (asked.outcome, asked.lead_id) == ("unsubscribed", LEAD)


def test_a_token_in_a_quoted_printable_body_with_soft_line_breaks_is_found() -> None:
    token = mailto_subject().split(" ")[1]
    content = encoded_email("unsubscribe", f"Bitte austragen: {'ä' * 40}{token} danke")
    assert token not in content  # soft line breaks and escapes cut it in the raw email
    asked = read_unsubscribe_mail(envelope("unsubscribe", content=content), SIGNER, SENT)
    assert (asked.outcome, asked.lead_id) == ("unsubscribed", LEAD)


def test_a_long_run_of_token_characters_is_no_token() -> None:
    asked = read_unsubscribe_mail(envelope("a" * 150_000, content="b" * 150_000), SIGNER, SENT)
    assert (asked.outcome, asked.refused) == ("refused", "no_token")


def test_a_wrong_token_before_the_right_one_does_not_hide_it() -> None:
    right = mailto_subject().split(" ")[1]
    wrong = mailto_subject("ld_someoneelse000000000000").split(" ")[1][:-1] + "A"
    asked = read_unsubscribe_mail(envelope(f"unsubscribe {wrong} {right}"), SIGNER, SENT)
    assert asked.lead_id == LEAD


def test_an_expired_token_is_refused_as_expired() -> None:
    later = SENT + timedelta(days=UNSUBSCRIBE_DAYS)
    asked = read_unsubscribe_mail(envelope(mailto_subject()), SIGNER, later)
    assert (asked.outcome, asked.lead_id, asked.refused) == ("refused", "", "expired")


def test_a_token_another_key_signed_is_refused_as_forged() -> None:
    other = SignedLinks(LinkSigner(b"o" * 32), "https://leads.example", MAILBOX, SENT).unsubscribe_mailto(LEAD)
    assert other is not None
    asked = read_unsubscribe_mail(envelope(parse_qs(urlsplit(other).query)["subject"][0]), SIGNER, SENT)
    assert (asked.outcome, asked.refused) == ("refused", "forged")


def test_an_email_with_no_token_is_refused_for_having_none() -> None:
    asked = read_unsubscribe_mail(envelope("please unsubscribe me", content="no token here"), SIGNER, SENT)
    assert (asked.outcome, asked.refused) == ("refused", "no_token")


def test_only_the_first_candidates_are_checked_however_long_the_email() -> None:
    junk = " ".join(f"{'a' * 8}{n:04d}.{'b' * 43}" for n in range(MOST_CANDIDATES))
    asked = read_unsubscribe_mail(envelope(f"{junk} {mailto_subject()}"), SIGNER, SENT)
    assert (asked.outcome, asked.refused) == ("refused", "malformed")


@pytest.mark.parametrize(
    "message",
    [
        pytest.param("not json", id="not JSON"),
        pytest.param(json.dumps({"notificationType": "Bounce"}), id="another notification"),
        pytest.param(json.dumps(["Received"]), id="not an object"),
    ],
)
def test_what_is_no_received_email_is_ignored(message: str) -> None:
    asked = read_unsubscribe_mail({"Type": "Notification", "Message": message}, SIGNER, SENT)
    assert (asked.outcome, asked.lead_id) == ("ignored", "")


@pytest.mark.parametrize(
    ("recipients", "takes"),
    [
        pytest.param([], True, id="no recipients: every address"),
        pytest.param([MAILBOX.upper()], True, id="the address, any case"),
        pytest.param(["unsubscribe.demo.example"], True, id="its domain"),
        pytest.param([".demo.example"], True, id="a parent domain with a leading dot"),
        pytest.param(["demo.example"], False, id="a parent domain without the dot"),
        pytest.param(["other@unsubscribe.demo.example"], False, id="another address"),
    ],
)
def test_the_local_ses_matches_a_receipt_rules_recipients_as_ses_does(recipients: list[str], takes: bool) -> None:
    from leadflow.cli.local_commands import _receives

    assert _receives(recipients, MAILBOX) is takes

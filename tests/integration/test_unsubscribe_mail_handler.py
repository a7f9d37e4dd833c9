"""Unsubscribing by email, against moto: the email SES receives at the stack's unsubscribe mailbox is published
to the stack's topic by its receipt rule, delivered by SNS to the SES events queue, and suppresses the lead there.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from leadflow import settings
from leadflow.links import LinkSigner
from leadflow.nurture.email_links import CLICK, UNSUBSCRIBE_DAYS
from leadflow.nurture.send import SignedLinks
from leadflow.nurture.unsubscribe_mail import received_notification
from tests.integration.conftest import Handler, Stack
from tests.integration.test_capture_metrics import emf_records
from tests.support import SAMPLE_IDS, load_event

DANA = "dana.whitfield@northwind-logistics.com"  # stored by the intake sample
MAILBOX = "unsubscribe-demo@unsubscribe.demo.example"  # the demo's: unsubscribe_mail_domain = unsubscribe.demo.example


@pytest.fixture
def ses_events(stack: Stack, lambda_context: Any) -> Handler:
    """The handler, with the intake sample's people stored as leads."""
    assert stack.handler("intake")(load_event("intake-sqs-batch.json"), lambda_context) == {"batchItemFailures": []}
    return stack.handler("ses_events")


def mailto(lead_id: str, now: datetime) -> tuple[str, str]:
    """The address and subject of the mailto in the lead's List-Unsubscribe, as the sending functions write it."""
    link = SignedLinks(LinkSigner(settings.link_key()), "https://leads.example", MAILBOX, now).unsubscribe_mailto(
        lead_id
    )
    assert link is not None
    parts = urlsplit(link)
    return parts.path, parse_qs(parts.query)["subject"][0]


def received(stack: Stack, subject: str, message_id: str = "mail-1") -> dict[str, Any]:
    """What SES does with an email to the mailbox: its rule's SNS action publishes it to the stack's topic. Answers
    the SQS batch Lambda hands the consumer: the topic's delivery to the SES events queue, in SNS's envelope."""
    topic_arn = stack.resources.topic_arns["unsubscribe-mail"]
    notification = received_notification(DANA, MAILBOX, subject, message_id, datetime.now(UTC), topic_arn=topic_arn)
    stack.session.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(notification))
    [message] = stack.queue_messages("ses-events")
    queue_url = stack.resources.queue_urls["ses-events"]
    stack.session.client("sqs").delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])  # taken
    record = copy.deepcopy(load_event("ses_events-sqs-batch.json")["Records"][0])
    record["messageId"], record["body"] = message["MessageId"], message["Body"]
    return {"Records": [record]}


def suppression(stack: Stack) -> Any:
    profile = stack.store().get_profile(SAMPLE_IDS.lead_id(DANA))
    assert profile is not None
    return (profile.get("nurture") or {}).get("suppressed")


def test_an_email_to_the_mailto_of_list_unsubscribe_unsubscribes_the_lead_its_token_names(
    stack: Stack, ses_events: Handler, lambda_context: Any
) -> None:
    address, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    assert address == MAILBOX
    assert ses_events(received(stack, subject), lambda_context) == {"batchItemFailures": []}
    assert suppression(stack)["reason"] == "unsubscribed"


def test_the_topic_delivers_the_email_in_snss_envelope_around_sess_notification(
    stack: Stack, ses_events: Handler
) -> None:
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    body = json.loads(received(stack, subject)["Records"][0]["body"])
    assert (body["Type"], body["TopicArn"]) == ("Notification", stack.resources.topic_arns["unsubscribe-mail"])
    assert json.loads(body["Message"])["mail"]["commonHeaders"]["subject"] == subject


def test_a_reply_that_keeps_the_token_anywhere_in_the_subject_unsubscribes(
    stack: Stack, ses_events: Handler, lambda_context: Any
) -> None:
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    ses_events(received(stack, f"Re: [ext] {subject} please"), lambda_context)
    assert suppression(stack)["reason"] == "unsubscribed"


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda token: token[:-2] + ("AA" if token[-2:] != "AA" else "BB"), id="altered"),
        pytest.param(lambda token: "eyJ2IjoxfQ." + token.split(".")[1], id="forged payload"),
        pytest.param(lambda token: "", id="no token"),
    ],
)
def test_an_email_with_no_valid_token_unsubscribes_nobody(
    stack: Stack, ses_events: Handler, lambda_context: Any, spoil: Any
) -> None:
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    word, token = subject.split(" ")
    assert ses_events(received(stack, f"{word} {spoil(token)}"), lambda_context) == {"batchItemFailures": []}
    assert suppression(stack) is None


def test_an_expired_token_unsubscribes_nobody(stack: Stack, ses_events: Handler, lambda_context: Any) -> None:
    sent = datetime.now(UTC) - timedelta(days=UNSUBSCRIBE_DAYS, seconds=1)
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), sent)
    ses_events(received(stack, subject), lambda_context)
    assert suppression(stack) is None


def test_a_click_links_token_does_not_unsubscribe(stack: Stack, ses_events: Handler, lambda_context: Any) -> None:
    signer = LinkSigner(settings.link_key())
    token = signer.sign(
        CLICK, SAMPLE_IDS.lead_id(DANA), "", datetime.now(UTC) + timedelta(days=1), {"url": "https://x.example"}
    )
    ses_events(received(stack, f"unsubscribe {token}"), lambda_context)
    assert suppression(stack) is None


def test_a_redelivered_email_changes_nothing(stack: Stack, ses_events: Handler, lambda_context: Any) -> None:
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    batch = received(stack, subject)
    ses_events(batch, lambda_context)
    before = stack.store().read(SAMPLE_IDS.lead_id(DANA))
    assert ses_events(batch, lambda_context) == {"batchItemFailures": []}
    assert stack.store().read(SAMPLE_IDS.lead_id(DANA)) == before


def test_unsubscribes_and_refusals_are_counted_and_logged_without_the_address(
    stack: Stack,
    ses_events: Handler,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, subject = mailto(SAMPLE_IDS.lead_id(DANA), datetime.now(UTC))
    with caplog.at_level("INFO"):
        ses_events(received(stack, "unsubscribe me", "mail-refused"), lambda_context)
        ses_events(received(stack, subject, "mail-good"), lambda_context)
    refused, unsubscribed = emf_records(capsys.readouterr().out)
    assert (refused["UnsubscribeEmailRefused"], unsubscribed["UnsubscribedByEmail"]) == ([1.0], [1.0])
    logged = [vars(record) for record in caplog.records if record.getMessage() == "unsubscribe email"]
    assert [(r["outcome"], r["refused"], r["message_id"]) for r in logged] == [
        ("refused", "no_token", "mail-refused"), ("unsubscribed", "", "mail-good")
    ]  # fmt: skip
    assert logged[1]["lead_id"] == SAMPLE_IDS.lead_id(DANA)
    assert DANA not in repr(logged)

"""SES v2 SendBulkEmail on the local stack (leadflow.local.moto_sesv2): what moto lacks, as SES answers it.

Nurture emails go out through the mailer's `send_bulk` to the moto server this test process
runs; each entry is in the outbox as the email SES would send, with its own headers and bodies.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from leadflow.aws.mailer import BULK_TEMPLATE, Mailer
from leadflow.local.outbox import outbox_in_process
from leadflow.nurture.templates import Outgoing, Rendered
from tests.integration.conftest import Stack

ONE_CLICK = {
    "List-Unsubscribe": "<https://leads.example/u/t0k3n>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def mailer(stack: Stack) -> Mailer:
    spec = stack.definition.email("email")
    return Mailer(spec.from_address, spec.from_name, stack.resources.email_configuration_sets["email"],
                  client=stack.session.client("sesv2"))  # fmt: skip


def outgoing(to: str, subject: str, html: str, text: str) -> Outgoing:
    return Outgoing(to, Rendered(subject, html, text), dict(ONE_CLICK), {"lead_id": "ld_1", "kind": "nurture"})


def raw_request(stack: Stack, **overrides: Any) -> dict[str, Any]:
    """A SendBulkEmail request as a boto3 caller writes it, from the stack's sender to one address."""
    entry = {"Destination": {"ToAddresses": ["ada@demo.example"]},
             "ReplacementEmailContent": {"ReplacementTemplate": {
                 "ReplacementTemplateData": '{"subject": "Hi", "html": "<p>Hi</p>", "text": "Hi"}'}}}  # fmt: skip
    request = {"FromEmailAddress": stack.definition.email("email").from_address,
               "DefaultContent": {"Template": {"TemplateContent": BULK_TEMPLATE}},
               "BulkEmailEntries": [entry]}  # fmt: skip
    return {**request, **overrides}


def test_each_email_of_a_bulk_send_is_in_the_outbox_with_its_own_subject_bodies_and_headers(stack: Stack) -> None:
    emails = [
        outgoing("ada@demo.example", "Grüße, Ada", "<p>Ada &amp; co</p>", "Ada & co\n"),
        outgoing("grace@demo.example", "Hello Grace", "<p>Grace</p>", "Grace\n"),
    ]
    message_ids = mailer(stack).send_bulk(emails)

    sent = {email.message_id: email for email in outbox_in_process()}
    ada, grace = (sent[str(message_id)] for message_id in message_ids)
    assert (ada.to, ada.subject, ada.html, ada.text) == (("ada@demo.example",), "Grüße, Ada", "<p>Ada &amp; co</p>\n",
                                                         "Ada & co\n")  # fmt: skip
    assert (grace.to, grace.subject) == (("grace@demo.example",), "Hello Grace")
    for email in (ada, grace):
        assert email.header("List-Unsubscribe") == ONE_CLICK["List-Unsubscribe"]
        assert email.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
        assert email.source == str(mailer(stack).sender)


def test_what_a_lead_typed_that_looks_like_a_placeholder_is_sent_as_it_is_not_substituted(stack: Stack) -> None:
    [message_id] = mailer(stack).send_bulk([outgoing("ada@demo.example", "{{text}}", "<p>{{subject}}</p>", "{{html}}")])
    [email] = [email for email in outbox_in_process() if email.message_id == message_id]
    assert (email.subject, email.html, email.text) == ("{{text}}", "<p>{{subject}}</p>\n", "{{html}}\n")


def test_a_template_value_that_is_missing_refuses_that_entry_alone(stack: Stack) -> None:
    request = raw_request(stack)
    missing = {**request["BulkEmailEntries"][0], "ReplacementEmailContent": {"ReplacementTemplate": {
        "ReplacementTemplateData": '{"subject": "Hi", "text": "Hi"}'}}}  # fmt: skip
    answer = stack.session.client("sesv2").send_bulk_email(
        **{**request, "BulkEmailEntries": [*request["BulkEmailEntries"], missing]}
    )
    ok, refused = answer["BulkEmailEntryResults"]
    assert ok["Status"] == "SUCCESS"
    assert refused["Status"] == "INVALID_PARAMETER"
    assert "{{html}}" in refused["Error"]


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"BulkEmailEntries": []}, "BulkEmailEntries"),
        ({"DefaultContent": {"Template": {"TemplateName": "welcome"}}}, "inline templates only"),
    ],
    ids=["no-entries", "stored-template"],
)
def test_a_request_ses_would_refuse_whole_gets_a_400_that_says_why(
    stack: Stack, overrides: dict[str, Any], named: str
) -> None:
    with pytest.raises(ClientError) as refused:
        stack.session.client("sesv2").send_bulk_email(**raw_request(stack, **overrides))
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert named in refused.value.response["Error"]["Message"]


def test_fifty_one_entries_are_refused_whole(stack: Stack) -> None:
    request = raw_request(stack)
    with pytest.raises(ClientError) as refused:
        stack.session.client("sesv2").send_bulk_email(
            **{**request, "BulkEmailEntries": request["BulkEmailEntries"] * 51}
        )
    assert "between 1 and 50" in refused.value.response["Error"]["Message"]


def test_a_header_ses_cannot_carry_refuses_the_request_whole(stack: Stack) -> None:
    request = raw_request(stack)
    bad = {**request["BulkEmailEntries"][0], "ReplacementHeaders": [{"Name": "X-Note", "Value": "naïve"}]}
    with pytest.raises(ClientError) as refused:
        stack.session.client("sesv2").send_bulk_email(**{**request, "BulkEmailEntries": [bad]})
    assert "printable ASCII" in refused.value.response["Error"]["Message"]


def test_a_sender_that_is_not_a_verified_identity_is_rejected_per_entry(stack: Stack) -> None:
    answer = stack.session.client("sesv2").send_bulk_email(
        **raw_request(stack, FromEmailAddress="someone@elsewhere.example")
    )
    [result] = answer["BulkEmailEntryResults"]
    assert result["Status"] == "MESSAGE_REJECTED"

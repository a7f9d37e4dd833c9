"""The notify consumer, unchanged: routing's events become the owner's email through SES (moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.links import LinkSigner
from leadflow.route.changes import route_lead
from tests.integration.conftest import Stack
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import sent_emails


def notify_batch(stack: Stack) -> dict[str, Any]:
    """What the rule copied from the bus to the notify queue, as Lambda would deliver it."""
    messages = stack.queue_messages("notify")
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
        "eventSource": "aws:sqs", "eventSourceARN": stack.resources.queue_arns["notify"], "awsRegion": "us-east-1",
    } for m in messages]}  # fmt: skip


def test_an_assigned_lead_is_mailed_to_its_owner_with_signed_links(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    add_rep(stack, "ada")
    route_lead(sales_ready(stack, "lin@acme-robotics.example", first_name="Lin"), stack.services(), stack.config,
               roster(stack), stack.store())  # fmt: skip
    batch = notify_batch(stack)
    assert [json.loads(r["body"])["detail-type"] for r in batch["Records"]] == ["LeadAssigned"]
    assert stack.handler("notify")(batch, lambda_context) == {"batchItemFailures": []}
    [email] = sent_emails(moto_endpoint)
    assert email["To"] == "ada@demo.example"
    assert email["Subject"] == "New lead for you: Lin"
    text = email.get_body(preferencelist=("plain",)).get_content()
    [accept] = [line.removeprefix("Accept: ") for line in text.splitlines() if line.startswith("Accept: ")]
    assert accept.endswith("?action=accept")
    token = accept.split("/r/")[1].split("?")[0]
    signer = LinkSigner(stack.resources.secret_values["link-key"].encode())
    claims = signer.verify(token, "respond", datetime.now(UTC))
    profile = stack.store().get_profile(claims.lead_id)
    assert profile is not None
    assert (claims.subject, claims.extra["assigned_at"]) == ("ada", profile["assigned_at"])
    assert claims.expires_at > datetime.now(UTC) + timedelta(days=6)  # the demo's link_days = 7


def test_a_redelivered_event_sends_no_second_email(stack: Stack, lambda_context: Any, moto_endpoint: str) -> None:
    add_rep(stack, "ada")
    route_lead(sales_ready(stack, "lin@acme-robotics.example"), stack.services(), stack.config, roster(stack),
               stack.store())  # fmt: skip
    batch = notify_batch(stack)
    stack.handler("notify")(batch, lambda_context)
    stack.handler("notify")(batch, lambda_context)
    assert len(sent_emails(moto_endpoint)) == 1

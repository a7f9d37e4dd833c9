"""GET and POST /u/{token} (unsubscribe) and GET /c/{token} (a click): the links in every nurture email.

The rules live in leadflow.nurture.email_links; this handler turns the API Gateway proxy event
into their inputs, suppresses the lead on an unsubscribe and queues a click for intake, which
records it on the lead. Logs name the lead's id only, never the address or the link's URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from leadflow.aws.queues import FifoQueue, QueueUnavailable
from leadflow.links import LinkSigner
from leadflow.nurture.email_links import follow_click, unsubscribe_page
from leadflow.nurture.suppression import suppress_lead
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import link_key, required_env
from leadflow.wiring import lead_services

CLICK_RESOURCE = "/c/{token}"
METRICS = {
    "shown": "UnsubscribeAsked",
    "unsubscribed": "Unsubscribed",
    "clicked": "EmailClicked",
    "refused": "EmailLinkRefused",
}


@cache
def intake_queue() -> FifoQueue:
    return FifoQueue(required_env("INTAKE_QUEUE_URL"))


def unsubscribe(lead_id: str) -> None:
    suppress_lead(lead_id, "unsubscribed", lead_services(), datetime.now(UTC))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = str((event.get("pathParameters") or {}).get("token", ""))
    now, signer = datetime.now(UTC), LinkSigner(link_key())
    if event.get("resource") == CLICK_RESOURCE:
        request_id = str((event.get("requestContext") or {}).get("requestId") or context.aws_request_id)
        answer = follow_click(token, now, request_id, signer=signer)
    else:  # any POST with a valid token unsubscribes (RFC 8058): the body adds nothing to the token
        answer = unsubscribe_page(event.get("httpMethod") or "GET", token, now, signer=signer, unsubscribe=unsubscribe)
    if (message := answer.engagement_message) is not None:
        try:
            intake_queue().send(message, group_id=answer.lead_id, deduplication_id=message["engagement_id"])
        except QueueUnavailable as exc:  # the person still gets the page they clicked for; the point is lost
            logger.error("click not recorded: intake queue unavailable", extra={"error": str(exc)})
            metrics.add_metric(name="EmailClickNotRecorded", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name=METRICS[answer.outcome], unit=MetricUnit.Count, value=1)
    answered = {"outcome": answer.outcome, "lead_id": answer.lead_id, "refused": answer.refused}
    logger.info("link answered", extra=answered)
    return {"statusCode": answer.status, "headers": dict(answer.headers), "body": answer.html, "isBase64Encoded": False}

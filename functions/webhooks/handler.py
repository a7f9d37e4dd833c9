"""Webhooks queue consumer: each event a client's webhook wants, POSTed to it signed, retried with backoff.

An event the bus copied here is split into one message per webhook that wants it; each of those
is POSTed to its webhook (leadflow.webhooks: the body, the signature, why one message per
webhook). A delivery that fails stays on the queue, invisible for its backoff, and reaches the
dead-letter queue after its last attempt (`leadflow webhooks failed`, `resend`).
"""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.aws.webhook_queue import WebhookQueue
from leadflow.http_post import post_json
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import client_config, required_env, webhook_key
from leadflow.webhooks import (
    Delivery,
    deliveries_for,
    is_delivery,
    request_body,
    request_headers,
    retry_delay_s,
    webhook_for,
)

# A receiver that is down fails every record of a batch: that is no error of this function.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


class WebhookNotDelivered(Exception):
    """The receiver did not answer 2xx: the message stays on the queue for its next attempt."""


@cache
def webhook_queue() -> WebhookQueue:
    return WebhookQueue(required_env("WEBHOOKS_QUEUE_URL"))


def record_handler(record: SQSRecord) -> None:
    message, webhooks = json.loads(record.body), client_config().notify.webhooks
    if not is_delivery(message):  # an event as the bus sent it
        deliveries = deliveries_for(message, webhooks)
        webhook_queue().send_deliveries([delivery.message() for delivery in deliveries])
        metrics.add_metric(name="WebhookDeliveriesQueued", unit=MetricUnit.Count, value=len(deliveries))
        logger.info("webhook_event_split", extra={"event_id": message.get("id"), "webhooks": len(deliveries)})
        return
    delivery = Delivery.from_message(message)
    hook, attempt = webhook_for(delivery, webhooks), int(record.attributes.approximate_receive_count)
    facts = {"webhook": delivery.webhook, "event_id": delivery.event.get("id"), "attempt": attempt}
    if hook is None:  # removed from the client file, or no longer wants this event type
        metrics.add_metric(name="WebhookDropped", unit=MetricUnit.Count, value=1)
        logger.info("webhook_no_longer_configured", extra=facts)
        return
    body = request_body(delivery.event)
    answer = post_json(hook.url, body, request_headers(delivery.event, body, webhook_key(), time.time()))
    if answer.delivered:
        metrics.add_metric(name="WebhookDelivered", unit=MetricUnit.Count, value=1)
        logger.info("webhook_delivered", extra={**facts, "status": answer.status})
        return
    metrics.add_metric(name="WebhookFailed", unit=MetricUnit.Count, value=1)
    webhook_queue().retry_later(record.receipt_handle, retry_delay_s(attempt))
    logger.warning("webhook_failed", extra={**facts, "problem": answer.problem, "retry_in_s": retry_delay_s(attempt)})
    raise WebhookNotDelivered(f"{delivery.webhook}: {answer.problem}")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""Intake queue consumer: store each inquiry on one lead per person, qualify, hand off.

FIFO batches are processed in order; when a message fails, only the rest of its message
group (that person's later inquiries) is returned with it, so other people's inquiries in
the batch are not held back. Failed messages go back to the queue and, after the queue's
max receive count, to its dead-letter queue.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.event_bus import EventBus
from leadflow.intake import LeadServices, record_inquiry
from leadflow.leads_store import LeadStore
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.queues import FifoQueue
from leadflow.settings import client_config, required_env

processor = SqsFifoPartialProcessor(skip_group_on_error=True)


@cache
def services() -> LeadServices:
    config = client_config()
    return LeadServices(
        client=config.name,
        settings=config.qualify,
        store=LeadStore(required_env("LEADS_TABLE")),
        bus=EventBus(required_env("EVENT_BUS_NAME")),
        routing=FifoQueue(required_env("ROUTING_QUEUE_URL")),
    )


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    outcome = record_inquiry(message, services())
    ids = {"lead_id": message["lead_id"], "inquiry_id": message["inquiry_id"]}
    if outcome == "stored":
        metrics.add_metric(name="InquiryStored", unit=MetricUnit.Count, value=1)
        logger.info("inquiry stored and lead qualified", extra=ids)
    else:
        metrics.add_metric(name="InquiryDuplicate", unit=MetricUnit.Count, value=1)
        logger.info("inquiry already stored; dropped the repeat", extra=ids)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""Intake queue consumer: store each inquiry, or engagement (a nurture email's click), on its lead; qualify, hand off.

FIFO batches are processed in order; when a message fails, only the rest of its message
group (that person's later inquiries) is returned with it, so other people's inquiries in
the batch are not held back. Failed messages go back to the queue and, after the queue's
max receive count, to its dead-letter queue.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.lead.change import Applied
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.qualify.changes import record_engagement, record_inquiry
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
ANSWER_RESERVE_S = 3.0  # time kept to finish the record under way and report the batch
# What qualification decided for a stored inquiry's lead, when it moved it (the client's dashboard shows them).
QUALIFIED_METRICS = {"sales_ready": "QualifiedSalesReady", "nurture": "QualifiedNurture", "junk": "QualifiedJunk"}
ENGAGEMENT_OUTCOMES = {
    "changed": ("EngagementRecorded", "engagement recorded and lead qualified"),
    "duplicate": ("EngagementDuplicate", "engagement recorded before (a redelivery); published what it had left"),
    "unchanged": ("EngagementWithoutLead", "engagement for a lead not stored: nothing to record"),
}


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    config = client_config()
    if message.get("kind") == "engagement":  # inquiries carry no kind
        applied = record_engagement(message, lead_services(), config.qualify, phone_first=config.route.phone_first)
        metric, said = ENGAGEMENT_OUTCOMES[applied.outcome]
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        _count_qualified(applied)
        logger.info(said, extra={"lead_id": message["lead_id"], "engagement_id": message["engagement_id"]})
        return
    applied = record_inquiry(message, lead_services(), config.qualify, phone_first=config.route.phone_first)
    ids = {"lead_id": message["lead_id"], "inquiry_id": message["inquiry_id"]}
    if applied.outcome == "changed":
        metrics.add_metric(name="InquiryStored", unit=MetricUnit.Count, value=1)
        _count_qualified(applied)
        logger.info("inquiry stored and lead qualified", extra=ids)
    else:
        metrics.add_metric(name="InquiryDuplicate", unit=MetricUnit.Count, value=1)
        logger.info("inquiry stored before (a redelivery, or a write retried); published what it had left", extra=ids)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    # Retries stop in time to answer: a record still failing then goes back to the queue alone.
    leads_table().give_up_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def _count_qualified(applied: Applied) -> None:
    """What qualification decided, when it moved the lead (an inquiry's or an engagement's)."""
    for entry in applied.change.timeline if applied.change else ():
        if entry["type"] == "stage_changed" and entry.get("to") in QUALIFIED_METRICS:
            metrics.add_metric(name=QUALIFIED_METRICS[entry["to"]], unit=MetricUnit.Count, value=1)

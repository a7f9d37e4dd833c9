"""SES events queue consumer: a hard bounce or a complaint takes the lead's address out of nurture.

SES sends the stack's configuration set's bounce and complaint events to the account's default
EventBridge bus; a rule copies them (source aws.ses, the stack's configuration set) to this
standard queue. What each event means is decided in leadflow.nurture.ses_events; this handler
applies its suppressions (idempotent: a redelivered event changes nothing) and counts it.
EmailBounced and EmailComplained count every bounce and complaint of a lead's email, suppressed
or not, since the alarms are rates over sends; OwnerEmailBounced shows a rep's address bouncing.
No address is logged: the lead's id and SES's message id only.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.nurture.ses_events import read_ses_event
from leadflow.nurture.suppression import suppress_lead
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.wiring import lead_services

processor = BatchProcessor(event_type=EventType.SQS)
METRICS = {
    "bounced": ("EmailBounced",),
    "bounced_transient": ("EmailBounced", "EmailBouncedTransient"),
    "complained": ("EmailComplained",),
    "owner_bounced": ("OwnerEmailBounced",),
    "owner_complained": ("OwnerEmailComplained",),
    "ignored": (),
}


def record_handler(record: SQSRecord) -> None:
    feedback = read_ses_event(json.loads(record.body))
    now = datetime.now(UTC)
    outcomes = [
        suppress_lead(s.lead_id, s.reason, lead_services(), now, s.detail).outcome for s in feedback.suppressions
    ]
    for name in METRICS[feedback.outcome]:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info(
        "ses event",
        extra={"outcome": feedback.outcome, "lead_id": feedback.lead_id, "message_id": feedback.message_id,
               "suppressed": outcomes},
    )  # fmt: skip


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

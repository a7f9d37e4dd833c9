"""SES events queue consumer: a hard bounce, a complaint or an unsubscribe by email takes the lead's address
out of nurture.

SES sends the stack's configuration set's bounce and complaint events to the account's default
EventBridge bus; a rule copies them (source aws.ses, the stack's configuration set) to this
standard queue. What each event means is decided in leadflow.nurture.ses_events. The emails SES
receives at the stack's unsubscribe mailbox come to the same queue from the stack's topic, in
SNS's envelope, and leadflow.nurture.unsubscribe_mail reads the lead's signed token in them.
This handler applies the suppressions (idempotent: a redelivered event changes nothing) and
counts them.
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

from leadflow.links import LinkSigner
from leadflow.nurture.ses_events import read_ses_event
from leadflow.nurture.suppression import suppress_lead
from leadflow.nurture.unsubscribe_mail import is_sns_notification, read_unsubscribe_mail
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import link_key
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
    body = json.loads(record.body)
    now = datetime.now(UTC)
    if is_sns_notification(body):
        unsubscribe_by_mail(body, now)
        return
    feedback = read_ses_event(body)
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


def unsubscribe_by_mail(envelope: dict[str, Any], now: datetime) -> None:
    asked = read_unsubscribe_mail(envelope, LinkSigner(link_key()), now)
    outcome = suppress_lead(asked.lead_id, "unsubscribed", lead_services(), now).outcome if asked.lead_id else None
    if outcome == "changed":  # not again for a redelivered email, nor for a lead already out
        metrics.add_metric(name="UnsubscribedByEmail", unit=MetricUnit.Count, value=1)
    elif asked.outcome == "refused":
        metrics.add_metric(name="UnsubscribeEmailRefused", unit=MetricUnit.Count, value=1)
    logger.info(
        "unsubscribe email",
        extra={"outcome": asked.outcome, "lead_id": asked.lead_id, "message_id": asked.message_id,
               "refused": asked.refused, "suppressed": outcome},
    )  # fmt: skip


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

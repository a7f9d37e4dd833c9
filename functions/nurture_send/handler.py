"""Nurture queue consumer: the acknowledgements inquiries promised, and the steps a sweep handed on.

Messages are grouped by lead, so one lead's emails are sent one at a time. An acknowledgement
goes out within a minute of capture, in or out of the send window (suppression still holds it);
a step is claimed, sent and recorded as the sweep does (leadflow.nurture.send). Each consumer
keeps to its share of the client's send rate. A message that fails (SES still throttling) goes
back to the queue: the step stays due, and is sent later.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.nurture.send import Pacer, acknowledge, rate_share, send_due_step
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table, mailer, signed_links

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
ANSWER_RESERVE_S = 3.0  # time kept to finish the record under way and report the batch


@cache
def pacer() -> Pacer:
    return Pacer(rate_share(client_config().nurture.send_rate_per_second))


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    config, lead_id = client_config(), message["lead_id"]
    now = datetime.fromisoformat(message["tick"]) if message.get("tick") else datetime.now(UTC)
    links = signed_links(now)
    pacer().wait()
    if message["kind"] == "acknowledge":
        outcome: str = acknowledge(lead_id, message["inquiry_id"], message["inquiry_type"], lead_services(), config,
                                   mailer(), links, now)  # fmt: skip
        metrics.add_metric(name="AcknowledgementSent" if outcome == "sent" else "AcknowledgementNotSent",
                           unit=MetricUnit.Count, value=1)  # fmt: skip
    else:
        outcome = send_due_step(lead_id, lead_services(), config, mailer(), links, now)
        metrics.add_metric(name="NurtureSent" if outcome == "sent" else "NurtureNotSent", unit=MetricUnit.Count,
                           value=1)  # fmt: skip
    logger.info("nurture message handled", extra={"lead_id": lead_id, "kind": message["kind"], "outcome": outcome})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    leads_table().give_up_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

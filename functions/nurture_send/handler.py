"""Nurture queue consumer: the acknowledgements inquiries promised, and the steps a sweep handed on.

Messages are grouped by lead, so one lead's emails are sent one at a time. An acknowledgement
goes out within a minute of capture, in or out of the send window (suppression still holds it);
the batch's steps are claimed, sent and recorded together, as the sweep sends them
(leadflow.nurture.send.send_due_steps), before the messages are answered one by one. Each consumer
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

from leadflow.nurture.send import (
    Pacer,
    SentSteps,
    acknowledge,
    error_code,
    rate_share,
    send_due_steps,
)
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table, mailer, signed_links

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
ANSWER_RESERVE_S = 3.0  # time kept to finish the record under way and report the batch


@cache
def pacer() -> Pacer:
    return Pacer(rate_share(client_config().nurture.send_rate_per_second))


# The steps of this invocation's batch, sent ahead together by tick (one read and one write for all their claims).
sent_ahead: dict[str, SentSteps] = {}


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    config, lead_id = client_config(), message["lead_id"]
    now = _tick(message)
    if message["kind"] == "acknowledge":
        pacer().wait()
        outcome: str = acknowledge(lead_id, message["inquiry_id"], message["inquiry_type"], lead_services(), config,
                                   mailer(), signed_links(now), now)  # fmt: skip
        metrics.add_metric(name="AcknowledgementSent" if outcome == "sent" else "AcknowledgementNotSent",
                           unit=MetricUnit.Count, value=1)  # fmt: skip
    else:
        ahead = sent_ahead.get(message.get("tick") or "")
        if ahead is None or (lead_id not in ahead.outcomes and lead_id not in ahead.failures):
            pacer().wait()  # its batch could not be sent ahead: alone, as the sweep sends one
            ahead = send_due_steps([lead_id], lead_services(), config, mailer(), signed_links(now), now)
        if lead_id in ahead.failures:
            raise ahead.failures[lead_id]  # given back: the message goes back to the queue, the step stays due
        outcome = ahead.outcomes[lead_id]
        if lead_id in ahead.unrecorded:  # logged where it failed; the claim runs out and the step goes again
            metrics.add_metric(name="NurtureSentNotRecorded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="NurtureSent" if outcome == "sent" else "NurtureNotSent", unit=MetricUnit.Count,
                           value=1)  # fmt: skip
    logger.info("nurture message handled", extra={"lead_id": lead_id, "kind": message["kind"], "outcome": outcome})


def send_ahead(records: list[dict[str, Any]]) -> None:
    """Send the batch's due steps together, tick by tick: claims and records written for many leads at once."""
    sent_ahead.clear()
    by_tick: dict[str, list[str]] = {}
    for record in records:
        message = json.loads(record["body"])
        if message["kind"] == "step":
            by_tick.setdefault(message.get("tick") or "", []).append(message["lead_id"])
    for tick, lead_ids in by_tick.items():
        now = _tick({"tick": tick})
        try:
            sent_ahead[tick] = send_due_steps(lead_ids, lead_services(), client_config(), mailer(), signed_links(now),
                                              now, pacer=pacer())  # fmt: skip
        except Exception as exc:  # their claims were not written: each message is tried alone below
            logger.warning("nurture steps not sent ahead", extra={"lead_ids": lead_ids, "error": error_code(exc)})


def _tick(message: dict[str, Any]) -> datetime:
    """The moment to plan a message for: its sweep's tick, or now if later (a message back from a throttled
    send hours on is judged by the window as it is now). Locally the simulated tick runs ahead: it stays."""
    now = datetime.now(UTC)
    return max(datetime.fromisoformat(message["tick"]), now) if message.get("tick") else now


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    leads_table().give_up_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S
    send_ahead(event["Records"])
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

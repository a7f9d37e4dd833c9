"""Routing queue consumer: give each sales-ready lead one owner by the client's rules.

The decision is pure (leadflow.route.assignment); this handler reads what it needs through
the stores and applies the change with the owner's ledger in one transaction. FIFO batches
are processed in order; a failed message holds back only the rest of its lead's group.
"""

from __future__ import annotations

import json
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.observability import MetricUnit, logger, metrics
from leadflow.route.changes import route_lead
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table, roster

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
ANSWER_RESERVE_S = 3.0  # time kept to finish the record under way and report the batch


def record_handler(record: SQSRecord) -> None:
    message = json.loads(record.body)
    applied = route_lead(message, lead_services(), client_config(), roster(), leads_table())
    decision = (applied.change.profile.get("routing") if applied.change else None) or {}
    outcome = "LeadAssigned" if decision.get("owner") else "LeadQueued" if decision else "RoutedBefore"
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    logger.info("routed", extra={"lead_id": message["lead_id"], "outcome": outcome, "team": decision.get("team")})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    leads_table().give_up_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

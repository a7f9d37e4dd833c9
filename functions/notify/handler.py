"""Notify queue consumer: the emails routing's events call for (owner, reminder, escalation).

An EventBridge rule copies LeadAssigned, LeadReassigned, LeadSlaReminder and LeadEscalated
from the stack's bus to the notify queue. Each is mailed through SES once: a marker named for
the domain event, stored after the send, makes a redelivered or republished event send
nothing (a crash between the two sends twice: at least once, never lost). An event about a
lead that has moved on since sends nothing.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from leadflow.follow_up.link_page import RESPOND
from leadflow.links import LinkSigner
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.route.notice import notice_for
from leadflow.settings import client_config, link_key, required_env
from leadflow.wiring import leads_table, mailer, roster

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    event = json.loads(record.body)
    event_type, detail = event["detail-type"], event["detail"]
    lead_id, owner_id = detail["lead_id"], detail.get("owner")
    # The domain event's own identity, not EventBridge's id: a change's outbox is published at least once,
    # and a second publication of it is a new EventBridge event that must mail nothing.
    marker = f"notice-{event_type}-{lead_id}-{detail['at']}"
    table = leads_table()
    profile = table.get_profile(lead_id)
    if profile is None or table.marked(marker):
        metrics.add_metric(name="NoticeSentBefore", unit=MetricUnit.Count, value=1)
        return
    owner = roster().get_rep(owner_id) if owner_id else None
    config = client_config()
    expires = datetime.now(UTC) + timedelta(days=config.notify.link_days)
    assignment = {"assigned_at": str(profile.get("assigned_at", ""))}  # this assignment only, not a later one
    token = LinkSigner(link_key()).sign(RESPOND, lead_id, owner_id or "", expires, assignment)
    respond_url = f"{required_env('PUBLIC_API_URL').rstrip('/')}/r/{token}"
    email = notice_for(event_type, detail, profile, owner.email if owner else None, respond_url,
                       config.display_name or config.name)  # fmt: skip
    sent = email is not None
    if email is not None:
        mailer().send(email)
    metrics.add_metric(name="NoticeSent" if sent else "NoticeNotNeeded", unit=MetricUnit.Count, value=1)
    table.mark(marker)
    logger.info("notice", extra={"lead_id": lead_id, "event_type": event_type, "sent": sent})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

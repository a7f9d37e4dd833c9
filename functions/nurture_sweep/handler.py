"""Nurture sweep, run by a schedule (every 5 minutes by default): send each nurture email that is due.

Due leads are found with Queries of the sparse due index (never a Scan). Each step is claimed
with a conditional write before it is sent, so two sweeps that overlap never send one step
twice (leadflow.nurture.send). When more is due than this run should send at its share of the
client's send rate, the due leads go to the nurture queue, whose consumers send them.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from leadflow.aws.queues import FifoQueue
from leadflow.lead.profile import utc_stamp
from leadflow.nurture.send import SWEEP_BATCH, Pacer, batches_in_flight, rate_share, send_due_steps, sweep_nurture
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import client_config, required_env
from leadflow.wiring import lead_services, leads_table, mailer, signed_links

ANSWER_RESERVE_S = 10.0  # stop sending this long before the timeout: what is left goes to the queue
RETRY_RESERVE_S = 2.0  # no DynamoDB retry starts this close to the timeout (the answer and the logs still go out)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    now = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))  # the tick: what "due" is measured against
    config = client_config()
    remaining_s = context.get_remaining_time_in_millis() / 1000
    budget_s = remaining_s - ANSWER_RESERVE_S
    # The batches in flight when the budget runs out finish in the reserve: no retry of theirs starts after it.
    leads_table().give_up_at = time.monotonic() + remaining_s - RETRY_RESERVE_S
    share = rate_share(config.nurture.send_rate_per_second)
    batch_s = SWEEP_BATCH / share  # a batch's emails at the rate: one started is sent and recorded before the timeout
    in_flight = batches_in_flight(batch_s)
    links = signed_links(now)
    queue = FifoQueue(required_env("NURTURE_QUEUE_URL"))
    tick = event["time"]

    def fan_out(lead_ids: list[str]) -> None:
        messages = [({"kind": "step", "lead_id": lead_id, "tick": tick}, lead_id, f"{lead_id}-{tick}".replace(":", ""))
                    for lead_id in lead_ids]  # fmt: skip
        queue.send_batch(messages)

    pacer = Pacer(share)
    services, mail = lead_services(), mailer()  # made here once, not by each batch's thread at a cold start
    done = sweep_nurture(
        leads_table().nurture_due_lead_ids(utc_stamp(now)),
        lambda lead_ids: send_due_steps(lead_ids, services, config, mail, links, now, pacer=pacer),
        fan_out,
        inline_most=int(max(budget_s - batch_s * in_flight, 0) * share),
        give_up_at=time.monotonic() + budget_s,
        batch_seconds=batch_s,
        in_flight=in_flight,
    )
    metrics.add_metric(name="NurtureStepsDue", unit=MetricUnit.Count, value=done["due"])  # every tick: 0 is a figure
    metrics.add_metric(name="NurtureSent", unit=MetricUnit.Count, value=done["sent"])
    if done["failed"]:
        metrics.add_metric(name="NurtureStepFailed", unit=MetricUnit.Count, value=done["failed"])
    if done["unrecorded"]:
        metrics.add_metric(name="NurtureSentNotRecorded", unit=MetricUnit.Count, value=done["unrecorded"])
    logger.info("nurture sweep", extra={"tick": tick, **done})
    return done

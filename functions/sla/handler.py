"""SLA sweep, run every minute by a schedule: act on every lead whose reminder or deadline is due.

Due leads are found with Queries of the sparse due index (never a Scan), so a sweep reads
what is due and nothing else. Each lead is changed through the applier, which plans again
from a fresh read: two sweeps that overlap never remind or reassign a lead twice.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from leadflow.observability import MetricUnit, logger, metrics
from leadflow.route.sla import SLA_STEPS, sweep
from leadflow.settings import client_config
from leadflow.wiring import lead_services, leads_table, roster

ANSWER_RESERVE_S = 5.0  # stop starting leads this long before the timeout: the next tick takes the rest


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    now = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))  # the tick: what "due" is measured against
    give_up_at = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_S
    leads_table().give_up_at = give_up_at
    swept = sweep(lead_services(), client_config(), roster(), leads_table(), now, give_up_at)
    metrics.add_metric(name="SlaLeadsDue", unit=MetricUnit.Count, value=swept["due"])  # every tick: 0 is a figure
    for step in SLA_STEPS.values():
        if swept[step]:
            metrics.add_metric(name=f"Sla{step.capitalize()}", unit=MetricUnit.Count, value=swept[step])
    if swept["left"]:
        metrics.add_metric(name="SlaSweepCutShort", unit=MetricUnit.Count, value=1)
    if swept["failed"]:  # the function's error alarm would not see them: they are caught lead by lead
        metrics.add_metric(name="SlaStepFailed", unit=MetricUnit.Count, value=swept["failed"])
    logger.info("sla sweep", extra={"tick": event["time"], **swept})
    return swept

"""The weekly report, run by its EventBridge Scheduler schedule: last week's funnel by email, its CSV kept.

The schedule's input names the moment it was due (`scheduled_time`, EventBridge Scheduler's
`<aws.scheduler.scheduled-time>`); the week is the seven capture days before it
(leadflow.report.weekly.week_before). A retried run keeps the same CSV and emails no one twice.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.aws.report_bucket import ReportBucket
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.report.weekly import send_weekly, summary_of, week_before, weekly_report
from leadflow.settings import client_config, required_env
from leadflow.wiring import leads_table, mailer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    due = datetime.fromisoformat(str(event["scheduled_time"]).replace("Z", "+00:00"))
    config = client_config()
    report = weekly_report(leads_table(), config, week_before(due, config.report.timezone))

    until = datetime.now(UTC) + timedelta(milliseconds=context.get_remaining_time_in_millis())  # this run's claims
    bucket = ReportBucket(required_env("REPORTS_BUCKET"))
    answer = send_weekly(report, config.report.recipients, mailer(), leads_table(), bucket, until)
    metrics.add_metric(name="WeeklyReportSent", unit=MetricUnit.Count, value=answer["sent"])
    logger.info(summary_of(answer), extra={"scheduled_time": event["scheduled_time"], **answer})
    return answer

"""POST /leads (and its CORS preflight): API Gateway REST proxy event in, proxy answer out."""

from __future__ import annotations

import base64
from functools import cache
from typing import Any

from leadflow.capture import WebRequest, WebResponse, handle_capture, unavailable
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.queues import FifoQueue, QueueUnavailable
from leadflow.settings import capture_rules, client_name, required_env


@cache
def intake_queue() -> FifoQueue:
    return FifoQueue(required_env("INTAKE_QUEUE_URL"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rules = capture_rules()
    request = _request_from(event)
    result = handle_capture(request, rules, client_name())
    if result.bot:
        metrics.add_metric(name="HoneypotCaught", unit=MetricUnit.Count, value=1)
        logger.info("honeypot filled; answered as a success and stored nothing")
    elif result.captured is not None:
        captured = result.captured
        try:
            intake_queue().send(captured.message, group_id=captured.lead_id, deduplication_id=captured.inquiry_id)
        except QueueUnavailable as exc:
            logger.error("intake queue unavailable", extra={"error": str(exc), "inquiry_id": captured.inquiry_id})
            metrics.add_metric(name="CaptureUnavailable", unit=MetricUnit.Count, value=1)
            return _proxy_response(unavailable(request, rules))
        metrics.add_metric(name="InquiryCaptured", unit=MetricUnit.Count, value=1)
        logger.info("inquiry captured", extra={"lead_id": captured.lead_id, "inquiry_id": captured.inquiry_id})
    elif request.method == "POST":  # a POST that was neither captured nor a bot was refused
        metrics.add_metric(name="InquiryRefused", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="PreflightAnswered", unit=MetricUnit.Count, value=1)
    return _proxy_response(result.response)


def _request_from(event: dict[str, Any]) -> WebRequest:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
    return WebRequest(method=event.get("httpMethod", "").upper(), headers=headers, body=body)


def _proxy_response(response: WebResponse) -> dict[str, Any]:
    return {"statusCode": response.status, "headers": response.headers, "body": response.body, "isBase64Encoded": False}

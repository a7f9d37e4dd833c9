"""POST /leads (and its CORS preflight): an API Gateway proxy event in, a proxy answer out.

Both payload formats: REST API 1.0 (`httpMethod`, `headers`, `multiValueHeaders`) and HTTP
API / function URL 2.0 (`version` "2.0", `requestContext.http.method`, lower-case `headers`
with repeated values comma-joined, `cookies`). Header names are compared lower-cased.
"""

from __future__ import annotations

import base64
import gc
from functools import cache
from typing import Any

from leadflow.aws.queues import FifoQueue, QueueUnavailable
from leadflow.capture.request import WebRequest, WebResponse, handle_capture, unavailable
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import capture_rules, lead_ids, required_env

# What the imports made lives as long as the function: freezing it keeps the garbage collector
# from walking it again while the first request imports boto3 (about 20 ms of a visitor's wait).
gc.freeze()


@cache
def intake_queue() -> FifoQueue:
    return FifoQueue(required_env("INTAKE_QUEUE_URL"))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    rules = capture_rules()
    request = _request_from(event)
    result = handle_capture(request, rules, lead_ids())
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
    if event.get("version") == "2.0":
        method = ((event.get("requestContext") or {}).get("http") or {}).get("method", "")
        pairs = list((event.get("headers") or {}).items())
        pairs += [("cookie", "; ".join(event["cookies"]))] if event.get("cookies") else []
    else:
        method = event.get("httpMethod") or ""
        multi = event.get("multiValueHeaders") or {}
        pairs = [(name, ", ".join(map(str, values or []))) for name, values in multi.items()]
        listed = {name.lower() for name in multi}
        pairs += [(n, v) for n, v in (event.get("headers") or {}).items() if n.lower() not in listed]
    headers: dict[str, str] = {}
    for name, value in pairs:  # names are case-insensitive: one entry per name, repeated values comma-joined
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    raw = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        return WebRequest(method.upper(), headers, raw.encode("utf-8", "surrogatepass"))
    try:
        return WebRequest(method.upper(), headers, base64.b64decode(raw, validate=True))
    except ValueError:  # binascii.Error, or text that is not ASCII
        problem = "is marked base64-encoded (isBase64Encoded) but is not valid base64: send the body unchanged"
        return WebRequest(method.upper(), headers, b"", body_problem=problem)


def _proxy_response(response: WebResponse) -> dict[str, Any]:
    return {"statusCode": response.status, "headers": response.headers, "body": response.body, "isBase64Encoded": False}

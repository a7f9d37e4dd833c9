"""GET and POST /r/{token}: the one-tap Accept / Reject page an owner's email links to.

The page's rules live in leadflow.follow_up.link_page; this handler turns the API Gateway
proxy event into its inputs (the token, the form or query, the method) and its Page back.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from leadflow.follow_up.link_page import PAGE_HEADERS, Page, respond
from leadflow.links import LinkSigner
from leadflow.observability import MetricUnit, logger, metrics
from leadflow.settings import client_config, link_key
from leadflow.wiring import lead_services, leads_table

MAX_FORM_BYTES = 4096
BAD_FORM = "<!doctype html><title>Not sent from the page</title><p>Open the link from your email and use its buttons."


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = (event.get("httpMethod") or "GET").upper()
    token = str((event.get("pathParameters") or {}).get("token", ""))
    raw = event.get("body") or ""
    form = dict(event.get("queryStringParameters") or {}) if method == "GET" else {}
    try:
        body = base64.b64decode(raw, validate=True) if event.get("isBase64Encoded") else raw.encode()
        if method == "POST":
            form = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), max_num_fields=10))
    except ValueError:  # not base64, or more fields than the page's form has: not a post from the page
        page = Page(400, BAD_FORM)
    else:
        page = respond(
            method, token, form, datetime.now(UTC), signer=LinkSigner(link_key()),
            read_profile=leads_table().get_profile, services=lead_services(), config=client_config(),
        )  # fmt: skip
    metrics.add_metric(name=f"LinkAnswered{page.status}", unit=MetricUnit.Count, value=1)
    return {"statusCode": page.status, "headers": PAGE_HEADERS, "body": page.html, "isBase64Encoded": False}

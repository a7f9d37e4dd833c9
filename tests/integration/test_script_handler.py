"""GET /leadflow.js, with API Gateway's event."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Stack
from tests.support import ROOT, load_event


def test_script_is_served_as_javascript_with_an_etag(stack: Stack, lambda_context: Any) -> None:
    answer = stack.handler("script")(load_event("script-get.json"), lambda_context)
    assert answer["statusCode"] == 200
    assert answer["headers"]["Content-Type"].startswith("application/javascript")
    assert answer["body"] == (ROOT / "functions" / "script" / "leadflow.js").read_text()
    assert answer["headers"]["ETag"]


def test_script_unchanged_since_last_fetch_is_a_304(stack: Stack, lambda_context: Any) -> None:
    handler = stack.handler("script")
    etag = handler(load_event("script-get.json"), lambda_context)["headers"]["ETag"]
    event = load_event("script-get.json")
    event["headers"]["If-None-Match"] = etag
    answer = handler(event, lambda_context)
    assert answer["statusCode"] == 304
    assert answer["body"] == ""

"""GET /leadflow.js is cached by browsers and revalidated cheaply with its ETag."""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import Stack
from tests.support import load_event


def test_script_is_fresh_for_an_hour_then_revalidated_by_etag_with_the_same_cache_policy(
    stack: Stack, lambda_context: Any
) -> None:
    handler = stack.handler("script")
    first = handler(load_event("script-get.json"), lambda_context)
    cache_control = first["headers"]["Cache-Control"]
    assert "public" in cache_control
    assert "max-age=3600" in cache_control
    event = load_event("script-get.json")
    event["headers"]["If-None-Match"] = first["headers"]["ETag"]
    again = handler(event, lambda_context)
    assert again["statusCode"] == 304
    assert again["headers"]["Cache-Control"] == cache_control

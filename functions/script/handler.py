"""GET /leadflow.js: the script websites embed to enhance their leadflow forms."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from leadflow.observability import logger

SCRIPT = Path(__file__).with_name("leadflow.js")
# Fresh for an hour on every page of a site; after that the browser keeps using its copy while it
# asks again with If-None-Match, which this function answers with a bodiless 304 until a deploy
# changes the script. API Gateway gzips the 200 (the API's minimum compression size).
CACHE_CONTROL = "public, max-age=3600, stale-while-revalidate=86400"


@cache
def script() -> tuple[str, str]:
    text = SCRIPT.read_text(encoding="utf-8")
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    text, etag = script()
    headers = {
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": CACHE_CONTROL,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    asked = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("if-none-match")
    if asked == etag:
        return {"statusCode": 304, "headers": headers, "body": "", "isBase64Encoded": False}
    return {"statusCode": 200, "headers": headers, "body": text, "isBase64Encoded": False}

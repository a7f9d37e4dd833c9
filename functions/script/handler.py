"""GET /leadflow.js: the script websites embed to enhance their leadflow forms."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from leadflow.observability import logger

SCRIPT = Path(__file__).with_name("leadflow.js")


@cache
def script() -> tuple[str, str]:
    text = SCRIPT.read_text(encoding="utf-8")
    return text, '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    text, etag = script()
    headers = {
        "Content-Type": "application/javascript; charset=utf-8",
        "Cache-Control": "public, max-age=300",
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    asked = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get("if-none-match")
    if asked == etag:
        return {"statusCode": 304, "headers": headers, "body": "", "isBase64Encoded": False}
    return {"statusCode": 200, "headers": headers, "body": text, "isBase64Encoded": False}

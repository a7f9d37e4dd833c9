"""Capture: turn one HTTP request from a website into a durable inquiry, or a clear refusal.

The rules live here, independent of API Gateway's event shape: content types, size
limits, CORS for the client's origins, the honeypot, idempotency and the answers a
browser form (303 redirects) or a script (JSON) expects. The handler only translates
events to `WebRequest` and `WebResponse` back.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from leadflow.ids import inquiry_id_for_key, lead_id_for, new_inquiry_id
from leadflow.inquiry import (
    IDEMPOTENCY_KEY,
    FieldError,
    check_inquiry,
    flatten_form_fields,
    flatten_json_body,
    is_bot,
    normalize_email,
)

if TYPE_CHECKING:
    from leadflow.config import ClientConfig

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MESSAGE_VERSION = 1


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalize_origin(origin: str) -> str:
    """An origin as browsers send it: lower case, no default port, no trailing dot on the host."""
    scheme, sep, rest = origin.strip().partition("://")
    if not sep:
        return origin
    host, _, port = rest.lower().partition(":")
    host = host.rstrip(".")
    scheme = scheme.lower()
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS.get(scheme) else "")


@dataclass(frozen=True)
class CaptureRules:
    """The [capture] settings as capture reads them at cold start.

    They are checked (and their defaults filled) by `leadflow.config.CaptureSettings` at
    synth; this plain view keeps pydantic's model build out of capture's cold start. A unit
    test holds the two to the same fields.
    """

    allowed_origins: list[str]
    thank_you_url: str
    error_url: str | None
    honeypot_field: str
    max_body_kb: int
    max_field_chars: int
    max_message_chars: int
    max_custom_fields: int

    @classmethod
    def of(cls, config: ClientConfig) -> CaptureRules:
        return cls(**config.capture.model_dump())


@dataclass
class WebRequest:
    method: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")


@dataclass
class WebResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass
class Captured:
    """What the intake queue receives: the message, its group and its deduplication id."""

    message: dict[str, Any]
    lead_id: str
    inquiry_id: str


@dataclass
class CaptureResult:
    response: WebResponse
    captured: Captured | None = None
    bot: bool = False


def handle_capture(
    request: WebRequest, settings: CaptureRules, client: str, now: datetime | None = None
) -> CaptureResult:
    """Decide the answer to a request; the caller enqueues `captured` before sending it."""
    cors = _cors_headers(request.origin, settings)
    is_form = request.content_type == FORM
    if request.origin is not None and not cors:
        refused = FieldError(
            "Origin",
            f"{request.origin} may not post to this endpoint: add it to capture.allowed_origins in the client config",
        )
        return CaptureResult(_form_error([refused], settings, {}) if is_form else _json(403, _errors([refused])))
    if request.method == "OPTIONS":
        return CaptureResult(WebResponse(204, {**cors, **_PREFLIGHT}))
    if request.method != "POST":
        return CaptureResult(_json(405, _error("method", "use POST"), {**cors, "Allow": "POST, OPTIONS"}))

    limit = settings.max_body_kb * 1024
    if len(request.body) > limit:
        problem = FieldError("body", f"is {len(request.body)} bytes; the limit is {limit} bytes")
        return CaptureResult(_html_page(413, [problem], cors) if is_form else _json(413, _errors([problem]), cors))
    if request.content_type not in (JSON, FORM):
        got = request.content_type or "no Content-Type"
        return CaptureResult(_json(415, _error("Content-Type", f"{got} is not accepted: send {JSON} or {FORM}"), cors))

    flat, body_errors = _parse_body(request.body, is_form)
    if flat is None:
        return CaptureResult(
            _form_error(body_errors, settings, cors) if is_form else _json(400, _errors(body_errors), cors)
        )

    now = now or datetime.now(UTC)
    if is_bot(flat, settings.honeypot_field):
        email = normalize_email(str(flat.get("email", "")))
        fake = lead_id_for(client, email or new_inquiry_id())
        return CaptureResult(_success(is_form, fake, settings, cors), bot=True)

    inquiry, field_errors = check_inquiry(flat, settings)
    errors = body_errors + field_errors
    key = request.headers.get("idempotency-key", "").strip() or None
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        errors.append(FieldError("Idempotency-Key", "must be 8 to 128 letters, digits or . _ : -"))
    if errors or inquiry is None:
        if is_form:
            return CaptureResult(_form_error(errors, settings, cors))
        return CaptureResult(_json(422, _errors(errors), cors))

    key = key or inquiry.submission_id
    lead_id = lead_id_for(client, inquiry.email)
    # One key, one person: the same key with another email is that person's own inquiry, never a lost one.
    inquiry_id = inquiry_id_for_key(client, lead_id, key) if key else new_inquiry_id(int(now.timestamp() * 1000))
    message = {
        "version": MESSAGE_VERSION,
        "client": client,
        "lead_id": lead_id,
        "inquiry_id": inquiry_id,
        "received_at": now.isoformat(timespec="milliseconds"),
        "channel": "form" if is_form else "json",
        "email": inquiry.email,
        "fields": inquiry.fields,
        "custom": inquiry.custom,
        "user_agent": request.headers.get("user-agent", "")[:300],
    }
    return CaptureResult(_success(is_form, lead_id, settings, cors), Captured(message, lead_id, inquiry_id))


def unavailable(request: WebRequest, settings: CaptureRules) -> WebResponse:
    """The answer when the inquiry could not be made durable: retry, never a 2xx."""
    body = _error("service", "the inquiry could not be stored right now; retry in a few seconds")
    response = _json(503, body, _cors_headers(request.origin, settings))
    response.headers["Retry-After"] = "2"
    return response


_PREFLIGHT = {
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type, Idempotency-Key",
    "Access-Control-Max-Age": "600",
}


def _cors_headers(origin: str | None, settings: CaptureRules) -> dict[str, str]:
    if origin is None or normalize_origin(origin) not in settings.allowed_origins:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": "Retry-After", "Vary": "Origin"}


def _parse_body(body: bytes, is_form: bool) -> tuple[dict[str, Any] | None, list[FieldError]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, [FieldError("body", "is not UTF-8 text")]
    if is_form:
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=200)
        except ValueError as exc:
            return None, [FieldError("body", f"is not a urlencoded form: {exc}")]
        return flatten_form_fields(pairs)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [FieldError("body", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except (ValueError, RecursionError):  # numbers too long to convert, nesting too deep to parse
        return None, [FieldError("body", "is JSON leadflow cannot read: send a flat object of field: value pairs")]
    if not isinstance(data, dict):
        return None, [FieldError("body", "must be a JSON object of field: value pairs")]
    return flatten_json_body(data)


def _success(is_form: bool, lead_id: str, settings: CaptureRules, cors: dict[str, str]) -> WebResponse:
    if is_form:
        return WebResponse(303, {**cors, "Location": settings.thank_you_url})
    return _json(202, {"lead_id": lead_id, "status": "received"}, cors)


def _form_error(errors: list[FieldError], settings: CaptureRules, cors: dict[str, str]) -> WebResponse:
    if settings.error_url is None:
        return _html_page(422, errors, cors)
    query = [("error_fields", ",".join(e.field for e in errors))]
    query += [(f"error.{e.field}", e.message) for e in errors]
    joiner = "&" if "?" in settings.error_url else "?"
    return WebResponse(303, {**cors, "Location": settings.error_url + joiner + urlencode(query)})


def _html_page(status: int, errors: list[FieldError], cors: dict[str, str]) -> WebResponse:
    items = "".join(f"<li><b>{html.escape(e.field)}</b> {html.escape(e.message)}</li>" for e in errors)
    page = (
        "<!doctype html><meta charset=utf-8><title>Please check the form</title>"
        f'<h1>Please check the form</h1><ul>{items}</ul><p><a href="javascript:history.back()">Go back</a></p>'
    )
    return WebResponse(status, {**cors, "Content-Type": "text/html; charset=utf-8"}, page)


def _errors(errors: list[FieldError]) -> dict[str, Any]:
    return {"errors": [e.as_dict() for e in errors]}


def _error(field_name: str, message: str) -> dict[str, Any]:
    return _errors([FieldError(field_name, message)])


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> WebResponse:
    return WebResponse(status, {**(headers or {}), "Content-Type": JSON}, json.dumps(body))

"""Capture: turn one HTTP request from a website into a durable inquiry, or a clear refusal.

The rules live here, independent of API Gateway's event shape: content types, charsets
and encodings, size limits, CORS for the client's origins, the honeypot, idempotency and
the answers a browser form (303 redirects) or a script (JSON) expects. The handler only
translates events to `WebRequest` and `WebResponse` back.
"""

from __future__ import annotations

import codecs
import html
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes, urlencode

from leadflow.capture.inquiry import (
    IDEMPOTENCY_KEY,
    LEADFLOW_FIELDS,
    FieldError,
    check_inquiry,
    flatten_form_fields,
    flatten_json_body,
    is_bot,
    printable_name,
    route_fields,
)
from leadflow.lead.ids import LeadIds, new_inquiry_id

if TYPE_CHECKING:
    from leadflow.config import ClientConfig

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MESSAGE_VERSION = 1
MAX_FORM_FIELDS = 200
UTF8_BOM = b"\xef\xbb\xbf"
# Python codecs that are no charset a website declares (they decode escapes or domain names).
_NOT_CHARSETS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape"})
_ASCII_PROBE = "&=+%azAZ09"


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
    field_names: dict[str, str]  # the website's own field name -> the leadflow field it fills

    @classmethod
    def of(cls, config: ClientConfig) -> CaptureRules:
        return cls(**config.capture.model_dump())


@dataclass
class WebRequest:
    method: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    body_problem: str | None = None  # why the event's body could not be read (invalid base64), if it could not

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def charset(self) -> str | None:
        """The Content-Type's charset parameter, as sent; None when there is none."""
        for parameter in self.headers.get("content-type", "").split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset":
                return value.strip().strip('"').strip()
        return None

    @property
    def content_encodings(self) -> list[str]:
        """The Content-Encoding codings other than identity, lower-cased."""
        codings = (c.strip().lower() for c in self.headers.get("content-encoding", "").split(","))
        return [c for c in codings if c and c != "identity"]

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
    request: WebRequest, settings: CaptureRules, ids: LeadIds, now: datetime | None = None
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

    codec = _codec_or_refusal(request, settings, is_form)
    if isinstance(codec, _Refusal):
        status, problems = codec.status, [codec.problem]
        if is_form:  # a person can fix only what the form's error page shows; the rest is a plain page
            page = _form_error(problems, settings, cors, 400) if status == 400 else _html_page(status, problems, cors)
            return CaptureResult(page)
        return CaptureResult(_json(status, _errors(problems), cors))

    flat, body_errors = _parse_body(request.body, codec, is_form, request.charset is not None)
    if flat is None:
        return CaptureResult(
            _form_error(body_errors, settings, cors, 400) if is_form else _json(400, _errors(body_errors), cors)
        )

    now = now or datetime.now(UTC)
    routed = route_fields(flat, settings)
    if is_bot(flat, settings.honeypot_field):
        # Looks like any answer, names nobody: the id of a posted address would let anyone look ids up.
        fake = ids.lead_id(new_inquiry_id())
        return CaptureResult(_success(is_form, fake, routed.ignored_fields, settings, cors), bot=True)

    inquiry, field_errors = check_inquiry(routed, settings)
    errors = body_errors + field_errors
    key = request.headers.get("idempotency-key", "").strip() or None
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        errors.append(FieldError("Idempotency-Key", "must be 8 to 128 letters, digits or . _ : -"))
    if errors or inquiry is None:
        if is_form:
            return CaptureResult(_form_error(errors, settings, cors))
        return CaptureResult(_json(422, _errors(errors), cors))

    key = key or inquiry.submission_id
    lead_id = ids.lead_id(inquiry.email)
    # One key, one person: the same key with another email is that person's own inquiry, never a lost one.
    inquiry_id = ids.inquiry_id_for_key(lead_id, key) if key else new_inquiry_id(int(now.timestamp() * 1000))
    message = {
        "version": MESSAGE_VERSION,
        "client": ids.client,
        "lead_id": lead_id,
        "inquiry_id": inquiry_id,
        "received_at": now.isoformat(timespec="milliseconds"),
        "channel": "form" if is_form else "json",
        "email": inquiry.email,
        "fields": inquiry.fields,
        "custom": inquiry.custom,
        "ignored_fields": inquiry.ignored_fields,  # sent, but neither a leadflow field nor mapped: not stored
        "user_agent": printable_name(request.headers.get("user-agent", ""), 300),
    }
    response = _success(is_form, lead_id, inquiry.ignored_fields, settings, cors)
    return CaptureResult(response, Captured(message, lead_id, inquiry_id))


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


# Reading the body


@dataclass(frozen=True)
class _Refusal:
    status: int
    problem: FieldError


def _codec_or_refusal(request: WebRequest, settings: CaptureRules, is_form: bool) -> str | _Refusal:
    """The codec that reads the body, or why the body is refused before it is read."""
    if request.body_problem is not None:
        return _Refusal(400, FieldError("body", request.body_problem))
    limit = settings.max_body_kb * 1024
    if len(request.body) > limit:
        return _Refusal(413, FieldError("body", f"is {len(request.body)} bytes; the limit is {limit} bytes"))
    if request.content_type not in (JSON, FORM):
        got = request.content_type or "no Content-Type"
        return _Refusal(415, FieldError("Content-Type", f"{got} is not accepted: send {JSON} or {FORM}"))
    if request.content_encodings:
        coding = printable_name(", ".join(request.content_encodings), 40)
        problem = f"{coding} is not accepted: send the body uncompressed (no Content-Encoding)"
        return _Refusal(415, FieldError("Content-Encoding", problem))
    codec = _codec_for(request.charset, is_form)
    if codec is None:
        charset = printable_name(request.charset or "", 40)
        instead = "UTF-8 (or a charset like ISO-8859-1 or windows-1252)" if is_form else "UTF-8, or no charset"
        return _Refusal(
            415, FieldError("Content-Type", f"charset {charset} is not accepted: send the body as {instead}")
        )
    return codec


def _codec_for(charset: str | None, is_form: bool) -> str | None:
    """The Python codec for a declared charset: UTF-8 for JSON; for a form any ASCII-compatible charset."""
    if charset is None:
        return "utf-8"
    if len(charset) > 40:
        return None
    try:
        name = codecs.lookup(charset).name
    except (LookupError, ValueError):  # unknown, or holding a NUL
        return None
    name = "utf-8" if name == "utf-8-sig" else name
    if not is_form:
        return name if name == "utf-8" else None
    if name in _NOT_CHARSETS:
        return None
    try:  # a form's & = + % must be those bytes: UTF-16, UTF-7, EBCDIC and non-text codecs are refused
        compatible = _ASCII_PROBE.encode(name) == _ASCII_PROBE.encode("ascii")
    except (LookupError, UnicodeError):
        return None
    return name if compatible else None


def _parse_body(
    body: bytes, codec: str, is_form: bool, declared: bool
) -> tuple[dict[str, Any] | None, list[FieldError]]:
    if codec == "utf-8":
        body = body.removeprefix(UTF8_BOM)
    if is_form:
        pairs, errors = _parse_form(body, codec, declared)
        return flatten_form_fields(pairs) if pairs is not None else (None, errors)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [FieldError("body", f"is not UTF-8 text ({_bad_bytes(exc)}): send JSON as UTF-8")]
    try:
        data = json.loads(
            text,
            object_pairs_hook=_JsonObject,
            parse_constant=_refuse_constant,
            parse_float=_finite_float,
            parse_int=_float_sized_int,
        )
    except json.JSONDecodeError as exc:
        return None, [FieldError("body", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]
    except _UnreadableNumber as exc:
        return None, [FieldError("body", str(exc))]
    except (ValueError, RecursionError):  # nesting too deep to parse
        return None, [FieldError("body", "is JSON leadflow cannot read: send a flat object of field: value pairs")]
    if not isinstance(data, _JsonObject):  # every JSON object is read as one
        return None, [FieldError("body", "must be a JSON object of field: value pairs")]
    flat, errors = flatten_json_body(data)
    custom = data.get("custom")
    repeated = [*data.repeated, *(f"custom.{k}" for k in getattr(custom, "repeated", ()))]
    errors += [FieldError(printable_name(k), "was sent more than once; send each field once") for k in repeated]
    return flat, errors


def _parse_form(body: bytes, codec: str, declared: bool) -> tuple[list[tuple[str, str]] | None, list[FieldError]]:
    """urlencoded pairs as browsers send them, each name and value decoded with the declared charset, strictly."""
    chunks = [chunk for chunk in body.split(b"&") if chunk]
    if len(chunks) > MAX_FORM_FIELDS:
        return None, [FieldError("body", f"has {len(chunks)} fields; a form may send at most {MAX_FORM_FIELDS}")]
    pairs: list[tuple[str, str]] = []
    for chunk in chunks:
        raw_name, _, raw_value = chunk.partition(b"=")
        try:
            name = _form_text(raw_name, codec)
        except UnicodeDecodeError as exc:
            return None, [FieldError("body", f"holds a field name that {_not_in_charset(exc, codec, declared)}")]
        try:
            value = _form_text(raw_value, codec)
        except UnicodeDecodeError as exc:
            return None, [FieldError(printable_name(name), _not_in_charset(exc, codec, declared))]
        pairs.append((name, value))
    return pairs, []


def _form_text(raw: bytes, codec: str) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode(codec)


def _not_in_charset(exc: UnicodeDecodeError, codec: str, declared: bool) -> str:
    if declared:
        return f"is not {codec} text ({_bad_bytes(exc)}): send the charset the Content-Type declares"
    return (
        f"is not UTF-8 text ({_bad_bytes(exc)}): send UTF-8, "
        "or name the form's charset in its Content-Type (like charset=ISO-8859-1)"
    )


def _bad_bytes(exc: UnicodeDecodeError) -> str:
    return f"byte 0x{exc.object[exc.start]:02X} at position {exc.start + 1}"


class _UnreadableNumber(ValueError):
    pass


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it was sent more than once (json.loads keeps the last)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        self.repeated: list[str] = []
        for key, _ in pairs:
            if key in seen and key not in self.repeated:
                self.repeated.append(key)
            seen.add(key)


def _refuse_constant(name: str) -> Any:
    raise _UnreadableNumber(f"holds {name}, which is not a number JSON allows: send a number or text")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _UnreadableNumber(f"holds the number {text[:30]}, too large to read: send it as text (in quotes)")
    return number


def _float_sized_int(text: str) -> int:
    if len(text.lstrip("-")) > 308:  # beyond any float, and beyond what int() converts quickly
        raise _UnreadableNumber(f"holds a {len(text)}-digit number, too large to read: send it as text (in quotes)")
    return int(text)


# Answers


def _success(
    is_form: bool, lead_id: str, ignored_fields: list[str], settings: CaptureRules, cors: dict[str, str]
) -> WebResponse:
    if is_form:
        return WebResponse(303, {**cors, "Location": settings.thank_you_url})
    body: dict[str, Any] = {"lead_id": lead_id, "status": "received"}
    if ignored_fields:
        body["ignored_fields"] = ignored_fields
        body["note"] = _ignored_note(ignored_fields)
    return _json(202, body, cors)


def _ignored_note(ignored_fields: list[str]) -> str:
    """What a JSON client should know about the fields that were not stored (a misspelling, most likely)."""
    from difflib import get_close_matches  # only when a field was ignored: kept out of the cold start

    hints = []
    for name in ignored_fields:
        near = get_close_matches(name, LEADFLOW_FIELDS, n=1)
        if near:
            hints.append(f"{name}: did you mean {near[0]}?")
    return (
        "The inquiry was received; these fields are not leadflow fields and were not stored: "
        f"{', '.join(ignored_fields)}. {' '.join(hints)}{' ' if hints else ''}"
        "Send extra data as custom.<name>, or map the name in the client's [capture.field_names]."
    )


def _form_error(
    errors: list[FieldError], settings: CaptureRules, cors: dict[str, str], status: int = 422
) -> WebResponse:
    """A 303 to the client's error page naming the fields; without one, a small page with `status`."""
    if settings.error_url is None:
        return _html_page(status, errors, cors)
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

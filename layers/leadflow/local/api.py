"""The API on localhost: HTTP requests in, API Gateway REST proxy events to the functions.

Each request becomes the event API Gateway's Lambda proxy integration sends (headers and
multi-value headers, query string, the route's `resource` and its `pathParameters`, request
context, body as text or base64), and the function's proxy answer becomes the HTTP response.
A route's path may hold path parameters (`/r/{token}`: one path segment each, or `{name+}`
for the rest of the path); a path part spelled out wins over a parameter, as in API Gateway,
and a parameter's value is passed as the path spells it (still percent-encoded, as a REST
API passes it). A function error, or an answer that is
not a proxy response, is a 502, as API Gateway answers it; a request whose body cannot be
read (a bad Content-Length or chunk size) is a 400; anything else that fails is a 500.

A route may have an authorizer (leadflow.local.authorizer): a request without a valid ID
token of its user pool is answered 401, as API Gateway answers it, and the function is never
called; with one, the function finds the token's claims in `requestContext.authorizer.claims`.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qs, urlsplit

from leadflow.local.authorizer import CognitoAuthorizer
from leadflow.local.workers import InvocationError

Invoke = Callable[[dict[str, Any]], Any]
Page = Callable[[dict[str, list[str]]], str]  # the query string in, HTML out (JSON for a path ending in .json)
STAGE = "local"


def proxy_event(
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    resource: str,
    source_ip: str = "127.0.0.1",
    now: datetime | None = None,
    path_parameters: dict[str, str] | None = None,
    claims: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The event of API Gateway's Lambda proxy integration (REST API); `claims`: the authorizer's, if any."""
    now = now or datetime.now(UTC)
    split = urlsplit(raw_path)
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    query = parse_qs(split.query, keep_blank_values=True)
    try:
        text: str | None = body.decode("utf-8") if body else None
        encoded = False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    return {
        "resource": resource,
        "path": split.path,
        "httpMethod": method,
        "headers": single or None,
        "multiValueHeaders": multi or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{STAGE}{split.path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": STAGE,
            "domainPrefix": "localhost",
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent")},
            "domainName": single.get("Host", "localhost"),
            "apiId": "local",
            **({"authorizer": {"claims": claims}} if claims is not None else {}),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


_PARAMETER = re.compile(r"\{([A-Za-z0-9_.-]+)(\+?)\}")  # a path part that is a parameter: {token}, {proxy+}


class RoutePath:
    """A route's path as API Gateway matches it: its parts spelled out, or parameters."""

    def __init__(self, template: str):
        self.template = template
        parts = template.strip("/").split("/") if template.strip("/") else []
        pattern = ""
        for part in parts:
            parameter = _PARAMETER.fullmatch(part)
            if parameter is None:
                pattern += "/" + re.escape(part)
            else:
                pattern += f"/(?P<{_group(parameter.group(1))}>{'.+' if parameter.group(2) else '[^/]+'})"
        self._names = {_group(m.group(1)): m.group(1) for part in parts if (m := _PARAMETER.fullmatch(part))}
        self._pattern = re.compile(pattern or "/")
        # Parts spelled out win over parameters, from the left: /r/new before /r/{token}.
        self.specificity = tuple(0 if _PARAMETER.fullmatch(part) else 1 for part in parts)

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters, when `path` is this route's (an empty dict for a path without any)."""
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        return {self._names[group]: value for group, value in found.groupdict().items()}


def _group(name: str) -> str:
    """A regex group name for a parameter name (which may hold `-` or `.`, a group name may not)."""
    return "p_" + "".join(c if c.isalnum() else f"_{ord(c):x}_" for c in name)


MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
_MAX_LINE = 65536  # the longest chunk-size or trailer line read, as http.server bounds its header lines
_DECIMAL = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # what an HTTP header name may be
_FRAMING_HEADERS = {"content-length", "transfer-encoding", "connection"}  # set by the server, not by the function


class BadRequest(Exception):
    """The request cannot be read as HTTP/1.1 says: answered as API Gateway answers it, and the connection closed."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class MalformedProxyResponse(Exception):
    """The function's answer is not a Lambda proxy response: API Gateway answers 502."""


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024  # the default 5 reset connections when a load test opened 20 at once
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One line instead of a traceback; nothing when the client went away."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        what = f"{type(error).__name__}: {error}"
        print(f"  ! local API: a connection from {client_address[0]} failed ({what})", flush=True)


class LocalApi:
    """Serves the definition's routes, and `pages`: local-only pages made from the query string."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: Mapping[tuple[str, str], Invoke],
        pages: Mapping[str, Page],
        authorizers: Mapping[tuple[str, str], CognitoAuthorizer] | None = None,
    ):
        self.routes = routes  # by (method, path as the definition spells it: "/r/{token}")
        self.pages = pages
        self.authorizers = dict(authorizers or {})  # the routes that need a user pool's ID token, by (method, path)
        paths = {path: RoutePath(path) for _, path in routes}.values()
        self._paths = sorted(paths, key=lambda p: p.specificity, reverse=True)  # the most specific first
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                api.serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_request

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = _Server((host, port), Handler)
        self._serving = threading.Event()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self._serving.set()
        self.server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        if self._serving.is_set():  # `server.shutdown` waits forever for a loop that never ran
            self.server.shutdown()
        self.server.server_close()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        """Answer one request; whatever goes wrong becomes an answer (400, 500, 502), never a dropped connection."""
        try:
            self._serve(request)
        except ConnectionError:  # the client went away: nobody to answer
            request.close_connection = True
        except Exception as exc:
            print(f"  ! {request.command} {request.path}: local API error ({type(exc).__name__}: {exc})", flush=True)
            try:
                _send_message(request, 500, "Internal server error", close=True)
            except OSError:
                request.close_connection = True

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        split = urlsplit(request.path)
        path = split.path
        try:
            body = _read_body(request)
        except BadRequest as exc:
            print(f"  ! {request.command} {path} -> {exc.status}: {exc.message}", flush=True)
            _send_message(request, exc.status, exc.message, close=True)  # where the next request starts is unknown
            return
        route = self._route(path)
        invoke = self.routes.get((request.command, route[0].template)) if route else None
        if route is None or invoke is None:
            self._serve_local(request, path, split.query, allowed=route is not None)
            return
        resource, parameters = route
        shown = resource.template  # printed, not the path: a path parameter (a link's token) stays off the console
        claims = None
        authorizer = self.authorizers.get((request.command, resource.template))
        if authorizer is not None:
            claims = authorizer.claims(request.headers.get("Authorization"))
            if claims is None:
                print(f"  {request.command} {shown} -> 401 (no valid ID token of {authorizer.pool_name})", flush=True)
                _send_unauthorized(request)
                return
        event = proxy_event(
            request.command,
            request.path,
            list(request.headers.items()),
            body,
            resource.template,
            request.client_address[0],
            path_parameters=parameters,
            claims=claims,
        )
        try:
            status, headers, payload = proxy_response(invoke(event))
        except InvocationError as exc:
            print(f"  ! {request.command} {shown}: function error {exc.error_type}\n{exc.trace}", flush=True)
            _send_message(request, 502, "Internal server error")
            return
        except MalformedProxyResponse as exc:
            print(f"  ! {request.command} {shown}: malformed Lambda proxy response ({exc})", flush=True)
            _send_message(request, 502, "Internal server error")
            return
        _send(request, status, headers, payload)
        print(f"  {request.command} {shown} -> {status} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)

    def _route(self, path: str) -> tuple[RoutePath, dict[str, str]] | None:
        """The route whose path `path` is, the most specific one, with its path parameters."""
        for route_path in self._paths:
            parameters = route_path.match(path)
            if parameters is not None:
                return route_path, parameters
        return None

    def _serve_local(self, request: BaseHTTPRequestHandler, path: str, query: str, allowed: bool) -> None:
        """A local page, or the 404 or 405 API Gateway answers for a path or method it has no route for.

        A page is HTML, but one whose path ends in `.json` (the outbox's `/outbox.json`, read by
        `leadflow outbox`), which is answered as JSON.
        """
        if request.command in ("GET", "HEAD") and path in self.pages:
            page = self.pages[path](parse_qs(query))
            kind = "application/json" if path.endswith(".json") else "text/html"
            _send(request, 200, [("Content-Type", f"{kind}; charset=utf-8")], page.encode())
        elif allowed:  # a route's path, but not with this method
            _send_message(request, 405, f"{request.command} is not allowed on {path}")
        else:
            _send_message(request, 404, f"no route for {path}")


def proxy_response(answer: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer API Gateway makes of a Lambda proxy response: status, headers, body.

    Headers named both in `headers` and `multiValueHeaders` are merged, as API Gateway does.
    `MalformedProxyResponse` when API Gateway would refuse the answer.
    """
    if not isinstance(answer, dict):
        raise MalformedProxyResponse(f"the answer is a {type(answer).__name__}, not an object")
    status = answer.get("statusCode", 200)
    if isinstance(status, str) and _DECIMAL.fullmatch(status):
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status")
    single = answer.get("headers") or {}
    multi = answer.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    if any(not isinstance(values, list) for values in multi.values()):
        raise MalformedProxyResponse("each of multiValueHeaders must be a list")
    merged: dict[str, list[Any]] = {name: list(values) for name, values in multi.items()}
    for name, value in single.items():
        if value not in merged.setdefault(name, []):
            merged[name].append(value)
    headers = [
        (_header_name(name), _header_value(name, value))
        for name, values in merged.items()
        if str(name).lower() not in _FRAMING_HEADERS
        for value in values
    ]
    raw = answer.get("body")
    if raw is not None and not isinstance(raw, str):
        raise MalformedProxyResponse(f"body is a {type(raw).__name__}, not a string")
    try:
        body = base64.b64decode(raw or "") if answer.get("isBase64Encoded") else (raw or "").encode()
    except ValueError as exc:
        raise MalformedProxyResponse(f"body is not base64 though isBase64Encoded is true ({exc})") from None
    return status, headers, body


def _header_name(name: Any) -> str:
    if not isinstance(name, str) or not _TOKEN.fullmatch(name):
        raise MalformedProxyResponse(f"{name!r} is not a header name")
    return name


def _header_value(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedProxyResponse(f"header {name} is a {type(value).__name__}, not a string")
    text = str(value)
    if any(character in "\r\n\0" or ord(character) > 255 for character in text):
        raise MalformedProxyResponse(f"header {name} has characters an HTTP header cannot carry")
    return text


def _send(
    request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes, close: bool = False
) -> None:
    request.send_response(status)
    for name, value in headers:
        request.send_header(name, value)
    request.send_header("Content-Length", str(len(body)))
    if close:
        request.send_header("Connection", "close")  # http.server then closes the connection after this answer
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)


def _send_message(request: BaseHTTPRequestHandler, status: int, message: str, close: bool = False) -> None:
    """An answer in API Gateway's own shape, `{"message": ...}`."""
    body = json.dumps({"message": message}).encode()
    _send(request, status, [("Content-Type", "application/json")], body, close)


def _send_unauthorized(request: BaseHTTPRequestHandler) -> None:
    """API Gateway's answer when its authorizer refuses a request."""
    body = json.dumps({"message": "Unauthorized"}).encode()
    headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "UnauthorizedException")]
    _send(request, 401, headers, body)


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The body, sent with a Content-Length or chunked (API Gateway takes both); `BadRequest` if unreadable."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        return _read_chunked(request.rfile)
    values = {value.strip() for value in request.headers.get_all("Content-Length") or []}
    if not values:
        return b""
    text = values.pop()
    if values or not _DECIMAL.fullmatch(text):
        shown = ", ".join(sorted({text, *values}))
        raise BadRequest(400, f"Invalid Content-Length header: {shown!r} is not one length in bytes")
    if len(text) > 18 or int(text) > MAX_BODY_BYTES:  # no int() of a thousand digits
        raise BadRequest(413, "Request Too Long")
    length = int(text)
    body = request.rfile.read(length)
    if len(body) < length:
        raise BadRequest(400, f"The body ended after {len(body)} of the {length} bytes its Content-Length header gives")
    return body


def _read_chunked(rfile: BufferedIOBase) -> bytes:
    chunks: list[bytes] = []
    received = 0
    while True:
        line = rfile.readline(_MAX_LINE + 1)
        size = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not _HEX.fullmatch(size):
            shown = size[:32].decode("latin-1")
            raise BadRequest(400, f"Invalid chunk size {shown!r} in a body sent with Transfer-Encoding: chunked")
        length = int(size, 16)
        if length == 0:
            while rfile.readline(_MAX_LINE + 1).strip():  # trailers, then the blank line
                pass
            return b"".join(chunks)
        received += length
        if received > MAX_BODY_BYTES:
            raise BadRequest(413, "Request Too Long")
        chunk = rfile.read(length)
        if len(chunk) < length or rfile.readline(3).strip():  # the chunk, then its CRLF
            raise BadRequest(400, "A chunk ended early in a body sent with Transfer-Encoding: chunked")
        chunks.append(chunk)

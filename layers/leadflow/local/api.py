"""The API on localhost: HTTP requests in, API Gateway REST proxy events to the functions.

Each request becomes the event API Gateway's Lambda proxy integration sends (headers and
multi-value headers, query string, request context, body as text or base64), and the
function's proxy answer becomes the HTTP response. A function error is a 502, as API
Gateway answers it.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from leadflow.local.workers import InvocationError

Invoke = Callable[[dict[str, Any]], Any]
Page = Callable[[dict[str, list[str]]], str]  # the query string in, HTML out
STAGE = "local"


def proxy_event(
    method: str,
    raw_path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    resource: str,
    source_ip: str = "127.0.0.1",
    now: datetime | None = None,
) -> dict[str, Any]:
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
        "pathParameters": None,
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
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


class LocalApi:
    """Serves the definition's routes, and `pages`: local-only pages made from the query string."""

    def __init__(self, host: str, port: int, routes: Mapping[tuple[str, str], Invoke], pages: Mapping[str, Page]):
        self.routes = routes
        self.pages = pages
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_request(self) -> None:
                api.serve(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_request

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_forever(self) -> None:
        self.server.serve_forever(poll_interval=0.2)

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def serve(self, request: BaseHTTPRequestHandler) -> None:
        started = time.monotonic()
        path = urlsplit(request.path).path
        body = _read_body(request)
        invoke = self.routes.get((request.command, path))
        if invoke is None:
            if request.command in ("GET", "HEAD") and path in self.pages:
                page = self.pages[path](parse_qs(urlsplit(request.path).query))
                self._send(request, 200, {"Content-Type": "text/html; charset=utf-8"}, page.encode())
                return
            allowed = sorted(m for (m, p) in self.routes if p == path)
            status, message = (
                (405, f"{request.command} is not allowed on {path}") if allowed else (404, f"no route for {path}")
            )
            self._send(request, status, {"Content-Type": "application/json"}, json.dumps({"message": message}).encode())
            return
        resource = path
        event = proxy_event(
            request.command, request.path, list(request.headers.items()), body, resource, request.client_address[0]
        )
        try:
            answer = invoke(event)
        except InvocationError as exc:
            print(f"  ! {request.command} {path}: function error {exc.error_type}\n{exc.trace}", flush=True)
            self._send(request, 502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')
            return
        self._send_proxy_answer(request, answer)
        print(
            f"  {request.command} {path} -> {answer.get('statusCode')} ({(time.monotonic() - started) * 1000:.0f} ms)",
            flush=True,
        )

    def _send_proxy_answer(self, request: BaseHTTPRequestHandler, answer: dict[str, Any]) -> None:
        headers = dict(answer.get("headers") or {})
        for name, values in (answer.get("multiValueHeaders") or {}).items():
            headers[name] = ", ".join(values)
        raw = answer.get("body") or ""
        body = base64.b64decode(raw) if answer.get("isBase64Encoded") else raw.encode("utf-8")
        self._send(request, int(answer.get("statusCode", 200)), headers, body)

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes) -> None:
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)


def _read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request body, sent with a Content-Length or chunked, as API Gateway takes both."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        chunks: list[bytes] = []
        while True:
            size = int(request.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while request.rfile.readline().strip():  # trailers, then the blank line
                    pass
                return b"".join(chunks)
            chunks.append(request.rfile.read(size))
            request.rfile.readline()  # the CRLF after each chunk
    length = int(request.headers.get("Content-Length") or 0)
    return request.rfile.read(length) if length else b""

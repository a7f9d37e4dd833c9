"""The local API answers every request as API Gateway would, under load and when a request or an answer is bad."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from leadflow.local.api import LocalApi

TIMEOUT_S = 10  # bounds every socket wait, so a dropped answer fails the test instead of hanging it


def ping(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "body": "pong"}


def echo(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "body": event["body"] or ""}


def broken_route(event: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("a bug in the route")


def body_not_a_string(event: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": 200, "body": {"not": "a string"}}


ROUTES = {
    ("GET", "/ping"): ping,
    ("POST", "/echo"): echo,
    ("GET", "/broken"): broken_route,
    ("GET", "/malformed"): body_not_a_string,
}


@pytest.fixture
def api() -> Iterator[LocalApi]:
    """A local API listening on a free port, not yet accepting connections: `serve` starts it."""
    local_api = LocalApi("127.0.0.1", 0, ROUTES, {})
    yield local_api
    local_api.shutdown()


def serve(api: LocalApi) -> None:
    threading.Thread(target=api.serve_forever, name="test-local-api", daemon=True).start()


def address(api: LocalApi) -> tuple[str, int]:
    host, port = api.server.server_address[:2]
    return str(host), int(port)


def exchange(api: LocalApi, raw_request: bytes) -> tuple[int, dict[str, Any]]:
    """Send raw bytes; the status and JSON body of the answer the server sends before it closes."""
    with socket.create_connection(address(api), timeout=TIMEOUT_S) as connection:
        connection.sendall(raw_request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, json.loads(response.read())


def get(api: LocalApi, path: str) -> tuple[int, dict[str, Any]]:
    connection = http.client.HTTPConnection(*address(api), timeout=TIMEOUT_S)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_fifty_connections_opened_before_the_server_accepts_any_are_all_answered(api: LocalApi) -> None:
    connections = []
    try:
        for _ in range(50):  # all waiting in the listen backlog at once: the worst start of a load test
            connection = socket.create_connection(address(api), timeout=TIMEOUT_S)
            connections.append(connection)
            connection.sendall(b"GET /ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        serve(api)
        status_lines = [connection.makefile("rb").readline() for connection in connections]
    finally:
        for connection in connections:
            connection.close()

    assert status_lines == [b"HTTP/1.1 200 OK\r\n"] * 50


@pytest.mark.parametrize(
    ("framing", "header"),
    [
        (b"Content-Length: abc\r\n\r\n", "Content-Length"),
        (b"Content-Length: -5\r\n\r\n", "Content-Length"),
        (b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", "Transfer-Encoding"),
    ],
    ids=["content-length-not-a-number", "content-length-negative", "chunk-size-not-hex"],
)
def test_a_body_whose_length_cannot_be_read_is_a_400_naming_the_header(
    api: LocalApi, framing: bytes, header: str
) -> None:
    serve(api)

    status, body = exchange(api, b"POST /echo HTTP/1.1\r\nHost: localhost\r\n" + framing)

    assert status == 400
    assert header in body["message"]


def test_a_body_whose_length_cannot_be_read_prints_no_traceback(
    api: LocalApi, capfd: pytest.CaptureFixture[str]
) -> None:
    serve(api)

    exchange(api, b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: abc\r\n\r\n")

    assert "Traceback" not in "".join(capfd.readouterr())


def test_a_route_that_raises_unexpectedly_is_a_500_answer(api: LocalApi) -> None:
    serve(api)

    assert get(api, "/broken") == (500, {"message": "Internal server error"})


def test_an_answer_that_is_not_a_proxy_response_is_a_502_as_api_gateway_answers(api: LocalApi) -> None:
    serve(api)

    assert get(api, "/malformed") == (502, {"message": "Internal server error"})

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


SEEN: list[dict[str, Any]] = []  # the proxy events the link routes were invoked with


def link_page(event: dict[str, Any]) -> dict[str, Any]:
    """Like respond: a page with headers of its own (one of them twice)."""
    SEEN.append(event)
    return {
        "statusCode": 200 if event["httpMethod"] == "GET" else 303,
        "headers": {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store", "Location": "/r/done"},
        "multiValueHeaders": {"Set-Cookie": ["a=1; Secure", "b=2; Secure"]},
        "body": f"<p>{event['pathParameters']['token']}</p>",
    }


def new_link(event: dict[str, Any]) -> dict[str, Any]:
    SEEN.append(event)
    return {"statusCode": 200, "body": "the path spelled out"}


ROUTES = {
    ("GET", "/ping"): ping,
    ("POST", "/echo"): echo,
    ("GET", "/broken"): broken_route,
    ("GET", "/malformed"): body_not_a_string,
    ("GET", "/r/{token}"): link_page,
    ("POST", "/r/{token}"): link_page,
    ("GET", "/r/new"): new_link,
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


def request(
    api: LocalApi, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(*address(api), timeout=TIMEOUT_S)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture
def seen() -> Iterator[list[dict[str, Any]]]:
    SEEN.clear()
    yield SEEN
    SEEN.clear()


def test_a_path_parameter_reaches_the_function_as_api_gateway_passes_it(
    api: LocalApi, seen: list[dict[str, Any]]
) -> None:
    serve(api)

    assert request(api, "GET", "/r/eyJ2IjoxfQ.c2ln-_?lang=de").status == 200

    [event] = seen
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/r/{token}"
    assert event["path"] == "/r/eyJ2IjoxfQ.c2ln-_"
    assert event["pathParameters"] == {"token": "eyJ2IjoxfQ.c2ln-_"}
    assert event["queryStringParameters"] == {"lang": "de"}
    assert event["httpMethod"] == "GET"


def test_a_post_with_a_urlencoded_form_reaches_the_function_with_its_body_and_the_answer_keeps_its_headers(
    api: LocalApi, seen: list[dict[str, Any]]
) -> None:
    serve(api)
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    answer = request(api, "POST", "/r/abc", b"action=accept", form)

    [event] = seen
    assert (event["httpMethod"], event["pathParameters"], event["body"]) == ("POST", {"token": "abc"}, "action=accept")
    assert event["isBase64Encoded"] is False
    assert event["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert answer.status == 303
    assert answer.getheader("Location") == "/r/done"
    assert answer.getheader("Cache-Control") == "no-store"
    assert answer.getheader("Content-Type") == "text/html; charset=utf-8"
    assert answer.headers.get_all("Set-Cookie") == ["a=1; Secure", "b=2; Secure"]


def test_a_path_part_spelled_out_wins_over_a_path_parameter(api: LocalApi, seen: list[dict[str, Any]]) -> None:
    serve(api)

    assert request(api, "GET", "/r/new").status == 200

    [event] = seen
    assert (event["resource"], event["pathParameters"]) == ("/r/new", None)


def test_a_path_parameter_is_one_whole_segment(api: LocalApi, seen: list[dict[str, Any]]) -> None:
    serve(api)

    assert request(api, "GET", "/r/").status == 404
    assert request(api, "GET", "/r/abc/def").status == 404
    assert request(api, "PUT", "/r/abc").status == 405  # a route's path, not with that method
    assert seen == []

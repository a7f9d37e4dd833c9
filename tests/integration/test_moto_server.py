"""moto's server as the local stack runs it (`MotoServer`): connections kept between requests, nothing else changed."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from leadflow.local.moto_server import KeepAliveHandler, MotoServer
from tests.integration.conftest import free_port


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, list[Any]]]:
    """A MotoServer of its own, and the connections it accepts as they come."""
    accepted: list[Any] = []
    setup = KeepAliveHandler.setup

    def counted(handler: KeepAliveHandler) -> None:
        accepted.append(handler.client_address)
        setup(handler)

    monkeypatch.setattr(KeepAliveHandler, "setup", counted)
    server = MotoServer("127.0.0.1", free_port())
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}", accepted
    server.stop()


def client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip


def test_boto3_sends_many_requests_over_one_connection(served: tuple[str, list[Any]]) -> None:
    endpoint, accepted = served
    dynamodb = client("dynamodb", endpoint)
    for _ in range(20):
        dynamodb.list_tables()
    assert len(accepted) == 1


def test_an_answer_without_a_body_and_a_large_upload_leave_the_connection_usable(
    served: tuple[str, list[Any]],
) -> None:
    endpoint, accepted = served
    s3 = client("s3", endpoint)
    s3.create_bucket(Bucket="keepalive-bucket")
    body = bytes(range(256)) * 12_000  # 3 MB: botocore asks to continue before it sends the body
    s3.put_object(Bucket="keepalive-bucket", Key="k", Body=body)
    assert s3.head_object(Bucket="keepalive-bucket", Key="k")["ContentLength"] == len(body)  # HEAD: no body follows
    assert s3.get_object(Bucket="keepalive-bucket", Key="k")["Body"].read() == body
    s3.delete_object(Bucket="keepalive-bucket", Key="k")  # 204: no body either
    assert s3.list_objects_v2(Bucket="keepalive-bucket")["KeyCount"] == 0
    assert len(accepted) == 1


def raw_exchange(endpoint: str, requests: bytes) -> bytes:
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(requests)
        answers = b""
        while answers.count(b"HTTP/1.1 200") < 2:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answers += chunk
        return answers


def test_a_client_that_expects_100_continue_gets_one_at_once_then_the_answer(served: tuple[str, list[Any]]) -> None:
    endpoint, _ = served
    host, port = endpoint.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-amz-json-1.0\r\n"
            b"X-Amz-Target: DynamoDB_20120810.ListTables\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
            b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/dynamodb/aws4_request,"
            b" SignedHeaders=host, Signature=0\r\n\r\n"
        )
        connection.settimeout(0.5)  # sent before the body, not held back until the answer
        assert connection.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        connection.settimeout(10)
        connection.sendall(b"{}")
        answer = b""
        while b'"TableNames"' not in answer:
            chunk = connection.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")  # no second 100 Continue before it


def test_a_chunked_request_is_read_whole_and_the_next_request_on_the_connection_answered(
    served: tuple[str, list[Any]],
) -> None:
    endpoint, _ = served
    headers = (
        "Host: localhost\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=testing/20261123/us-east-1/dynamodb/aws4_request,"
        " SignedHeaders=host, Signature=0\r\n"
    )
    chunked = f"POST / HTTP/1.1\r\n{headers}Transfer-Encoding: chunked\r\n\r\n1\r\n{{\r\n1\r\n}}\r\n0\r\n\r\n"
    plain = f"POST / HTTP/1.1\r\n{headers}Content-Length: 2\r\n\r\n{{}}"
    answers = raw_exchange(endpoint, (chunked + plain).encode())  # both at once, on one connection
    assert answers.count(b"HTTP/1.1 200") == 2
    assert answers.count(b'"TableNames"') == 2


def test_a_connection_left_idle_is_closed_without_a_word_in_the_log(
    served: tuple[str, list[Any]], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    endpoint, _ = served
    monkeypatch.setattr(KeepAliveHandler, "timeout", 0.2)
    host, port = endpoint.removeprefix("http://").split(":")
    with caplog.at_level(logging.DEBUG), socket.create_connection((host, int(port)), timeout=10) as connection:
        assert connection.recv(1) == b""  # closed by the server once idle, nothing sent
    assert "timed out" not in caplog.text

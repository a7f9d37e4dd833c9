"""Stopping `make run` and starting it again loses nothing: leads, queued messages, counters and who signs in."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from leadflow.aws.leads_table import LeadsTable
from tests.e2e.conftest import RunningStack, start_local_stack, stop_local_stack

pytestmark = pytest.mark.e2e


def aws(stack: RunningStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def lead_count(stack: RunningStack) -> int:
    return LeadsTable("leadflow-demo-leads", aws(stack, "dynamodb")).count()


DEAD_LETTERS = "leadflow-demo-routing-dlq.fifo"  # a queue nothing consumes: what is on it stays


def dead_letter_depth(stack: RunningStack) -> int:
    sqs = aws(stack, "sqs")
    url = sqs.get_queue_url(QueueName=DEAD_LETTERS)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def dead_letter(stack: RunningStack, body: str) -> None:
    """A message on the routing dead-letter queue, as a hand-off that failed five times leaves it."""
    sqs = aws(stack, "sqs")
    url = sqs.get_queue_url(QueueName=DEAD_LETTERS)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="kept", MessageDeduplicationId=body)


def test_leads_queued_messages_and_counters_survive_a_restart(tmp_path: Path) -> None:
    email = f"kept.{uuid.uuid4().hex[:8]}@northwind.example"
    first = start_local_stack(tmp_path)
    try:
        answer = requests.post(f"{first.api}/leads", json={"email": email, "inquiry_type": "demo_request"}, timeout=10)
        assert answer.status_code == 202
        before = first.routed(email)
        dead_letter(first, '{"lead_id": "kept"}')
        assert dead_letter_depth(first) == 1
        counted = lead_count(first)
        assert counted >= 1
    finally:
        stop_local_stack(first)

    second = start_local_stack(tmp_path, api_port=int(first.api.rsplit(":", 1)[1]))
    try:
        after = second.lead(email, timeout_s=5)
        assert after == before
        assert dead_letter_depth(second) == 1
        assert lead_count(second) == counted
    finally:
        stop_local_stack(second)


def test_fresh_start_forgets_earlier_runs(tmp_path: Path) -> None:
    email = f"forgotten.{uuid.uuid4().hex[:8]}@example.com"
    first = start_local_stack(tmp_path)
    try:
        requests.post(f"{first.api}/leads", json={"email": email}, timeout=10)
        first.lead(email)
    finally:
        stop_local_stack(first)
    second = start_local_stack(tmp_path, "--fresh")
    try:
        assert second.cli("leads", "show", email).returncode == 1
    finally:
        stop_local_stack(second)


PASSWORD = "Correct-horse-1"


def token(stack: RunningStack, email: str) -> str:
    signed_in = stack.cli("token", email, "--password", PASSWORD)
    assert signed_in.returncode == 0, signed_in.stderr
    return signed_in.stdout.strip()


def me(stack: RunningStack, id_token: str | None) -> int:
    headers = {"Authorization": id_token} if id_token else {}
    return requests.get(f"{stack.api}/me", headers=headers, timeout=10).status_code


def test_people_who_sign_in_survive_a_restart_and_their_tokens_stay_valid(tmp_path: Path) -> None:
    first = start_local_stack(tmp_path)
    try:
        added = first.cli(
            "reps", "add", "rae@example.com", "--name", "Rae Ready", "--team", "sales", "--password", PASSWORD
        )
        assert added.returncode == 0, added.stderr
        manager = first.cli("users", "add", "grace@example.com", "--group", "manager", "--password", PASSWORD)
        assert manager.returncode == 0, manager.stderr
        issued_before = token(first, "rae@example.com")
        assert me(first, None) == 401
        assert me(first, issued_before) == 200
    finally:
        stop_local_stack(first)

    second = start_local_stack(tmp_path, api_port=int(first.api.rsplit(":", 1)[1]))
    try:
        people = {(p["email"], tuple(p["groups"])) for p in json.loads(second.cli("users", "list", "--json").stdout)}
        assert people == {("rae@example.com", ("rep",)), ("grace@example.com", ("manager",))}
        assert me(second, token(second, "rae@example.com")) == 200  # her password is kept
        assert me(second, issued_before) == 200  # the pool has the same id: its tokens still name it
    finally:
        stop_local_stack(second)


def test_ctrl_c_handed_to_another_thread_still_stops_the_stack(tmp_path: Path) -> None:
    """The kernel may give a process's Ctrl-C to any of its threads; Python acts on it in the main one only."""
    stack = start_local_stack(tmp_path)
    stop_local_stack(stack, thread=1)  # waits for "Stopped." and the exit, or fails naming the log's end

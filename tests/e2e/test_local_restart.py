"""Stopping `make run` and starting it again loses nothing: leads, queued messages and counters."""

from __future__ import annotations

import time
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


def routed(stack: RunningStack, email: str) -> dict[str, Any]:
    """The lead once routing decided for it: nothing changes it after that."""
    for _ in range(100):
        lead = stack.lead(email)
        if lead.get("routing"):
            return lead
        time.sleep(0.2)
    raise AssertionError(f"{email} was not routed")


def test_leads_queued_messages_and_counters_survive_a_restart(tmp_path: Path) -> None:
    email = f"kept.{uuid.uuid4().hex[:8]}@northwind.example"
    first = start_local_stack(tmp_path)
    try:
        answer = requests.post(f"{first.api}/leads", json={"email": email, "inquiry_type": "demo_request"}, timeout=10)
        assert answer.status_code == 202
        before = routed(first, email)
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

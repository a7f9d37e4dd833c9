"""The clients leadflow makes (leadflow.aws.client.new_client): validated where a mistake is cheap to find."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ParamValidationError

from leadflow.aws.client import new_client

QUEUE_URL = "https://sqs.eu-central-1.amazonaws.com/123456789012/leadflow-demo-intake.fifo"


class Sending(Exception):
    """The request passed every check and was about to go out: the test stops it here, before any socket."""


def stopped_before_sending(client: Any) -> Any:
    def stop(**kwargs: Any) -> None:
        raise Sending

    client.meta.events.register("before-send", stop)
    return client


@pytest.fixture(autouse=True)
def region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


def test_a_client_made_outside_a_lambda_refuses_a_malformed_request_before_sending_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    sqs = stopped_before_sending(new_client("sqs"))
    with pytest.raises(ParamValidationError, match="MessageBody"):
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=7)


def test_a_client_made_in_a_lambda_leaves_validating_its_requests_to_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "Leads-demo-nurture_sweep")
    sqs = stopped_before_sending(new_client("sqs"))
    with pytest.raises(Sending):  # not refused here: AWS answers a malformed request with a 400 naming the field
        sqs.send_message(QueueUrl=QUEUE_URL, MessageBody=7)

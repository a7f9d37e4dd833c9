"""The capture function, unchanged, with API Gateway's events, against moto's SQS."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.support import load_event


def invoke(stack: Stack, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return stack.handler("capture")(event, context)


def json_post(body: dict[str, Any], **headers: str) -> dict[str, Any]:
    event = load_event("capture-json-post.json")
    event["body"] = json.dumps(body)
    event["headers"].pop("Idempotency-Key")
    event["headers"].update(headers)
    return event


def test_json_event_is_enqueued_on_the_lead_group_then_answered_202(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, load_event("capture-json-post.json"), lambda_context)
    assert answer["statusCode"] == 202
    lead_id = json.loads(answer["body"])["lead_id"]
    [message] = stack.queue_messages()
    assert json.loads(message["Body"])["lead_id"] == lead_id
    assert message["Attributes"]["MessageGroupId"] == lead_id


def test_form_event_redirects_to_thank_you_and_enqueues(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, load_event("capture-form-post.json"), lambda_context)
    assert answer["statusCode"] == 303
    assert answer["headers"]["Location"] == stack.config.capture.thank_you_url
    assert len(stack.queue_messages()) == 1


def test_same_idempotency_key_twice_enqueues_once_and_returns_same_lead(stack: Stack, lambda_context: Any) -> None:
    event = load_event("capture-json-post.json")
    first = invoke(stack, event, lambda_context)
    second = invoke(stack, copy.deepcopy(event), lambda_context)
    assert json.loads(first["body"]) == json.loads(second["body"])
    assert len(stack.queue_messages()) == 1


def test_preflight_event_answers_cors_for_the_demo_origin(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, load_event("capture-preflight.json"), lambda_context)
    assert answer["statusCode"] == 204
    assert answer["headers"]["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"


def test_base64_encoded_body_is_decoded(stack: Stack, lambda_context: Any) -> None:
    import base64

    event = json_post({"email": "b64@example.com"})
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert invoke(stack, event, lambda_context)["statusCode"] == 202


def test_honeypot_is_answered_as_success_but_nothing_is_enqueued(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, json_post({"email": "bot@example.com", "website": "spam"}), lambda_context)
    assert answer["statusCode"] == 202
    assert stack.queue_messages() == []


def test_bad_input_enqueues_nothing(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, json_post({"email": "nope"}), lambda_context)
    assert answer["statusCode"] == 422
    assert stack.queue_messages() == []


def test_unreachable_queue_answers_503_never_2xx(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    gone = stack.resources.queue_urls["intake"].replace("intake.fifo", "deleted.fifo")
    monkeypatch.setenv("INTAKE_QUEUE_URL", gone)
    answer = invoke(stack, json_post({"email": "ada@example.com"}), lambda_context)
    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "2"

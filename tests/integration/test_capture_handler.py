"""The capture function, unchanged, with API Gateway's events (payload 1.0 and 2.0), against moto's SQS."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from tests.integration.conftest import Stack
from tests.support import EVENTS, load_event

REST_SAMPLES = ("capture-json-post.json", "capture-form-post.json", "capture-preflight.json")
CLOUDFRONT_HEADERS = ("via", "x-amz-cf-id")


def invoke(stack: Stack, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return stack.handler("capture")(event, context)


def set_header(event: dict[str, Any], name: str, value: str | None) -> None:
    """A header as API Gateway sends it: in `headers`, and for payload 1.0 in `multiValueHeaders` too."""
    blocks = [event["headers"]] + ([event["multiValueHeaders"]] if "multiValueHeaders" in event else [])
    for block in blocks:
        for existing in [n for n in block if n.lower() == name.lower()]:
            del block[existing]
        if value is not None:
            block[name] = value if block is event["headers"] else [value]


def json_post(body: dict[str, Any], sample: str = "capture-json-post.json", **headers: str) -> dict[str, Any]:
    event = load_event(sample)
    event["body"] = json.dumps(body)
    set_header(event, "Idempotency-Key", None)
    for name, value in headers.items():
        set_header(event, name.replace("_", "-"), value)
    return event


def enqueued(stack: Stack) -> list[dict[str, Any]]:
    return [json.loads(message["Body"]) for message in stack.queue_messages()]


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


def test_payload_2_0_json_event_is_enqueued_then_answered_202(stack: Stack, lambda_context: Any) -> None:
    answer = invoke(stack, load_event("capture-json-post-v2.json"), lambda_context)
    assert answer["statusCode"] == 202
    assert answer["headers"]["Access-Control-Allow-Origin"] == "http://127.0.0.1:3000"
    [message] = enqueued(stack)
    assert (message["lead_id"], message["email"]) == (
        json.loads(answer["body"])["lead_id"],
        "mei.tanaka@harbourline-freight.co.uk",
    )
    assert message["custom"] == {"depots": "30"}


def test_payload_2_0_idempotency_key_header_makes_a_retry_the_same_inquiry(stack: Stack, lambda_context: Any) -> None:
    event = load_event("capture-json-post-v2.json")
    first = invoke(stack, event, lambda_context)
    second = invoke(stack, copy.deepcopy(event), lambda_context)
    assert json.loads(first["body"]) == json.loads(second["body"])
    assert len(stack.queue_messages()) == 1


def test_rest_form_event_with_lower_case_header_names_is_captured_listing_the_plugins_fields(
    stack: Stack, lambda_context: Any
) -> None:
    answer = invoke(stack, load_event("capture-form-post-lowercase.json"), lambda_context)
    assert answer["statusCode"] == 303
    assert answer["headers"]["Location"] == stack.config.capture.thank_you_url
    [message] = enqueued(stack)
    assert (message["channel"], message["fields"]["first_name"]) == ("form", "José")
    assert message["fields"]["message"] == "Queremos ver una demo.\r\nGracias."
    assert message["ignored_fields"] == ["_wpcf7", "_wpcf7_locale", "_wpcf7_version", "_wpnonce", "submit"]


@pytest.mark.parametrize("sample", ["capture-json-post.json", "capture-json-post-v2.json"])
@pytest.mark.parametrize("spelling", ["CONTENT-TYPE", "content-type", "Content-type"])
def test_header_names_are_read_in_any_case(stack: Stack, lambda_context: Any, sample: str, spelling: str) -> None:
    event = json_post({"email": "case@example.com"}, sample)
    set_header(event, "Content-Type", None)
    set_header(event, spelling, "application/json")
    assert invoke(stack, event, lambda_context)["statusCode"] == 202


def test_repeated_rest_header_values_are_read_comma_joined(stack: Stack, lambda_context: Any) -> None:
    event = json_post({"email": "coding@example.com"})
    event["multiValueHeaders"]["Content-Encoding"] = ["identity", "gzip"]
    event["headers"]["Content-Encoding"] = "gzip"
    answer = invoke(stack, event, lambda_context)
    assert answer["statusCode"] == 415
    assert "gzip is not accepted" in answer["body"]


def test_rest_event_with_only_single_value_headers_is_read(stack: Stack, lambda_context: Any) -> None:
    event = json_post({"email": "single@example.com"})
    del event["multiValueHeaders"]
    assert invoke(stack, event, lambda_context)["statusCode"] == 202


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


@pytest.mark.parametrize("sample", ["capture-json-post.json", "capture-json-post-v2.json"])
def test_base64_encoded_body_is_decoded(stack: Stack, lambda_context: Any, sample: str) -> None:
    event = json_post({"email": "b64@example.com"}, sample)
    event["body"], event["isBase64Encoded"] = base64.b64encode(event["body"].encode()).decode(), True
    assert invoke(stack, event, lambda_context)["statusCode"] == 202


@pytest.mark.parametrize("sample", ["capture-json-post.json", "capture-json-post-v2.json", "capture-form-post.json"])
@pytest.mark.parametrize("body", ["not base64!", "eyJlbWFpbCI", "ZW1haWw=ü", "ZW1h aWw="])
def test_body_marked_base64_that_is_not_base64_gets_400_naming_the_body(
    stack: Stack, lambda_context: Any, sample: str, body: str
) -> None:
    event = load_event(sample)
    event["body"], event["isBase64Encoded"] = body, True
    answer = invoke(stack, event, lambda_context)
    if "form" in sample:  # a form is sent to its error page, naming the body
        assert (answer["statusCode"], "error_fields=body") == (303, answer["headers"]["Location"].split("?")[1][:17])
    else:
        assert answer["statusCode"] == 400
        assert "not valid base64" in {e["field"]: e["message"] for e in json.loads(answer["body"])["errors"]}["body"]
    assert stack.queue_messages() == []


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


@pytest.mark.parametrize("sample", [*REST_SAMPLES, "capture-form-post-lowercase.json"])
def test_rest_samples_come_from_the_regional_api_the_stack_deploys(sample: str) -> None:
    event = load_event(sample)
    headers = {name.lower(): value for name, value in event["headers"].items()}
    context = event["requestContext"]
    assert headers["host"] == context["domainName"] == f"{context['apiId']}.execute-api.eu-west-1.amazonaws.com"
    assert not [n for n in headers if n in CLOUDFRONT_HEADERS or n.startswith("cloudfront-")]
    assert (context["stage"], context["path"]) == ("v1", "/v1/leads")


def test_every_capture_sample_is_loaded_by_a_test_here() -> None:
    here = (EVENTS.parent / "tests" / "integration" / "test_capture_handler.py").read_text()
    assert all(f'"{path.name}"' in here for path in EVENTS.glob("capture-*.json"))

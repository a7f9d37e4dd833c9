"""Capture's rules, without AWS: what each request is answered and what would be enqueued."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from leadflow.capture import CaptureResult, CaptureRules, WebRequest, handle_capture
from leadflow.config import CaptureSettings, ClientConfig

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def post(config: ClientConfig, body: bytes | str | dict, headers: dict[str, str] | None = None) -> CaptureResult:
    if isinstance(body, dict):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    return handle_capture(
        WebRequest("POST", {**JSON, **(headers or {})}, raw), CaptureRules.of(config), config.name, NOW
    )


def errors_of(result: CaptureResult) -> dict[str, str]:
    return {e["field"]: e["message"] for e in json.loads(result.response.body)["errors"]}


def test_json_post_is_accepted_with_a_lead_id(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "Ada@Example.com", "first_name": "Ada"})
    assert result.response.status == 202
    body = json.loads(result.response.body)
    assert body == {"lead_id": result.captured.lead_id, "status": "received"}
    assert result.captured.message["email"] == "ada@example.com"


def test_form_post_redirects_to_the_thank_you_page(demo_config: ClientConfig) -> None:
    result = post(demo_config, urlencode({"email": "ada@example.com"}), FORM)
    assert result.response.status == 303
    assert result.response.headers["Location"] == demo_config.capture.thank_you_url
    assert result.captured is not None


def test_every_field_the_issue_names_reaches_the_message(demo_config: ClientConfig) -> None:
    fields = {
        "email": "ada@example.com",
        "first_name": "Ada",
        "last_name": "Lovelace",
        "company": "Engines",
        "job_title": "CTO",
        "phone": "+44 20 7946 0000",
        "message": "Hello",
        "inquiry_type": "demo_request",
        "page_url": "https://example.com/pricing",
        "referrer": "https://google.com/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "q4",
        "utm_term": "leads",
        "utm_content": "ad1",
        "marketing_consent": "yes",
        "consent_text": "Send me news",
    }
    result = post(demo_config, urlencode({**fields, "custom[fleet_size]": "12"}), FORM)
    message = result.captured.message
    assert message["fields"] == {**{k: v for k, v in fields.items() if k != "email"}, "marketing_consent": True}
    assert message["custom"] == {"fleet_size": "12"}


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"email": "not-an-address"}, "email", "is not a valid email address"),
        ({"first_name": "Ada"}, "email", "is required"),
        ({"email": "a@b.co", "phone": "call me"}, "phone", "is not a phone number"),
        ({"email": "a@b.co", "page_url": "example.com"}, "page_url", "must be an absolute http(s) URL"),
        ({"email": "a@b.co", "inquiry_type": "Demo Request"}, "inquiry_type", "must be lower-case"),
        ({"email": "a@b.co", "marketing_consent": "maybe"}, "marketing_consent", "must be yes or no"),
        ({"email": "a@b.co", "marketing_consent": True}, "consent_text", "is required when marketing_consent is yes"),
        ({"email": "a@b.co", "favourite_colour": "red"}, "favourite_colour", "send it as custom.favourite_colour"),
        ({"email": "a@b.co", "custom": {"Bad Name": "x"}}, "custom.Bad Name", "custom field names must be"),
        ({"email": "a@b.co", "custom": ["x"]}, "custom", "must be an object"),
        ({"email": "a@b.co", "first_name": "x" * 501}, "first_name", "is 501 characters; the limit is 500"),
        ({"email": 42}, "email", "must be text"),
    ],
)
def test_invalid_json_field_gets_422_naming_field_and_problem(
    demo_config: ClientConfig, body: dict, field: str, problem: str
) -> None:
    result = post(demo_config, body)
    assert result.response.status == 422
    assert problem in errors_of(result)[field]
    assert result.captured is None


def test_every_bad_field_is_named_at_once(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "nope", "phone": "??", "page_url": "x"})
    assert set(errors_of(result)) == {"email", "phone", "page_url"}


def test_more_custom_fields_than_allowed_is_refused(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co", "custom": {f"f{i}": "x" for i in range(31)}})
    assert "at most 30" in errors_of(result)["custom"]


def test_unparseable_json_gets_400_with_position(demo_config: ClientConfig) -> None:
    result = post(demo_config, '{"email": ')
    assert result.response.status == 400
    assert "is not valid JSON" in errors_of(result)["body"]


def test_json_that_is_not_an_object_gets_400(demo_config: ClientConfig) -> None:
    assert post(demo_config, "[1, 2]").response.status == 400


def test_body_over_the_limit_gets_413(demo_config: ClientConfig) -> None:
    result = post(demo_config, json.dumps({"email": "a@b.co", "message": "x" * 100_000}))
    assert result.response.status == 413
    assert "the limit is 32768 bytes" in errors_of(result)["body"]


def test_oversized_form_gets_413_as_a_page_a_person_can_read(demo_config: ClientConfig) -> None:
    result = post(demo_config, "message=" + "x" * 100_000, FORM)
    assert result.response.status == 413
    assert result.response.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("content_type", ["text/plain", "multipart/form-data; boundary=x", ""])
def test_other_content_types_get_415(demo_config: ClientConfig, content_type: str) -> None:
    result = post(demo_config, "email=a@b.co", {"content-type": content_type})
    assert result.response.status == 415
    assert "send application/json or application/x-www-form-urlencoded" in errors_of(result)["Content-Type"]


def test_bad_form_redirects_to_error_url_listing_the_fields(demo_config: ClientConfig) -> None:
    result = post(demo_config, urlencode({"email": "nope", "phone": "??"}), FORM)
    assert result.response.status == 303
    location = urlsplit(result.response.headers["Location"])
    assert location.path == "/form-error"
    query = parse_qs(location.query)
    assert query["error_fields"] == ["email,phone"]
    assert "valid email" in query["error.email"][0]


def test_bad_form_without_error_url_gets_a_small_page(demo_config: ClientConfig) -> None:
    config = demo_config.model_copy(update={"capture": demo_config.capture.model_copy(update={"error_url": None})})
    result = post(config, urlencode({"email": "nope"}), FORM)
    assert result.response.status == 422
    assert "<b>email</b>" in result.response.body


def test_filled_honeypot_answers_as_success_and_captures_nothing(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "bot@spam.example", "website": "http://spam.example"})
    assert result.bot
    assert result.captured is None
    assert result.response.status == 202
    assert json.loads(result.response.body)["status"] == "received"


def test_same_idempotency_key_gives_same_lead_and_inquiry(demo_config: ClientConfig) -> None:
    key = {"idempotency-key": "2f0c1e7a-retry-key"}
    first, second = post(demo_config, {"email": "a@b.co"}, key), post(demo_config, {"email": "a@b.co"}, key)
    assert json.loads(first.response.body) == json.loads(second.response.body)
    assert first.captured.inquiry_id == second.captured.inquiry_id


def test_submission_id_form_field_is_the_idempotency_key(demo_config: ClientConfig) -> None:
    body = urlencode({"email": "a@b.co", "submission_id": "form-fill-0001"})
    assert post(demo_config, body, FORM).captured.inquiry_id == post(demo_config, body, FORM).captured.inquiry_id


def test_without_a_key_each_post_is_a_new_inquiry_of_the_same_lead(demo_config: ClientConfig) -> None:
    first, second = post(demo_config, {"email": "a@b.co"}), post(demo_config, {"email": "A@b.co "})
    assert first.captured.lead_id == second.captured.lead_id
    assert first.captured.inquiry_id != second.captured.inquiry_id


def test_malformed_idempotency_key_is_refused(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"idempotency-key": "short"})
    assert "Idempotency-Key" in errors_of(result)


def test_allowed_origin_gets_cors_headers(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"origin": "http://localhost:3000"})
    assert result.response.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


def test_browser_post_from_another_origin_is_refused(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"origin": "https://evil.example"})
    assert result.response.status == 403
    assert "Access-Control-Allow-Origin" not in result.response.headers
    assert result.captured is None


def test_preflight_from_allowed_origin_allows_post_and_idempotency_header(demo_config: ClientConfig) -> None:
    request = WebRequest("OPTIONS", {"origin": "http://127.0.0.1:3000"}, b"")
    response = handle_capture(request, CaptureRules.of(demo_config), demo_config.name).response
    assert response.status == 204
    assert "Idempotency-Key" in response.headers["Access-Control-Allow-Headers"]


def test_preflight_from_other_origin_gets_no_cors_headers(demo_config: ClientConfig) -> None:
    request = WebRequest("OPTIONS", {"origin": "https://evil.example"}, b"")
    response = handle_capture(request, CaptureRules.of(demo_config), demo_config.name).response
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_json_nested_too_deep_to_parse_is_a_400_not_a_crash(demo_config: ClientConfig) -> None:
    result = post(demo_config, "[" * 15_000 + "]" * 15_000)  # within the size limit, too deep for the parser
    assert result.response.status == 400
    assert "cannot read" in errors_of(result)["body"]


def test_json_number_too_long_to_convert_is_a_400_not_a_crash(demo_config: ClientConfig) -> None:
    assert post(demo_config, '{"email": "a@b.co", "n": ' + "9" * 5000 + "}").response.status == 400


@pytest.mark.parametrize("bad", [r"\ud800", r"\u0001", r"\uffff"])  # JSON escapes
def test_text_sqs_cannot_carry_is_a_422_naming_the_field(demo_config: ClientConfig, bad: str) -> None:
    result = post(demo_config, '{"email": "a@b.co", "company": "Acme' + bad + '"}')
    assert result.response.status == 422
    assert "control or unpaired surrogate" in errors_of(result)["company"]


@pytest.mark.parametrize("address", ["a..b@example.com", ".ada@example.com", "ada.@example.com", "x" * 65 + "@x.com"])
def test_addresses_mail_servers_refuse_are_refused_at_capture(demo_config: ClientConfig, address: str) -> None:
    assert "email" in errors_of(post(demo_config, {"email": address}))


def test_internationalised_address_is_accepted(demo_config: ClientConfig) -> None:
    assert post(demo_config, {"email": "jürgen@müller.de"}).response.status == 202


def test_long_landing_page_url_is_accepted_beyond_the_field_limit(demo_config: ClientConfig) -> None:
    url = "https://www.example.com/landing?fbclid=" + "x" * 1500
    assert post(demo_config, {"email": "a@b.co", "page_url": url}).response.status == 202


def test_unparseable_form_redirects_to_the_error_page(demo_config: ClientConfig) -> None:
    result = post(demo_config, b"email=a%40b.co&\xff", FORM)
    assert result.response.status == 303
    assert "error_fields=body" in result.response.headers["Location"]


def test_form_post_from_another_origin_redirects_to_the_error_page(demo_config: ClientConfig) -> None:
    result = post(demo_config, "email=a@b.co", {**FORM, "origin": "https://evil.example"})
    assert result.response.status == 303
    assert result.captured is None
    assert "error_fields=Origin" in result.response.headers["Location"]


def test_origin_is_compared_as_browsers_send_it(demo_config: ClientConfig) -> None:
    capture = demo_config.capture.model_copy(update={"allowed_origins": ["https://www.acme.com"]})
    config = demo_config.model_copy(update={"capture": capture})
    assert post(config, {"email": "a@b.co"}, {"origin": "https://www.acme.com"}).response.status == 202


def test_cors_answers_let_the_script_read_retry_after(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"origin": "http://localhost:3000"})
    assert "Retry-After" in result.response.headers["Access-Control-Expose-Headers"]


def test_capture_reads_exactly_the_settings_the_config_model_checks() -> None:
    from dataclasses import fields

    assert [f.name for f in fields(CaptureRules)] == list(CaptureSettings.model_fields)

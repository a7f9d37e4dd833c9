"""Capture's rules, without AWS: what each request is answered and what would be enqueued."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from leadflow.capture.inquiry import MAX_IGNORED_NAMES
from leadflow.capture.request import CaptureResult, CaptureRules, WebRequest, handle_capture
from leadflow.config import CaptureSettings, ClientConfig
from tests.support import ROOT, SAMPLE_IDS

JSON = {"content-type": "application/json"}
FORM = {"content-type": "application/x-www-form-urlencoded"}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SINGLE_LINE_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "inquiry_type",
    "consent_text",
    "submission_id",
    "page_url",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "custom.fleet_size",
)


def post(config: ClientConfig, body: bytes | str | dict, headers: dict[str, str] | None = None) -> CaptureResult:
    if isinstance(body, dict):
        body = json.dumps(body)
    raw = body.encode() if isinstance(body, str) else body
    return handle_capture(
        WebRequest("POST", {**JSON, **(headers or {})}, raw), CaptureRules.of(config), SAMPLE_IDS, NOW
    )


def post_form(config: ClientConfig, body: bytes | str, charset: str | None = None) -> CaptureResult:
    content_type = FORM["content-type"] + (f"; charset={charset}" if charset else "")
    return post(config, body, {"content-type": content_type})


def with_capture(config: ClientConfig, **settings: Any) -> ClientConfig:
    capture = CaptureSettings.model_validate({**config.capture.model_dump(), **settings})
    return config.model_copy(update={"capture": capture})


def errors_of(result: CaptureResult) -> dict[str, str]:
    return {e["field"]: e["message"] for e in json.loads(result.response.body)["errors"]}


def form_errors_of(result: CaptureResult) -> dict[str, str]:
    """The fields and problems a form's error page is sent to show."""
    assert result.response.status == 303
    query = parse_qs(urlsplit(result.response.headers["Location"]).query)
    return {name: query[f"error.{name}"][0] for name in query["error_fields"][0].split(",")}


def message_of(result: CaptureResult) -> dict[str, Any]:
    assert result.captured is not None, result.response.body
    return result.captured.message


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
    assert message["ignored_fields"] == []


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"email": "not-an-address"}, "email", "is not an email address"),
        ({"first_name": "Ada"}, "email", "is required"),
        ({"email": "a@b.co", "phone": "call me"}, "phone", "is not a phone number"),
        ({"email": "a@b.co", "page_url": "example.com"}, "page_url", "must be an absolute http(s) URL"),
        ({"email": "a@b.co", "inquiry_type": "Demo Request"}, "inquiry_type", "must be lower-case"),
        ({"email": "a@b.co", "marketing_consent": "maybe"}, "marketing_consent", "must be yes or no"),
        ({"email": "a@b.co", "marketing_consent": True}, "consent_text", "is required when marketing_consent is yes"),
        ({"email": "a@b.co", "custom": ["x"]}, "custom", "must be an object"),
        ({"email": "a@b.co", "custom": {"fleet": {"a": 1}}}, "custom.fleet", "must be text, a number or true/false"),
        ({"email": "a@b.co", "first_name": "x" * 501}, "first_name", "is 501 characters; the limit is 500"),
        ({"email": "a@b.co", "company": 42}, "company", "must be text"),
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
    assert "email address" in query["error.email"][0]


def test_bad_form_without_error_url_gets_a_small_page(demo_config: ClientConfig) -> None:
    result = post(with_capture(demo_config, error_url=None), urlencode({"email": "nope"}), FORM)
    assert result.response.status == 422
    assert "<b>email</b>" in result.response.body


def test_filled_honeypot_answers_as_success_and_captures_nothing(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "bot@spam.example", "website": "http://spam.example"})
    assert result.bot
    assert result.captured is None
    assert result.response.status == 202
    assert json.loads(result.response.body)["status"] == "received"


def test_honeypot_answer_never_carries_the_lead_id_of_the_address_posted(demo_config: ClientConfig) -> None:
    real = post(demo_config, {"email": "ada@example.com"})
    bot = post(demo_config, {"email": "ada@example.com", "website": "http://spam.example"})
    assert bot.bot
    assert json.loads(bot.response.body)["lead_id"] != json.loads(real.response.body)["lead_id"]
    assert json.loads(bot.response.body)["lead_id"].startswith("ld_")


@pytest.mark.parametrize("value", ["http://spam.example", "yes", True, 1, ["x"]])
def test_honeypot_with_a_value_is_a_bot(demo_config: ClientConfig, value: Any) -> None:
    assert post(demo_config, {"email": "a@b.co", "website": value}).bot


@pytest.mark.parametrize("value", [False, 0, None, "", "false", "0", "no", "off", "OFF", "null", "  ", "\u200b"])
def test_honeypot_sent_as_an_empty_or_false_value_is_not_a_bot(demo_config: ClientConfig, value: Any) -> None:
    result = post(demo_config, {"email": "a@b.co", "website": value})
    assert not result.bot
    assert result.captured is not None


@pytest.mark.parametrize("value", ["", "false", "0", "no", "off"])
def test_honeypot_form_field_sent_empty_or_false_is_not_a_bot(demo_config: ClientConfig, value: str) -> None:
    assert post(demo_config, urlencode({"email": "a@b.co", "website": value}), FORM).captured is not None


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
    response = handle_capture(request, CaptureRules.of(demo_config), SAMPLE_IDS).response
    assert response.status == 204
    assert "Idempotency-Key" in response.headers["Access-Control-Allow-Headers"]


def test_preflight_from_other_origin_gets_no_cors_headers(demo_config: ClientConfig) -> None:
    request = WebRequest("OPTIONS", {"origin": "https://evil.example"}, b"")
    response = handle_capture(request, CaptureRules.of(demo_config), SAMPLE_IDS).response
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_json_nested_too_deep_to_parse_is_a_400_not_a_crash(demo_config: ClientConfig) -> None:
    result = post(demo_config, "[" * 15_000 + "]" * 15_000)  # within the size limit, too deep for the parser
    assert result.response.status == 400
    assert "cannot read" in errors_of(result)["body"]


@pytest.mark.parametrize(
    ("number", "problem"),
    [
        ("NaN", "NaN, which is not a number JSON allows"),
        ("Infinity", "Infinity, which is not a number JSON allows"),
        ("-Infinity", "-Infinity, which is not a number JSON allows"),
        ("1e400", "too large to read: send it as text"),
        ("-1.5e999", "too large to read: send it as text"),
        ("9" * 400, "400-digit number, too large to read"),
        ("9" * 5000, "5000-digit number, too large to read"),
    ],
)
def test_json_number_that_is_no_float_gets_400_naming_the_body(
    demo_config: ClientConfig, number: str, problem: str
) -> None:
    result = post(demo_config, '{"email": "a@b.co", "custom": {"fleet_size": ' + number + "}}")
    assert result.response.status == 400
    assert problem in errors_of(result)["body"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"email": "a@b.co", "email": "eve@b.co"}', "email"),
        ('{"email": "a@b.co", "company": "A", "company": "A"}', "company"),
        ('{"email": "a@b.co", "custom": {"fleet": "1", "fleet": "2"}}', "custom.fleet"),
        ('{"email": "a@b.co", "custom.fleet": "1", "custom": {"fleet": "2"}}', "custom.fleet"),
    ],
)
def test_json_key_sent_twice_gets_422_naming_the_key(demo_config: ClientConfig, body: str, key: str) -> None:
    result = post(demo_config, body)
    assert result.response.status == 422
    assert "more than once" in errors_of(result)[key]


def test_form_field_sent_twice_is_refused_naming_it(demo_config: ClientConfig) -> None:
    result = post(demo_config, "email=a%40b.co&company=A&company=B", FORM)
    assert "more than once" in form_errors_of(result)["company"]


@pytest.mark.parametrize("bad", [r"\ud800", r"\u0001", r"\uffff"])  # JSON escapes
def test_text_sqs_cannot_carry_is_a_422_naming_the_field(demo_config: ClientConfig, bad: str) -> None:
    result = post(demo_config, '{"email": "a@b.co", "company": "Acme' + bad + '"}')
    assert result.response.status == 422
    assert "at character 5" in errors_of(result)["company"]


@pytest.mark.parametrize("field", SINGLE_LINE_FIELDS)
@pytest.mark.parametrize(
    ("char", "named"),
    [
        ("\r", "line break"),
        ("\n", "line break"),
        ("\t", "line break"),
        ("\u2028", "line break"),
        ("\x00", "control character U+0000"),
        ("\x1b", "control character U+001B"),
        ("\x7f", "control character U+007F"),
        ("\x85", "control character U+0085"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
    ],
)
def test_single_line_field_holding_a_control_or_bidi_character_gets_422_naming_it(
    demo_config: ClientConfig, field: str, char: str, named: str
) -> None:
    value = {"phone": "+44 20{}7946 0000", "page_url": "https://x.example/{}a", "referrer": "https://x.example/{}a"}
    sent = value.get(field, "abcd{}efghi").format(char)
    result = post(demo_config, {"email": "a@b.co", field: sent})
    assert result.response.status == 422
    assert named in errors_of(result)[field]


def test_message_keeps_line_breaks_and_tabs(demo_config: ClientConfig) -> None:
    text = "Hello,\r\n\tdo you ship to Malta?\nThanks\u2028Ada"
    assert message_of(post(demo_config, {"email": "a@b.co", "message": text}))["fields"]["message"] == text


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x85", "\u202e", "\u2067"])
def test_message_refuses_other_control_and_bidi_characters(demo_config: ClientConfig, char: str) -> None:
    result = post(demo_config, {"email": "a@b.co", "message": f"Hello{char}world"})
    assert "U+" in errors_of(result)["message"]


@pytest.mark.parametrize(
    "blank", ["   ", "\t", "\u200b", "\ufeff", "\u200d\u200c", "\u00ad", "\u3164", "\u2060 \u00a0"]
)
def test_value_of_only_spaces_or_invisible_characters_counts_as_not_sent(demo_config: ClientConfig, blank: str) -> None:
    result = post(demo_config, {"email": "a@b.co", "company": blank, "custom": {"fleet": blank}})
    message = message_of(result)
    assert "company" not in message["fields"]
    assert message["custom"] == {}


@pytest.mark.parametrize("blank", ["\u200b", "\ufeff", "  "])
def test_email_of_only_invisible_characters_is_required(demo_config: ClientConfig, blank: str) -> None:
    assert "is required" in errors_of(post(demo_config, {"email": blank}))["email"]


def test_spaces_and_invisible_characters_around_a_value_are_trimmed(demo_config: ClientConfig) -> None:
    message = message_of(post(demo_config, {"email": "a@b.co", "first_name": "\ufeff Ada\u200b "}))
    assert message["fields"]["first_name"] == "Ada"


def test_text_is_kept_in_unicode_nfc(demo_config: ClientConfig) -> None:
    message = message_of(post(demo_config, {"email": "a@b.co", "first_name": "Jose\u0301"}))
    assert message["fields"]["first_name"] == "Jos\u00e9"


@pytest.mark.parametrize("address", ["a..b@example.com", ".ada@example.com", "ada.@example.com", "x" * 65 + "@x.com"])
def test_addresses_mail_servers_refuse_are_refused_at_capture(demo_config: ClientConfig, address: str) -> None:
    assert "email" in errors_of(post(demo_config, {"email": address}))


@pytest.mark.parametrize(
    "address",
    [
        "ada\u200b@example.com",
        "ada@example.com\u200b",
        "ada@exa\u202emple.com",
        "\u0301ada@example.com",
        "ada\x00@b.co",
    ],
)
def test_address_holding_an_invisible_or_control_character_gets_422_naming_email(
    demo_config: ClientConfig, address: str
) -> None:
    result = post(demo_config, {"email": address})
    assert result.response.status == 422
    assert "type the address again without it" in errors_of(result)["email"]


def test_internationalised_address_is_accepted(demo_config: ClientConfig) -> None:
    assert post(demo_config, {"email": "jürgen@müller.de"}).response.status == 202


@pytest.mark.parametrize("spelling", ["ada@xn--bcher-kva.de", "Ada@BÜCHER.de", "ada@bu\u0308cher.de", "ada@bücher。de"])
def test_every_spelling_of_an_address_is_one_lead(demo_config: ClientConfig, spelling: str) -> None:
    canonical = post(demo_config, {"email": "ada@bücher.de"}).captured
    other = post(demo_config, {"email": spelling}).captured
    assert other.lead_id == canonical.lead_id
    assert other.message["email"] == "ada@bücher.de"


def test_long_landing_page_url_is_accepted_beyond_the_field_limit(demo_config: ClientConfig) -> None:
    url = "https://www.example.com/landing?fbclid=" + "x" * 1500
    assert post(demo_config, {"email": "a@b.co", "page_url": url}).response.status == 202


@pytest.mark.parametrize("phone", ["+() -", "( ) - - -", "1234", "+1 (2) 3-4", "+() - ext. 12345"])
def test_phone_with_too_few_digits_gets_422_naming_phone(demo_config: ClientConfig, phone: str) -> None:
    result = post(demo_config, {"email": "a@b.co", "phone": phone})
    assert result.response.status == 422
    assert "phone number" in errors_of(result)["phone"]


@pytest.mark.parametrize("phone", ["12345", "+44 20 7946 0000 ext. 12", "(030) 901820", "+1-555-0100 x7"])
def test_phone_with_enough_digits_is_accepted(demo_config: ClientConfig, phone: str) -> None:
    assert message_of(post(demo_config, {"email": "a@b.co", "phone": phone}))["fields"]["phone"] == phone


def test_unparseable_form_redirects_to_the_error_page(demo_config: ClientConfig) -> None:
    result = post(demo_config, b"email=a%40b.co&\xff", FORM)
    assert result.response.status == 303
    assert "error_fields=body" in result.response.headers["Location"]


@pytest.mark.parametrize(
    ("charset", "body", "first_name"),
    [
        ("ISO-8859-1", "first_name=Jos%E9", "José"),
        ("iso-8859-1", b"first_name=Jos\xe9", "José"),
        ('"latin1"', "first_name=Jos%E9", "José"),
        ("windows-1252", "first_name=%80+Euro", "€ Euro"),
        ("ISO-8859-15", "first_name=%A4", "€"),
        ("Shift_JIS", "first_name=%93%FA%96%7B", "日本"),
        ("UTF-8", "first_name=Jos%C3%A9", "José"),
        (None, "first_name=Jos%C3%A9", "José"),
    ],
)
def test_form_is_read_in_the_charset_it_declares(
    demo_config: ClientConfig, charset: str | None, body: str | bytes, first_name: str
) -> None:
    raw = body if isinstance(body, bytes) else body.encode()
    result = post_form(demo_config, raw + b"&email=a%40b.co", charset)
    assert message_of(result)["fields"]["first_name"] == first_name


@pytest.mark.parametrize("charset", ["x-klingon", "utf-16", "utf-32", "utf-7", "base64", "rot13", "idna", "cp500"])
def test_form_charset_leadflow_cannot_read_gets_415_naming_it(demo_config: ClientConfig, charset: str) -> None:
    result = post_form(demo_config, "email=a%40b.co", charset)
    assert result.response.status == 415
    assert f"charset {charset} is not accepted" in result.response.body


@pytest.mark.parametrize("charset", ["iso-8859-1", "utf-16", "x-klingon"])
def test_json_charset_other_than_utf8_gets_415_naming_it(demo_config: ClientConfig, charset: str) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"content-type": f"application/json; charset={charset}"})
    assert result.response.status == 415
    assert f"charset {charset} is not accepted" in errors_of(result)["Content-Type"]


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/json;charset=UTF8"])
def test_json_declaring_utf8_is_accepted(demo_config: ClientConfig, content_type: str) -> None:
    assert post(demo_config, {"email": "a@b.co"}, {"content-type": content_type}).response.status == 202


@pytest.mark.parametrize(("charset", "declared"), [(None, "UTF-8"), ("utf-8", "utf-8"), ("us-ascii", "ascii")])
def test_form_bytes_not_in_its_charset_get_400_naming_the_field_never_a_replacement(
    demo_config: ClientConfig, charset: str | None, declared: str
) -> None:
    result = post_form(demo_config, "email=a%40b.co&first_name=Jos%E9", charset)
    problem = form_errors_of(result)["first_name"]
    assert f"is not {declared} text (byte 0xE9 at position 4)" in problem
    assert result.captured is None


def test_form_bytes_not_in_its_charset_without_an_error_page_get_400(demo_config: ClientConfig) -> None:
    result = post_form(with_capture(demo_config, error_url=None), "email=a%40b.co&first_name=Jos%E9")
    assert result.response.status == 400
    assert "<b>first_name</b>" in result.response.body
    assert "\ufffd" not in result.response.body


def test_json_bytes_not_utf8_get_400_naming_the_body(demo_config: ClientConfig) -> None:
    result = post(demo_config, b'{"email": "a@b.co", "first_name": "Jos\xe9"}')
    assert result.response.status == 400
    assert "is not UTF-8 text (byte 0xE9" in errors_of(result)["body"]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'\xef\xbb\xbf{"email": "a@b.co", "first_name": "Jos\xc3\xa9"}', JSON),
        (b"\xef\xbb\xbfemail=a%40b.co&first_name=Jos%C3%A9", FORM),
    ],
)
def test_utf8_bom_at_the_start_of_a_body_is_accepted(
    demo_config: ClientConfig, body: bytes, headers: dict[str, str]
) -> None:
    message = message_of(post(demo_config, body, headers))
    assert (message["email"], message["fields"]["first_name"]) == ("a@b.co", "José")


@pytest.mark.parametrize("coding", ["gzip", "br", "deflate", "identity, gzip"])
def test_content_encoding_the_stack_cannot_read_gets_415_naming_it(demo_config: ClientConfig, coding: str) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"content-encoding": coding})
    assert result.response.status == 415
    assert "is not accepted: send the body uncompressed" in errors_of(result)["Content-Encoding"]
    assert coding.split(", ")[-1] in errors_of(result)["Content-Encoding"]


def test_identity_content_encoding_is_accepted(demo_config: ClientConfig) -> None:
    assert post(demo_config, {"email": "a@b.co"}, {"content-encoding": "identity"}).response.status == 202


def test_request_whose_body_could_not_be_read_gets_400_naming_the_body(demo_config: ClientConfig) -> None:
    request = WebRequest("POST", JSON, b"", body_problem="is not valid base64")
    result = handle_capture(request, CaptureRules.of(demo_config), SAMPLE_IDS, NOW)
    assert result.response.status == 400
    assert errors_of(result) == {"body": "is not valid base64"}


@pytest.mark.parametrize(
    "extra",
    [
        {"submit": "Send"},
        {"csrf_token": "Zm9vYmFyYmF6"},
        {"_wpcf7": "123", "_wpcf7_version": "5.9.8", "_wpnonce": "8f3a2b1c0d"},
        {"g-recaptcha-response": "03AFcWeA" + "x" * 2000},
        {"favourite colour": "red"},
        {"custom": "not a custom object"},
    ],
)
def test_unknown_form_field_never_costs_a_lead(demo_config: ClientConfig, extra: dict[str, str]) -> None:
    result = post(demo_config, urlencode({"email": "a@b.co", **extra}), FORM)
    assert result.response.status == 303
    assert result.response.headers["Location"] == demo_config.capture.thank_you_url
    assert message_of(result)["ignored_fields"] == sorted(extra)


def test_unknown_fields_are_listed_by_name_and_their_values_are_not_stored(demo_config: ClientConfig) -> None:
    message = message_of(post(demo_config, urlencode({"email": "a@b.co", "csrf_token": "s3cret-token"}), FORM))
    assert message["ignored_fields"] == ["csrf_token"]
    assert "s3cret-token" not in json.dumps(message)


def test_json_client_learns_of_ignored_fields_in_the_202_answer(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co", "frist_name": "Ada"})
    body = json.loads(result.response.body)
    assert result.response.status == 202
    assert body["ignored_fields"] == ["frist_name"]
    assert "frist_name: did you mean first_name?" in body["note"]


def test_bot_answer_lists_ignored_fields_as_a_person_answer_does(demo_config: ClientConfig) -> None:
    person = post(demo_config, {"email": "a@b.co", "frist_name": "Ada"})
    bot = post(demo_config, {"email": "a@b.co", "frist_name": "Ada", "website": "spam"})
    assert json.loads(bot.response.body).keys() == json.loads(person.response.body).keys()


def test_ignored_field_names_are_few_short_and_printable(demo_config: ClientConfig) -> None:
    names = {f"x{i:03}\u202e\x01" + "n" * 100: "v" for i in range(150)}
    message = message_of(post(demo_config, {"email": "a@b.co", **names}))
    ignored = message["ignored_fields"]
    assert len(ignored) == MAX_IGNORED_NAMES
    assert all(len(name) <= 67 and name.isprintable() for name in ignored)
    assert ignored[0].startswith("x000\\u202e\\u0001nnn")


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("custom[Fleet Size]", "fleet_size"), ("custom.Budget-Range", "budget_range"), ("custom[Größe]", "grosse")],
)
def test_custom_field_names_are_kept_as_slugs(demo_config: ClientConfig, sent: str, kept: str) -> None:
    message = message_of(post(demo_config, urlencode({"email": "a@b.co", sent: "12"}), FORM))
    assert message["custom"] == {kept: "12"}


@pytest.mark.parametrize("sent", ["custom[123]", "custom[!!!]", "custom[]"])
def test_custom_field_that_cannot_be_named_is_ignored_and_listed(demo_config: ClientConfig, sent: str) -> None:
    message = message_of(post(demo_config, urlencode({"email": "a@b.co", sent: "12"}), FORM))
    assert (message["custom"], message["ignored_fields"]) == ({}, [sent.replace("[", ".").rstrip("]")])


def test_custom_fields_beyond_the_limit_are_ignored_and_listed(demo_config: ClientConfig) -> None:
    config = with_capture(demo_config, max_custom_fields=2)
    message = message_of(post(config, {"email": "a@b.co", "custom": {"c": "3", "a": "1", "b": "2"}}))
    assert message["custom"] == {"a": "1", "b": "2"}
    assert message["ignored_fields"] == ["custom.c"]


CONTACT_FORM_NAMES = {
    "your-email": "email",
    "Email": "email",
    "your-name": "first_name",
    "Company Name": "company",
    "your-message": "message",
    "fleet": "custom.fleet_size",
}


@pytest.mark.parametrize(
    ("form", "leadflow"),
    [
        ({"your-email": "ada@example.com"}, ("email", "ada@example.com")),
        ({"Email": "Ada@Example.com"}, ("email", "ada@example.com")),
        ({"your-name": "Ada"}, ("first_name", "Ada")),
        ({"Company Name": "Engines Ltd"}, ("company", "Engines Ltd")),
        ({"your-message": "Hi\nthere"}, ("message", "Hi\nthere")),
        ({"fleet": "120"}, ("custom.fleet_size", "120")),
    ],
)
def test_website_field_names_fill_the_leadflow_fields_they_are_mapped_to(
    demo_config: ClientConfig, form: dict[str, str], leadflow: tuple[str, str]
) -> None:
    config = with_capture(demo_config, field_names=CONTACT_FORM_NAMES)
    name, value = leadflow
    body = form if name == "email" else {"your-email": "ada@example.com", **form}
    message = message_of(post(config, urlencode(body), FORM))
    stored = {
        "email": message["email"],
        **message["fields"],
        **{f"custom.{k}": v for k, v in message["custom"].items()},
    }
    assert stored[name] == value
    assert message["ignored_fields"] == []


def test_a_problem_in_a_mapped_field_names_it_as_the_website_sent_it(demo_config: ClientConfig) -> None:
    config = with_capture(demo_config, field_names=CONTACT_FORM_NAMES)
    result = post(config, urlencode({"your-email": "nope", "Company Name": "x" * 501}), FORM)
    assert set(form_errors_of(result)) == {"your-email", "Company Name"}


def test_a_field_sent_under_two_names_with_two_values_gets_422_naming_both(demo_config: ClientConfig) -> None:
    config = with_capture(demo_config, field_names=CONTACT_FORM_NAMES)
    result = post(config, {"your-email": "ada@example.com", "email": "eve@example.com"})
    assert "was sent twice, as your-email and email" in errors_of(result)["your-email"]


def test_a_field_sent_under_two_names_with_one_value_is_accepted(demo_config: ClientConfig) -> None:
    config = with_capture(demo_config, field_names=CONTACT_FORM_NAMES)
    result = post(config, {"your-email": "ada@example.com", "Email": " ada@example.com", "email": ""})
    assert message_of(result)["email"] == "ada@example.com"


def test_origin_is_compared_as_browsers_send_it(demo_config: ClientConfig) -> None:
    config = with_capture(demo_config, allowed_origins=["https://www.acme.com"])
    assert post(config, {"email": "a@b.co"}, {"origin": "https://www.acme.com"}).response.status == 202


def test_form_post_from_another_origin_redirects_to_the_error_page(demo_config: ClientConfig) -> None:
    result = post(demo_config, "email=a@b.co", {**FORM, "origin": "https://evil.example"})
    assert result.response.status == 303
    assert result.captured is None
    assert "error_fields=Origin" in result.response.headers["Location"]


def test_cors_answers_let_the_script_read_retry_after(demo_config: ClientConfig) -> None:
    result = post(demo_config, {"email": "a@b.co"}, {"origin": "http://localhost:3000"})
    assert "Retry-After" in result.response.headers["Access-Control-Expose-Headers"]


def test_capture_reads_exactly_the_settings_the_config_model_checks() -> None:
    assert [f.name for f in fields(CaptureRules)] == list(CaptureSettings.model_fields)


def test_capture_imports_neither_pydantic_nor_email_validator_at_cold_start() -> None:
    heavy = ("pydantic", "email_validator", "idna", "difflib", "boto3")
    probe = f"import sys, leadflow.capture.request; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert loaded.stdout.strip() == "[]"

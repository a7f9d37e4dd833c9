"""Webhooks, pure: the signature receivers verify, which webhook gets which event, the retry backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.config import Webhook
from leadflow.definition import build_definition
from leadflow.webhooks import (
    MAX_ATTEMPTS,
    Delivery,
    deliveries_for,
    describe_message,
    is_delivery,
    request_body,
    request_headers,
    retries_span_s,
    retry_delay_s,
    signature,
    verify_signature,
    webhook_for,
)

KEY = b"webhook-key-for-tests-only-0123456789abcdef"
NOW = 1_795_426_869
EVENT = {
    "version": "0",
    "id": "7f2c9e41-5b8a-4d3e-9c61-0a2f8e4b7d15",
    "detail-type": "LeadAssigned",
    "source": "leadflow.demo",
    "time": "2026-11-23T09:41:09Z",
    "detail": {"lead_id": "ld_455cnifkyq3jhunqm6ncxct2", "owner": "max", "why": "Zürich → sales"},
}
CRM = Webhook(name="crm", url="https://crm.example.com/hooks", events=["LeadAssigned", "LeadWon"])
CHAT = Webhook(name="chat", url="https://chat.example.com/hooks", events=["LeadQualified", "LeadAssigned"])
WON_ONLY = Webhook(name="finance", url="https://finance.example.com/hooks", events=["LeadWon"])


def signed(body: bytes = b'{"id":"e1"}', key: bytes = KEY, at: int = NOW) -> str:
    return signature(body, key, at)


# --- the signature --------------------------------------------------------------------------


def test_a_signature_is_stripes_scheme_hmac_sha256_of_the_time_a_dot_and_the_body() -> None:
    body = b'{"id":"e1"}'
    expected = hmac.new(KEY, f"{NOW}.".encode() + body, hashlib.sha256).hexdigest()
    assert signed(body) == f"t={NOW},v1={expected}"


@given(body=st.binary(max_size=2000), key=st.binary(min_size=1, max_size=64), skew=st.integers(-300, 300))
def test_any_body_signed_with_a_key_verifies_with_that_key_within_five_minutes(
    body: bytes, key: bytes, skew: int
) -> None:
    assert verify_signature(body, signature(body, key, NOW), key, now=NOW + skew)


def test_a_body_changed_by_one_byte_is_refused() -> None:
    header = signed(b'{"id":"e1","amount":100}')
    assert not verify_signature(b'{"id":"e1","amount":900}', header, KEY, now=NOW)


def test_a_signature_made_with_another_key_is_refused() -> None:
    assert not verify_signature(b'{"id":"e1"}', signed(key=b"another-key"), KEY, now=NOW)


@pytest.mark.parametrize("skew", [301, -301, 86_400])
def test_a_signature_more_than_five_minutes_from_the_receivers_clock_is_refused(skew: int) -> None:
    assert not verify_signature(b'{"id":"e1"}', signed(), KEY, now=NOW + skew)


def test_a_replayed_body_with_its_old_time_changed_is_refused() -> None:
    old = signed(at=NOW - 3600)
    mac = old.split("v1=")[1]
    assert not verify_signature(b'{"id":"e1"}', f"t={NOW},v1={mac}", KEY, now=NOW)


@pytest.mark.parametrize(
    "header",
    ["", "t=,v1=abc", f"v1={'0' * 64}", f"t={NOW}", f"t=abc,v1={'0' * 64}", "garbage", f"t={NOW},v1=é"],
)
def test_a_malformed_signature_header_is_refused(header: str) -> None:
    assert not verify_signature(b'{"id":"e1"}', header, KEY, now=NOW)


def test_a_header_with_several_v1_passes_when_one_is_right_as_during_a_key_change() -> None:
    right = signed().split("v1=")[1]
    assert verify_signature(b'{"id":"e1"}', f"t={NOW},v1={'0' * 64},v1={right}", KEY, now=NOW)


def test_text_body_and_key_verify_as_their_utf8_bytes() -> None:
    body = '{"why":"Zürich"}'
    assert verify_signature(body, signature(body.encode(), KEY, NOW), KEY.decode(), now=NOW)


# --- what is sent ---------------------------------------------------------------------------


def test_the_body_is_the_events_id_type_time_and_detail_as_compact_utf8_json() -> None:
    body = request_body(EVENT)
    assert json.loads(body) == {
        "id": EVENT["id"],
        "type": "LeadAssigned",
        "time": "2026-11-23T09:41:09Z",
        "detail": EVENT["detail"],
    }
    assert b", " not in body
    assert "Zürich".encode() in body  # not \u escaped


def test_the_headers_name_the_event_and_sign_the_exact_body() -> None:
    body = request_body(EVENT)
    headers = request_headers(EVENT, body, KEY, now=NOW + 0.9)
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "leadflow-webhooks"
    assert headers["Leadflow-Event-Id"] == EVENT["id"]
    assert headers["Leadflow-Signature"].startswith(f"t={NOW},v1=")  # whole seconds
    assert verify_signature(body, headers["Leadflow-Signature"], KEY, now=NOW)


# --- which webhooks get which event --------------------------------------------------------


def test_an_event_goes_to_every_webhook_that_names_its_type_and_to_no_other() -> None:
    assert deliveries_for(EVENT, [CRM, WON_ONLY, CHAT]) == [Delivery("crm", EVENT), Delivery("chat", EVENT)]
    won = {**EVENT, "detail-type": "LeadWon"}
    assert [d.webhook for d in deliveries_for(won, [CRM, WON_ONLY, CHAT])] == ["crm", "finance"]
    stage = {**EVENT, "detail-type": "LeadStageChanged"}
    assert deliveries_for(stage, [CRM, WON_ONLY, CHAT]) == []


def test_a_delivery_is_a_message_of_its_own_that_reads_back_as_the_same_delivery() -> None:
    delivery = Delivery("crm", EVENT)
    message = json.loads(json.dumps(delivery.message()))
    assert is_delivery(message)
    assert not is_delivery(EVENT)
    assert Delivery.from_message(message) == Delivery("crm", EVENT)


def test_a_delivery_goes_to_its_webhook_as_configured_now_or_nowhere_once_it_is_gone_or_unwanted() -> None:
    moved = Webhook(name="crm", url="https://new-crm.example.com/hooks", events=["LeadAssigned"])
    assert webhook_for(Delivery("crm", EVENT), [CHAT, moved]) == moved
    assert webhook_for(Delivery("crm", EVENT), [CHAT]) is None  # removed
    no_longer = Webhook(name="crm", url="https://crm.example.com/hooks", events=["LeadWon"])
    assert webhook_for(Delivery("crm", EVENT), [no_longer]) is None


def test_a_dead_letter_is_described_by_webhook_event_type_lead_and_event_id() -> None:
    described = describe_message(Delivery("crm", EVENT).message())
    assert (described.webhook, described.event_type, described.lead_id, described.event_id) == (
        "crm",
        "LeadAssigned",
        "ld_455cnifkyq3jhunqm6ncxct2",
        EVENT["id"],
    )
    assert describe_message(dict(EVENT)).webhook == ""  # never split


# --- retries --------------------------------------------------------------------------------


def test_each_retry_waits_twice_as_long_from_30_seconds_up_to_15_minutes() -> None:
    delays = [retry_delay_s(attempt) for attempt in range(1, MAX_ATTEMPTS)]
    assert delays == [30, 60, 120, 240, 480, 900, 900]


def test_the_last_attempt_waits_no_longer_so_it_reaches_the_dead_letter_queue_at_once() -> None:
    assert retry_delay_s(MAX_ATTEMPTS) == 0
    assert retries_span_s() == sum(retry_delay_s(attempt) for attempt in range(1, MAX_ATTEMPTS))


# --- the stack: only with webhooks ----------------------------------------------------------


def with_webhooks(demo_config: Any, *hooks: Webhook) -> Any:
    return demo_config.model_copy(update={"notify": demo_config.notify.model_copy(update={"webhooks": list(hooks)})})


def test_without_webhooks_the_stack_has_no_webhook_queue_rule_key_or_function(demo_config: Any) -> None:
    assert not demo_config.notify.webhooks  # `make run` posts nowhere
    definition = build_definition(demo_config)
    assert "webhooks" not in {q.key for q in definition.queues}
    assert "webhooks" not in {r.key for r in definition.event_rules}
    assert "webhooks" not in {f.key for f in definition.functions}
    assert "webhook-key" not in {s.key for s in definition.secrets}


def test_with_webhooks_one_rule_takes_the_union_of_their_events_to_the_webhooks_queue(demo_config: Any) -> None:
    definition = build_definition(with_webhooks(demo_config, CRM, CHAT, WON_ONLY))
    [rule] = [r for r in definition.event_rules if r.key == "webhooks"]
    assert set(rule.detail_types) == {"LeadAssigned", "LeadWon", "LeadQualified"}
    assert (rule.queue, rule.bus, rule.source) == ("webhooks", "events", "leadflow.demo")
    queue = definition.queue("webhooks")
    assert not queue.fifo
    assert queue.max_receive_count == MAX_ATTEMPTS
    assert queue.longest_wait_s > retries_span_s()  # the age alarm waits out every backoff
    function = definition.function("webhooks")
    assert {(g.resource, g.access) for g in function.grants} == {
        ("webhooks", "consume"),
        ("webhooks", "send"),
        ("webhooks", "retry_later"),
        ("webhook-key", "read_secret"),  # the key's value, at cold start: never in the environment
    }
    assert [(t.queue, t.function) for t in definition.queue_triggers if t.function == "webhooks"] == [
        ("webhooks", "webhooks")
    ]
    assert definition.secret("webhook-key").not_rotated_because

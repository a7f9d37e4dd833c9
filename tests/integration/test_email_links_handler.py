"""The nurture email links (functions/email_links), unchanged, with API Gateway events, against moto."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.links import LinkSigner
from leadflow.nurture.email_links import click_url, unsubscribe_url
from leadflow.qualify.changes import record_inquiry
from tests.integration.conftest import Handler, Stack
from tests.integration.test_intake_handler import captured_record
from tests.support import load_event

BASE = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
GUIDE = "https://demo.example/case"


@pytest.fixture
def email_links(stack: Stack) -> Handler:
    return stack.handler("email_links")


def nurtured_lead(stack: Stack) -> str:
    """A lead intake stored in nurture: a VP at a company address, 50 points with the demo's definition."""
    record = captured_record(stack, {"email": "dana@northwind-logistics.com", "job_title": "VP Operations"})
    applied = record_inquiry(json.loads(record["body"]), stack.services(), stack.config.qualify)
    assert applied.change is not None
    assert applied.change.profile["stage"] == "nurture"
    return str(applied.change.profile["lead_id"])


def signer(stack: Stack) -> LinkSigner:
    return LinkSigner(stack.resources.secret_values["link-key"].encode())


def sample(name: str, link: str) -> dict[str, Any]:
    """The sample event, for the token at the end of `link`."""
    event = copy.deepcopy(load_event(name))
    token = link.rpartition("/")[2]
    event["pathParameters"] = {"token": token}
    event["path"] = f"{event['resource'].removesuffix('{token}')}{token}"
    return event


def unsubscribe_event(stack: Stack, lead_id: str, method: str) -> dict[str, Any]:
    link = unsubscribe_url(signer(stack), BASE, lead_id, datetime.now(UTC))
    return sample(f"email_links-{method.lower()}-unsubscribe.json", link)


def click_event(stack: Stack, lead_id: str) -> dict[str, Any]:
    link = click_url(signer(stack), BASE, lead_id, GUIDE, datetime.now(UTC), sequence="welcome", step=1)
    return sample("email_links-get-click.json", link)


def suppression(stack: Stack, lead_id: str) -> dict[str, Any]:
    return dict((stack.store().get_profile(lead_id) or {}).get("nurture", {}).get("suppressed") or {})


def test_the_sample_get_shows_the_unsubscribe_button_and_unsubscribes_nobody(
    stack: Stack, email_links: Handler, lambda_context: Any
) -> None:
    lead_id = nurtured_lead(stack)
    answer = email_links(unsubscribe_event(stack, lead_id, "GET"), lambda_context)
    assert answer["statusCode"] == 200
    assert ">Unsubscribe</button>" in answer["body"]
    assert answer["headers"]["Referrer-Policy"] == "no-referrer"
    assert suppression(stack, lead_id) == {}


def test_the_sample_one_click_post_suppresses_the_lead_for_every_future_send(
    stack: Stack, email_links: Handler, lambda_context: Any
) -> None:
    lead_id = nurtured_lead(stack)
    answer = email_links(unsubscribe_event(stack, lead_id, "POST"), lambda_context)
    assert (answer["statusCode"], "You are unsubscribed" in answer["body"]) == (200, True)
    assert suppression(stack, lead_id)["reason"] == "unsubscribed"
    assert "dana@" not in answer["body"]


def test_an_altered_unsubscribe_link_is_404_and_suppresses_nothing(
    stack: Stack, email_links: Handler, lambda_context: Any
) -> None:
    lead_id = nurtured_lead(stack)
    event = unsubscribe_event(stack, lead_id, "POST")
    token = event["pathParameters"]["token"]
    event["pathParameters"]["token"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert email_links(event, lambda_context)["statusCode"] == 404
    assert suppression(stack, lead_id) == {}


def test_a_click_redirects_and_intake_turns_its_one_queued_message_into_a_higher_score(
    stack: Stack, email_links: Handler, lambda_context: Any
) -> None:
    lead_id = nurtured_lead(stack)
    event = click_event(stack, lead_id)
    answer = email_links(event, lambda_context)
    assert (answer["statusCode"], answer["headers"]["Location"]) == (302, GUIDE)
    email_links(copy.deepcopy(event), lambda_context)  # the same request again (a retry): counted once
    [queued] = stack.queue_messages("intake")
    assert queued["Attributes"]["MessageGroupId"] == lead_id
    record = copy.deepcopy(load_event("intake-sqs-batch.json")["Records"][0])
    record.update(messageId=queued["MessageId"], body=queued["Body"])
    record["attributes"]["MessageGroupId"] = lead_id
    assert stack.handler("intake")({"Records": [record]}, lambda_context) == {"batchItemFailures": []}
    profile = stack.store().get_profile(lead_id) or {}
    assert profile["score"]["total"] == 55.0  # 50, and the demo's 5 points for an email click
    assert profile["engagement"][-1]["detail"] == GUIDE


def test_a_forged_click_link_is_400_without_a_redirect_and_queues_nothing(
    stack: Stack, email_links: Handler, lambda_context: Any
) -> None:
    lead_id = nurtured_lead(stack)
    event = click_event(stack, lead_id)
    forged = LinkSigner(b"f" * 32).sign("click", lead_id, "", datetime(2099, 1, 1, tzinfo=UTC), {"url": GUIDE})
    event["pathParameters"]["token"] = forged
    answer = email_links(event, lambda_context)
    assert answer["statusCode"] == 400
    assert "Location" not in answer["headers"]
    assert stack.queue_messages("intake") == []

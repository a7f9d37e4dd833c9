"""The local stack serves the one-tap link page and consumes the notify queue with the real functions."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests

from leadflow.links import LinkSigner
from leadflow.local.runtime import LocalOptions, LocalStack
from tests.integration.conftest import free_port
from tests.support import CLIENTS, load_event

TIMEOUT_S = 20


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The demo stack, served in this process (its functions in worker processes), on free ports."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()  # moto's backends are this process's: start from nothing, as `--fresh` does
    scratch = tmp_path_factory.mktemp("local-notices")
    options = LocalOptions(
        CLIENTS / "demo.toml",
        moto_port=free_port(),
        api_port=free_port(),
        log_dir=scratch / "logs",
        state_dir=scratch / "state",
        workers_per_function=1,
    )
    environment = dict(os.environ)
    stack = LocalStack(options)
    try:
        stack.start()  # the notify and respond workers import their handlers here: a broken one fails the start
        yield stack
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(environment)  # start() points boto3 at its moto: the tests after these must not be


def link(local: LocalStack, lead_id: str, owner: str) -> str:
    """A link signed with the local stack's own link key, as the notify function signs them."""
    signer = LinkSigner(local.options.secret_value("link-key").encode())
    token = signer.sign("respond", lead_id, owner, datetime.now(UTC).replace(microsecond=0) + timedelta(days=7))
    return f"{local.api.url if local.api else ''}/r/{token}"


def test_the_link_key_is_kept_in_the_state_directory_and_is_the_one_the_functions_get(local: LocalStack) -> None:
    path = local.options.secret_file("link-key")
    assert path.is_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert local.resources.secret_values["link-key"] == path.read_text().strip()
    assert local.resources.api_urls["api"] == f"http://127.0.0.1:{local.options.api_port}/"


def test_a_signed_link_opens_the_respond_function_with_its_token_from_the_path(local: LocalStack) -> None:
    answer = requests.get(link(local, "ld_" + "a" * 24, "ada"), timeout=TIMEOUT_S)

    # The function's own page (no such lead: not yours), not the API's 404: the token reached it, and verified.
    assert answer.status_code == 410
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "no longer yours" in answer.text


def test_a_posted_form_reaches_the_respond_function(local: LocalStack) -> None:
    answer = requests.post(link(local, "ld_" + "b" * 24, "ada"), data={"action": "accept"}, timeout=TIMEOUT_S)
    assert answer.status_code == 410
    assert "no longer yours" in answer.text


def test_a_link_whose_token_no_key_signed_is_refused_by_the_function(local: LocalStack) -> None:
    token = load_event("respond-get.json")["pathParameters"]["token"]
    answer = requests.get(f"{local.api.url if local.api else ''}/r/{token}", timeout=TIMEOUT_S)
    assert answer.status_code == 404
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"  # respond's page, not {"message": ...}
    assert "not valid" in answer.text


def test_a_notice_on_the_bus_is_taken_off_the_standard_notify_queue_by_the_notify_function(
    local: LocalStack, capfd: pytest.CaptureFixture[str]
) -> None:
    session = boto3.Session(region_name=local.options.region)
    detail = json.loads(load_event("notify-sqs-batch.json")["Records"][0]["body"])["detail"]
    entry = {
        "EventBusName": local.resources.bus_names["events"],
        "Source": "leadflow.demo",
        "DetailType": "LeadAssigned",
        "Detail": json.dumps(detail),  # a lead this stack does not hold: the notice sends nothing, and is done
    }
    assert session.client("events").put_events(Entries=[entry])["FailedEntryCount"] == 0

    sqs = session.client("sqs")
    counts = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    deadline = time.monotonic() + TIMEOUT_S
    handled = ""
    while "leadflow-demo-notify -> notify: batch of 1 handled" not in handled:
        assert time.monotonic() < deadline, f"the notify poller handled nothing: {handled}"
        time.sleep(0.2)
        handled += capfd.readouterr().out
    queue = local.resources.queue_urls["notify"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=list(counts))
    assert [attributes["Attributes"][count] for count in counts] == ["0", "0"]  # deleted: done
    dead_letters = sqs.get_queue_url(QueueName=local.definition.queue("notify").dead_letter_name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_the_local_stack_describes_its_event_rule_and_email_sender(local: LocalStack) -> None:
    described = local.describe()
    assert "rule    leadflow-demo-notify LeadAssigned, LeadReassigned, LeadSlaReminder, LeadEscalated" in described
    assert "email   from Demo Company leads <leads@demo.example>" in described
    assert (local.options.log_dir / "notify.log").is_file()  # the notify function's own log

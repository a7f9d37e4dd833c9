"""Webhooks end to end on moto: the bus's rule, the split, the signed POST to a real HTTP receiver, the
backoff of a failed delivery, the dead-letter queue, and `leadflow webhooks failed|resend|key|list`.

The receiver is a small http.server on 127.0.0.1 that verifies each request's signature with the
stack's webhook key, as a client's system would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from typer.testing import CliRunner

from leadflow import http_post, settings
from leadflow.cli import app
from leadflow.cli.stack_access import console
from leadflow.config import config_snapshot, load_client_config
from leadflow.definition import build_definition
from leadflow.local.resources import create_resources
from leadflow.local.runtime import local_aws_environment
from leadflow.webhooks import MAX_ATTEMPTS, Delivery, verify_signature
from tests.integration.conftest import Stack, free_port
from tests.support import CLIENTS, SAMPLE_LEAD_ID_KEY, load_event

WEBHOOKS = """
[[notify.webhooks]]
name = "crm"
url = "http://127.0.0.1:{port}/hooks/crm"
events = ["LeadAssigned", "LeadWon"]

[[notify.webhooks]]
name = "chat"
url = "http://127.0.0.1:{port}/hooks/chat"
events = ["LeadAssigned"]

[[notify.webhooks]]
name = "finance"
url = "http://127.0.0.1:{port}/hooks/finance"
events = ["LeadWon"]
"""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool  # the signature checked out with the stack's key, as the receiver checks it


@dataclass
class Receiver:
    """A client's system: answers each path with its status (204 unless told), after delay_s."""

    port: int
    key: bytes = b""
    answers: dict[str, int] = field(default_factory=dict)
    delay_s: float = 0.0
    requests: list[Received] = field(default_factory=list)

    def paths(self) -> list[str]:
        return sorted(r.path for r in self.requests)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Answer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("Leadflow-Signature", "")
            verified = verify_signature(body, header, state.key, now=time.time())
            state.requests.append(Received(self.path, dict(self.headers.items()), body, verified))
            time.sleep(state.delay_s)
            status = state.answers.get(self.path, 204)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "/hooks/chat")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def clients_dir(tmp_path: Path, receiver: Receiver) -> Path:
    """clients/demo.toml with three webhooks pointing at the receiver (the shipped demo has none)."""
    folder = tmp_path / "clients"
    folder.mkdir()
    demo = (CLIENTS / "demo.toml").read_text()
    (folder / "demo.toml").write_text(demo + WEBHOOKS.format(port=receiver.port))
    return folder


@pytest.fixture
def hooked(
    moto_endpoint: str, clients_dir: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Stack]:
    """The demo stack with webhooks, fresh on moto for each test, with every function's environment set."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    for name, value in local_aws_environment(moto_endpoint, "us-east-1").items():
        monkeypatch.setenv(name, value)
    config = load_client_config(clients_dir / "demo.toml")
    definition = build_definition(config)
    session = boto3.Session(region_name="us-east-1")
    resources = create_resources(definition, session, secret_values={"lead-id-key": SAMPLE_LEAD_ID_KEY})
    for spec in definition.functions:
        for name, value in resources.environment(spec.environment).items():
            monkeypatch.setenv(name, value)
    snapshot = tmp_path / "client.json"
    snapshot.write_text(config_snapshot(config))
    monkeypatch.setenv("LEADFLOW_CLIENT_CONFIG", str(snapshot))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "leadflow-tests")
    settings.forget_cached()
    receiver.key = resources.secret_values["webhook-key"].encode()
    yield Stack(config, definition, resources, session)
    settings.forget_cached()


@pytest.fixture
def visibility_changes() -> Iterator[list[int]]:
    """The VisibilityTimeout of every ChangeMessageVisibility the handler's SQS client makes."""
    changes: list[int] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        changes.append(int(params["VisibilityTimeout"]))

    boto3.setup_default_session(region_name="us-east-1")  # the session the handler's lazy client comes from
    events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
    events.register("provide-client-params.sqs.ChangeMessageVisibility", record, unique_id="test-visibility")
    yield changes
    events.unregister("provide-client-params.sqs.ChangeMessageVisibility", unique_id="test-visibility")


def put_on_bus(stack: Stack, detail_type: str, detail: dict[str, Any] | None = None) -> None:
    detail = detail or json.loads(load_event("notify-sqs-batch.json")["Records"][0]["body"])["detail"]
    answer = stack.session.client("events").put_events(
        Entries=[
            {
                "EventBusName": stack.resources.bus_names["events"],
                "Source": "leadflow.demo",
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def receive(stack: Stack, queue: str = "webhooks", hide_s: int = 0) -> list[dict[str, Any]]:
    """What waits on the queue (left there: visible again after hide_s)."""
    sqs = stack.session.client("sqs")
    found: dict[str, dict[str, Any]] = {}
    for _ in range(3):  # a short poll may answer with some of the messages only
        for message in sqs.receive_message(
            QueueUrl=stack.resources.queue_urls[queue],
            MaxNumberOfMessages=10,
            VisibilityTimeout=hide_s,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", []):
            found.setdefault(message["MessageId"], message)
    return list(found.values())


def batch(stack: Stack, messages: list[dict[str, Any]], receive_count: int | None = None) -> dict[str, Any]:
    """Messages as Lambda's trigger hands them to the function."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {
                    **m.get("Attributes", {}),
                    **({"ApproximateReceiveCount": str(receive_count)} if receive_count else {}),
                },
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": stack.resources.queue_arns["webhooks"],
                "awsRegion": "us-east-1",
            }
            for m in messages
        ]
    }


def split_event(stack: Stack, lambda_context: Any, detail_type: str = "LeadAssigned") -> list[dict[str, Any]]:
    """Put an event on the bus, let the function split it; the deliveries it queued (hidden for a minute)."""
    put_on_bus(stack, detail_type)
    [event] = receive(stack, hide_s=60)
    assert stack.handler("webhooks")(batch(stack, [event]), lambda_context) == {"batchItemFailures": []}
    stack.session.client("sqs").delete_message(
        QueueUrl=stack.resources.queue_urls["webhooks"], ReceiptHandle=event["ReceiptHandle"]
    )  # as the trigger does with a record that succeeded
    return receive(stack, hide_s=60)


# --- the bus, the split, the signed POST ----------------------------------------------------


def test_an_event_a_webhook_wants_reaches_the_webhooks_queue_and_no_other_does(hooked: Stack) -> None:
    put_on_bus(hooked, "LeadAssigned")
    put_on_bus(hooked, "LeadStageChanged")  # no webhook wants it
    [message] = receive(hooked)
    event = json.loads(message["Body"])
    assert (event["source"], event["detail-type"]) == ("leadflow.demo", "LeadAssigned")


def test_an_event_is_split_into_one_message_per_webhook_that_wants_it(
    hooked: Stack, lambda_context: Any, receiver: Receiver
) -> None:
    deliveries = split_event(hooked, lambda_context)
    bodies = [json.loads(m["Body"]) for m in deliveries]
    split = sorted((body["webhook"], body["event"]["detail-type"]) for body in bodies)
    assert split == [("chat", "LeadAssigned"), ("crm", "LeadAssigned")]  # not finance: it wants LeadWon only
    assert receiver.requests == []  # nothing is posted before the split


def test_each_delivery_is_posted_as_signed_json_and_the_receiver_verifies_it_with_the_stacks_key(
    hooked: Stack, lambda_context: Any, receiver: Receiver
) -> None:
    deliveries = split_event(hooked, lambda_context)
    assert hooked.handler("webhooks")(batch(hooked, deliveries), lambda_context) == {"batchItemFailures": []}
    assert receiver.paths() == ["/hooks/chat", "/hooks/crm"]
    event = json.loads(deliveries[0]["Body"])["event"]
    for request in receiver.requests:
        assert request.verified
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["User-Agent"] == "leadflow-webhooks"
        assert request.headers["Leadflow-Event-Id"] == event["id"]
        assert json.loads(request.body) == {
            "id": event["id"],
            "type": "LeadAssigned",
            "time": event["time"],
            "detail": event["detail"],
        }


def test_the_key_the_cli_prints_is_the_one_the_receiver_verifies_with(
    hooked: Stack, moto_endpoint: str, clients_dir: Path, receiver: Receiver
) -> None:
    result = CliRunner().invoke(app, ["webhooks", "key", *cli_flags(moto_endpoint, clients_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().encode() == receiver.key


# --- failures: backoff, redirects, timeouts, the dead-letter queue --------------------------


def test_a_receiver_answering_500_fails_only_its_delivery_which_is_put_off_longer_each_attempt(
    hooked: Stack, lambda_context: Any, receiver: Receiver, visibility_changes: list[int]
) -> None:
    receiver.answers["/hooks/crm"] = 500
    deliveries = split_event(hooked, lambda_context)
    crm = next(m for m in deliveries if json.loads(m["Body"])["webhook"] == "crm")
    answer = hooked.handler("webhooks")(batch(hooked, deliveries), lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": crm["MessageId"]}]}  # chat was delivered
    assert visibility_changes == [30]
    assert receive(hooked) == []  # invisible for its backoff: not back at once
    for attempt in (2, 3, 6):
        hooked.handler("webhooks")(batch(hooked, [crm], receive_count=attempt), lambda_context)
    assert visibility_changes == [30, 60, 120, 900]
    assert receiver.paths() == ["/hooks/chat"] + ["/hooks/crm"] * 4  # chat got it once, never again


def test_a_redirect_is_not_followed_and_fails_the_delivery(
    hooked: Stack, lambda_context: Any, receiver: Receiver
) -> None:
    receiver.answers["/hooks/crm"] = 302  # to /hooks/chat
    deliveries = split_event(hooked, lambda_context)
    crm = [m for m in deliveries if json.loads(m["Body"])["webhook"] == "crm"]
    answer = hooked.handler("webhooks")(batch(hooked, crm), lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": crm[0]["MessageId"]}]}
    assert receiver.paths() == ["/hooks/crm"]


def test_a_receiver_that_answers_too_late_fails_the_delivery(
    hooked: Stack, lambda_context: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_post, "TIMEOUT_S", 0.3)
    receiver.delay_s = 1.0
    deliveries = split_event(hooked, lambda_context)
    crm = [m for m in deliveries if json.loads(m["Body"])["webhook"] == "crm"]
    answer = hooked.handler("webhooks")(batch(hooked, crm), lambda_context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": crm[0]["MessageId"]}]}


def test_a_refused_connection_is_an_answer_not_an_exception() -> None:
    closed = free_port()
    refused = http_post.post_json(f"http://127.0.0.1:{closed}/hooks", b"{}", {})
    assert (refused.delivered, refused.status, refused.problem) == (False, None, "connection refused")


def test_a_delivery_failing_its_last_attempt_waits_in_the_dead_letter_queue_then_resend_delivers_it(
    hooked: Stack, lambda_context: Any, receiver: Receiver, moto_endpoint: str, clients_dir: Path
) -> None:
    receiver.answers["/hooks/crm"] = 503
    deliveries = split_event(hooked, lambda_context)
    crm_id = next(m["MessageId"] for m in deliveries if json.loads(m["Body"])["webhook"] == "crm")
    sqs, url = hooked.session.client("sqs"), hooked.resources.queue_urls["webhooks"]
    received = deliveries  # as Lambda's trigger: receive, invoke, delete what succeeded
    while received:
        answer = hooked.handler("webhooks")(batch(hooked, received), lambda_context)
        failed = {f["itemIdentifier"] for f in answer["batchItemFailures"]}
        for message in received:
            if message["MessageId"] in failed:  # its backoff has passed
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            else:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        received = receive(hooked, hide_s=60)  # after the last attempt: moved to the dead-letter queue
    assert receiver.paths().count("/hooks/crm") == MAX_ATTEMPTS
    assert receiver.paths().count("/hooks/chat") == 1

    flags = cli_flags(moto_endpoint, clients_dir)
    listed = json.loads(run_cli("webhooks", "failed", "--json", *flags))
    assert [(f["webhook"], f["event_type"], f["event_id"]) for f in listed] == [
        ("crm", "LeadAssigned", json.loads(deliveries[0]["Body"])["event"]["id"])
    ]
    assert listed[0]["message_id"] == crm_id
    assert listed[0]["lead_id"].startswith("ld_")
    assert len(json.loads(run_cli("webhooks", "failed", "--json", *flags))) == 1  # listing took nothing
    table = run_cli("webhooks", "failed", *flags)
    assert "crm" in table
    assert "LeadAssigned" in table

    receiver.answers.clear()  # the CRM is back
    assert "Sent 1 failed delivery(ies) back" in run_cli("webhooks", "resend", *flags)
    assert json.loads(run_cli("webhooks", "failed", "--json", *flags)) == []
    [resent] = receive(hooked, hide_s=60)
    assert Delivery.from_message(json.loads(resent["Body"])).webhook == "crm"
    assert hooked.handler("webhooks")(batch(hooked, [resent]), lambda_context) == {"batchItemFailures": []}
    assert receiver.requests[-1].path == "/hooks/crm"
    assert receiver.requests[-1].verified


# --- the CLI --------------------------------------------------------------------------------


def cli_flags(moto_endpoint: str, clients_dir: Path) -> list[str]:
    return ["--local", "--endpoint", moto_endpoint, "--clients-dir", str(clients_dir)]


def run_cli(*args: str) -> str:
    console.width = 200  # a table as wide as it needs
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_resend_of_one_webhook_sends_its_deliveries_and_leaves_the_others(
    hooked: Stack, moto_endpoint: str, clients_dir: Path
) -> None:
    sqs = hooked.session.client("sqs")
    dead_letters = sqs.get_queue_url(QueueName=hooked.definition.queue("webhooks").dead_letter_name)["QueueUrl"]
    event = json.loads(load_event("webhooks-sqs-batch.json")["Records"][0]["body"])
    for name in ("crm", "chat"):
        sqs.send_message(QueueUrl=dead_letters, MessageBody=json.dumps(Delivery(name, event).message()))
    flags = cli_flags(moto_endpoint, clients_dir)

    assert "Sent 1 failed delivery(ies) back" in run_cli("webhooks", "resend", "--webhook", "chat", *flags)
    assert [f["webhook"] for f in json.loads(run_cli("webhooks", "failed", "--json", *flags))] == ["crm"]
    assert [json.loads(m["Body"])["webhook"] for m in receive(hooked)] == ["chat"]
    unknown = CliRunner().invoke(app, ["webhooks", "resend", "--webhook", "nope", *flags])
    assert unknown.exit_code == 1
    assert "crm, chat, finance" in unknown.stderr


def test_list_shows_each_webhook_with_its_url_and_events(clients_dir: Path, receiver: Receiver) -> None:
    listed = json.loads(run_cli("webhooks", "list", "--json", "--clients-dir", str(clients_dir)))
    assert [(w["name"], w["events"]) for w in listed] == [
        ("crm", ["LeadAssigned", "LeadWon"]),
        ("chat", ["LeadAssigned"]),
        ("finance", ["LeadWon"]),
    ]
    assert listed[0]["url"] == f"http://127.0.0.1:{receiver.port}/hooks/crm"
    assert "Leadflow-Signature" in run_cli("webhooks", "list", "--clients-dir", str(clients_dir))


def test_a_client_without_webhooks_is_told_so_and_how_to_add_one(moto_endpoint: str) -> None:
    result = CliRunner().invoke(app, ["webhooks", "failed", "--local", "--endpoint", moto_endpoint])
    assert result.exit_code == 1
    assert "has no webhooks" in result.stderr
    assert "[[notify.webhooks]]" in result.stderr


def test_the_webhooks_sample_is_what_the_bus_delivers_and_the_function_handles_both_its_records(
    hooked: Stack, lambda_context: Any, receiver: Receiver
) -> None:
    sample = load_event("webhooks-sqs-batch.json")
    event, split = (json.loads(record["body"]) for record in sample["Records"])
    put_on_bus(hooked, "LeadAssigned")
    [message] = receive(hooked)
    # moto leaves out the `account` EventBridge puts in every event; the sample has it, as AWS sends it.
    assert set(event) == set(json.loads(message["Body"])) | {"account"}
    assert split == Delivery("crm", split["event"]).message()

    assert hooked.handler("webhooks")(sample, lambda_context) == {"batchItemFailures": []}
    assert receiver.paths() == ["/hooks/crm"]  # the split delivery, posted
    assert receiver.requests[0].verified
    queued = sorted(json.loads(m["Body"]).get("webhook", "(event)") for m in receive(hooked))
    assert queued == ["(event)", "chat", "crm"]  # the event put on the bus above, and the sample's event split

"""Integration tier: the unchanged handlers against moto's server, over HTTP, as in `make run`."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from leadflow import settings
from leadflow.aws.event_bus import EventBus
from leadflow.aws.leads_table import LeadsTable
from leadflow.aws.queues import FifoQueue
from leadflow.config import ClientConfig, config_snapshot
from leadflow.definition import StackDefinition, build_definition
from leadflow.lead.change import LeadServices
from leadflow.local.resources import LocalResources, create_resources
from leadflow.local.runtime import local_aws_environment
from leadflow.local.workers import load_handler
from tests.support import SAMPLE_LEAD_ID_KEY

Handler = Callable[[dict[str, Any], Any], Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from leadflow.local.moto_server import MotoServer

    port = free_port()  # moto as `leadflow local` runs it: transactions that cost what they touch
    server = MotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@dataclass
class Stack:
    config: ClientConfig
    definition: StackDefinition
    resources: LocalResources
    session: boto3.Session

    def handler(self, key: str) -> Handler:
        return load_handler(self.definition.function(key), module_name=f"{key}_handler_under_test")

    def services(self) -> LeadServices:
        """What the intake function works with, on this stack's resources."""
        return LeadServices(
            client=self.config.name,
            store=self.store(),
            bus=EventBus(self.resources.bus_names["events"], self.session.client("events")),
            queues={"routing": FifoQueue(self.resources.queue_urls["routing"], self.session.client("sqs"))},
        )

    def store(self) -> LeadsTable:
        return LeadsTable(self.definition.table("leads").name, self.session.client("dynamodb"))

    def queue_messages(self, key: str = "intake") -> list[dict[str, Any]]:
        sqs = self.session.client("sqs")
        response = sqs.receive_message(
            QueueUrl=self.resources.queue_urls[key],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            VisibilityTimeout=0,
        )
        return response.get("Messages", [])


@pytest.fixture
def stack(
    moto_endpoint: str, demo_config: ClientConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[Stack]:
    """The demo stack's resources, fresh for each test, and every function's environment set."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10)
    for name, value in local_aws_environment(moto_endpoint, "us-east-1").items():
        monkeypatch.setenv(name, value)
    definition = build_definition(demo_config)
    session = boto3.Session(region_name="us-east-1")
    resources = create_resources(definition, session, secret_values={"lead-id-key": SAMPLE_LEAD_ID_KEY})
    for spec in definition.functions:
        for name, value in resources.environment(spec.environment).items():
            monkeypatch.setenv(name, value)
    snapshot = tmp_path / "client.json"
    snapshot.write_text(config_snapshot(demo_config))
    monkeypatch.setenv("LEADFLOW_CLIENT_CONFIG", str(snapshot))
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "leadflow-tests")
    settings.forget_cached()
    yield Stack(demo_config, definition, resources, session)
    settings.forget_cached()


@pytest.fixture
def lambda_context() -> Any:
    from leadflow.local.workers import LambdaContext

    return LambdaContext(function_name="Leads-demo-test", memory_limit_in_mb=256, timeout_s=30, aws_request_id="test-1")

"""Everything the synthesized stack would deploy is served by `leadflow local`, and nothing differs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.template_surface import DeployedSurface, deployed_surface
from leadflow.local.runtime import LocalOptions, LocalStack, ServedStack
from tests.integration.conftest import free_port
from tests.support import CLIENTS

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    log_dir = tmp_path_factory.mktemp("local") / "logs"
    options = LocalOptions(CLIENTS / "demo.toml", moto_port=free_port(), api_port=free_port(), log_dir=log_dir)
    stack = LocalStack(options)
    stack.start()  # every function's workers load their handler: a broken function fails here
    try:
        yield stack.served()
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def deployed(synthesized) -> DeployedSurface:  # synthesized: tests/infra/conftest.py
    return deployed_surface(synthesized.templates["Leads-demo"])


def test_every_deployed_function_runs_locally(deployed: DeployedSurface, served: ServedStack) -> None:
    assert set(deployed.functions) == served.functions


def test_every_deployed_route_is_served_locally_by_the_same_function(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert {(r.method, r.path, r.function) for r in deployed.routes} == served.routes


def test_every_deployed_queue_trigger_is_polled_locally_with_its_batch_size(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert {(t.queue_name, t.function, t.batch_size) for t in deployed.queue_triggers} == served.queue_triggers


def test_every_deployed_table_exists_locally(deployed: DeployedSurface, served: ServedStack) -> None:
    assert set(deployed.table_names) == served.tables


def test_every_deployed_queue_exists_locally(deployed: DeployedSurface, served: ServedStack) -> None:
    assert set(deployed.queue_names) == served.queues


def test_every_deployed_event_bus_exists_locally(deployed: DeployedSurface, served: ServedStack) -> None:
    assert set(deployed.event_bus_names) == served.event_buses

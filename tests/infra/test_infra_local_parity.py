"""Everything the synthesized stack would deploy is served by `leadflow local`, and nothing differs.

That includes who may call a route: each route deployed behind a Cognito authorizer needs a token of
the same user pool locally, and each user pool exists locally with its app client and groups.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from infra.template_surface import DeployedSurface, deployed_surface
from leadflow.definition import SCHEDULER_INPUT
from leadflow.local.runtime import LocalOptions, LocalStack, ServedStack
from tests.integration.conftest import free_port
from tests.support import CLIENTS

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    scratch = tmp_path_factory.mktemp("local")
    options = LocalOptions(
        CLIENTS / "demo.toml",
        moto_port=free_port(),
        api_port=free_port(),
        log_dir=scratch / "logs",
        state_dir=scratch / "state",  # not the developer's .leadflow/state: their leads and keys stay untouched
    )
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


def test_every_deployed_schedule_runs_locally_with_the_same_function_and_rate(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert deployed.schedules, "the demo stack deploys a schedule (the SLA sweep)"
    assert {(s.rule_name, s.function, s.every_minutes) for s in deployed.schedules} == served.schedules


def test_every_deployed_cron_schedule_runs_locally_with_the_same_function_expression_zone_and_input(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert {(s.name, s.function, s.expression, s.timezone) for s in deployed.cron_schedules} == served.cron_schedules
    assert ("leadflow-demo-weekly-report", "report_weekly", "cron(0 8 ? * MON *)", "Europe/Berlin") in (
        served.cron_schedules
    )
    assert [json.loads(s.input) for s in deployed.cron_schedules] == [SCHEDULER_INPUT]


def test_every_deployed_bucket_keeps_its_objects_as_long_locally(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert deployed.bucket_expirations == served.bucket_expirations == {180}


def test_every_deployed_event_rule_feeds_the_same_queue_from_the_same_bus_locally(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert deployed.event_rules, "the demo stack deploys an event rule (owners' notices)"
    assert {
        (r.rule_name, r.bus_name, r.sources, r.detail_types, r.queue_name) for r in deployed.event_rules
    } == served.event_rules


def test_every_deployed_receipt_rule_publishes_to_the_same_topic_and_queue_in_the_active_rule_set_locally(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert {
        (r.rule_set, r.rule_name, r.recipients, r.topic_name, r.queue_names) for r in deployed.receipt_rules
    } == served.receipt_rules
    assert ("leadflow", "leadflow-demo", ("unsubscribe-demo@unsubscribe.demo.example",),
            "leadflow-demo-unsubscribe-mail", ("leadflow-demo-ses-events",)) in served.receipt_rules  # fmt: skip


def test_the_routes_with_a_path_parameter_and_the_notify_trigger_are_among_those_compared(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert {("GET", "/r/{token}", "respond"), ("POST", "/r/{token}", "respond")} <= served.routes
    assert {("POST", "/u/{token}", "email_links"), ("GET", "/c/{token}", "email_links")} <= served.routes
    assert ("leadflow-demo-notify", "notify", 10) in served.queue_triggers
    assert ("leadflow-demo-nurture.fifo", "nurture_send", 10) in served.queue_triggers
    assert {s.rule_name for s in deployed.schedules} == {"leadflow-demo-sla-sweep", "leadflow-demo-nurture-sweep"}
    assert ("leadflow-demo-ses-events", "default", ("aws.ses",), ("Email Bounced", "Email Complaint Received"),
            "leadflow-demo-ses-events") in served.event_rules  # fmt: skip


def test_every_route_deployed_with_an_authorizer_needs_a_token_of_the_same_user_pool_locally(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    authorized = {(r.method, r.path, r.function, r.authorizer) for r in deployed.routes if r.authorizer}
    assert ("GET", "/leads", "follow_up", "leadflow-demo-users") in authorized
    assert authorized == served.authorized_routes


def test_every_deployed_user_pool_exists_locally_with_its_app_client_and_groups(
    deployed: DeployedSurface, served: ServedStack
) -> None:
    assert deployed.user_pools, "the demo stack deploys a user pool (reps, managers, ops)"
    assert {(p.name, p.client_names, p.groups) for p in deployed.user_pools} == served.user_pools

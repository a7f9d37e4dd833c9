"""Side by side: two clients, and one client at two stages, deploy into one account and region."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from infra.app import synthesize
from infra.template_surface import Template
from leadflow.config import ClientConfig
from leadflow.definition import build_definition

pytestmark = pytest.mark.infra

CLIENTS = ["demo", "acme-eu"]
STAGES = ["prod", "staging"]
# Properties that name a resource in its account and region (CloudFormation generates the
# names of the resources that leave them out, from the stack name).
# A user pool's name need not be unique in AWS, but infra/retained.py finds a kept pool by it.
NAME_PROPERTIES = (
    "TableName", "QueueName", "Name", "FunctionName", "RoleName", "LogGroupName", "TopicName", "EmailIdentity",
    "UserPoolName",
)  # fmt: skip


@pytest.fixture(scope="module")
def side_by_side(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    return synthesize(CLIENTS, tmp_path_factory.mktemp("side-by-side"), stages=STAGES)


def physical_names(template: Template) -> list[tuple[str, str]]:
    """(type, name) of each resource named in the template (a reference to another resource is no name)."""
    return [
        (resource["Type"], resource["Properties"][name_property])
        for resource in template["Resources"].values()
        for name_property in NAME_PROPERTIES
        if isinstance(resource.get("Properties", {}).get(name_property), str)
    ]


def test_two_clients_and_two_stages_of_one_client_share_no_stack_physical_name_or_export(
    side_by_side: dict[str, Template],
) -> None:
    assert set(side_by_side) == {"Leads-demo", "Leads-acme-eu", "Leads-demo-staging", "Leads-acme-eu-staging"}
    names = Counter(name for template in side_by_side.values() for name in physical_names(template))
    assert [name for name, count in names.items() if count > 1] == []
    assert {resource_type for resource_type, _ in names} >= {
        "AWS::DynamoDB::Table",
        "AWS::SQS::Queue",
        "AWS::Events::EventBus",
        "AWS::ApiGateway::RestApi",
        "AWS::WAFv2::WebACL",
        "AWS::Cognito::UserPool",
    }
    exports = [
        output["Export"]["Name"]
        for template in side_by_side.values()
        for output in template.get("Outputs", {}).values()
        if "Export" in output
    ]
    assert len(exports) == len(set(exports))


def test_a_second_stage_names_everything_after_itself(side_by_side: dict[str, Template]) -> None:
    for resource_type, name in physical_names(side_by_side["Leads-demo-staging"]):
        # The SES configuration set is named the deployment itself: one per stack.
        assert name.startswith("leadflow-demo-staging-") or name == "leadflow-demo-staging", (resource_type, name)


def test_only_the_default_stage_declares_the_clients_email_identity_and_every_stage_may_send_from_it(
    side_by_side: dict[str, Template],
) -> None:
    identities = {
        stack_name: [name for kind, name in physical_names(template) if kind == "AWS::SES::EmailIdentity"]
        for stack_name, template in side_by_side.items()
    }
    assert identities["Leads-demo"] == ["leads@demo.example"]
    assert identities["Leads-demo-staging"] == []  # one identity per address and account: the default stage's
    staging = json.dumps(side_by_side["Leads-demo-staging"])
    assert ":identity/leads@demo.example" in staging  # the notify role may still send from it


def test_the_default_stage_keeps_todays_names(demo_config: ClientConfig, side_by_side: dict[str, Template]) -> None:
    definition = build_definition(demo_config)  # what `leadflow local` builds
    assert (definition.stack_name, definition.stage) == ("Leads-demo", "prod")
    assert definition.table("leads").name == "leadflow-demo-leads"
    assert definition.queue("intake").name == "leadflow-demo-intake.fifo"
    assert definition.event_bus("events").name == "leadflow-demo-events"
    assert build_definition(demo_config, "prod") == definition
    assert ("AWS::DynamoDB::Table", "leadflow-demo-leads") in physical_names(side_by_side["Leads-demo"])


def test_stage_flows_into_the_functions_environment(demo_config: ClientConfig) -> None:
    staging = build_definition(demo_config, "staging")
    assert {spec.environment["LEADFLOW_STAGE"] for spec in staging.functions} == {"staging"}
    assert {spec.environment["LEADFLOW_CLIENT"] for spec in staging.functions} == {"demo"}

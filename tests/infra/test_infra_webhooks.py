"""Webhooks in the template: only for a client whose file configures them, least privilege, cdk-nag clean,
and served by `leadflow local` as deployed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from infra.app import synthesize
from infra.template_surface import deployed_surface, function_keys_by_logical_id, resources_of_type
from leadflow.config import load_client_config
from leadflow.definition import StackDefinition, build_definition
from leadflow.local.runtime import LocalOptions, LocalStack, ServedStack
from leadflow.webhooks import MAX_ATTEMPTS
from tests.infra.test_infra_template import (
    OWN_LOGS_AND_TRACES,
    actions_of,
    describe,
    function_logical_id,
    logical_id,
    resource_names,
    role_statements,
)
from tests.integration.conftest import free_port
from tests.support import CLIENTS

pytestmark = pytest.mark.infra

CLIENT = "hooked"
STACK = f"Leads-{CLIENT}"
WEBHOOKS = """
[[notify.webhooks]]
name = "crm"
url = "https://crm.example.com/hooks/leadflow"
events = ["LeadAssigned", "LeadWon"]

[[notify.webhooks]]
name = "chat"
url = "https://chat.example.com/hooks"
events = ["LeadQualified", "LeadAssigned"]
"""
CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@pytest.fixture(scope="module")
def clients_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo client's file as client `hooked`, with two webhooks."""
    folder = tmp_path_factory.mktemp("clients")
    demo = (CLIENTS / "demo.toml").read_text()
    assert demo.count('name = "demo"') == 1
    (folder / f"{CLIENT}.toml").write_text(demo.replace('name = "demo"', f'name = "{CLIENT}"') + WEBHOOKS)
    return folder


@pytest.fixture(scope="module")
def definition(clients_dir: Path) -> StackDefinition:
    return build_definition(load_client_config(clients_dir / f"{CLIENT}.toml"))


@pytest.fixture(scope="module")
def template_json(clients_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    # synthesize() runs cdk-nag's AwsSolutions checks: any finding nobody acknowledged stops it here.
    return synthesize([CLIENT], tmp_path_factory.mktemp("cdk.out"), clients_dir=clients_dir)[STACK]


@pytest.fixture(scope="module")
def template(template_json: dict) -> Template:
    return Template.from_json(template_json)


def test_one_rule_copies_every_event_some_webhook_wants_from_the_bus_to_the_webhooks_queue(
    template: Template, definition: StackDefinition
) -> None:
    rule_id = logical_id(template, "AWS::Events::Rule", Name="leadflow-hooked-webhooks")
    rule = template.to_json()["Resources"][rule_id]["Properties"]
    assert rule["EventPattern"]["source"] == ["leadflow.hooked"]
    assert sorted(rule["EventPattern"]["detail-type"]) == ["LeadAssigned", "LeadQualified", "LeadWon"]
    bus_id = logical_id(template, "AWS::Events::EventBus", Name=definition.event_bus("events").name)
    assert rule["EventBusName"] == {"Ref": bus_id}
    queue_id = logical_id(template, "AWS::SQS::Queue", QueueName="leadflow-hooked-webhooks")
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert "InputTransformer" not in target  # the whole event: its id is the Leadflow-Event-Id


def test_the_webhooks_queue_is_standard_kept_and_dead_letters_after_the_last_attempt(
    template: Template, definition: StackDefinition
) -> None:
    spec = definition.queue("webhooks")
    dead_letter_id = logical_id(template, "AWS::SQS::Queue", QueueName="leadflow-hooked-webhooks-dlq")
    template.has_resource(
        "AWS::SQS::Queue",
        {
            "Properties": {
                "QueueName": "leadflow-hooked-webhooks",
                "VisibilityTimeout": spec.visibility_timeout_s,
                "RedrivePolicy": {
                    "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
                    "maxReceiveCount": MAX_ATTEMPTS,
                },
            },
            "DeletionPolicy": "Retain",
        },
    )
    queue = template.to_json()["Resources"][logical_id(template, "AWS::SQS::Queue", QueueName=spec.name)]
    assert "FifoQueue" not in queue["Properties"]
    template.has_resource(
        "AWS::SQS::Queue", {"Properties": {"QueueName": spec.dead_letter_name}, "DeletionPolicy": "Retain"}
    )


def test_the_webhooks_function_is_triggered_by_its_queue_reporting_failed_records_only(template: Template) -> None:
    queue_id = logical_id(template, "AWS::SQS::Queue", QueueName="leadflow-hooked-webhooks")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": function_logical_id(template, "webhooks")},
            "BatchSize": 5,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_the_webhook_key_is_a_kept_generated_secret_only_the_webhooks_function_gets(
    template: Template, definition: StackDefinition
) -> None:
    name = definition.secret("webhook-key").name
    assert name == "leadflow-hooked-webhook-key"
    template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "Properties": {
                "Name": name,
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True, "IncludeSpace": False},
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    secret_id = logical_id(template, "AWS::SecretsManager::Secret", Name=name)
    resources = template.to_json()["Resources"]
    for found in function_keys_by_logical_id(template.to_json()):  # its value is in no function's environment
        assert secret_id not in json.dumps(resources[found]["Properties"]["Environment"]), found
    variables = resources[function_logical_id(template, "webhooks")]["Properties"]["Environment"]["Variables"]
    assert variables["LEADFLOW_WEBHOOK_KEY_SECRET"] == name  # its name: read from Secrets Manager at cold start
    queue_id = logical_id(template, "AWS::SQS::Queue", QueueName="leadflow-hooked-webhooks")
    assert variables["WEBHOOKS_QUEUE_URL"] == {"Ref": queue_id}


def test_the_webhooks_role_may_consume_send_to_and_put_off_messages_of_its_queue_and_nothing_else(
    template: Template, definition: StackDefinition
) -> None:
    function = template.to_json()["Resources"][function_logical_id(template, "webhooks")]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    own_log_group = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    names = resource_names(template, definition)
    granted = {
        (action, describe(resource, names, own_log_group))
        for statement in role_statements(template, role_id)
        for action in actions_of(statement)
        for resource in (statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]])
    }
    assert granted == OWN_LOGS_AND_TRACES | {
        (action, "queue webhooks") for action in (*CONSUME, "sqs:SendMessage", "sqs:ChangeMessageVisibility")
    } | {("secretsmanager:GetSecretValue", "secret webhook-key")}


def test_the_webhooks_queue_alarms_only_when_a_message_is_older_than_every_backoff_allows(
    template: Template, definition: StackDefinition
) -> None:
    queue_id = logical_id(template, "AWS::SQS::Queue", QueueName="leadflow-hooked-webhooks")
    [alarm] = [
        a["Properties"]
        for a in resources_of_type(template.to_json(), "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ApproximateAgeOfOldestMessage"
        and a["Properties"]["Dimensions"][0]["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    ]
    assert alarm["Threshold"] == definition.queue("webhooks").longest_wait_s > 45 * 60


def test_a_client_without_webhooks_deploys_no_webhook_rule_queue_key_or_function(synthesized) -> None:
    for stack_name, template in synthesized.templates.items():  # the shipped clients configure none
        text = json.dumps(template)
        assert "-webhooks" not in text, stack_name
        assert "webhook-key" not in text, stack_name
        assert "webhooks" not in set(function_keys_by_logical_id(template).values()), stack_name


# --- `leadflow local` serves it as deployed ---------------------------------------------------


@pytest.fixture(scope="module")
def served(clients_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStack]:
    scratch = tmp_path_factory.mktemp("local")
    options = LocalOptions(
        clients_dir / f"{CLIENT}.toml",
        moto_port=free_port(),
        api_port=free_port(),
        log_dir=scratch / "logs",
        state_dir=scratch / "state",
        workers_per_function=1,
    )
    stack = LocalStack(options)
    stack.start()  # the webhooks function's worker loads its handler: a broken import fails here
    try:
        yield stack.served()
    finally:
        stack.stop()


def test_the_local_stack_serves_the_webhooks_rule_queue_trigger_and_function_as_deployed(
    template_json: dict, served: ServedStack
) -> None:
    deployed = deployed_surface(template_json)
    assert "webhooks" in deployed.functions
    assert set(deployed.functions) == served.functions
    assert set(deployed.queue_names) == served.queues
    assert {(t.queue_name, t.function, t.batch_size) for t in deployed.queue_triggers} == served.queue_triggers
    assert ("leadflow-hooked-webhooks", "webhooks", 5) in served.queue_triggers
    assert {
        (r.rule_name, r.bus_name, r.sources, r.detail_types, r.queue_name) for r in deployed.event_rules
    } == served.event_rules

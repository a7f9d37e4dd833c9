"""What the demo client's template deploys: aws_cdk.assertions on the synthesized stack."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.app import DEFAULT_CLIENTS_DIR
from infra.template_surface import (
    QueueTriggerDeployed,
    Route,
    deployed_surface,
    function_keys_by_logical_id,
    resources_of_type,
)
from leadflow.config import load_client_config
from leadflow.definition import StackDefinition

pytestmark = pytest.mark.infra

DEMO_STACK = "Leads-demo"


def logical_id(template: Template, resource_type: str, **properties: Any) -> str:
    found = template.find_resources(resource_type, {"Properties": properties})
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {sorted(found)}"
    return next(iter(found))


def function_logical_id(template: Template, key: str) -> str:
    by_key = {function_key: found for found, function_key in function_keys_by_logical_id(template.to_json()).items()}
    return by_key[key]


def role_statements(template: Template, function_key: str) -> list[dict[str, Any]]:
    """Every statement the function's role grants, from its inline and attached policies."""
    function = template.to_json()["Resources"][function_logical_id(template, function_key)]
    role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
    role = template.to_json()["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role, "a managed policy grants more than the function's spec"
    statements = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for policy in resources_of_type(template.to_json(), "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_leads_table_is_on_demand_encrypted_and_point_in_time_recoverable(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    demo_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": demo_definition.table("leads").name,
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_leads_table_is_kept_when_the_stack_is_deleted(demo_template: Template) -> None:
    demo_template.has_resource("AWS::DynamoDB::Table", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_leads_table_has_the_definition_indexes_and_expiry_attribute(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    spec = demo_definition.table("leads")
    demo_template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": spec.name,
            "GlobalSecondaryIndexes": [
                Match.object_like(
                    {
                        "IndexName": index.name,
                        "KeySchema": [
                            {"AttributeName": index.partition_key, "KeyType": "HASH"},
                            {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                        ],
                    }
                )
                for index in spec.indexes
            ],
            "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
        },
    )


@pytest.mark.parametrize("queue_key", ["intake", "routing"])
def test_queue_is_fifo_and_dead_letters_to_a_fifo_queue_after_max_receives(
    demo_template: Template, demo_definition: StackDefinition, queue_key: str
) -> None:
    spec = demo_definition.queue(queue_key)
    dead_letter_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=spec.dead_letter_name, FifoQueue=True)
    demo_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": spec.name,
            "FifoQueue": True,
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
                "maxReceiveCount": spec.max_receive_count,
            },
        },
    )


def test_every_queue_is_encrypted_by_sqs(demo_template: Template) -> None:
    demo_template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})


def test_every_function_runs_python_3_13_on_arm64_with_active_tracing(demo_template: Template) -> None:
    demo_template.all_resources_properties(
        "AWS::Lambda::Function",
        {"Runtime": "python3.13", "Architectures": ["arm64"], "TracingConfig": {"Mode": "Active"}},
    )


def test_intake_queue_trigger_reports_batch_item_failures(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    intake_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("intake").name)
    demo_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [intake_id, "Arn"]},
            "FunctionName": {"Ref": function_logical_id(demo_template, "intake")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_every_dead_letter_queue_alarm_fires_on_its_first_message(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    assert {spec.key for spec in demo_definition.queues} >= {"intake", "routing"}
    for spec in demo_definition.queues:
        dead_letter_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=spec.dead_letter_name)
        demo_template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/SQS",
                "MetricName": "ApproximateNumberOfMessagesVisible",
                "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dead_letter_id, "QueueName"]}}],
                "ComparisonOperator": "GreaterThanThreshold",
                "Threshold": 0,
                "AlarmActions": [Match.any_value()],
            },
        )


def test_every_function_has_an_errors_alarm(demo_template: Template, demo_definition: StackDefinition) -> None:
    for spec in demo_definition.functions:
        demo_template.has_resource_properties(
            "AWS::CloudWatch::Alarm",
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Errors",
                "Dimensions": [
                    {"Name": "FunctionName", "Value": {"Ref": function_logical_id(demo_template, spec.key)}}
                ],
                "AlarmActions": [Match.any_value()],
            },
        )


def test_every_log_group_keeps_logs_for_the_days_its_client_configured(synthesized) -> None:
    for stack_name, template in synthesized.templates.items():
        client_file = DEFAULT_CLIENTS_DIR / f"{stack_name.removeprefix('Leads-')}.toml"
        retention_days = load_client_config(client_file).monitoring.log_retention_days
        Template.from_json(template).all_resources_properties(
            "AWS::Logs::LogGroup", {"RetentionInDays": retention_days}
        )


def test_every_function_logs_to_its_own_log_group(demo_template: Template) -> None:
    functions = resources_of_type(demo_template.to_json(), "AWS::Lambda::Function").values()
    log_groups = [function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"] for function in functions]
    assert len(set(log_groups)) == len(log_groups)
    assert set(log_groups) <= set(resources_of_type(demo_template.to_json(), "AWS::Logs::LogGroup"))


def test_capture_role_may_only_send_messages_to_the_intake_queue(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    intake_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("intake").name)
    statements = role_statements(demo_template, "capture")
    own_logs_and_traces = {
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    work = [s for s in statements if not set(actions_of(s)) <= own_logs_and_traces]
    assert work == [{"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [intake_id, "Arn"]}}]
    assert len(statements) == 3  # its own logs, that one send, its traces: nothing on routing or the bus
    assert not [action for s in statements for action in actions_of(s) if action.startswith("dynamodb:")]


def test_intake_role_may_publish_only_on_its_bus_and_send_only_to_the_routing_queue(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    bus_id = logical_id(demo_template, "AWS::Events::EventBus", Name=demo_definition.event_bus("events").name)
    routing_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("routing").name)
    statements = role_statements(demo_template, "intake")

    def granting(prefix: str) -> list[dict[str, Any]]:
        return [s for s in statements if any(action.startswith(prefix) for action in actions_of(s))]

    assert granting("events:") == [
        {"Action": "events:PutEvents", "Effect": "Allow", "Resource": {"Fn::GetAtt": [bus_id, "Arn"]}}
    ]
    assert granting("sqs:SendMessage") == [
        {"Action": "sqs:SendMessage", "Effect": "Allow", "Resource": {"Fn::GetAtt": [routing_id, "Arn"]}}
    ]


def test_intake_finds_its_bus_and_routing_queue_in_its_environment(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    bus_id = logical_id(demo_template, "AWS::Events::EventBus", Name=demo_definition.event_bus("events").name)
    routing_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("routing").name)
    function = demo_template.to_json()["Resources"][function_logical_id(demo_template, "intake")]
    variables = function["Properties"]["Environment"]["Variables"]
    assert variables["EVENT_BUS_NAME"] == {"Ref": bus_id}
    assert variables["ROUTING_QUEUE_URL"] == {"Ref": routing_id}


def test_event_bus_has_its_definition_name_and_archives_its_events_for_30_days(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    bus_id = logical_id(demo_template, "AWS::Events::EventBus", Name=demo_definition.event_bus("events").name)
    archives = resources_of_type(demo_template.to_json(), "AWS::Events::Archive").values()
    assert [archive["Properties"]["SourceArn"] for archive in archives] == [{"Fn::GetAtt": [bus_id, "Arn"]}]
    demo_template.has_resource_properties(
        "AWS::Events::Archive",
        {
            "SourceArn": {"Fn::GetAtt": [bus_id, "Arn"]},
            "EventPattern": {"account": [{"Ref": "AWS::AccountId"}]},  # everything this account puts on it
            "RetentionDays": 30,
            # Not "" (what the CDK construct writes and some regions refuse): an AWS-owned key, as the bus.
            "KmsKeyIdentifier": Match.absent(),
        },
    )


def test_no_function_may_scan_a_table(demo_template: Template, demo_definition: StackDefinition) -> None:
    granted = {
        action
        for spec in demo_definition.functions
        for s in role_statements(demo_template, spec.key)
        for action in actions_of(s)
    }
    assert "dynamodb:GetItem" in granted
    assert not {"dynamodb:Scan", "dynamodb:*"} & granted


def test_api_stage_logs_access_and_errors_without_bodies_traces_and_throttles(
    demo_template: Template,
) -> None:
    demo_template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "TracingEnabled": True,
            "MethodSettings": [
                Match.object_like(
                    {
                        "HttpMethod": "*",
                        "ResourcePath": "/*",
                        "LoggingLevel": "ERROR",
                        "DataTraceEnabled": False,
                        "ThrottlingRateLimit": Match.any_value(),
                        "ThrottlingBurstLimit": Match.any_value(),
                    }
                )
            ],
        },
    )


def test_api_routes_are_the_definition_routes_each_a_lambda_proxy(
    synthesized, demo_definition: StackDefinition
) -> None:
    # OPTIONS /leads included: capture answers CORS preflights, API Gateway adds no CORS of its own.
    expected = {Route(route.method, route.path, route.function) for route in demo_definition.routes}
    assert deployed_surface(synthesized.templates[DEMO_STACK]).routes == expected


def test_template_deploys_exactly_the_definition_functions_triggers_tables_queues_and_event_buses(
    synthesized, demo_definition: StackDefinition
) -> None:
    surface = deployed_surface(synthesized.templates[DEMO_STACK])
    assert surface.functions == {spec.key for spec in demo_definition.functions}
    assert surface.queue_triggers == {
        QueueTriggerDeployed(
            queue_name=demo_definition.queue(trigger.queue).name,
            function=trigger.function,
            batch_size=trigger.batch_size,
            max_batching_window_s=trigger.max_batching_window_s,
        )
        for trigger in demo_definition.queue_triggers
    }
    assert surface.table_names == {spec.name for spec in demo_definition.tables}
    assert surface.queue_names == {
        name for spec in demo_definition.queues for name in (spec.name, spec.dead_letter_name)
    }
    assert surface.event_bus_names == {spec.name for spec in demo_definition.event_buses}


def test_stack_outputs_api_url_table_name_intake_queue_url_and_event_bus_name(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    table_id = logical_id(demo_template, "AWS::DynamoDB::Table", TableName=demo_definition.table("leads").name)
    intake_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("intake").name)
    bus_id = logical_id(demo_template, "AWS::Events::EventBus", Name=demo_definition.event_bus("events").name)
    demo_template.has_output("ApiUrl", {"Value": Match.any_value()})
    demo_template.has_output("TableName", {"Value": {"Ref": table_id}})
    demo_template.has_output("IntakeQueueUrl", {"Value": {"Ref": intake_id}})
    demo_template.has_output("EventBusName", {"Value": {"Ref": bus_id}})


def test_alarm_topic_is_encrypted_with_a_rotated_key_that_cloudwatch_may_use(demo_template: Template) -> None:
    key_id = logical_id(demo_template, "AWS::KMS::Key", EnableKeyRotation=True)
    demo_template.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [key_id, "Arn"]}})
    demo_template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                            }
                        )
                    ]
                )
            }
        },
    )

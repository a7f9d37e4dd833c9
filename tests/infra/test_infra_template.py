"""What the demo client's template deploys: aws_cdk.assertions on the synthesized stack."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.app import DEFAULT_CLIENTS_DIR
from infra.template_surface import (
    EventRuleDeployed,
    QueueTriggerDeployed,
    Route,
    ScheduleDeployed,
    deployed_surface,
    function_keys_by_logical_id,
    resources_of_type,
)
from leadflow.config import load_client_config
from leadflow.definition import StackDefinition
from leadflow.observability import metric_dimensions

pytestmark = pytest.mark.infra

DEMO_STACK = "Leads-demo"


def logical_id(template: Template, resource_type: str, **properties: Any) -> str:
    found = template.find_resources(resource_type, {"Properties": properties})
    assert len(found) == 1, f"expected one {resource_type} with {properties}, found {sorted(found)}"
    return next(iter(found))


def function_logical_id(template: Template, key: str) -> str:
    by_key = {function_key: found for found, function_key in function_keys_by_logical_id(template.to_json()).items()}
    return by_key[key]


def role_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    """Every statement a role grants, from its inline and attached policies."""
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


def test_leads_table_has_the_definition_indexes_and_no_expiry(
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
                        "Projection": {"ProjectionType": index.projection},
                    }
                )
                for index in spec.indexes
            ],
            "TimeToLiveSpecification": Match.absent(),  # nothing expires leads: they are the client's records
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
    expected = {
        Route(
            route.method,
            route.path,
            route.function,
            authorizer=demo_definition.user_pool(route.authorizer).name if route.authorizer else None,
        )
        for route in demo_definition.routes
    }
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
    assert {schedule.rule_name for schedule in surface.schedules} == {spec.name for spec in demo_definition.schedules}


def test_sla_sweep_rule_runs_the_sla_function_every_minute_and_keeps_no_tick_past_the_next(
    synthesized, demo_template: Template, demo_definition: StackDefinition
) -> None:
    assert deployed_surface(synthesized.templates[DEMO_STACK]).schedules == {
        ScheduleDeployed(rule_name="leadflow-demo-sla-sweep", function="sla", schedule_expression="rate(1 minute)"),
        ScheduleDeployed(
            rule_name="leadflow-demo-nurture-sweep", function="nurture_sweep", schedule_expression="rate(5 minutes)"
        ),
    }
    sla_id = function_logical_id(demo_template, "sla")
    rule_id = logical_id(demo_template, "AWS::Events::Rule", Name="leadflow-demo-sla-sweep")
    [target] = demo_template.to_json()["Resources"][rule_id]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [sla_id, "Arn"]}
    assert "Input" not in target  # the function gets EventBridge's own Scheduled Event: its `time` is the tick
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 60, "MaximumRetryAttempts": 2}
    assert "DeadLetterConfig" not in target  # a lost tick holds nothing the next one does not redo
    # Only this rule may invoke the function, and Lambda does not retry a failed tick with a stale time.
    demo_template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [sla_id, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]},
        },
    )
    demo_template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {"FunctionName": {"Ref": sla_id}, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
    )
    assert [s.every_minutes for s in demo_definition.schedules] == [1, 5]  # the SLA sweep, the nurture sweep


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
    key_id = logical_id(demo_template, "AWS::KMS::Key", Description="Encrypts leadflow's alarm notifications")
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


# --- every role: exactly the calls its function's code makes ---------------------------------

OWN_LOGS_AND_TRACES = {
    ("logs:CreateLogStream", "own log group"),
    ("logs:PutLogEvents", "own log group"),
    ("xray:PutTraceSegments", "*"),  # X-Ray takes no resource: the one wildcard, acknowledged
    ("xray:PutTelemetryRecords", "*"),
}
APPLY_CHANGES = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")
# A function that mails leads: SES from the stack's sender through its set, links signed with the link key.
SENDS_EMAIL = {
    (action, resource)
    for action in ("ses:SendEmail", "ses:SendRawEmail")
    for resource in ("identity email", "configuration set email")
} | {("secretsmanager:GetSecretValue", "secret link-key")}
# Nurture's steps go out through SES v2's SendBulkEmail, authorized as these two, on the sender and the set.
SENDS_BULK_EMAIL = {
    (action, resource)
    for action in ("ses:SendBulkEmail", "ses:SendBulkTemplatedEmail")
    for resource in ("identity email", "configuration set email")
} | {("secretsmanager:GetSecretValue", "secret link-key")}
EXPECTED_PERMISSIONS: dict[str, set[tuple[str, str]]] = {
    "capture": OWN_LOGS_AND_TRACES | {("sqs:SendMessage", "queue intake")},
    "intake": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {(action, "queue intake") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}
    | {("sqs:SendMessage", "queue routing"), ("sqs:SendMessage", "queue nurture"), ("events:PutEvents", "bus events")},
    "route": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in (*APPLY_CHANGES, "dynamodb:Query")}
    | {(action, "queue routing") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}
    | {("events:PutEvents", "bus events")},
    "sla": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in (*APPLY_CHANGES, "dynamodb:Query")}
    # the due index (and the other): Query on each index by its ARN, not the table, no wildcard
    | {("dynamodb:Query", "table leads index by_created"), ("dynamodb:Query", "table leads index by_due")}
    | {("events:PutEvents", "bus events")},
    # SES v2's SendEmail with Raw content is authorized as ses:SendRawEmail, on the sender and the set.
    "notify": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {(action, "queue notify") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}
    | {
        (action, resource)
        for action in ("ses:SendEmail", "ses:SendRawEmail")
        for resource in ("identity email", "configuration set email")
    }
    | {("secretsmanager:GetSecretValue", "secret link-key")},
    "respond": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {("events:PutEvents", "bus events"), ("secretsmanager:GetSecretValue", "secret link-key")},
    "follow_up": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in (*APPLY_CHANGES, "dynamodb:Query")}
    | {("sqs:SendMessage", "queue routing"), ("events:PutEvents", "bus events")},
    "script": OWN_LOGS_AND_TRACES,
    "nurture_sweep": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {("dynamodb:Query", "table leads index by_created"), ("dynamodb:Query", "table leads index by_due")}
    | {("events:PutEvents", "bus events"), ("sqs:SendMessage", "queue nurture")}
    | SENDS_BULK_EMAIL,
    "nurture_send": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {(action, "queue nurture") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}
    | {("events:PutEvents", "bus events")}
    | SENDS_BULK_EMAIL
    | SENDS_EMAIL,  # and each acknowledgement alone
    "email_links": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {("events:PutEvents", "bus events"), ("sqs:SendMessage", "queue intake")}
    | {("secretsmanager:GetSecretValue", "secret link-key")},
    "ses_events": OWN_LOGS_AND_TRACES
    | {(action, "table leads") for action in APPLY_CHANGES}
    | {(action, "queue ses-events") for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")}
    | {("events:PutEvents", "bus events"), ("secretsmanager:GetSecretValue", "secret link-key")},  # a mailed token
    # The weekly report: reads the report's items (Query), writes a recipient's marker (PutItem, on marker keys
    # only: see the test of its condition), sends the email, and writes its CSV under weekly/ of the bucket.
    "report_weekly": OWN_LOGS_AND_TRACES
    | {("dynamodb:Query", "table leads"), ("dynamodb:PutItem", "table leads")}
    | {(action, resource) for action, resource in SENDS_EMAIL if not resource.startswith("secret")}  # no links
    | {("s3:PutObject", "bucket reports weekly *")},
}


def resource_names(template: Template, definition: StackDefinition) -> dict[str, str]:
    """The logical id of each table, queue and bus, as the expected permissions name them."""
    names = {
        logical_id(template, "AWS::DynamoDB::Table", TableName=t.name): f"table {t.key}" for t in definition.tables
    }
    for queue in definition.queues:
        names[logical_id(template, "AWS::SQS::Queue", QueueName=queue.name)] = f"queue {queue.key}"
        names[logical_id(template, "AWS::SQS::Queue", QueueName=queue.dead_letter_name)] = f"dead letters {queue.key}"
    for bus in definition.event_buses:
        names[logical_id(template, "AWS::Events::EventBus", Name=bus.name)] = f"bus {bus.key}"
    for email in definition.emails:
        identity = logical_id(template, "AWS::SES::EmailIdentity", EmailIdentity=email.from_address)
        names[identity] = f"identity {email.key}"
        configuration_set = logical_id(template, "AWS::SES::ConfigurationSet", Name=email.configuration_set)
        names[configuration_set] = f"configuration set {email.key}"
    for secret in definition.secrets:
        names[logical_id(template, "AWS::SecretsManager::Secret", Name=secret.name)] = f"secret {secret.key}"
    [bucket] = definition.buckets  # CloudFormation names it: found by its construct's path
    names[next(i for i in resources_of_type(template.to_json(), "AWS::S3::Bucket") if bucket.key in i)] = (
        f"bucket {bucket.key}"
    )
    return names


def describe(resource: Any, names: dict[str, str], own_log_group: str) -> str:
    if resource == "*":
        return "*"
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        target = resource["Fn::GetAtt"][0]
        return "own log group" if target == own_log_group else names.get(target, f"other {target}")
    if isinstance(resource, dict) and "Ref" in resource:  # a secret's Ref is its ARN
        return names.get(resource["Ref"], f"other {resource['Ref']}")
    if isinstance(resource, dict) and "Fn::Join" in resource and len(resource["Fn::Join"][1]) == 2:
        base, suffix = resource["Fn::Join"][1]
        return f"{describe(base, names, own_log_group)} {suffix.strip('/').replace('/', ' ')}"
    if isinstance(resource, dict) and "Fn::Join" in resource:
        return describe_arn(resource["Fn::Join"][1], names)
    return f"other {resource}"


def describe_arn(parts: list[Any], names: dict[str, str]) -> str:
    """An ARN of parts, `arn:<partition>:ses:<region>:<account>:identity/<Ref>`, by the resource it names."""
    this_account = ["arn:", {"Ref": "AWS::Partition"}, ":ses:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    if len(parts) == 8 and parts[:6] == this_account and isinstance(parts[7], dict) and "Ref" in parts[7]:
        kind = parts[6].strip(":/").replace("-", " ")  # "identity", "configuration set"
        name = names.get(parts[7]["Ref"], "")
        if name.startswith(f"{kind} "):  # the ARN's type is the referenced resource's
            return name
    return f"other {parts}"


def test_every_role_allows_exactly_the_calls_its_function_makes(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    resources = demo_template.to_json()["Resources"]
    names = resource_names(demo_template, demo_definition)
    functions = resources_of_type(demo_template.to_json(), "AWS::Lambda::Function")
    role_of = {
        key: functions[function_id]["Properties"]["Role"]["Fn::GetAtt"][0]
        for function_id, key in function_keys_by_logical_id(demo_template.to_json()).items()
    }
    # Every role in the template is a function's role (no account-level or helper roles), one per function, or the
    # role EventBridge Scheduler invokes the weekly report with.
    roles = set(resources_of_type(demo_template.to_json(), "AWS::IAM::Role"))
    assert roles - set(role_of.values()) == {scheduler_role_id(demo_template)}
    assert len(set(role_of.values())) == len(role_of)
    assert set(EXPECTED_PERMISSIONS) == {spec.key for spec in demo_definition.functions}
    for key, role_id in role_of.items():
        own_log_group = resources[function_logical_id(demo_template, key)]["Properties"]["LoggingConfig"]["LogGroup"]
        statements = role_statements(demo_template, role_id)
        assert {statement["Effect"] for statement in statements} == {"Allow"}
        granted = {
            (action, describe(resource, names, own_log_group["Ref"]))
            for statement in statements
            for action in actions_of(statement)
            for resource in (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
        }
        assert granted == EXPECTED_PERMISSIONS[key], key


def test_the_weekly_report_may_write_only_its_own_markers_in_the_leads_table(demo_template: Template) -> None:
    functions = resources_of_type(demo_template.to_json(), "AWS::Lambda::Function")
    role_id = functions[function_logical_id(demo_template, "report_weekly")]["Properties"]["Role"]["Fn::GetAtt"][0]
    [put] = [s for s in role_statements(demo_template, role_id) if "dynamodb:PutItem" in actions_of(s)]
    assert actions_of(put) == ["dynamodb:PutItem"]
    assert put["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["MARKER#weekly-report#*"]}}


def scheduler_role_id(template: Template) -> str:
    [schedule] = resources_of_type(template.to_json(), "AWS::Scheduler::Schedule").values()
    return str(schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0])


WEEKLY_RETRY_POLICY = {"MaximumEventAgeInSeconds": 6 * 3600, "MaximumRetryAttempts": 10}  # Scheduler's, 6 hours


def test_eventbridge_scheduler_may_invoke_the_weekly_report_function_and_nothing_else(demo_template: Template) -> None:
    role = demo_template.to_json()["Resources"][scheduler_role_id(demo_template)]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [statement] = role_statements(demo_template, scheduler_role_id(demo_template))
    weekly = function_logical_id(demo_template, "report_weekly")
    assert (statement["Action"], statement["Resource"]) == ("lambda:InvokeFunction", {"Fn::GetAtt": [weekly, "Arn"]})


def test_the_weekly_report_runs_on_the_client_files_cron_in_its_time_zone_with_retries(
    demo_template: Template,
) -> None:
    [schedule] = resources_of_type(demo_template.to_json(), "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]
    assert (properties["ScheduleExpression"], properties["ScheduleExpressionTimezone"]) == (
        "cron(0 8 ? * MON *)", "Europe/Berlin",
    )  # fmt: skip
    assert properties["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert properties["Target"]["RetryPolicy"] == WEEKLY_RETRY_POLICY
    assert json.loads(properties["Target"]["Input"])["scheduled_time"] == "<aws.scheduler.scheduled-time>"


def test_the_reports_bucket_is_private_encrypted_tls_only_and_expires_each_csv(demo_template: Template) -> None:
    [bucket] = resources_of_type(demo_template.to_json(), "AWS::S3::Bucket").values()
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    [encryption] = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    [rule] = properties["LifecycleConfiguration"]["Rules"]
    assert (rule["ExpirationInDays"], rule["Status"]) == (180, "Enabled")  # the demo's [report] keep_days
    [policy] = resources_of_type(demo_template.to_json(), "AWS::S3::BucketPolicy").values()
    [deny] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


# --- alarms: what loses or delays a lead, each on this deployment's own figures ---------------


def alarms(template: Template) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in resources_of_type(template.to_json(), "AWS::CloudWatch::Alarm").values()]


def dimensions_of(alarm: dict[str, Any]) -> dict[str, Any]:
    return {dimension["Name"]: dimension["Value"] for dimension in alarm.get("Dimensions", [])}


def test_every_alarm_notifies_the_alarm_topic_and_a_quiet_metric_is_no_alarm(demo_template: Template) -> None:
    topic_id = logical_id(demo_template, "AWS::SNS::Topic", DisplayName="leadflow alarms")
    for alarm in alarms(demo_template):
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], alarm["AlarmDescription"]
        assert alarm["TreatMissingData"] == "notBreaching"


def test_api_5xx_answers_raise_an_alarm_on_this_deployments_api_stage(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    stage_id = next(iter(resources_of_type(demo_template.to_json(), "AWS::ApiGateway::Stage")))
    [alarm] = [a for a in alarms(demo_template) if a.get("MetricName") == "5XXError"]
    assert alarm["Namespace"] == "AWS/ApiGateway"
    assert dimensions_of(alarm) == {"ApiName": f"{demo_definition.name_prefix}-api", "Stage": {"Ref": stage_id}}
    assert (alarm["Statistic"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        "Sum",
        1,
        "GreaterThanOrEqualToThreshold",
    )
    demo_template.has_resource_properties("AWS::ApiGateway::RestApi", {"Name": f"{demo_definition.name_prefix}-api"})


def test_capture_unavailable_alarm_reads_the_metric_capture_emits_with_exactly_its_dimensions(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    environment = demo_definition.function("capture").environment
    [alarm] = [a for a in alarms(demo_template) if a.get("MetricName") == "CaptureUnavailable"]
    assert alarm["Namespace"] == environment["POWERTOOLS_METRICS_NAMESPACE"] == "leadflow"
    # What leadflow.observability puts on every metric of a function with this environment
    # (tests/integration/test_capture_metrics.py checks what the handler prints).
    assert dimensions_of(alarm) == metric_dimensions({k: v for k, v in environment.items() if isinstance(v, str)})
    assert dimensions_of(alarm) == {"client": "demo", "stage": "prod", "service": "leadflow"}
    assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 1)


def test_every_work_queue_alarms_when_its_oldest_message_waits_too_long(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    consumed = {trigger.queue for trigger in demo_definition.queue_triggers}
    age_alarms = {
        dimensions_of(a)["QueueName"]["Fn::GetAtt"][0]: a
        for a in alarms(demo_template)
        if a.get("MetricName") == "ApproximateAgeOfOldestMessage"
    }
    assert len(age_alarms) == len(demo_definition.queues)
    for spec in demo_definition.queues:
        alarm = age_alarms[logical_id(demo_template, "AWS::SQS::Queue", QueueName=spec.name)]
        assert (alarm["Namespace"], alarm["Statistic"]) == ("AWS/SQS", "Maximum")
        assert spec.key in consumed  # every work queue has its consumer
        # behind or stopped: older than every retry of a message could make it
        assert alarm["Threshold"] == spec.visibility_timeout_s * spec.max_receive_count == 900


def test_every_function_alarms_when_lambda_throttles_it(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    throttled = {
        dimensions_of(a)["FunctionName"]["Ref"] for a in alarms(demo_template) if a.get("MetricName") == "Throttles"
    }
    assert throttled == {function_logical_id(demo_template, spec.key) for spec in demo_definition.functions}


def test_api_gateway_429s_are_counted_from_the_access_log_per_deployment_and_alarmed(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    access_logs = json.loads(
        next(iter(resources_of_type(demo_template.to_json(), "AWS::ApiGateway::Stage").values()))["Properties"][
            "AccessLogSetting"
        ]["Format"]
    )
    assert access_logs["responseType"] == "$context.error.responseType"
    assert (access_logs["client"], access_logs["stage"]) == ("demo", "prod")
    [metric_filter] = resources_of_type(demo_template.to_json(), "AWS::Logs::MetricFilter").values()
    assert metric_filter["Properties"]["FilterPattern"] == '{ $.responseType = "THROTTLED" }'
    [transformation] = metric_filter["Properties"]["MetricTransformations"]
    assert transformation["Dimensions"] == [
        {"Key": "client", "Value": "$.client"},
        {"Key": "stage", "Value": "$.stage"},
    ]
    [alarm] = [a for a in alarms(demo_template) if a.get("MetricName") == transformation["MetricName"]]
    assert alarm["Namespace"] == transformation["MetricNamespace"]
    assert dimensions_of(alarm) == {"client": demo_definition.client, "stage": demo_definition.stage}


# --- the API: nothing account-wide, CORS on its own errors, compression, per-caller limit -----


def test_stack_owns_no_account_level_api_gateway_setting(synthesized) -> None:
    for template in synthesized.templates.values():
        assert resources_of_type(template, "AWS::ApiGateway::Account") == {}
        for role in resources_of_type(template, "AWS::IAM::Role").values():
            assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] in (
                {"Service": "lambda.amazonaws.com"},
                {"Service": "scheduler.amazonaws.com"},  # the weekly report's schedule
            )


def test_api_gateway_error_answers_carry_cors_headers_and_expose_retry_after(demo_template: Template) -> None:
    responses = {
        response["Properties"]["ResponseType"]: response["Properties"]["ResponseParameters"]
        for response in resources_of_type(demo_template.to_json(), "AWS::ApiGateway::GatewayResponse").values()
    }
    assert set(responses) >= {"DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"}
    for headers in responses.values():
        assert headers["gatewayresponse.header.Access-Control-Allow-Origin"] == "'*'"
        assert headers["gatewayresponse.header.Access-Control-Expose-Headers"] == "'Retry-After'"
    assert responses["THROTTLED"]["gatewayresponse.header.Retry-After"] == "'1'"


def test_api_compresses_answers_of_1_kb_and_more(demo_template: Template) -> None:
    demo_template.has_resource_properties("AWS::ApiGateway::RestApi", {"MinimumCompressionSize": 1024})


def test_waf_rate_limit_guards_the_stage_only_when_the_client_file_switches_it_on(synthesized) -> None:
    for stack_name, template in synthesized.templates.items():
        config = load_client_config(DEFAULT_CLIENTS_DIR / f"{stack_name.removeprefix('Leads-')}.toml")
        limit = config.protection.rate_limit_per_5_minutes
        web_acls = list(resources_of_type(template, "AWS::WAFv2::WebACL").values())
        associations = list(resources_of_type(template, "AWS::WAFv2::WebACLAssociation").values())
        if not limit:
            assert web_acls == associations == [], stack_name
            continue
        [web_acl], [association] = web_acls, associations
        [rule] = web_acl["Properties"]["Rules"]
        assert rule["Action"] == {"Block": {}}
        assert rule["Statement"]["RateBasedStatement"] == {
            "AggregateKeyType": "IP",
            "EvaluationWindowSec": 300,
            "Limit": limit,
        }
        assert web_acl["Properties"]["Scope"] == "REGIONAL"
        [web_acl_id] = resources_of_type(template, "AWS::WAFv2::WebACL")
        [stage_id] = resources_of_type(template, "AWS::ApiGateway::Stage")
        assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [web_acl_id, "Arn"]}
        assert {"Ref": stage_id} in association["Properties"]["ResourceArn"]["Fn::Join"][1]


def test_every_queue_the_table_the_secrets_and_the_user_pool_with_its_groups_are_kept_when_the_stack_is_deleted(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    kept = {
        logical_id: resource["Type"]
        for logical_id, resource in demo_template.to_json()["Resources"].items()
        if resource.get("DeletionPolicy") == "Retain"
    }
    assert sorted(kept.values()) == sorted(
        ["AWS::DynamoDB::Table"] * len(demo_definition.tables)
        + ["AWS::SQS::Queue"] * 2 * len(demo_definition.queues)
        + ["AWS::SecretsManager::Secret"] * len(demo_definition.secrets)
        + ["AWS::Cognito::UserPool"] * len(demo_definition.user_pools)
        + ["AWS::Cognito::UserPoolGroup"] * sum(len(pool.groups) for pool in demo_definition.user_pools)
        + ["AWS::S3::Bucket"] * len(demo_definition.buckets)  # the weekly CSVs; a new deploy makes a new one
    )
    demo_template.all_resources("AWS::SQS::Queue", {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})


def test_only_capture_gets_the_lead_id_key_resolved_from_the_stack_secret_at_deploy(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    secret_id = logical_id(
        demo_template, "AWS::SecretsManager::Secret", Name=demo_definition.secret("lead-id-key").name
    )
    holders = {}
    for found_id, key in function_keys_by_logical_id(demo_template.to_json()).items():
        variables = demo_template.to_json()["Resources"][found_id]["Properties"]["Environment"]["Variables"]
        if "LEADFLOW_LEAD_ID_KEY" in variables:
            holders[key] = json.dumps(variables["LEADFLOW_LEAD_ID_KEY"])
    assert list(holders) == ["capture"]
    assert "{{resolve:secretsmanager:" in holders["capture"]
    assert secret_id in holders["capture"]
    policies = json.dumps(resources_of_type(demo_template.to_json(), "AWS::IAM::Policy"))
    assert secret_id not in policies  # CloudFormation resolves it at deploy: no role reads it


def test_the_lead_id_key_is_generated_with_settings_that_never_change(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    # Changing GenerateSecretString makes CloudFormation generate a new key on the next update.
    demo_template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "Name": demo_definition.secret("lead-id-key").name,
            "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True, "IncludeSpace": False},
        },
    )


# --- owners' notices: the event rule, the notify queue, SES, the one-tap link page -------------


def test_notify_queue_is_a_standard_queue_dead_lettering_to_a_standard_queue_after_max_receives(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    spec = demo_definition.queue("notify")
    assert not spec.fifo
    dead_letter_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=spec.dead_letter_name)
    queue_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=spec.name)
    demo_template.has_resource_properties(
        "AWS::SQS::Queue",
        {
            "QueueName": spec.name,
            "FifoQueue": Match.absent(),
            "VisibilityTimeout": spec.visibility_timeout_s,
            "RedrivePolicy": {
                "deadLetterTargetArn": {"Fn::GetAtt": [dead_letter_id, "Arn"]},
                "maxReceiveCount": spec.max_receive_count,
            },
        },
    )
    demo_template.has_resource_properties(
        "AWS::SQS::Queue", {"QueueName": spec.dead_letter_name, "FifoQueue": Match.absent()}
    )
    demo_template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "FunctionName": {"Ref": function_logical_id(demo_template, "notify")},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],  # a standard queue: failed records only
        },
    )


def test_the_email_sender_is_an_ses_identity_sending_through_the_stacks_configuration_set(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    email = demo_definition.email("email")
    assert email.configuration_set == demo_definition.name_prefix == "leadflow-demo"
    configuration_set_id = logical_id(demo_template, "AWS::SES::ConfigurationSet", Name=email.configuration_set)
    demo_template.has_resource_properties(
        "AWS::SES::EmailIdentity",
        {
            "EmailIdentity": email.from_address,
            "ConfigurationSetAttributes": {"ConfigurationSetName": {"Ref": configuration_set_id}},
        },
    )
    assert len(resources_of_type(demo_template.to_json(), "AWS::SES::EmailIdentity")) == 1


def test_the_configuration_set_sends_bounces_and_complaints_to_the_default_bus_where_a_rule_takes_its_own(
    synthesized, demo_template: Template, demo_definition: StackDefinition
) -> None:
    configuration_set_id = logical_id(demo_template, "AWS::SES::ConfigurationSet", Name="leadflow-demo")
    [destination] = resources_of_type(demo_template.to_json(), "AWS::SES::ConfigurationSetEventDestination").values()
    properties = destination["Properties"]
    assert properties["ConfigurationSetName"] == {"Ref": configuration_set_id}
    assert sorted(properties["EventDestination"]["MatchingEventTypes"]) == ["bounce", "complaint"]
    assert ":event-bus/default" in json.dumps(properties["EventDestination"]["EventBridgeDestination"])
    rule_id = logical_id(demo_template, "AWS::Events::Rule", Name="leadflow-demo-ses-events")
    rule = demo_template.to_json()["Resources"][rule_id]["Properties"]
    assert rule["EventBusName"] == "default"  # the account's own bus
    assert rule["EventPattern"] == {
        "source": ["aws.ses"],
        "detail-type": ["Email Bounced", "Email Complaint Received"],
        "detail": {"mail": {"tags": {"ses:configuration-set": ["leadflow-demo"]}}},
    }
    queue_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("ses-events").name)
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_mail_to_the_unsubscribe_address_is_published_by_a_receipt_rule_to_an_encrypted_topic_feeding_the_queue(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    resources = demo_template.to_json()["Resources"]
    [rule] = resources_of_type(demo_template.to_json(), "AWS::SES::ReceiptRule").values()
    properties = rule["Properties"]
    assert properties["RuleSetName"] == "leadflow"  # the account's active rule set, made once outside the stack
    assert (properties["Rule"]["Recipients"], properties["Rule"]["Enabled"], properties["Rule"]["ScanEnabled"]) == (
        ["unsubscribe-demo@unsubscribe.demo.example"], True, True
    )  # fmt: skip
    [action] = properties["Rule"]["Actions"]
    topic_id = logical_id(demo_template, "AWS::SNS::Topic", TopicName="leadflow-demo-unsubscribe-mail")
    assert action == {"SNSAction": {"TopicArn": {"Ref": topic_id}, "Encoding": "UTF-8"}}
    key_id = resources[topic_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    assert resources[key_id]["Properties"]["EnableKeyRotation"] is True
    queue_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("ses-events").name)
    demo_template.has_resource_properties(
        "AWS::SNS::Subscription",
        {"Protocol": "sqs", "TopicArn": {"Ref": topic_id}, "Endpoint": {"Fn::GetAtt": [queue_id, "Arn"]}},
    )


def test_only_ses_for_the_stacks_own_rule_may_publish_to_the_topic_and_use_its_key(demo_template: Template) -> None:
    resources = demo_template.to_json()["Resources"]
    topic_id = logical_id(demo_template, "AWS::SNS::Topic", TopicName="leadflow-demo-unsubscribe-mail")
    [policy_id] = [i for i, r in resources_of_type(demo_template.to_json(), "AWS::SNS::TopicPolicy").items()
                   if r["Properties"]["Topics"] == [{"Ref": topic_id}]]  # fmt: skip
    [publish] = [s for s in resources[policy_id]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    key_id = resources[topic_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
    [use_key] = [s for s in resources[key_id]["Properties"]["KeyPolicy"]["Statement"]
                 if s["Principal"] == {"Service": "ses.amazonaws.com"}]  # fmt: skip
    for statement in (publish, use_key):
        assert statement["Principal"] == {"Service": "ses.amazonaws.com"}
        conditions = statement["Condition"]["StringEquals"]
        assert conditions["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert ":receipt-rule-set/leadflow:receipt-rule/leadflow-demo" in json.dumps(conditions["aws:SourceArn"])
    [rule_id] = resources_of_type(demo_template.to_json(), "AWS::SES::ReceiptRule")
    assert policy_id in resources[rule_id]["DependsOn"]  # SES checks it may publish when the rule is made


def test_a_client_without_an_unsubscribe_domain_gets_no_receipt_rule_and_no_mailto(synthesized) -> None:
    template = synthesized.templates["Leads-acme-eu"]  # no sequences, no unsubscribe_mail_domain
    assert not resources_of_type(template, "AWS::SES::ReceiptRule")
    subscriptions = resources_of_type(template, "AWS::SNS::Subscription").values()
    assert [s["Properties"]["Protocol"] for s in subscriptions] == ["email"]  # the alarm email's alone
    functions = resources_of_type(template, "AWS::Lambda::Function").values()
    environments = [f["Properties"]["Environment"]["Variables"] for f in functions if "Environment" in f["Properties"]]
    assert len(environments) == len(functions)
    assert not [variables for variables in environments if "LEADFLOW_UNSUBSCRIBE_MAILBOX" in variables]


def test_bounce_and_complaint_rates_are_alarmed_at_the_rates_ses_reviews_an_account(demo_template: Template) -> None:
    alarms = resources_of_type(demo_template.to_json(), "AWS::CloudWatch::Alarm").values()
    by_threshold = {a["Properties"]["Threshold"]: a["Properties"] for a in alarms if "Metrics" in a["Properties"]}
    assert {5.0, 0.1} <= set(by_threshold)
    sent = {"NurtureSent", "AcknowledgementSent"}
    for threshold, counted, rate in (
        (5.0, {"all": "EmailBounced", "soft": "EmailBouncedTransient"}, "100 * (all - soft)"),  # hard bounces only
        (0.1, {"events": "EmailComplained"}, "100 * events"),
    ):
        queries = by_threshold[threshold]["Metrics"]
        named = {q["Id"]: q["MetricStat"]["Metric"]["MetricName"] for q in queries if "MetricStat" in q}
        assert {name: named[name] for name in counted} == counted
        assert set(named.values()) == set(counted.values()) | sent
        [expression] = [q["Expression"] for q in queries if "Expression" in q]
        assert rate in expression


def test_notify_rule_copies_the_stacks_own_owner_events_from_its_bus_to_the_notify_queue(
    synthesized, demo_template: Template, demo_definition: StackDefinition
) -> None:
    spec = next(rule for rule in demo_definition.event_rules if rule.key == "notify")
    assert deployed_surface(synthesized.templates[DEMO_STACK]).event_rules >= {
        EventRuleDeployed(
            rule_name="leadflow-demo-notify",
            bus_name=demo_definition.event_bus(spec.bus).name,
            sources=("leadflow.demo",),
            detail_types=tuple(sorted(spec.detail_types)),
            queue_name=demo_definition.queue(spec.queue).name,
        )
    }
    assert set(spec.detail_types) == {"LeadAssigned", "LeadReassigned", "LeadSlaReminder", "LeadEscalated"}
    rule_id = logical_id(demo_template, "AWS::Events::Rule", Name="leadflow-demo-notify")
    bus_id = logical_id(demo_template, "AWS::Events::EventBus", Name=demo_definition.event_bus("events").name)
    queue_id = logical_id(demo_template, "AWS::SQS::Queue", QueueName=demo_definition.queue("notify").name)
    rule = demo_template.to_json()["Resources"][rule_id]["Properties"]
    assert rule["EventBusName"] == {"Ref": bus_id}
    assert rule["EventPattern"] == {"source": ["leadflow.demo"], "detail-type": list(spec.detail_types)}
    [target] = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert "Input" not in target  # the whole event: its id marks the notice
    assert "InputTransformer" not in target
    # The queue lets EventBridge send to it for this rule only.
    [policy] = [
        p["Properties"]
        for p in resources_of_type(demo_template.to_json(), "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": queue_id}]
    ]
    [allowed] = [st for st in policy["PolicyDocument"]["Statement"] if st["Effect"] == "Allow"]
    assert allowed["Principal"] == {"Service": "events.amazonaws.com"}
    assert "sqs:SendMessage" in actions_of(allowed)
    assert allowed["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}


def test_notify_finds_the_api_stage_url_its_configuration_set_and_the_link_keys_name_in_its_environment(
    demo_template: Template, demo_definition: StackDefinition
) -> None:
    [rest_api_id] = resources_of_type(demo_template.to_json(), "AWS::ApiGateway::RestApi")
    [stage_id] = resources_of_type(demo_template.to_json(), "AWS::ApiGateway::Stage")
    configuration_set_id = logical_id(demo_template, "AWS::SES::ConfigurationSet", Name="leadflow-demo")
    link_key_id = logical_id(demo_template, "AWS::SecretsManager::Secret", Name=demo_definition.secret("link-key").name)
    function = demo_template.to_json()["Resources"][function_logical_id(demo_template, "notify")]
    variables = function["Properties"]["Environment"]["Variables"]
    url = variables["PUBLIC_API_URL"]["Fn::Join"][1]  # the stage's URL, as API Gateway gives it: a trailing slash
    assert (url[0], url[-1]) == ("https://", "/")
    assert {"Ref": rest_api_id} in url
    assert {"Ref": stage_id} in url
    assert variables["EMAIL_CONFIGURATION_SET"] == {"Ref": configuration_set_id}
    assert variables["LEADFLOW_LINK_KEY_SECRET"] == demo_definition.secret("link-key").name
    # The link key's value is in no function's environment (anyone who may describe a function could read it):
    # only the two functions that sign and check links may read the secret (see EXPECTED_PERMISSIONS).
    resources = demo_template.to_json()["Resources"]
    for found_id in function_keys_by_logical_id(demo_template.to_json()):
        assert link_key_id not in json.dumps(resources[found_id]["Properties"]["Environment"]), found_id


def test_the_link_page_is_a_path_parameter_resource_whose_get_and_post_proxy_to_respond(
    demo_template: Template,
) -> None:
    resources = resources_of_type(demo_template.to_json(), "AWS::ApiGateway::Resource")
    [r_id] = [found for found, r in resources.items() if r["Properties"]["PathPart"] == "r"]
    [token_id] = [
        found
        for found, r in resources.items()
        if r["Properties"]["PathPart"] == "{token}" and r["Properties"]["ParentId"] == {"Ref": r_id}
    ]
    assert resources[token_id]["Properties"]["ParentId"] == {"Ref": r_id}
    methods = {
        m["Properties"]["HttpMethod"]: m["Properties"]
        for m in resources_of_type(demo_template.to_json(), "AWS::ApiGateway::Method").values()
        if m["Properties"]["ResourceId"] == {"Ref": token_id}
    }
    assert set(methods) == {"GET", "POST"}
    respond_id = function_logical_id(demo_template, "respond")
    for method in methods.values():
        assert method["AuthorizationType"] == "NONE"  # the signed token is the authorization (acknowledged)
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert {"Fn::GetAtt": [respond_id, "Arn"]} in method["Integration"]["Uri"]["Fn::Join"][1]


@pytest.mark.parametrize("secret_key", ["lead-id-key", "link-key"])
def test_every_secret_is_generated_with_settings_that_never_change_and_kept(
    demo_template: Template, demo_definition: StackDefinition, secret_key: str
) -> None:
    demo_template.has_resource(
        "AWS::SecretsManager::Secret",
        {
            "Properties": {
                "Name": demo_definition.secret(secret_key).name,
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True, "IncludeSpace": False},
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )


def test_template_deploys_exactly_the_definition_event_rules(synthesized, demo_definition: StackDefinition) -> None:
    assert {(r.rule_name, r.queue_name) for r in deployed_surface(synthesized.templates[DEMO_STACK]).event_rules} == {
        (f"{demo_definition.name_prefix}-{spec.key}", demo_definition.queue(spec.queue).name)
        for spec in demo_definition.event_rules
    }


def test_every_write_a_lead_change_can_make_is_in_the_apply_changes_grant() -> None:
    from infra.constructs.functions import TABLE_ACTIONS
    from leadflow.aws.leads_table import change_transaction
    from leadflow.lead.change import CounterDelta, LeadChange, LedgerEntry, OutboxItem, RepRelease, StoredLead

    owned = {"lead_id": "ld_" + "a" * 24, "stage": "opportunity", "team": "sales", "owner": "ann",
             "created_at": "2026-11-23T10:00:00.000+00:00", "account_domain": "acme.example"}  # fmt: skip
    won = {**owned, "stage": "won", "sla_next_at": "2026-11-24T10:00:00.000+00:00"}
    change = LeadChange(won, marker="m1")  # type: ignore[arg-type]
    change.timeline.append({"type": "stage_changed", "at": "2026-11-23T10:00:00.000+00:00"})
    change.counters.append(CounterDelta("won", "2026-11-23"))
    change.ledger += [RepRelease("ann"), LedgerEntry("ben", 1, "sales", 1.0, 1, "2026-11-23T10:00:00.000+00:00")]
    read = StoredLead(owned, 3, ())  # type: ignore[arg-type]
    items = change_transaction("leads", change, read, [OutboxItem("event", {})]).items
    kinds = {kind for item in items for kind in item}
    assert "Delete" in kinds  # the work link of a lead that closes
    iam_action = {"Put": "dynamodb:PutItem", "Update": "dynamodb:UpdateItem", "Delete": "dynamodb:DeleteItem",
                  "ConditionCheck": "dynamodb:ConditionCheckItem"}  # fmt: skip
    assert {iam_action[kind] for kind in kinds} <= set(TABLE_ACTIONS["apply_changes"])


def test_the_nurture_senders_get_a_whole_vcpu_as_lambda_gives_one_at_1769_mb(demo_template: Template) -> None:
    functions = demo_template.to_json()["Resources"]
    for key in ("nurture_sweep", "nurture_send"):
        assert functions[function_logical_id(demo_template, key)]["Properties"]["MemorySize"] == 1769, key
    assert functions[function_logical_id(demo_template, "capture")]["Properties"]["MemorySize"] == 512  # the rest stay

"""What a synthesized client template deploys, in the definition's own terms.

Reads a CloudFormation template (a dict, as `infra.app.synthesize` returns it) and answers
which functions, routes (with their path parameters, `/r/{token}`, and the user pool whose ID
token each needs), queue triggers, schedules, event rules, tables, queues, event buses and user
pools (with their app clients and groups) it holds, so that a test can compare it with the
StackDefinition, or with what `leadflow local` serves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.constructs.functions import FUNCTION_KEY_TAG

Template = Mapping[str, Any]  # a CloudFormation template, read only


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    # The name of the user pool whose ID token API Gateway's Cognito authorizer asks for; None: a public route.
    authorizer: str | None = None


@dataclass(frozen=True)
class UserPoolDeployed:
    name: str
    client_names: tuple[str, ...]  # sorted: its app clients
    groups: tuple[str, ...]  # sorted


@dataclass(frozen=True)
class QueueTriggerDeployed:
    queue_name: str
    function: str
    batch_size: int
    max_batching_window_s: int


@dataclass(frozen=True)
class ScheduleDeployed:
    rule_name: str
    function: str  # the definition key of the function the rule targets
    schedule_expression: str  # as EventBridge spells it: "rate(1 minute)", "rate(5 minutes)"

    @property
    def every_minutes(self) -> int:
        """The rate in minutes (a rate in hours or days too); ValueError for a cron expression."""
        return rate_minutes(self.schedule_expression)


@dataclass(frozen=True)
class CronScheduleDeployed:
    """An EventBridge Scheduler schedule: a cron expression in a time zone, invoking a function with an input."""

    name: str
    function: str
    expression: str  # cron(0 8 ? * MON *)
    timezone: str
    input: str  # the JSON the function gets, with Scheduler's placeholders


@dataclass(frozen=True)
class EventRuleDeployed:
    """A rule that copies events from a bus to a queue."""

    rule_name: str
    bus_name: str
    sources: tuple[str, ...]  # sorted, as the rule's event pattern lists them
    detail_types: tuple[str, ...]  # sorted
    queue_name: str  # the target queue


@dataclass(frozen=True)
class ReceiptRuleDeployed:
    """An SES receipt rule whose SNS action publishes to a topic of the stack, and the queues subscribed to it."""

    rule_set: str
    rule_name: str
    recipients: tuple[str, ...]  # sorted
    topic_name: str
    queue_names: tuple[str, ...]  # sorted: the queues the topic delivers to


@dataclass(frozen=True)
class DeployedSurface:
    functions: frozenset[str]  # definition keys
    routes: frozenset[Route]
    queue_triggers: frozenset[QueueTriggerDeployed]
    schedules: frozenset[ScheduleDeployed]
    event_rules: frozenset[EventRuleDeployed]
    table_names: frozenset[str]
    queue_names: frozenset[str]  # work queues and dead-letter queues
    event_bus_names: frozenset[str]
    user_pools: frozenset[UserPoolDeployed]
    receipt_rules: frozenset[ReceiptRuleDeployed] = frozenset()
    cron_schedules: frozenset[CronScheduleDeployed] = frozenset()
    bucket_expirations: frozenset[int] = frozenset()  # the days each bucket keeps an object


def resources_of_type(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == resource_type
    }


def function_keys_by_logical_id(template: Template) -> dict[str, str]:
    keys = {}
    for logical_id, resource in resources_of_type(template, "AWS::Lambda::Function").items():
        tags = {tag["Key"]: tag["Value"] for tag in resource["Properties"].get("Tags", [])}
        keys[logical_id] = tags[FUNCTION_KEY_TAG]
    return keys


def deployed_surface(template: Template) -> DeployedSurface:
    functions = function_keys_by_logical_id(template)
    queues = resources_of_type(template, "AWS::SQS::Queue")
    buses = resources_of_type(template, "AWS::Events::EventBus")
    pools = resources_of_type(template, "AWS::Cognito::UserPool")
    return DeployedSurface(
        functions=frozenset(functions.values()),
        routes=frozenset(_routes(template, functions, pools)),
        queue_triggers=frozenset(
            _queue_trigger(mapping["Properties"], functions, queues)
            for mapping in resources_of_type(template, "AWS::Lambda::EventSourceMapping").values()
        ),
        schedules=frozenset(
            schedule
            for rule in resources_of_type(template, "AWS::Events::Rule").values()
            for schedule in _schedules(rule["Properties"], functions)
        ),
        event_rules=frozenset(
            event_rule
            for rule in resources_of_type(template, "AWS::Events::Rule").values()
            for event_rule in _event_rules(rule["Properties"], buses, queues)
        ),
        table_names=frozenset(
            table["Properties"]["TableName"] for table in resources_of_type(template, "AWS::DynamoDB::Table").values()
        ),
        queue_names=frozenset(queue["Properties"]["QueueName"] for queue in queues.values()),
        event_bus_names=frozenset(bus["Properties"]["Name"] for bus in buses.values()),
        user_pools=frozenset(_user_pools(template, pools)),
        receipt_rules=frozenset(_receipt_rules(template, queues)),
        cron_schedules=frozenset(
            CronScheduleDeployed(
                name=schedule["Properties"]["Name"],
                function=functions[_get_att_target(schedule["Properties"]["Target"]["Arn"])],
                expression=schedule["Properties"]["ScheduleExpression"],
                timezone=schedule["Properties"].get("ScheduleExpressionTimezone", "UTC"),
                input=schedule["Properties"]["Target"]["Input"],
            )
            for schedule in resources_of_type(template, "AWS::Scheduler::Schedule").values()
        ),
        bucket_expirations=frozenset(
            int(rule["ExpirationInDays"])
            for bucket in resources_of_type(template, "AWS::S3::Bucket").values()
            for rule in bucket["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            if "ExpirationInDays" in rule
        ),
    )


def _receipt_rules(template: Template, queues: dict[str, dict[str, Any]]) -> list[ReceiptRuleDeployed]:
    topics = resources_of_type(template, "AWS::SNS::Topic")
    subscribers: dict[str, list[str]] = {}
    for subscription in resources_of_type(template, "AWS::SNS::Subscription").values():
        properties = subscription["Properties"]
        if properties["Protocol"] == "sqs":
            queue = queues[_get_att_target(properties["Endpoint"])]["Properties"]["QueueName"]
            subscribers.setdefault(properties["TopicArn"]["Ref"], []).append(queue)
    found = []
    for resource in resources_of_type(template, "AWS::SES::ReceiptRule").values():
        rule = resource["Properties"]["Rule"]
        for action in rule.get("Actions", []):
            if "SNSAction" in action:
                topic = action["SNSAction"]["TopicArn"]["Ref"]
                found.append(
                    ReceiptRuleDeployed(
                        rule_set=resource["Properties"]["RuleSetName"],
                        rule_name=rule["Name"],
                        recipients=tuple(sorted(rule.get("Recipients", []))),
                        topic_name=topics[topic]["Properties"]["TopicName"],
                        queue_names=tuple(sorted(subscribers.get(topic, []))),
                    )
                )
    return found


def _queue_trigger(
    mapping: dict[str, Any], functions: dict[str, str], queues: dict[str, dict[str, Any]]
) -> QueueTriggerDeployed:
    queue = queues[_get_att_target(mapping["EventSourceArn"])]
    return QueueTriggerDeployed(
        queue_name=queue["Properties"]["QueueName"],
        function=functions[mapping["FunctionName"]["Ref"]],
        batch_size=mapping.get("BatchSize", 10),  # Lambda's default for SQS
        max_batching_window_s=mapping.get("MaximumBatchingWindowInSeconds", 0),
    )


_RATE_UNITS = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}


def rate_minutes(expression: str) -> int:
    """Minutes between the ticks of an EventBridge rate expression: "rate(5 minutes)" is 5."""
    inner = expression.strip()
    if not (inner.startswith("rate(") and inner.endswith(")")):
        raise ValueError(f"not a rate expression: {expression!r}")
    value, _, unit = inner[len("rate(") : -1].strip().partition(" ")
    if unit.strip() not in _RATE_UNITS or not value.isdigit():
        raise ValueError(f"not a rate expression: {expression!r}")
    return int(value) * _RATE_UNITS[unit.strip()]


def _schedules(rule: dict[str, Any], functions: dict[str, str]) -> list[ScheduleDeployed]:
    """A scheduled rule's function targets (a rule that matches events rather than a schedule has none)."""
    if "ScheduleExpression" not in rule:
        return []
    return [
        ScheduleDeployed(
            rule_name=rule["Name"],
            function=functions[_get_att_target(target["Arn"])],
            schedule_expression=rule["ScheduleExpression"],
        )
        for target in rule.get("Targets", [])
        if isinstance(target["Arn"], dict)
        and "Fn::GetAtt" in target["Arn"]
        and _get_att_target(target["Arn"]) in functions
    ]


def _event_rules(
    rule: dict[str, Any], buses: dict[str, dict[str, Any]], queues: dict[str, dict[str, Any]]
) -> list[EventRuleDeployed]:
    """A rule's queue targets, with the bus it listens on and its pattern (a scheduled rule has none)."""
    if "EventPattern" not in rule:
        return []
    bus = rule.get("EventBusName")
    bus_name = buses[bus["Ref"]]["Properties"]["Name"] if isinstance(bus, dict) else bus or "default"
    pattern = rule["EventPattern"]
    return [
        EventRuleDeployed(
            rule_name=rule["Name"],
            bus_name=bus_name,
            sources=tuple(sorted(pattern.get("source", []))),
            detail_types=tuple(sorted(pattern.get("detail-type", []))),
            queue_name=queues[_get_att_target(target["Arn"])]["Properties"]["QueueName"],
        )
        for target in rule.get("Targets", [])
        if isinstance(target["Arn"], dict)
        and "Fn::GetAtt" in target["Arn"]
        and _get_att_target(target["Arn"]) in queues
    ]


def _routes(template: Template, functions: dict[str, str], pools: dict[str, dict[str, Any]]) -> list[Route]:
    resources = resources_of_type(template, "AWS::ApiGateway::Resource")
    authorizers = resources_of_type(template, "AWS::ApiGateway::Authorizer")

    def path_of(resource_id: Any) -> str:
        if not (isinstance(resource_id, dict) and "Ref" in resource_id):
            return ""  # the API's root resource, a GetAtt of the RestApi
        resource = resources[resource_id["Ref"]]["Properties"]
        return f"{path_of(resource['ParentId'])}/{resource['PathPart']}"

    return [
        Route(
            method=method["Properties"]["HttpMethod"],
            path=path_of(method["Properties"]["ResourceId"]) or "/",
            function=functions[_proxied_function(method["Properties"]["Integration"])],
            authorizer=_user_pool_authorizer(method["Properties"], authorizers, pools),
        )
        for method in resources_of_type(template, "AWS::ApiGateway::Method").values()
    ]


def _user_pool_authorizer(
    method: dict[str, Any], authorizers: dict[str, dict[str, Any]], pools: dict[str, dict[str, Any]]
) -> str | None:
    """The name of the user pool whose ID token a method needs; None for a public one, ValueError for another kind."""
    kind = method.get("AuthorizationType", "NONE")
    if kind == "NONE":
        return None
    if kind != "COGNITO_USER_POOLS":
        raise ValueError(f"not a Cognito user pools authorizer: {kind}")
    authorizer = authorizers[method["AuthorizerId"]["Ref"]]["Properties"]
    [provider] = authorizer["ProviderARNs"]  # leadflow's authorizers each take one pool
    return str(pools[_get_att_target(provider)]["Properties"]["UserPoolName"])


def _user_pools(template: Template, pools: dict[str, dict[str, Any]]) -> list[UserPoolDeployed]:
    def of_pool(resource_type: str, name_property: str, pool_id: str) -> tuple[str, ...]:
        return tuple(
            sorted(
                resource["Properties"][name_property]
                for resource in resources_of_type(template, resource_type).values()
                if resource["Properties"]["UserPoolId"] == {"Ref": pool_id}
            )
        )

    return [
        UserPoolDeployed(
            name=pool["Properties"]["UserPoolName"],
            client_names=of_pool("AWS::Cognito::UserPoolClient", "ClientName", pool_id),
            groups=of_pool("AWS::Cognito::UserPoolGroup", "GroupName", pool_id),
        )
        for pool_id, pool in pools.items()
    ]


def _proxied_function(integration: dict[str, Any]) -> str:
    """The logical id of the function a Lambda proxy integration invokes."""
    if integration.get("Type") != "AWS_PROXY":
        raise ValueError(f"not a Lambda proxy integration: {integration.get('Type')}")
    parts = integration["Uri"]["Fn::Join"][1]
    return next(_get_att_target(part) for part in parts if isinstance(part, dict) and "Fn::GetAtt" in part)


def _get_att_target(value: dict[str, Any]) -> str:
    return value["Fn::GetAtt"][0]

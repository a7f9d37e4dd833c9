"""Lambda: every FunctionSpec of the definition, declared by one helper, and its queue triggers.

Each function gets Python 3.13 on arm64, the shared layers, its own log group and a role
that holds exactly the grants its spec declares (plus writing its own logs and traces).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from aws_cdk import Acknowledgment, CfnElement, Duration, RemovalPolicy, Stack, Tags, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.buckets import Buckets
from infra.constructs.email import Emails
from infra.constructs.events import EventBuses
from infra.constructs.queues import Queues
from infra.constructs.secrets import Secrets
from infra.constructs.table import Tables
from infra.layer_build import STAMP_FILE, LayerPaths
from leadflow.definition import (
    EnvValue,
    FunctionSpec,
    Grant,
    GrantAccess,
    QueueTrigger,
    ResourceRef,
    StackDefinition,
)

RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.ARM_64
NOT_SHIPPED = ["__pycache__", "*.pyc", STAMP_FILE]

# Tag on each function naming its key in the definition, so a template can be compared with it.
FUNCTION_KEY_TAG = "leadflow:function"

# The IAM actions of each access kind a Grant may declare (see leadflow.definition.GrantAccess):
# exactly the calls the code behind the kind makes, nothing "just in case".
QUEUE_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {
    "send": ("sqs:SendMessage",),
    # What Lambda's queue trigger calls with the function's role (the trigger deletes what the
    # handler finished and leaves failed records to become visible again).
    "consume": ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"),
    # A consumer's own backoff: the failed message it received stays invisible until its next try.
    "retry_later": ("sqs:ChangeMessageVisibility",),
}
TABLE_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {
    # The change applier: read a lead by key, write its change in one TransactWriteItems (which IAM
    # checks item by item: Put, Update, and Delete where a lead's work link moves or goes), clear its
    # outbox (Update). No Scan or batch write.
    "apply_changes": ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"),
    # Routing's reads of a partition (the roster, a company's leads): Query on the table, not its indexes.
    "query": ("dynamodb:Query",),
    # A sweep's reads of what is due (a sparse index by due time): Query on the table's indexes, not the table.
    "query_indexes": ("dynamodb:Query",),
    # A marker of something done once (leadflow.aws.leads_table claim, settle, release): PutItem, on items whose
    # partition key starts with the grant's key_prefix only (an IAM condition on dynamodb:LeadingKeys).
    "mark": ("dynamodb:PutItem",),
}
# Table access kinds granted on each of the table's indexes (`<table arn>/index/<name>`), not the table itself.
ON_TABLE_INDEXES: frozenset[GrantAccess] = frozenset({"query_indexes"})
BUS_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {"publish": ("events:PutEvents",)}
SECRET_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {"read_secret": ("secretsmanager:GetSecretValue",)}
# Objects of a bucket under the grant's key prefix (`<bucket arn>/<prefix>*`): the weekly report writes its CSV,
# and reads nothing back.
BUCKET_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {"put_object": ("s3:PutObject",)}
EMAIL_ACTIONS: dict[GrantAccess, tuple[str, ...]] = {
    # leadflow.aws.mailer sends through SES v2's SendEmail with Raw (MIME) content, which IAM authorizes
    # as ses:SendRawEmail (SES v1's name for a raw send), on the identity and the configuration set.
    "send_email": ("ses:SendEmail", "ses:SendRawEmail"),
    # Nurture's emails go out through SES v2's SendBulkEmail (an inline template, each email's own values),
    # which IAM authorizes as ses:SendBulkEmail together with ses:SendBulkTemplatedEmail (SES v1's name).
    "send_bulk_email": ("ses:SendBulkEmail", "ses:SendBulkTemplatedEmail"),
}
# Environment values known only once a construct made after the functions exists: the API, whose
# routes need the functions first. Functions.provide() sets them. A function behind a route may not
# ask for the API's URL: the API's deployment would wait for the function, and the function for it.
PROVIDED_LATER: frozenset[str] = frozenset({"api_url"})


class SharedLayers(Construct):
    """The layers every function of a client's stack wears (built by infra/layer_build.py)."""

    def __init__(self, scope: Construct, construct_id: str, *, paths: LayerPaths) -> None:
        super().__init__(scope, construct_id)
        self.layers: list[lambda_.ILayerVersion] = [
            self._layer("Dependencies", paths.dependencies, "Packages from layers/requirements.txt"),
            self._layer("Domain", paths.domain, "The leadflow domain package"),
            self._layer("ClientConfig", paths.client_config, "The checked client config: /opt/leadflow/client.json"),
        ]

    def _layer(self, construct_id: str, asset_dir: Path, description: str) -> lambda_.LayerVersion:
        return lambda_.LayerVersion(
            self,
            construct_id,
            code=lambda_.Code.from_asset(str(asset_dir), exclude=NOT_SHIPPED),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description=description,
        )


class Functions(Construct):
    """The definition's functions, by key, each wired to the queues that trigger it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: StackDefinition,
        tables: Tables,
        queues: Queues,
        event_buses: EventBuses,
        secrets: Secrets,
        emails: Emails,
        buckets: Buckets,
        layers: list[lambda_.ILayerVersion],
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self._secrets = secrets
        self._emails = emails
        self._buckets = buckets
        # (kind, key) of a value provided later -> the function keys, functions and variable names waiting for it
        self._waiting: dict[tuple[str, str], list[tuple[str, lambda_.Function, str]]] = {}
        self._tables = tables
        self._queues = queues
        self._event_buses = event_buses
        self._layers = layers
        self._log_retention = log_retention
        self._behind_routes = {route.function for route in definition.routes}
        self._functions = {spec.key: self._declare_function(spec) for spec in definition.functions}
        for trigger in definition.queue_triggers:
            self._attach_queue_trigger(trigger)

    def function(self, key: str) -> lambda_.Function:
        return self._functions[key]

    def all(self) -> dict[str, lambda_.Function]:
        return dict(self._functions)

    def provide(self, kind: str, key: str, value: str) -> None:
        """Set a value provided later (see PROVIDED_LATER) in the environment of every function that asks for it."""
        for _, function, name in self._waiting.pop((kind, key), []):
            function.add_environment(name, value)

    def check_all_provided(self) -> None:
        """Stop synth if a function still waits for a value nobody provided: it would deploy without it."""
        if self._waiting:
            missing = ", ".join(
                f"{name} of {function_key} ({kind} {key!r})"
                for (kind, key), waiting in self._waiting.items()
                for function_key, _, name in waiting
            )
            raise ValueError(f"environment values never provided: {missing}")

    def _declare_function(self, spec: FunctionSpec) -> lambda_.Function:
        scope = Construct(self, spec.key)
        log_group = logs.LogGroup(
            scope,
            "Logs",
            retention=self._log_retention,
            # Logs hold no personal data and expire anyway: tearing a client down removes them.
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"leadflow {spec.key}: own logs and traces, {self._describe_grants(spec.grants)}",
        )
        log_group.grant_write(role)
        for grant in spec.grants:
            self._grant(role, grant)
        function = lambda_.Function(
            scope,
            "Function",
            description=spec.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=lambda_.Code.from_asset(str(spec.source_dir), exclude=NOT_SHIPPED),
            layers=self._layers,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            reserved_concurrent_executions=spec.reserved_concurrency,
            environment={
                name: self._resolve(value)
                for name, value in spec.environment.items()
                if not (isinstance(value, ResourceRef) and value.kind in PROVIDED_LATER)
            },
            role=role,
            log_group=log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )
        Tags.of(function).add(FUNCTION_KEY_TAG, spec.key)
        for name, value in spec.environment.items():
            if isinstance(value, ResourceRef) and value.kind in PROVIDED_LATER:
                if value.kind == "api_url" and spec.key in self._behind_routes:
                    raise ValueError(
                        f"{spec.key} is behind a route of the API and asks for its URL ({name}): the API's "
                        "deployment would wait for the function and the function for the deployment"
                    )
                self._waiting.setdefault((value.kind, value.key), []).append((spec.key, function, name))
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, "
                "which support no resource-level permissions; this is the only wildcard in the role.",
            )
        )
        Validations.of(function).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-L1",
                reason="Python 3.13 is the runtime the dependency layer is built for (pip --python-version "
                "3.13) and the one DESIGN.md deploys; a newer runtime is a deliberate upgrade of both.",
            )
        )
        return function

    def _resolve(self, value: EnvValue) -> str:
        if not isinstance(value, ResourceRef):
            return value
        if value.kind == "queue_url":
            return self._queues.queue(value.key).queue_url
        if value.kind == "queue_arn":
            return self._queues.queue(value.key).queue_arn
        if value.kind == "table_name":
            return self._tables.table(value.key).table_name
        if value.kind == "bus_name":
            return self._event_buses.bus(value.key).event_bus_name
        if value.kind == "secret_value":
            return self._secrets.value(value.key)
        if value.kind == "email_configuration_set":
            return self._emails.configuration_set_name(value.key)
        if value.kind == "bucket_name":
            return self._buckets.bucket(value.key).bucket_name
        raise ValueError(f"no way to deploy an environment value of kind {value.kind!r} (for {value.key!r})")

    def _grant(self, role: iam.Role, grant: Grant) -> None:
        conditions: dict[str, Any] | None = None
        if grant.access in QUEUE_ACTIONS:
            actions, resources = QUEUE_ACTIONS[grant.access], [self._queues.queue(grant.resource).queue_arn]
        elif grant.access in TABLE_ACTIONS:
            table_arn = self._tables.table(grant.resource).table_arn
            on_indexes = grant.access in ON_TABLE_INDEXES
            indexes = self._tables.index_names(grant.resource)
            resources = [f"{table_arn}/index/{name}" for name in indexes] if on_indexes else [table_arn]
            actions = TABLE_ACTIONS[grant.access]
            if grant.key_prefix is not None:  # the items whose partition key starts with it, no others
                conditions = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{grant.key_prefix}*"]}}
        elif grant.access in SECRET_ACTIONS:
            actions, resources = SECRET_ACTIONS[grant.access], [self._secrets.arn(grant.resource)]
        elif grant.access in BUS_ACTIONS:
            actions, resources = BUS_ACTIONS[grant.access], [self._event_buses.bus(grant.resource).event_bus_arn]
        elif grant.access in BUCKET_ACTIONS:
            actions, resources = BUCKET_ACTIONS[grant.access], [self._object_arns(role, grant)]
        elif grant.access in EMAIL_ACTIONS:
            actions, resources = EMAIL_ACTIONS[grant.access], self._emails.send_arns(grant.resource)
        else:
            raise ValueError(f"no way to deploy a grant of {grant.access!r} on {grant.resource!r}")
        role.add_to_policy(iam.PolicyStatement(actions=list(actions), resources=resources, conditions=conditions))

    def _object_arns(self, role: iam.Role, grant: Grant) -> str:
        """The objects of a bucket under the grant's key prefix: a wildcard there, acknowledged for cdk-nag."""
        bucket = self._buckets.bucket(grant.resource)
        objects = f"{grant.key_prefix or ''}*"
        logical_id = Stack.of(role).resolve(
            Stack.of(bucket).get_logical_id(cast(CfnElement, bucket.node.default_child))
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::<{logical_id}.Arn>/{objects}]",
                reason="The function writes objects whose keys it names when it runs (the weekly report: one a "
                "week, by its days), under this prefix of the stack's own bucket.",
            )
        )
        return str(bucket.arn_for_objects(objects))

    @staticmethod
    def _describe_grants(grants: tuple[Grant, ...]) -> str:
        return ", ".join(f"{grant.access} {grant.resource}" for grant in grants) or "nothing else"

    def _attach_queue_trigger(self, trigger: QueueTrigger) -> None:
        # An event source mapping of its own rather than SqsEventSource, which would also grant the
        # role every consume action CDK knows: the function's spec declares the grant it needs.
        batching_window = trigger.max_batching_window_s
        self.function(trigger.function).add_event_source_mapping(
            f"{trigger.queue}-trigger",
            event_source_arn=self._queues.queue(trigger.queue).queue_arn,
            batch_size=trigger.batch_size,
            max_batching_window=Duration.seconds(batching_window) if batching_window else None,
            report_batch_item_failures=True,
            max_concurrency=trigger.max_concurrency,
        )

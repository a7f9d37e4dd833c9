"""Create a stack definition's tables and queues in moto, as CloudFormation would in AWS."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from leadflow.definition import EnvValue, QueueSpec, ResourceRef, SecretSpec, StackDefinition, TableSpec
from leadflow.lead.ids import new_lead_id_key


@dataclass
class LocalResources:
    """Where each resource of the definition lives in moto, by its key."""

    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    bus_names: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: EnvValue) -> str:
        if isinstance(value, str):
            return value
        lookup = {
            "queue_url": self.queue_urls,
            "queue_arn": self.queue_arns,
            "table_name": self.table_names,
            "bus_name": self.bus_names,
            "secret_value": self.secret_values,
        }
        return lookup[value.kind][value.key]

    def environment(self, env: dict[str, EnvValue]) -> dict[str, str]:
        return {name: self.resolve(value) for name, value in env.items()}


def create_resources(
    definition: StackDefinition, session: Any, secret_values: dict[str, str] | None = None
) -> LocalResources:
    """Create (or find, when they exist already) every table, queue, event bus and secret of the definition.

    A secret gets the value `secret_values` gives for its key (the local runtime keeps them
    across restarts), else the one it has in moto already, else a new one.
    """
    created = LocalResources()
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    for table in definition.tables:
        create_table(dynamodb, table)
        created.table_names[table.key] = table.name
    for queue in definition.queues:
        url, arn = _create_queue(sqs, queue)
        created.queue_urls[queue.key] = url
        created.queue_arns[queue.key] = arn
    events = session.client("events")
    for bus in definition.event_buses:
        with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
            events.create_event_bus(Name=bus.name)
        created.bus_names[bus.key] = bus.name
    secrets = session.client("secretsmanager")
    for secret in definition.secrets:
        created.secret_values[secret.key] = _create_secret(secrets, secret, (secret_values or {}).get(secret.key))
    return created


def _create_secret(secrets: Any, secret: SecretSpec, value: str | None) -> str:
    try:
        existing: str = secrets.get_secret_value(SecretId=secret.name)["SecretString"]
    except secrets.exceptions.ResourceNotFoundException:
        existing = ""
    if existing and (value is None or value == existing):
        return existing
    value = value or new_lead_id_key()
    if existing:
        secrets.put_secret_value(SecretId=secret.name, SecretString=value)
    else:
        secrets.create_secret(Name=secret.name, Description=secret.description, SecretString=value)
    return value


def create_table(dynamodb: Any, table: TableSpec) -> None:
    keys = {table.partition_key, table.sort_key} | {a for i in table.indexes for a in (i.partition_key, i.sort_key)}
    try:
        dynamodb.create_table(
            TableName=table.name,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in sorted(keys)],
            KeySchema=[
                {"AttributeName": table.partition_key, "KeyType": "HASH"},
                {"AttributeName": table.sort_key, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
                for index in table.indexes
            ],
        )
    except dynamodb.exceptions.ResourceInUseException:
        return


def _create_queue(sqs: Any, queue: QueueSpec) -> tuple[str, str]:
    fifo = {"FifoQueue": "true"} if queue.fifo else {}
    retention = str(queue.retention_days * 86400)
    dlq_url = sqs.create_queue(
        QueueName=queue.dead_letter_name, Attributes={**fifo, "MessageRetentionPeriod": retention}
    )["QueueUrl"]
    dlq_arn = _arn(sqs, dlq_url)
    attributes = {
        **fifo,
        "VisibilityTimeout": str(queue.visibility_timeout_s),
        "MessageRetentionPeriod": retention,
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}),
    }
    if queue.fifo_high_throughput:
        attributes |= {"DeduplicationScope": "messageGroup", "FifoThroughputLimit": "perMessageGroupId"}
    url = sqs.create_queue(QueueName=queue.name, Attributes=attributes)["QueueUrl"]
    return url, _arn(sqs, url)


def _arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


__all__ = ["LocalResources", "ResourceRef", "create_resources"]

"""DynamoDB: one on-demand, point-in-time-recoverable, encrypted table per TableSpec."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from leadflow.definition import TableSpec


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Tables(Construct):
    """The stack's tables, by their key in the definition."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[TableSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._specs = {spec.key: spec for spec in specs}
        self._tables = {spec.key: self._declare_table(spec) for spec in specs}

    def table(self, key: str) -> dynamodb.Table:
        return self._tables[key]

    def index_names(self, key: str) -> list[str]:
        return [index.name for index in self._specs[key].indexes]

    def _declare_table(self, spec: TableSpec) -> dynamodb.Table:
        table = dynamodb.Table(
            self,
            spec.key,
            table_name=spec.name,
            partition_key=_string_key(spec.partition_key),
            sort_key=_string_key(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            # Leads are the client's records: deleting the stack must never delete them.
            removal_policy=RemovalPolicy.RETAIN,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_string_key(index.partition_key),
                sort_key=_string_key(index.sort_key),
                projection_type=dynamodb.ProjectionType[index.projection],
            )
        return table

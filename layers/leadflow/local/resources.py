"""Create a stack definition's resources in moto, as CloudFormation would in AWS.

Tables, queues (with their dead-letter queues), event buses and the rules that copy their
events to queues, secrets, the SES sender: its identity, verified at once (moto sends from
any identity it holds, where AWS waits for the address's owner to follow a link), and its
configuration set, and the user pools people sign in to, with their groups and app client.

SES receiving too: the stack's receipt rule in the account's rule set, made and made active
here when moto has no active one (in AWS, once per account: the README's "Unsubscribe by
email"), and the topic it publishes to, subscribed by its queue. moto receives no email: `leadflow
local unsubscribe-by-email` plays SES's part by the rule it finds here.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field
from typing import Any

from leadflow.definition import (
    DEFAULT_BUS,
    BucketSpec,
    EmailSpec,
    EnvValue,
    EventRuleSpec,
    InboundMailSpec,
    QueueSpec,
    ResourceRef,
    SecretSpec,
    StackDefinition,
    TableSpec,
    UserPoolSpec,
)
from leadflow.lead.ids import new_lead_id_key

# Where `leadflow local` serves the API unless told otherwise (LocalOptions' host and api_port),
# with the trailing slash of API Gateway's stage URL.
DEFAULT_LOCAL_API_URL = "http://127.0.0.1:3000/"
API = "api"  # the key functions name the API by (ResourceRef("api_url", "api"))


@dataclass
class LocalResources:
    """Where each resource of the definition lives in moto, by its key."""

    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    bus_names: dict[str, str] = field(default_factory=dict)
    secret_values: dict[str, str] = field(default_factory=dict)
    api_urls: dict[str, str] = field(default_factory=dict)  # with the trailing slash, as a stage URL
    email_configuration_sets: dict[str, str] = field(default_factory=dict)
    event_rule_names: dict[str, str] = field(default_factory=dict)
    user_pool_ids: dict[str, str] = field(default_factory=dict)
    user_pool_client_ids: dict[str, str] = field(default_factory=dict)  # the app client people sign in through
    topic_arns: dict[str, str] = field(default_factory=dict)  # by inbound mail key: where its rule publishes
    bucket_names: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: EnvValue) -> str:
        if isinstance(value, str):
            return value
        lookup = {
            "queue_url": self.queue_urls,
            "queue_arn": self.queue_arns,
            "table_name": self.table_names,
            "bus_name": self.bus_names,
            "secret_value": self.secret_values,
            "api_url": self.api_urls,
            "email_configuration_set": self.email_configuration_sets,
            "bucket_name": self.bucket_names,
        }
        return lookup[value.kind][value.key]

    def environment(self, env: dict[str, EnvValue]) -> dict[str, str]:
        return {name: self.resolve(value) for name, value in env.items()}


def create_resources(
    definition: StackDefinition,
    session: Any,
    secret_values: dict[str, str] | None = None,
    api_url: str = DEFAULT_LOCAL_API_URL,
) -> LocalResources:
    """Create (or find, when they exist already) every resource of the definition.

    A secret gets the value `secret_values` gives for its key (the local runtime keeps them
    across restarts), else the one it has in moto already, else a new one. `api_url` is where
    the local API answers (what a function that writes links to it is given).
    """
    created = LocalResources(api_urls={API: api_url if api_url.endswith("/") else api_url + "/"})
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
    for rule in definition.event_rules:
        created.event_rule_names[rule.key] = _create_event_rule(events, definition, rule, created)
    secrets = session.client("secretsmanager")
    for secret in definition.secrets:
        created.secret_values[secret.key] = _create_secret(secrets, secret, (secret_values or {}).get(secret.key))
    sesv2 = session.client("sesv2")
    for email in definition.emails:
        created.email_configuration_sets[email.key] = _create_email_sender(sesv2, email)
    if definition.inbound_mail:
        ses, sns = session.client("ses"), session.client("sns")
        for inbound in definition.inbound_mail:
            created.topic_arns[inbound.key] = _create_inbound_mail(ses, sns, inbound, created.queue_arns[inbound.queue])
    if definition.buckets:
        s3 = session.client("s3")
        for bucket in definition.buckets:
            created.bucket_names[bucket.key] = create_bucket(s3, local_bucket_name(definition, bucket), bucket)
    if definition.user_pools:
        cognito = session.client("cognito-idp")
        for pool in definition.user_pools:
            pool_id, client_id = _create_user_pool(cognito, pool)
            created.user_pool_ids[pool.key] = pool_id
            created.user_pool_client_ids[pool.key] = client_id
    return created


def local_bucket_name(definition: StackDefinition, spec: BucketSpec) -> str:
    """A bucket's name in moto: the stack's prefix and its key (in AWS, CloudFormation names it)."""
    return f"{definition.name_prefix}-{spec.key}"


def create_bucket(s3: Any, name: str, spec: BucketSpec) -> str:
    """The bucket as infra/constructs/buckets.py declares it: private, encrypted, each object kept `keep_days`."""
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        location = {} if s3.meta.region_name == "us-east-1" else {"LocationConstraint": s3.meta.region_name}
        s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": location} if location else {}))
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=name,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": spec.keep_days},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    return name


def password_policy(spec: UserPoolSpec) -> dict[str, Any]:
    """The deployed pool's password policy (infra/constructs/users.py), spelled out: moto's own default asks for 5."""
    return {
        "MinimumLength": spec.password_min_length,
        "RequireUppercase": True,
        "RequireLowercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
    }


def _create_user_pool(cognito: Any, spec: UserPoolSpec) -> tuple[str, str]:
    """The pool (or the one of its name already there), its groups and its app client: their ids.

    The app client has no secret and signs in with a password (USER_PASSWORD_AUTH) or a refresh
    token; it reads the email attributes, so that ID tokens carry them (moto puts only the
    attributes a client may read in them; AWS's default is every attribute).
    """
    pools = cognito.list_user_pools(MaxResults=60)["UserPools"]
    pool_id = next((p["Id"] for p in pools if p["Name"] == spec.name), None)
    if pool_id is None:
        pool_id = cognito.create_user_pool(
            PoolName=spec.name,
            Policies={"PasswordPolicy": password_policy(spec)},
            AutoVerifiedAttributes=["email"],
            AdminCreateUserConfig={"AllowAdminCreateUserOnly": True},
        )["UserPool"]["Id"]
    existing_groups = {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool_id, Limit=60)["Groups"]}
    for group in spec.groups:
        if group not in existing_groups:
            cognito.create_group(UserPoolId=pool_id, GroupName=group)
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]
    client_id = next((c["ClientId"] for c in clients if c["ClientName"] == spec.client_name), None)
    if client_id is None:
        client_id = cognito.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=spec.client_name,
            GenerateSecret=False,
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            ReadAttributes=["email", "email_verified"],
            PreventUserExistenceErrors="ENABLED",
        )["UserPoolClient"]["ClientId"]
    return str(pool_id), str(client_id)


def _create_event_rule(events: Any, definition: StackDefinition, rule: EventRuleSpec, created: LocalResources) -> str:
    """The rule on its bus, sending each matching event whole to its queue (moto delivers it as EventBridge does)."""
    name = rule.name
    bus = DEFAULT_BUS if rule.bus == DEFAULT_BUS else created.bus_names[rule.bus]
    pattern: dict[str, Any] = {"source": [rule.source], "detail-type": list(rule.detail_types)}
    if rule.detail:
        pattern["detail"] = rule.detail
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "Target0", "Arn": created.queue_arns[rule.queue]}])
    return name


def _create_email_sender(sesv2: Any, email: EmailSpec) -> str:
    """The configuration set, and the sender's identity (verified: moto lets it send at once); the set's name."""
    from botocore.exceptions import ClientError

    for create in (
        lambda: sesv2.create_configuration_set(ConfigurationSetName=email.configuration_set),
        lambda: sesv2.create_email_identity(
            EmailIdentity=email.from_address, ConfigurationSetName=email.configuration_set
        ),
    ):
        try:
            create()
        except ClientError as exc:  # SES says AlreadyExistsException, moto ConfigurationSetAlreadyExistsException
            if not str(exc.response.get("Error", {}).get("Code", "")).endswith("AlreadyExistsException"):
                raise
    return email.configuration_set


def _create_inbound_mail(ses: Any, sns: Any, spec: InboundMailSpec, queue_arn: str) -> str:
    """The topic, its queue's subscription, and the receipt rule publishing to it in the active rule set; the topic."""
    topic_arn: str = sns.create_topic(Name=spec.topic_name)["TopicArn"]
    subscribed = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    if not any(sub["Protocol"] == "sqs" and sub["Endpoint"] == queue_arn for sub in subscribed):
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    with contextlib.suppress(ses.exceptions.AlreadyExistsException):
        ses.create_receipt_rule_set(RuleSetName=spec.rule_set)
    if not ses.describe_active_receipt_rule_set().get("Metadata"):
        ses.set_active_receipt_rule_set(RuleSetName=spec.rule_set)
    rule = {
        "Name": spec.rule_name,
        "Enabled": True,
        "Recipients": [spec.recipient],
        "ScanEnabled": True,
        "Actions": [{"SNSAction": {"TopicArn": topic_arn, "Encoding": "UTF-8"}}],
    }
    try:
        ses.create_receipt_rule(RuleSetName=spec.rule_set, Rule=rule)
    except ses.exceptions.AlreadyExistsException:
        ses.update_receipt_rule(RuleSetName=spec.rule_set, Rule=rule)
    return topic_arn


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
                    "Projection": {"ProjectionType": index.projection},
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

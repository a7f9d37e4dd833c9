"""An SNS topic an AWS service publishes to (CloudWatch's alarms, SES's received emails), encrypted and SSL-only.

The AWS-managed SNS key's policy lets no service use it, so such a topic is encrypted under a
key of the stack's own, rotated, which the service may use under the same conditions as it may
publish (this account; for SES, the one receipt rule).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


def service_topic(
    scope: Construct,
    *,
    key_id: str,
    topic_id: str,
    key_description: str,
    publisher: iam.ServicePrincipal,
    conditions: dict[str, Any],
    **topic_props: Any,
) -> sns.Topic:
    """The topic (`topic_props`: its name, display name) and its key, both under `scope`."""
    key = kms.Key(
        scope,
        key_id,
        description=key_description,
        enable_key_rotation=True,
        removal_policy=RemovalPolicy.DESTROY,
        pending_window=Duration.days(7),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[publisher],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],  # in a key policy, "*" is this key
            conditions=conditions,
        )
    )
    topic = sns.Topic(scope, topic_id, master_key=key, enforce_ssl=True, **topic_props)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[publisher], actions=["sns:Publish"], resources=[topic.topic_arn], conditions=conditions
        )
    )
    return topic

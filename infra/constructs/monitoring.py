"""Alarms: a message in any dead-letter queue, or a function error, notifies an encrypted topic."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")
FROM_THIS_ACCOUNT = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}


class Monitoring(Construct):
    """The alarm topic (and its email subscriber) and the alarms that publish to it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str | None,
        dead_letter_queues: dict[str, sqs.Queue],
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._alarm_topic()
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        for key, queue in dead_letter_queues.items():
            self._alarm(
                f"{key}-dead-letters",
                description=f"Messages wait in the {key} dead-letter queue: they failed every retry. "
                "Find the cause in the logs, then put them back with `leadflow redrive`.",
                metric=queue.metric_approximate_number_of_messages_visible(
                    period=Duration.minutes(1), statistic=cloudwatch.Stats.MAXIMUM
                ),
                threshold=0,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            )
        for key, function in functions.items():
            self._alarm(
                f"{key}-errors",
                description=f"The {key} function failed (an error or a timeout). See its log group.",
                metric=function.metric_errors(period=Duration.minutes(5), statistic=cloudwatch.Stats.SUM),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )

    def _alarm_topic(self) -> sns.Topic:
        # Alarms cannot publish to a topic under the AWS-managed SNS key: its policy does not let
        # CloudWatch use it. A key of our own, rotated, that CloudWatch may use, does.
        key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts leadflow's alarm notifications",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[CLOUDWATCH],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions=FROM_THIS_ACCOUNT,
            )
        )
        topic = sns.Topic(self, "AlarmTopic", display_name="leadflow alarms", master_key=key, enforce_ssl=True)
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[CLOUDWATCH],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=FROM_THIS_ACCOUNT,
            )
        )
        return topic

    def _alarm(
        self,
        construct_id: str,
        *,
        description: str,
        metric: cloudwatch.IMetric,
        threshold: float,
        comparison: cloudwatch.ComparisonOperator,
    ) -> None:
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=comparison,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))

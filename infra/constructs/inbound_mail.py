"""SES receiving: each InboundMailSpec becomes a receipt rule that publishes the stack's mail to a topic of the stack.

SES evaluates one receipt rule set per account and region, the active one. It is the account's,
not a client's: it is made and activated once (README, "Unsubscribe by email"), and every
client stack adds its own rule to it here, for its own address. A rule set CloudFormation
makes cannot be activated by CloudFormation, and activating one would switch off whatever
rule set the account received mail with before: so no stack makes or activates it.

The rule scans each email for spam and viruses and publishes it to the stack's topic (encrypted
under a key of the stack's, as the alarm topic is), which delivers it to the spec's queue (SNS's
envelope around SES's notification); the queue's consumer reads the token in it
(leadflow.nurture.unsubscribe_mail).
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ses as ses
from aws_cdk import aws_ses_actions as ses_actions
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.queues import Queues
from infra.constructs.topics import service_topic
from leadflow.definition import InboundMailSpec

SES = iam.ServicePrincipal("ses.amazonaws.com")


class InboundMail(Construct):
    """The stack's receipt rules in the account's active rule set, each with the topic it publishes to."""

    def __init__(
        self, scope: Construct, construct_id: str, *, specs: tuple[InboundMailSpec, ...], queues: Queues
    ) -> None:
        super().__init__(scope, construct_id)
        for spec in specs:
            self._declare(spec, queues)

    def _declare(self, spec: InboundMailSpec, queues: Queues) -> None:
        rule_arn = Stack.of(self).format_arn(
            service="ses",
            resource="receipt-rule-set",
            resource_name=f"{spec.rule_set}:receipt-rule/{spec.rule_name}",
            arn_format=ArnFormat.SLASH_RESOURCE_NAME,
        )
        # Only SES, for this account's rule, publishes to the topic and uses its key.
        topic = service_topic(
            self,
            key_id=f"{spec.key}-key",
            topic_id=f"{spec.key}-topic",
            key_description="Encrypts the unsubscribe emails SES receives for leadflow on their way to the stack",
            publisher=SES,
            conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID, "aws:SourceArn": rule_arn}},
            topic_name=spec.topic_name,
        )
        topic.add_subscription(subscriptions.SqsSubscription(queues.queue(spec.queue)))
        rule_set = ses.ReceiptRuleSet.from_receipt_rule_set_name(self, f"{spec.key}-rule-set", spec.rule_set)
        rule = ses.ReceiptRule(
            self,
            f"{spec.key}-rule",
            rule_set=rule_set,
            receipt_rule_name=spec.rule_name,
            recipients=[spec.recipient],
            actions=[ses_actions.Sns(topic=topic, encoding=ses_actions.EmailEncoding.UTF8)],
            scan_enabled=True,
            enabled=True,
        )
        # SES checks that it may publish to the topic when the rule is made: the topic's policy comes first.
        if (policy := topic.node.try_find_child("Policy")) is not None:
            rule.node.add_dependency(policy)

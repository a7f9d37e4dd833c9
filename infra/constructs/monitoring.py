"""Alarms for whatever loses or delays a lead, each notifying one encrypted topic.

- a message in a dead-letter queue (it failed every retry);
- a work queue whose oldest message is older than it should ever be (its consumer is behind
  or stopped);
- a 5xx answer from the API, and capture's own 503 (`CaptureUnavailable`: the inquiry could
  not be made durable and the website was told to retry);
- API Gateway refusing requests over the stage's throttling limit (429, counted from the
  access log: the 4XXError metric mixes them with every bad form post);
- a function error, or a function throttled by Lambda.

Every metric names this deployment only: AWS metrics by the resource (queue, function, API
named after the deployment), leadflow's own by the `client`, `stage` and `service` dimensions
the functions put on them (leadflow.observability).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.constructs.api import LeadsApi
from infra.constructs.functions import Functions
from infra.constructs.queues import Queues
from infra.constructs.topics import service_topic
from leadflow.definition import EnvValue, FunctionSpec, QueueSpec, StackDefinition
from leadflow.observability import metric_dimensions

CLOUDWATCH = iam.ServicePrincipal("cloudwatch.amazonaws.com")
FROM_THIS_ACCOUNT = {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}
FIVE_MINUTES = Duration.minutes(5)

# The custom metric capture emits when the intake queue refuses an inquiry (it answers 503).
CAPTURE_UNAVAILABLE = "CaptureUnavailable"
# Counted from the API's access log (see LeadsApi's access log format).
API_THROTTLED = "ApiThrottled"
# SES reviews an account whose bounce rate reaches 5% or complaint rate 0.1% (in percent, as the alarms compute).
BOUNCE_RATE, COMPLAINT_RATE = 5.0, 0.1
MIN_SENT_FOR_RATE = 100
INBOX_WINDOW = Duration.days(1)


class Monitoring(Construct):
    """The alarm topic (and its email subscriber) and the alarms that publish to it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        alarm_email: str | None,
        definition: StackDefinition,
        queues: Queues,
        functions: Functions,
        api: LeadsApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = self._alarm_topic()
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        for key, queue in queues.dead_letter_queues().items():
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
        for spec in definition.queues:
            self._oldest_message_alarm(spec, queues)
        self._api_alarms(definition, api)
        self._inbox_alarms(definition)
        for key, function in functions.all().items():
            self._alarm(
                f"{key}-errors",
                description=f"The {key} function failed (an error or a timeout). See its log group.",
                metric=function.metric_errors(period=FIVE_MINUTES, statistic=cloudwatch.Stats.SUM),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )
            self._alarm(
                f"{key}-throttles",
                description=f"Lambda throttled the {key} function: the account's or the function's concurrency "
                "is used up, so requests waited or failed. Raise the limit or find what floods it.",
                metric=function.metric_throttles(period=FIVE_MINUTES, statistic=cloudwatch.Stats.SUM),
                threshold=1,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )

    def _oldest_message_alarm(self, spec: QueueSpec, queues: Queues) -> None:
        # A message still waiting after every retry would have sent it to the dead-letter queue.
        threshold = Duration.seconds(spec.longest_wait_s)
        description = (
            f"The oldest message on the {spec.key} queue waits longer than its retries can take: "
            f"its consumer is behind, throttled or stopped, and leads are delayed. See the {spec.key} trigger."
        )
        self._alarm(
            f"{spec.key}-oldest-message",
            description=description,
            metric=queues.queue(spec.key).metric_approximate_age_of_oldest_message(
                period=FIVE_MINUTES, statistic=cloudwatch.Stats.MAXIMUM
            ),
            threshold=threshold.to_seconds(),
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def _api_alarms(self, definition: StackDefinition, api: LeadsApi) -> None:
        self._alarm(
            "api-server-errors",
            description="The API answered 5xx: a website's post (or the script) failed. Capture's own 503s "
            "are also alarmed on their own; look at the functions' errors and throttles alarms first.",
            metric=api.stage.metric_server_error(period=FIVE_MINUTES, statistic=cloudwatch.Stats.SUM),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        capture = definition.function("capture")
        namespace = plain_value(capture.environment["POWERTOOLS_METRICS_NAMESPACE"])
        self._alarm(
            "capture-unavailable",
            description="Capture could not put inquiries on the intake queue and answered 503: the websites "
            "were told to retry, and visitors without the script saw an error. See the capture log group.",
            metric=cloudwatch.Metric(
                namespace=namespace,
                metric_name=CAPTURE_UNAVAILABLE,
                dimensions_map=metric_dimensions(plain_environment(capture.environment)),
                period=FIVE_MINUTES,
                statistic=cloudwatch.Stats.SUM,
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )
        # The access log names the deployment in fields of these names (see LeadsApi's access log format).
        deployment = {"client": definition.client, "stage": definition.stage}
        logs.MetricFilter(
            self,
            "ThrottledRequests",
            log_group=api.access_logs,
            filter_pattern=logs.FilterPattern.string_value("$.responseType", "=", "THROTTLED"),
            metric_namespace=namespace,
            metric_name=API_THROTTLED,
            metric_value="1",
            dimensions={dimension: f"$.{dimension}" for dimension in deployment},
        )
        self._alarm(
            "api-throttled",
            description="API Gateway refused requests over the stage's throttling limit (429): posts were "
            "turned away. If the traffic is real, raise the limit in infra/constructs/api.py.",
            metric=cloudwatch.Metric(
                namespace=namespace,
                metric_name=API_THROTTLED,
                dimensions_map=deployment,
                period=FIVE_MINUTES,
                statistic=cloudwatch.Stats.SUM,
            ),
            threshold=1,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        )

    def _inbox_alarms(self, definition: StackDefinition) -> None:
        """Bounces at 5% or complaints at 0.1% of a day's emails to leads: the rates at which SES reviews an account."""
        sender, events_fn = definition.function("nurture_send"), definition.function("ses_events")
        namespace = plain_value(sender.environment["POWERTOOLS_METRICS_NAMESPACE"])

        def count(name: str, function: FunctionSpec) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map=metric_dimensions(plain_environment(function.environment)),
                period=INBOX_WINDOW,
                statistic=cloudwatch.Stats.SUM,
            )

        sent = {
            "sent": count("NurtureSent", sender),
            "swept": count("NurtureSent", definition.function("nurture_sweep")),
            "acks": count("AcknowledgementSent", sender),
        }
        all_sent = "sent + swept + acks"
        # SES's bounce rate counts hard bounces: a mailbox that was full (transient) is no bad address.
        rates = (
            ("bounce", BOUNCE_RATE, "(all - soft)",
             {"all": count("EmailBounced", events_fn), "soft": count("EmailBouncedTransient", events_fn)}),
            ("complaint", COMPLAINT_RATE, "events", {"events": count("EmailComplained", events_fn)}),
        )  # fmt: skip
        for key, rate, counted, metrics in rates:
            # At least MIN_SENT_FOR_RATE emails in the window: one bounce of three emails is no reputation.
            expression = f"IF(({all_sent}) >= {MIN_SENT_FOR_RATE}, 100 * {counted} / ({all_sent}), 0)"
            self._alarm(
                f"{key}-rate",
                description=f"{key.capitalize()}s reached {rate}% of the nurture emails sent in a day: SES reviews "
                "(and may pause) an account at that rate. Check the lists behind the latest leads (bought lists, "
                "typos) and `leadflow outbox`; suppressed addresses are not mailed again.",
                metric=cloudwatch.MathExpression(
                    expression=expression,
                    using_metrics={**sent, **metrics},
                    period=INBOX_WINDOW,
                    label=f"{key} rate (%)",
                ),
                threshold=rate,
                comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            )

    def _alarm_topic(self) -> sns.Topic:
        return service_topic(
            self,
            key_id="TopicKey",
            topic_id="AlarmTopic",
            key_description="Encrypts leadflow's alarm notifications",
            publisher=CLOUDWATCH,
            conditions=FROM_THIS_ACCOUNT,
            display_name="leadflow alarms",
        )

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


def plain_value(value: EnvValue) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a plain environment value, not {value!r}")
    return value


def plain_environment(environment: dict[str, EnvValue]) -> dict[str, str]:
    return {name: value for name, value in environment.items() if isinstance(value, str)}

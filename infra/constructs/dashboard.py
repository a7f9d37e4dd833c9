"""The client's operations dashboard in CloudWatch: leads flowing, queues waiting, functions failing or slow.

One dashboard per deployment (named like its resources, `leadflow-<client>[-<stage>]`), four
rows an operator reads top down:

1. leads: inquiries captured, what qualification decided (sales-ready, nurture, junk), leads
   assigned or queued by routing, and the accept deadline's reminders, breaches, reassignments
   and escalations (the functions' own metrics, by the client, stage and service dimensions);
2. queues: the age of each work queue's oldest message, and the messages in each dead-letter
   queue;
3. functions: errors, and the 95th percentile of each function's duration;
4. the API: latency (median and 95th percentile) and its 4xx and 5xx answers.

`[monitoring] dashboard = false` in the client file leaves it out (a dashboard costs 3 USD a
month; an account's first three are free).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from infra.constructs.api import LeadsApi
from infra.constructs.functions import Functions
from infra.constructs.monitoring import plain_environment, plain_value
from infra.constructs.queues import Queues
from leadflow.definition import StackDefinition
from leadflow.observability import metric_dimensions

PERIOD = Duration.minutes(5)
WIDTH, HEIGHT = 12, 6  # a widget is half the dashboard's 24 columns wide
# The functions' own metrics each graph shows, by the function that counts them.
LEADS: dict[str, tuple[str, ...]] = {
    "capture": ("InquiryCaptured",),
    "intake": ("QualifiedSalesReady", "QualifiedNurture", "QualifiedJunk"),
    "route": ("LeadAssigned", "LeadQueued"),
}
# The widgets' titles, as an operator reads them (the tests find each widget by its title).
LEADS_TITLE = "Leads: captured, qualified, routed"
DEADLINE_TITLE = "Accept deadline: reminded, breached, reassigned, escalated"
OLDEST_TITLE = "Oldest message waiting (seconds)"
DEAD_LETTERS_TITLE = "Messages in dead-letter queues (each failed every retry)"
ERRORS_TITLE = "Function errors"
FUNCTION_P95_TITLE = "Function duration, 95th percentile (ms)"
API_PERCENTILES_TITLE = "API latency (ms)"
ANSWERS_TITLE = "API answers 4xx and 5xx"
DEADLINE: dict[str, tuple[str, ...]] = {"sla": ("SlaReminded", "SlaBreached", "SlaReassigned", "SlaEscalated")}


class OperationsDashboard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: StackDefinition,
        queues: Queues,
        functions: Functions,
        api: LeadsApi,
    ) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=definition.name_prefix,
            default_interval=Duration.hours(24),
        )
        self.dashboard.add_widgets(
            self._counts(LEADS_TITLE, LEADS, definition),
            self._counts(DEADLINE_TITLE, DEADLINE, definition),
        )
        self.dashboard.add_widgets(
            _graph(
                OLDEST_TITLE,
                [
                    queues.queue(spec.key).metric_approximate_age_of_oldest_message(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=spec.key
                    )
                    for spec in definition.queues
                ],
            ),
            _graph(
                DEAD_LETTERS_TITLE,
                [
                    queue.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic=cloudwatch.Stats.MAXIMUM, label=key
                    )
                    for key, queue in queues.dead_letter_queues().items()
                ],
            ),
        )
        every = functions.all()
        self.dashboard.add_widgets(
            _graph(
                ERRORS_TITLE,
                [
                    function.metric_errors(period=PERIOD, statistic=cloudwatch.Stats.SUM, label=key)
                    for key, function in every.items()
                ],
            ),
            _graph(
                FUNCTION_P95_TITLE,
                [
                    function.metric_duration(period=PERIOD, statistic=cloudwatch.Stats.p(95), label=key)
                    for key, function in every.items()
                ],
            ),
        )
        self.dashboard.add_widgets(
            _graph(
                API_PERCENTILES_TITLE,
                [
                    api.stage.metric_latency(period=PERIOD, statistic=cloudwatch.Stats.p(50), label="median"),
                    api.stage.metric_latency(period=PERIOD, statistic=cloudwatch.Stats.p(95), label="95th percentile"),
                ],
            ),
            _graph(
                ANSWERS_TITLE,
                [
                    api.stage.metric_client_error(period=PERIOD, statistic=cloudwatch.Stats.SUM, label="4xx"),
                    api.stage.metric_server_error(period=PERIOD, statistic=cloudwatch.Stats.SUM, label="5xx"),
                ],
            ),
        )

    def _counts(
        self, title: str, counted: dict[str, tuple[str, ...]], definition: StackDefinition
    ) -> cloudwatch.IWidget:
        metrics: list[cloudwatch.IMetric] = []
        for key, names in counted.items():
            spec = definition.function(key)
            metrics += [
                cloudwatch.Metric(
                    namespace=plain_value(spec.environment["POWERTOOLS_METRICS_NAMESPACE"]),
                    metric_name=name,
                    dimensions_map=metric_dimensions(plain_environment(spec.environment)),
                    period=PERIOD,
                    statistic=cloudwatch.Stats.SUM,
                    label=name,
                )
                for name in names
            ]
        return _graph(title, metrics)


def _graph(title: str, metrics: list[cloudwatch.IMetric]) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(title=title, left=metrics, width=WIDTH, height=HEIGHT)

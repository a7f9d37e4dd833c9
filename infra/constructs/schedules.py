"""EventBridge schedules: each ScheduleSpec becomes a rule that runs its function at a fixed rate.

The rule sends the function EventBridge's "Scheduled Event" (its `time` is the tick) and is
named after the deployment (the spec's `name`: `leadflow-<client>[-<stage>]-<key>`). A schedule's work is
idempotent and the next tick does whatever a lost one left, so neither EventBridge nor Lambda
keeps a tick for long: EventBridge retries delivering it for at most one interval, and Lambda
runs a failed tick only once (no asynchronous retries hours later with a stale `time`; the
function's errors alarm reports the failure). No dead-letter queue: a lost tick holds nothing
that the next one does not redo.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.constructs.functions import Functions
from leadflow.definition import ScheduleSpec, StackDefinition

# How often EventBridge retries a tick it could not hand to Lambda (throttled, Lambda unavailable)
# within the tick's interval; after that the next tick is due anyway.
DELIVERY_RETRIES = 2


class Schedules(Construct):
    """The definition's schedules, each an EventBridge rule targeting its function, by key."""

    def __init__(
        self, scope: Construct, construct_id: str, *, definition: StackDefinition, functions: Functions
    ) -> None:
        super().__init__(scope, construct_id)
        self._rules = {spec.key: self._declare_rule(spec, functions) for spec in definition.schedules}
        # Lambda's own asynchronous retries, once per scheduled function: the shortest interval of its schedules.
        intervals: dict[str, int] = {}
        for spec in definition.schedules:
            intervals[spec.function] = min(spec.every_minutes, intervals.get(spec.function, spec.every_minutes))
        for key, every_minutes in intervals.items():
            functions.function(key).configure_async_invoke(
                retry_attempts=0, max_event_age=Duration.minutes(every_minutes)
            )

    def rule(self, key: str) -> events.Rule:
        return self._rules[key]

    def _declare_rule(self, spec: ScheduleSpec, functions: Functions) -> events.Rule:
        return events.Rule(
            self,
            spec.key,
            rule_name=spec.name,
            description=spec.description,
            schedule=events.Schedule.rate(Duration.minutes(spec.every_minutes)),
            targets=[
                targets.LambdaFunction(
                    functions.function(spec.function),
                    retry_attempts=DELIVERY_RETRIES,
                    max_event_age=Duration.minutes(spec.every_minutes),  # then the next tick is due
                )
            ],
        )

"""EventBridge schedules: each ScheduleSpec becomes a rule that runs its function at a fixed rate; each
CronScheduleSpec an EventBridge Scheduler schedule, at a cron expression's moments in the client's time zone.

The rule sends the function EventBridge's "Scheduled Event" (its `time` is the tick) and is
named after the deployment (the spec's `name`: `leadflow-<client>[-<stage>]-<key>`). A schedule's work is
idempotent and the next tick does whatever a lost one left, so neither EventBridge nor Lambda
keeps a tick for long: EventBridge retries delivering it for at most one interval, and Lambda
runs a failed tick only once (no asynchronous retries hours later with a stale `time`; the
function's errors alarm reports the failure). No dead-letter queue: a lost tick holds nothing
that the next one does not redo.

A cron schedule (the weekly report) runs rarely, so its run is worth retrying: EventBridge
Scheduler retries delivering it for up to CRON_DELIVERY_HOURS, and Lambda retries a run that
failed twice more, as it does for any asynchronous invocation. Its function makes a retried run
harmless (no recipient is emailed twice). Scheduler invokes through a role of its own, allowed
lambda:InvokeFunction on that function alone.
"""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from constructs import Construct

from infra.constructs.functions import Functions
from leadflow.definition import SCHEDULER_INPUT, CronScheduleSpec, ScheduleSpec, StackDefinition

# How often EventBridge retries a tick it could not hand to Lambda (throttled, Lambda unavailable)
# within the tick's interval; after that the next tick is due anyway.
DELIVERY_RETRIES = 2
CRON_DELIVERY_HOURS = 6  # how long EventBridge Scheduler keeps trying to start a cron schedule's run
CRON_DELIVERY_RETRIES = 10


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

        self._cron = {spec.key: self._declare_cron(spec, functions) for spec in definition.cron_schedules}

    def rule(self, key: str) -> events.Rule:
        return self._rules[key]

    def cron_schedule(self, key: str) -> scheduler.CfnSchedule:
        return self._cron[key]

    def _declare_cron(self, spec: CronScheduleSpec, functions: Functions) -> scheduler.CfnSchedule:
        # The L1 schedule and a role of its own: the L2 target would also allow every version of the
        # function (`<arn>:*`); this role may invoke the function itself and nothing else.
        function = functions.function(spec.function)
        role = iam.Role(
            self,
            f"{spec.key}-role",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}}
            ),
            description=f"EventBridge Scheduler's {spec.name}: invoke {spec.function}, nothing else",
        )
        role.add_to_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn]))
        return scheduler.CfnSchedule(
            self,
            spec.key,
            name=spec.name,
            description=spec.description,
            schedule_expression=spec.cron,
            schedule_expression_timezone=spec.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(SCHEDULER_INPUT),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_event_age_in_seconds=CRON_DELIVERY_HOURS * 3600,
                    maximum_retry_attempts=CRON_DELIVERY_RETRIES,
                ),
            ),
        )

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

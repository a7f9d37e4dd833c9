"""EventBridge rules: each EventRuleSpec copies some events from a bus to a queue.

Domain events come from the stack's bus; SES's events about the stack's mail come on the
account's default bus (the only one an SES event destination can send to), matched by the
stack's configuration set.

The rule matches the stack's own events (`source` is `leadflow.<client>`, as the functions
publish them) of the spec's detail types, and sends each whole event (EventBridge's envelope,
the domain event in `detail`) to the queue, whose consumer delivers it. The SqsQueue target adds
to the queue's policy a statement that lets EventBridge send to it for this rule only
(`aws:SourceArn`). A delivery EventBridge cannot make is retried by EventBridge for up to 24
hours (its default retry policy); the queue's own dead-letter queue holds what the consumer fails.
"""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from constructs import Construct

from infra.constructs.events import EventBuses
from infra.constructs.queues import Queues
from leadflow.definition import DEFAULT_BUS, EventRuleSpec, StackDefinition


class EventRules(Construct):
    """The definition's event rules, each feeding its queue from its bus, by key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        definition: StackDefinition,
        event_buses: EventBuses,
        queues: Queues,
    ) -> None:
        super().__init__(scope, construct_id)
        self._rules = {
            spec.key: self._declare_rule(definition, spec, event_buses, queues) for spec in definition.event_rules
        }

    def rule(self, key: str) -> events.Rule:
        return self._rules[key]

    def _declare_rule(
        self, definition: StackDefinition, spec: EventRuleSpec, event_buses: EventBuses, queues: Queues
    ) -> events.Rule:
        default = spec.bus == DEFAULT_BUS
        bus = events.EventBus.from_event_bus_name(self, f"{spec.key}-bus", DEFAULT_BUS) if default else None
        return events.Rule(
            self,
            spec.key,
            rule_name=spec.name,
            description=f"{', '.join(spec.detail_types)} from "
            f"{DEFAULT_BUS if default else definition.event_bus(spec.bus).name} to the {spec.queue} queue",
            event_bus=bus or event_buses.bus(spec.bus),
            event_pattern=events.EventPattern(
                source=[spec.source], detail_type=list(spec.detail_types), detail=spec.detail
            ),
            targets=[targets.SqsQueue(queues.queue(spec.queue))],
        )

"""EventBridge: each EventBusSpec becomes a custom bus, its events archived for replay.

A lead's state changes are published on the bus as domain events. The archive keeps every
event the account put on it for ARCHIVE_RETENTION, so that a consumer added later, or one
that failed, can be fed again with `aws events start-replay`.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from constructs import Construct

from leadflow.definition import EventBusSpec

# Long enough to notice a broken consumer and replay what it missed; events are not the record
# (the leads table is), so they need not be kept longer.
ARCHIVE_RETENTION = Duration.days(30)


class EventBuses(Construct):
    """The stack's event buses, by their key in the definition."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[EventBusSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._buses = {spec.key: self._declare_bus(spec) for spec in specs}

    def bus(self, key: str) -> events.EventBus:
        return self._buses[key]

    def _declare_bus(self, spec: EventBusSpec) -> events.EventBus:
        bus = events.EventBus(self, spec.key, event_bus_name=spec.name)
        archive = bus.archive(
            f"{spec.key}-archive",
            description=f"Every event put on {spec.name}, kept for replay",
            event_pattern=events.EventPattern(account=[Stack.of(self).account]),
            retention=ARCHIVE_RETENTION,
        )
        # Without a key of its own, the Archive construct writes `KmsKeyIdentifier: ""`, which
        # some regions reject on deploy (aws/aws-cdk#37847, fix open in #37865). Leave it out:
        # the archive is then encrypted with an AWS-owned key, as the bus is.
        cfn_archive = archive.node.default_child
        assert isinstance(cfn_archive, events.CfnArchive)
        cfn_archive.add_property_deletion_override("KmsKeyIdentifier")
        return bus

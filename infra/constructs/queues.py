"""SQS: each QueueSpec becomes a queue with its own dead-letter queue (FIFO when the queue is).

Every queue holds inquiries or leads that are stored nowhere else yet (captured inquiries on
intake, sales-ready hand-offs on routing, failed messages in the dead-letter queues), so every
queue is kept when the stack is deleted, as the table is. Deleting a stack therefore loses no
message; deploying it again adopts the kept queues and table (see infra/retained.py).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from leadflow.definition import QueueSpec

# A message that reached the dead-letter queue waits there as long as SQS allows, for redrive.
DEAD_LETTER_RETENTION = Duration.days(14)


class Queues(Construct):
    """The stack's work queues and their dead-letter queues, by their key in the definition."""

    def __init__(self, scope: Construct, construct_id: str, *, specs: tuple[QueueSpec, ...]) -> None:
        super().__init__(scope, construct_id)
        self._dead_letter_queues = {spec.key: self._declare_dead_letter_queue(spec) for spec in specs}
        self._queues = {spec.key: self._declare_queue(spec) for spec in specs}

    def queue(self, key: str) -> sqs.Queue:
        return self._queues[key]

    def dead_letter_queue(self, key: str) -> sqs.Queue:
        return self._dead_letter_queues[key]

    def dead_letter_queues(self) -> dict[str, sqs.Queue]:
        return dict(self._dead_letter_queues)

    def _declare_dead_letter_queue(self, spec: QueueSpec) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"{spec.key}-dlq",
            queue_name=spec.dead_letter_name,
            fifo=spec.fifo,
            retention_period=DEAD_LETTER_RETENTION,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _declare_queue(self, spec: QueueSpec) -> sqs.Queue:
        return sqs.Queue(
            self,
            spec.key,
            queue_name=spec.name,
            fifo=spec.fifo,
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            deduplication_scope=sqs.DeduplicationScope.MESSAGE_GROUP if spec.fifo_high_throughput else None,
            fifo_throughput_limit=sqs.FifoThroughputLimit.PER_MESSAGE_GROUP_ID if spec.fifo_high_throughput else None,
            retention_period=Duration.days(spec.retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self._dead_letter_queues[spec.key],
                max_receive_count=spec.max_receive_count,
            ),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )

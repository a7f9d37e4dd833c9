"""Data access for the webhooks queue (a standard queue): split deliveries sent to it, failed ones put off.

The webhooks function consumes the queue through Lambda's trigger, and also writes to it:
each event the bus copies there becomes one message per webhook (`send_deliveries`), and a
delivery that failed is made invisible for its backoff (`retry_later`) before the trigger
leaves it on the queue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from leadflow.aws.client import LazyClient

MAX_ENTRIES_PER_CALL = 10  # SQS's SendMessageBatch limit


class DeliveriesNotQueued(Exception):
    """SQS refused some of the split messages: the event's message fails and is split again later."""


class WebhookQueue(LazyClient):
    service = "sqs"

    def __init__(self, queue_url: str, client: Any = None):
        super().__init__(client)
        self.queue_url = queue_url

    def send_deliveries(self, messages: Sequence[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_ENTRIES_PER_CALL):
            entries = [
                {"Id": str(index), "MessageBody": json.dumps(message, separators=(",", ":"), ensure_ascii=False)}
                for index, message in enumerate(messages[start : start + MAX_ENTRIES_PER_CALL])
            ]
            answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = answer.get("Failed") or []
            if failed:
                raise DeliveriesNotQueued(", ".join(sorted({str(f.get("Code")) for f in failed})))

    def retry_later(self, receipt_handle: str, delay_s: int) -> None:
        """Keep a received message invisible for delay_s seconds from now: its next attempt comes then."""
        self.client.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=delay_s
        )

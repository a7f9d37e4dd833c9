"""Data access for the stack's FIFO queues (intake, routing): the one place that sends to SQS.

Messages are grouped by lead, so one person's messages are handled in order and never in
parallel, and carry a deduplication id, so a retry within SQS's five-minute window enqueues
nothing new. Beyond that window the consumers drop what they have already handled.
"""

from __future__ import annotations

import json
from typing import Any

from leadflow.aws.client import LazyClient


class QueueUnavailable(Exception):
    """The message could not be made durable: the caller must not report success."""


class FifoQueue(LazyClient):
    service = "sqs"

    def __init__(self, queue_url: str, client: Any = None):
        super().__init__(client)
        self.queue_url = queue_url

    def send(self, message: dict[str, Any], *, group_id: str, deduplication_id: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=json.dumps(message, separators=(",", ":"), ensure_ascii=False),
                MessageGroupId=group_id,
                MessageDeduplicationId=deduplication_id,
            )
        except (BotoCoreError, ClientError) as exc:
            raise QueueUnavailable(type(exc).__name__) from exc

    def send_batch(self, messages: list[tuple[dict[str, Any], str, str]]) -> None:
        """Send (message, group id, deduplication id) triples, ten to a request; QueueUnavailable if any fails."""
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(messages), 10):
            entries = [
                {
                    "Id": str(n),
                    "MessageBody": json.dumps(message, separators=(",", ":"), ensure_ascii=False),
                    "MessageGroupId": group_id,
                    "MessageDeduplicationId": deduplication_id,
                }
                for n, (message, group_id, deduplication_id) in enumerate(messages[start : start + 10])
            ]
            try:
                answer = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (BotoCoreError, ClientError) as exc:
                raise QueueUnavailable(type(exc).__name__) from exc
            if answer.get("Failed"):
                raise QueueUnavailable(f"{len(answer['Failed'])} of {len(entries)} messages were not sent")

"""Data access for the intake queue: the one place capture talks to SQS.

The queue is FIFO: the message group is the lead (one person's inquiries are stored in
order, never in parallel) and the deduplication id is the inquiry, so a website retrying
the same submission within SQS's five-minute window enqueues nothing new. Beyond that
window the intake consumer drops an inquiry it has already stored.
"""

from __future__ import annotations

import json
from typing import Any


class IntakeUnavailable(Exception):
    """The inquiry could not be made durable; the caller must not answer 2xx."""


class IntakeQueue:
    def __init__(self, queue_url: str, client: Any = None):
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

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
            raise IntakeUnavailable(type(exc).__name__) from exc

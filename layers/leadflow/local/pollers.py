"""SQS event-source mappings, locally: poll a queue and feed batches to a function as Lambda does.

Lambda's semantics kept here: up to `batch_size` messages a batch, the event in the shape
Lambda sends (`Records` with `attributes`, `messageAttributes`, `md5OfBody`,
`eventSourceARN`), partial batch failures (only the `batchItemFailures` stay on the queue;
the rest are deleted), a function error leaves the whole batch, and a message that keeps
failing reaches the dead-letter queue through the queue's own redrive policy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from leadflow.local.workers import STOPPED, InvocationError

Invoke = Callable[[dict[str, Any]], Any]


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    return {"Records": [_record(m, queue_arn, region) for m in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": value.get("StringListValues", []),
                "binaryListValues": value.get("BinaryListValues", []),
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_message_ids(answer: Any) -> set[str]:
    if not isinstance(answer, dict):
        return set()
    return {item["itemIdentifier"] for item in answer.get("batchItemFailures") or []}


class QueuePoller:
    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        invoke: Invoke,
        batch_size: int,
        region: str,
        name: str,
        function: str,
        wait_seconds: int = 1,
    ):
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.batch_size = min(batch_size, 10)
        self.region = region
        self.name = name
        self.wait_seconds = wait_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"poller-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Poll no more; returns at once (stop() then waits for the thread)."""
        self._stop.set()

    def stop(self) -> None:
        """Stop polling: waits out the receive under way, not a batch the function is still handling.

        An unfinished batch stays on the queue (its invocation ends when the function pools stop),
        so Ctrl-C of the local stack takes seconds, not a function's timeout.
        """
        self.request_stop()
        self._thread.join(timeout=self.wait_seconds + 1)

    def poll_once(self) -> int:
        """Receive one batch and hand it to the function; the number of messages handled."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            AttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        try:
            answer = self.invoke(sqs_event(messages, self.queue_arn, self.region))
        except InvocationError as exc:
            stopping = exc.error_type == STOPPED
            cause = "the stack stopped during the batch" if stopping else f"function error {exc.error_type}"
            print(f"  ! {self.name}: {cause}; {len(messages)} message(s) stay on the queue", flush=True)
            return len(messages)
        failed = failed_message_ids(answer)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        note = f", {len(failed)} returned to the queue" if failed else ""
        print(f"  {self.name}: batch of {len(messages)} handled{note}", flush=True)
        return len(messages)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as exc:  # keep polling, as Lambda's pollers do
                if self._stop.is_set():
                    return  # moto may already be gone: nothing to report
                print(f"  ! {self.name}: polling failed ({type(exc).__name__}: {exc}); retrying", flush=True)
                self._stop.wait(1)

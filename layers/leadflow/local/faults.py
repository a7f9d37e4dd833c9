"""DynamoDB under contention, on demand: a botocore hook that cancels transactions and throttles.

moto never raises `TransactionConflict` (it runs one write at a time) and never throttles,
so code that must survive both on DynamoDB cannot be proven against it unaided. A
`FaultInjector` registered on a boto3 session answers some calls itself, before they are
sent, exactly as DynamoDB answers them under load: a transaction is cancelled with
`TransactionConflict` at `conflict_rate`, a call is throttled at `throttle_rate`, drawn from a
seeded random sequence (so a run repeats, and runs of several faults in a row do occur).
Handlers run unchanged; only the session they use is touched. It counts what it injected.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any

THROTTLED_OPERATIONS = frozenset({"GetItem", "TransactWriteItems", "UpdateItem", "PutItem", "Query"})


@dataclass
class _Answer:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""


@dataclass
class FaultInjector:
    conflict_rate: float = 0.3
    throttle_rate: float = 0.3
    seed: int = 7
    calls: int = 0
    transactions: int = 0
    cancelled: int = 0
    throttled: int = 0
    longest_run: int = 0  # the most faults injected in a row
    _run: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _random: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)  # noqa: S311 - a repeatable sequence, not a secret

    def install(self, session: Any) -> None:
        """Register on a boto3 (or botocore) session: every client it makes from now on is affected."""
        events = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        events.register("before-call.dynamodb", self._before_call, unique_id="leadflow-fault-injector")

    def uninstall(self, session: Any) -> None:
        events = session.events if hasattr(session, "events") else session.get_component("event_emitter")
        events.unregister("before-call.dynamodb", unique_id="leadflow-fault-injector")

    def _before_call(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[_Answer, dict[str, Any]] | None:
        operation = model.name
        with self._lock:
            self.calls += 1
            answer: tuple[_Answer, dict[str, Any]] | None = None
            if operation == "TransactWriteItems":
                self.transactions += 1
                if self._random.random() < self.conflict_rate:
                    self.cancelled += 1
                    answer = self._cancelled(len(json.loads(params["body"]).get("TransactItems", [])))
            if answer is None and operation in THROTTLED_OPERATIONS and self._random.random() < self.throttle_rate:
                self.throttled += 1
                answer = _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
            self._run = self._run + 1 if answer else 0
            self.longest_run = max(self.longest_run, self._run)
            return answer

    @staticmethod
    def _cancelled(items: int) -> tuple[_Answer, dict[str, Any]]:
        answer, parsed = _error(
            400,
            "TransactionCanceledException",
            "Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict]",
        )
        reasons = [{"Code": "None"}] * items
        reasons[-1] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        parsed["CancellationReasons"] = reasons
        return answer, parsed


def _error(status: int, code: str, message: str) -> tuple[_Answer, dict[str, Any]]:
    parsed = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "injected-fault"},
    }
    return _Answer(status), parsed

"""DynamoDB under contention, on demand: a botocore hook that cancels transactions and throttles.

moto never raises `TransactionConflict` (it runs one write at a time) and never throttles,
so code that must survive both on DynamoDB cannot be proven against it unaided. A
`FaultInjector` registered on a boto3 session answers some calls itself, before they are
sent, exactly as DynamoDB answers them under load: every `conflict_every`-th transaction is
cancelled with `TransactionConflict`, every `throttle_every`-th call is throttled. Handlers
run unchanged; only the session they use is touched. It counts what it injected.
"""

from __future__ import annotations

import json
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
    conflict_every: int = 3
    throttle_every: int = 4
    calls: int = 0
    transactions: int = 0
    cancelled: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

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
            if operation == "TransactWriteItems":
                self.transactions += 1
                if self.transactions % self.conflict_every == 0:
                    self.cancelled += 1
                    return self._cancelled(len(json.loads(params["body"]).get("TransactItems", [])))
            if operation in THROTTLED_OPERATIONS and self.calls % self.throttle_every == 0:
                self.throttled += 1
                return _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
        return None

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

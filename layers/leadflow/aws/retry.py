"""Retrying what DynamoDB (and the other services) ask to be retried, with jittered backoff.

DynamoDB cancels a transaction that touches an item another transaction is writing
(`TransactionConflict`) and throttles a partition that takes more than its share; both are
"try again soon", not failures. Every conditional or transactional write goes through
`with_backoff`, which retries those (full jitter: a random wait up to a cap that doubles),
and lets everything else, including a failed condition, through at once. botocore's own
retries come first; these are for what is left when they give up, and for cancellation
reasons, which botocore does not retry.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

RETRYABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "TransactionConflictException",
        "TransactionInProgressException",
        "InternalServerError",
        "ServiceUnavailable",
        "TooManyRequestsException",  # SES v2 over its sending rate
    }
)
# Why a transaction was cancelled, item by item: these reasons mean "try the same again".
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})
ATTEMPTS = 8
BASE_SECONDS = 0.02
CAP_SECONDS = 1.0


def cancellation_reasons(error: Any) -> list[str]:
    """The per-item codes of a cancelled transaction ("None" for items that were fine)."""
    return [str(reason.get("Code") or "None") for reason in error.response.get("CancellationReasons") or []]


def aws_error_code(error: BaseException) -> str:
    """The error code AWS answered with (botocore's ClientError, or one shaped like it); "" for any other error."""
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code") or "") if isinstance(response, dict) else ""


def is_retryable(error: Exception) -> bool:
    code = aws_error_code(error)
    if code in RETRYABLE_ERRORS:
        return True
    if code == "TransactionCanceledException":
        reasons = set(cancellation_reasons(error)) - {"None"}
        return bool(reasons) and reasons <= RETRYABLE_REASONS
    return False


def with_backoff(
    call: Callable[[], T],
    *,
    attempts: int = ATTEMPTS,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[Exception], None] | None = None,
    give_up_at: float | None = None,
) -> T:
    """`call()`, retried while it fails with a retryable error, at most `attempts` times in all.

    `give_up_at` (a time.monotonic() value) bounds the waiting: a retry that would start after
    it is not made, and the error is raised, so a Lambda fails the one record in time instead of
    timing out with the whole batch.
    """
    for attempt in range(attempts):
        try:
            return call()
        except Exception as error:
            if attempt == attempts - 1 or not is_retryable(error):
                raise
            wait = random.uniform(0, min(CAP_SECONDS, BASE_SECONDS * 2**attempt))  # noqa: S311 - jitter, not secrecy
            if give_up_at is not None and time.monotonic() + wait > give_up_at:
                raise
            if on_retry is not None:
                on_retry(error)
            sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")

"""What DynamoDB asks to be retried is retried, with a limit; everything else goes through at once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from leadflow.aws.retry import ATTEMPTS, is_retryable, with_backoff


def error(code: str, *reasons: str) -> ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": code}}
    if reasons:
        response["CancellationReasons"] = [{"Code": reason} for reason in reasons]
    return ClientError(response, "TransactWriteItems")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "retryable"),
    [
        (error("ThrottlingException"), True),
        (error("ProvisionedThroughputExceededException"), True),
        (error("TransactionCanceledException", "None", "TransactionConflict"), True),
        (error("TransactionCanceledException", "ThrottlingError", "None"), True),
        (error("TransactionCanceledException", "ConditionalCheckFailed", "TransactionConflict"), False),
        (error("TransactionCanceledException", "None", "ConditionalCheckFailed"), False),
        (error("TransactionCanceledException"), False),
        (error("ConditionalCheckFailedException"), False),
        (error("ValidationException"), False),
        (ValueError("not from AWS"), False),
    ],
    ids=[
        "throttled", "throughput", "conflict", "throttled-item", "condition-beside-conflict", "condition",
        "no-reasons", "condition-exception", "validation", "not-aws",
    ],
)  # fmt: skip
def test_only_contention_and_throttling_are_retryable(failure: Exception, retryable: bool) -> None:
    assert is_retryable(failure) is retryable


def test_a_retryable_error_is_retried_until_the_call_succeeds() -> None:
    failures = [error("ThrottlingException"), error("TransactionCanceledException", "TransactionConflict")]
    waits: list[float] = []

    def call() -> str:
        if failures:
            raise failures.pop()
        return "done"

    assert with_backoff(call, sleep=waits.append) == "done"
    assert len(waits) == 2


def test_a_retryable_error_that_keeps_coming_is_raised_after_the_last_attempt() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise error("ThrottlingException")

    with pytest.raises(ClientError):
        with_backoff(call, sleep=lambda seconds: None)
    assert len(calls) == ATTEMPTS


def test_an_error_that_is_not_retryable_is_raised_at_once() -> None:
    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise error("TransactionCanceledException", "ConditionalCheckFailed")

    with pytest.raises(ClientError):
        with_backoff(call, sleep=lambda seconds: None)
    assert calls == [1]


def test_waits_are_jittered_below_a_cap_that_doubles() -> None:
    waits: list[float] = []

    def call() -> None:
        raise error("ThrottlingException")

    with pytest.raises(ClientError):
        with_backoff(call, sleep=waits.append)
    assert all(0 <= wait <= min(1.0, 0.02 * 2**n) for n, wait in enumerate(waits))
    assert len(set(waits)) == len(waits)  # drawn, not fixed


def test_no_retry_starts_after_the_time_given_up_at() -> None:
    import time

    calls: list[int] = []

    def call() -> None:
        calls.append(1)
        raise error("ThrottlingException")

    with pytest.raises(ClientError):
        with_backoff(call, sleep=lambda seconds: None, give_up_at=time.monotonic() - 1)
    assert calls == [1]

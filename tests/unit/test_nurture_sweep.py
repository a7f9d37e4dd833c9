"""The nurture sweep's own rules: send what one run can at its rate, hand the rest to the queue, never drop a step."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import cast

import pytest

from leadflow.nurture.send import (
    SWEEP_BATCH,
    Pacer,
    SentSteps,
    StepOutcome,
    batches_in_flight,
    rate_share,
    sweep_nurture,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_keeps_sends_one_interval_apart() -> None:
    clock = FakeClock()
    pacer = Pacer(4, clock=clock, sleep=clock.sleep)
    moments = []
    for _ in range(5):
        pacer.wait()
        moments.append(clock.now)
    assert moments == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_emails_sent_together_hold_the_next_send_back_one_interval_each() -> None:
    clock = FakeClock()
    pacer = Pacer(4, clock=clock, sleep=clock.sleep)
    moments = []
    for count in (3, 1, 2):
        pacer.wait(count)
        moments.append(clock.now)
    assert moments == [0.0, 0.75, 1.0]  # three at once, then the next a three-quarter second on


@pytest.mark.parametrize(("per_second", "most"), [(4, 4), (93, 93), (166.7, 166), (0.5, 1)])
def test_at_most_a_seconds_worth_of_the_rate_goes_out_at_once(per_second: float, most: int) -> None:
    assert Pacer(per_second).most_at_once == most


def test_the_pacer_gives_senders_on_many_threads_one_moment_each() -> None:
    stopped = FakeClock()  # its time never moves: each wait is given the next free moment
    all_asleep = threading.Barrier(7, timeout=10)  # the seven that wait are all in `sleep` at once

    def sleep(seconds: float) -> None:
        stopped.slept.append(seconds)
        all_asleep.wait()

    pacer = Pacer(4, clock=stopped, sleep=sleep)
    threads = [threading.Thread(target=pacer.wait) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(stopped.slept) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]  # the first goes at once


def test_the_sweep_and_each_queue_consumer_share_the_clients_rate() -> None:
    assert rate_share(30) == 10  # the sweep and two consumers at once never send more than 30 a second


def sends(outcomes: dict[str, str], batches: list[list[str]] | None = None) -> Callable[[list[str]], SentSteps]:
    """A batch sender whose leads end as `outcomes` says; a lead named there as "failed" fails its send."""

    def send(lead_ids: list[str]) -> SentSteps:
        if batches is not None:
            batches.append(lead_ids)
        done = SentSteps()
        for lead_id in lead_ids:
            if outcomes[lead_id] == "failed":
                done.failures[lead_id] = RuntimeError("SES still throttling")
            else:
                done.outcomes[lead_id] = cast(StepOutcome, outcomes[lead_id])
        return done

    return send


def test_a_run_sends_what_fits_and_reports_each_outcome() -> None:
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), sends({"a": "sent", "b": "not_due", "c": "sent"}), handed.append, inline_most=3)
    assert done == {"due": 3, "sent": 2, "fanned_out": 0, "not_sent": 1, "failed": 0, "unrecorded": 0}
    assert handed == []


def test_a_run_sends_in_batches_of_the_sweep_batch() -> None:
    leads = [f"lead{n}" for n in range(SWEEP_BATCH * 2 + 1)]
    batches: list[list[str]] = []
    done = sweep_nurture(
        iter(leads), sends(dict.fromkeys(leads, "sent"), batches), lambda ids: None, inline_most=len(leads)
    )
    assert [len(batch) for batch in batches] == [SWEEP_BATCH, SWEEP_BATCH, 1]
    assert done["sent"] == len(leads)


def test_more_due_than_one_run_should_send_goes_to_the_queue_whole() -> None:
    handed: list[list[str]] = []
    batches: list[list[str]] = []
    done = sweep_nurture(iter("abcd"), sends(dict.fromkeys("abcd", "sent"), batches), handed.append, inline_most=3)
    assert handed == [list("abcd")]
    assert batches == []
    assert done["fanned_out"] == 4


def test_a_run_out_of_time_hands_the_rest_to_the_queue() -> None:
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), sends(dict.fromkeys("abc", "sent")), handed.append, inline_most=10,
                         give_up_at=time.monotonic() - 1)  # fmt: skip
    assert handed == [list("abc")]
    assert done["sent"] == 0


def test_a_run_hands_a_batch_to_the_queue_when_its_pacing_would_outlast_the_run() -> None:
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), sends(dict.fromkeys("abc", "sent")), handed.append, inline_most=10,
                         give_up_at=time.monotonic() + 60, batch_seconds=120)  # fmt: skip
    assert handed == [list("abc")]
    assert done["sent"] == 0


def test_a_run_has_its_batches_in_flight_together_so_their_waits_overlap() -> None:
    all_waiting = threading.Barrier(3, timeout=10)  # broken, and the batches fail, unless three wait at once
    leads = [f"lead{n}" for n in range(SWEEP_BATCH * 3)]

    def waiting(lead_ids: list[str]) -> SentSteps:
        all_waiting.wait()
        return SentSteps(outcomes=dict.fromkeys(lead_ids, "sent"))

    done = sweep_nurture(iter(leads), waiting, lambda ids: None, inline_most=len(leads), in_flight=3)
    assert done == {"due": len(leads), "sent": len(leads), "fanned_out": 0, "not_sent": 0, "failed": 0, "unrecorded": 0}


def test_a_run_never_has_more_batches_in_flight_than_it_was_given() -> None:
    lock, now_in_flight, most_in_flight = threading.Lock(), [0], [0]
    pairs = threading.Barrier(2, timeout=10)  # each batch waits for another to be in flight with it
    leads = [f"lead{n}" for n in range(SWEEP_BATCH * 6)]

    def counting(lead_ids: list[str]) -> SentSteps:
        with lock:
            now_in_flight[0] += 1
            most_in_flight[0] = max(most_in_flight[0], now_in_flight[0])
        pairs.wait()
        with lock:
            now_in_flight[0] -= 1
        return SentSteps(outcomes=dict.fromkeys(lead_ids, "sent"))

    done = sweep_nurture(iter(leads), counting, lambda ids: None, inline_most=len(leads), in_flight=2)
    assert most_in_flight[0] == 2
    assert done["sent"] == len(leads)


def test_a_run_hands_the_rest_to_the_queue_when_the_batches_in_flight_would_outlast_it() -> None:
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), sends(dict.fromkeys("abc", "sent")), handed.append, inline_most=10,
                         give_up_at=time.monotonic() + 10, batch_seconds=4, in_flight=3)  # fmt: skip
    assert handed == [list("abc")]  # one batch alone would fit; behind two others it would not
    assert done["sent"] == 0


@pytest.mark.parametrize(("batch_seconds", "in_flight"), [(15.0, 1), (5.0, 1), (2.0, 2), (0.3, 4), (0.0, 1)])
def test_batches_overlap_only_where_the_rate_leaves_their_waits_to_overlap(
    batch_seconds: float, in_flight: int
) -> None:
    assert batches_in_flight(batch_seconds) == in_flight


def test_a_step_that_fails_holds_back_no_other() -> None:
    done = sweep_nurture(iter("abc"), sends({"a": "sent", "b": "failed", "c": "sent"}), lambda ids: None,
                         inline_most=10)  # fmt: skip
    assert (done["sent"], done["failed"]) == (2, 1)


def test_a_batch_whose_writes_fail_holds_back_no_later_batch() -> None:
    leads = [f"lead{n}" for n in range(SWEEP_BATCH + 1)]

    def send(lead_ids: list[str]) -> SentSteps:
        if len(lead_ids) == SWEEP_BATCH:
            raise RuntimeError("DynamoDB unavailable")
        return SentSteps(outcomes=dict.fromkeys(lead_ids, "sent"))

    done = sweep_nurture(iter(leads), send, lambda ids: None, inline_most=100)
    assert (done["sent"], done["failed"]) == (1, SWEEP_BATCH)


def test_a_failure_is_logged_by_its_code_never_by_its_text_which_may_name_the_address() -> None:
    from botocore.exceptions import ClientError

    from leadflow.nurture.send import error_code

    refused = ClientError({"Error": {"Code": "MessageRejected", "Message": "ada@example.com failed the check"}}, "Send")
    assert error_code(refused) == "MessageRejected"
    assert error_code(RuntimeError("ada@example.com")) == "RuntimeError"

"""The nurture sweep's own rules: send what one run can at its rate, hand the rest to the queue, never drop a step."""

from __future__ import annotations

import time

from leadflow.nurture.send import Pacer, StepOutcome, rate_share, sweep_nurture


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


def test_the_sweep_and_each_queue_consumer_share_the_clients_rate() -> None:
    assert rate_share(30) == 10  # the sweep and two consumers at once never send more than 30 a second


def test_a_run_sends_what_fits_and_reports_each_outcome() -> None:
    outcomes: dict[str, StepOutcome] = {"a": "sent", "b": "not_due", "c": "sent"}
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), outcomes.__getitem__, handed.append, inline_most=3, pacer=Pacer(1e6))
    assert done == {"due": 3, "sent": 2, "fanned_out": 0, "not_sent": 1, "failed": 0}
    assert handed == []


def test_more_due_than_one_run_should_send_goes_to_the_queue_whole() -> None:
    handed: list[list[str]] = []
    sent: list[str] = []
    done = sweep_nurture(iter("abcd"), lambda lead: sent.append(lead) or "sent", handed.append, inline_most=3,
                         pacer=Pacer(1e6))  # fmt: skip
    assert handed == [list("abcd")]
    assert sent == []
    assert done["fanned_out"] == 4


def test_a_run_out_of_time_hands_the_rest_to_the_queue() -> None:
    handed: list[list[str]] = []
    done = sweep_nurture(iter("abc"), lambda lead: "sent", handed.append, inline_most=10, pacer=Pacer(1e6),
                         give_up_at=time.monotonic() - 1)  # fmt: skip
    assert handed == [list("abc")]
    assert done["sent"] == 0


def test_a_step_that_fails_holds_back_no_other() -> None:
    def send(lead: str) -> StepOutcome:
        if lead == "b":
            raise RuntimeError("SES still throttling")
        return "sent"

    done = sweep_nurture(iter("abc"), send, lambda ids: None, inline_most=10, pacer=Pacer(1e6))
    assert (done["sent"], done["failed"]) == (2, 1)

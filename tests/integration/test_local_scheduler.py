"""The local schedules: EventBridge's Scheduled Events, one per tick of a clock that runs fast."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from leadflow.cron import parse
from leadflow.definition import build_definition
from leadflow.local.scheduler import (
    MAX_CONCURRENT,
    Clock,
    LocalSchedule,
    Scheduler,
    local_schedules,
    rule_arn,
)
from leadflow.local.workers import InvocationError
from tests.support import load_event

FAST = 600.0  # a minute of the clock lasts 0.1 s
WAIT_S = 20.0  # bounded waits: far longer than the ticks need, so a slow machine only makes the test slower
RULE = "leadflow-demo-sla-sweep"


class Recorder:
    """A fake invoke: keeps every event, and lets a test hold invocations while it looks."""

    def __init__(self, fail: bool = False, hold: threading.Event | None = None):
        self.events: list[dict[str, Any]] = []
        self.fail = fail
        self.hold = hold
        self.running = 0
        self.most_running = 0
        self._changed = threading.Condition()

    def __call__(self, event: dict[str, Any]) -> Any:
        with self._changed:
            self.events.append(event)
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self._changed.notify_all()
        try:
            if self.hold is not None:
                self.hold.wait(WAIT_S)
            if self.fail:
                raise InvocationError("sla", "RuntimeError", "Traceback: the sweep failed")
            return {"reminded": 0}
        finally:
            with self._changed:
                self.running -= 1
                self._changed.notify_all()

    def wait_for(self, count: int) -> list[dict[str, Any]]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout=WAIT_S), self.events
            return list(self.events)


def schedule(invoke: Recorder, every_minutes: int = 1, log_path: Path | None = None) -> LocalSchedule:
    return LocalSchedule(
        key="sla-sweep", rule_name=RULE, function="sla", every_minutes=every_minutes, invoke=invoke, log_path=log_path
    )


def tick_times(events: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) for e in events]


def test_ticks_are_scheduled_events_shaped_like_the_sample_at_consecutive_minutes() -> None:
    invoke = Recorder()
    started = datetime.now(UTC)
    scheduler = Scheduler([schedule(invoke)], "eu-west-1", Clock(FAST, start=started))
    scheduler.start()
    try:
        events = invoke.wait_for(5)
    finally:
        scheduler.stop()
    sample = load_event("sla-scheduled.json")
    for event in events:
        assert set(event) == set(sample)
        assert {k: event[k] for k in ("version", "detail-type", "source", "account", "detail")} == {
            k: sample[k] for k in ("version", "detail-type", "source", "account", "detail")
        }
        assert event["region"] == "eu-west-1"
        assert event["resources"] == [rule_arn("eu-west-1", RULE)] == sample["resources"]
    assert len({event["id"] for event in events}) == len(events)
    times = tick_times(events)
    # The first tick is the clock's next minute boundary after the start; then one a minute, none missed.
    assert times[0] == started.replace(second=0, microsecond=0) + timedelta(minutes=1)
    assert all(t.second == 0 for t in times)
    assert [b - a for a, b in pairwise(times)] == [timedelta(minutes=1)] * (len(times) - 1)


def test_a_rate_of_several_minutes_advances_the_event_time_by_that_many_minutes() -> None:
    invoke = Recorder()
    scheduler = Scheduler([schedule(invoke, every_minutes=5)], "us-east-1", Clock(FAST * 5))
    scheduler.start()
    try:
        events = invoke.wait_for(3)
    finally:
        scheduler.stop()
    times = tick_times(events)
    assert [b - a for a, b in pairwise(times)] == [timedelta(minutes=5)] * (len(times) - 1)


def test_a_function_error_is_logged_and_the_next_tick_comes_anyway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke = Recorder(fail=True)
    log = tmp_path / "sla.log"
    scheduler = Scheduler([schedule(invoke, log_path=log)], "us-east-1", Clock(FAST))
    scheduler.start()
    try:
        invoke.wait_for(3)
    finally:
        scheduler.stop()
    assert "function error RuntimeError" in capsys.readouterr().out
    assert "the sweep failed" in log.read_text()


def test_ticks_do_not_wait_for_a_slow_invocation_but_at_most_two_run_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    hold = threading.Event()
    invoke = Recorder(hold=hold)
    scheduler = Scheduler([schedule(invoke)], "us-east-1", Clock(FAST))
    scheduler.start()
    try:
        invoke.wait_for(MAX_CONCURRENT)  # both invocations held: the next ticks find no free place
        deadline = time.monotonic() + WAIT_S
        while "skipped" not in (out := capsys.readouterr().out) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert f"skipped: {MAX_CONCURRENT} invocations of sla still running" in out
        assert len(invoke.events) == invoke.most_running == MAX_CONCURRENT
        hold.set()
        invoke.wait_for(MAX_CONCURRENT + 2)  # free places again: ticking goes on
    finally:
        hold.set()
        scheduler.stop()
    assert invoke.most_running == MAX_CONCURRENT


def test_stop_returns_without_waiting_for_the_next_tick() -> None:
    invoke = Recorder()
    scheduler = Scheduler([schedule(invoke)], "us-east-1", Clock(1.0))  # the next tick: up to a minute away
    scheduler.start()
    assert [s.rule_name for s in scheduler.running()] == [RULE]
    stopper = threading.Thread(target=scheduler.stop)
    stopper.start()
    stopper.join(WAIT_S)
    assert not stopper.is_alive()
    assert scheduler.running() == []
    assert not any(t.name.startswith(f"schedule-{RULE}") for t in threading.enumerate())


def test_the_demo_definition_runs_the_sla_sweep_every_minute_and_the_nurture_sweep_every_5(demo_config) -> None:
    definition = build_definition(demo_config)
    invoke, nurture = Recorder(), Recorder()
    sweep, nurture_sweep, weekly = local_schedules(
        definition, {"sla": invoke, "nurture_sweep": nurture, "report_weekly": Recorder()}, {}
    )
    assert (weekly.function, weekly.every_minutes, weekly.timezone) == ("report_weekly", None, "Europe/Berlin")
    assert (sweep.rule_name, sweep.function, sweep.every_minutes) == (RULE, "sla", 1)
    assert sweep.invoke is invoke
    assert (nurture_sweep.rule_name, nurture_sweep.function, nurture_sweep.every_minutes) == (
        "leadflow-demo-nurture-sweep",
        "nurture_sweep",
        5,
    )
    assert nurture_sweep.invoke is nurture


def test_a_cron_schedule_fires_at_its_moment_in_its_time_zone_with_eventbridge_schedulers_input() -> None:
    invoke = Recorder()
    weekly = LocalSchedule(key="weekly-report", rule_name="leadflow-demo-weekly-report", function="report_weekly",
                           every_minutes=None, invoke=invoke, cron=parse("cron(0 8 ? * MON *)"),
                           timezone="Europe/Berlin")  # fmt: skip
    a_minute_before = datetime(2026, 11, 30, 6, 59, tzinfo=UTC)  # Monday 07:59 in Berlin (UTC+1 in winter)
    scheduler = Scheduler([weekly], "eu-west-1", Clock(FAST, start=a_minute_before))
    scheduler.start()
    try:
        [event] = invoke.wait_for(1)
    finally:
        scheduler.stop()
    assert event == {
        "scheduled_time": "2026-11-30T07:00:00Z",
        "schedule": "arn:aws:scheduler:eu-west-1:123456789012:schedule/default/leadflow-demo-weekly-report",
    }
    assert weekly.after(datetime(2026, 11, 30, 7, tzinfo=UTC)) == datetime(2026, 12, 7, 7, tzinfo=UTC)


def test_a_cron_schedules_failed_run_is_run_again_with_the_same_input_as_lambda_retries_it() -> None:
    calls: list[dict[str, Any]] = []
    done = threading.Event()

    def fails_once(event: dict[str, Any]) -> Any:
        calls.append(event)
        if len(calls) == 1:
            raise InvocationError("report_weekly", "RuntimeError", "Traceback: SES was unavailable")
        done.set()
        return {"sent": 1}

    weekly = LocalSchedule(key="weekly-report", rule_name="leadflow-demo-weekly-report", function="report_weekly",
                           every_minutes=None, invoke=fails_once, cron=parse("cron(0 8 ? * MON *)"),
                           timezone="Europe/Berlin")  # fmt: skip
    scheduler = Scheduler([weekly], "eu-west-1", Clock(FAST, start=datetime(2026, 11, 30, 6, 59, tzinfo=UTC)))
    scheduler.start()
    try:
        assert done.wait(WAIT_S)
    finally:
        scheduler.stop()
    assert [call["scheduled_time"] for call in calls] == ["2026-11-30T07:00:00Z", "2026-11-30T07:00:00Z"]


def test_the_clock_refuses_a_speed_that_never_ticks() -> None:
    with pytest.raises(ValueError, match="above 0"):
        Clock(0)

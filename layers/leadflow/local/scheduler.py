"""EventBridge schedules, locally: run each scheduled function at its rate or cron, on a clock that can run fast.

What EventBridge does with a `rate(N minutes)` rule, kept here: the function gets a
"Scheduled Event" (the shape AWS sends: `events/sla-scheduled.json`) whose `time` is the
tick, on a minute boundary, ISO 8601 UTC without fractions, and whose `resources` name the
rule; the first tick comes at the next minute boundary, then one every N minutes; a slow
invocation does not hold the next tick back (EventBridge invokes again, concurrently). Unlike
EventBridge, at most MAX_CONCURRENT invocations of one schedule run at once: a tick that finds
them all still running is skipped, so ticks never pile up on a laptop.

A cron schedule (CronScheduleSpec: the weekly report) goes as EventBridge Scheduler runs one:
at each moment of its cron expression in its time zone (leadflow.cron, daylight saving time
included), its function gets the schedule's input with `scheduled_time` the moment due
(`2026-11-30T07:00:00Z`) and `schedule` the schedule's ARN.

The clock starts at the real time and runs `speed` times as fast: with speed 60, a
`rate(1 minute)` schedule ticks every second and each event's `time` is one minute after the
last one's. A function error is reported (a line on the console, the error in the function's
log) and the next tick comes anyway; a cron schedule's failed run is first run again, twice, a
minute of the clock apart, as Lambda retries the asynchronous invocation EventBridge Scheduler makes.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.cron import Cron, next_moment, parse
from leadflow.definition import SCHEDULER_INPUT, StackDefinition
from leadflow.local.workers import STOPPED, InvocationError
from leadflow.route.calendar import zone_named

Invoke = Callable[[dict[str, Any]], Any]

LOCAL_ACCOUNT = "123456789012"  # the account id moto and the local workers report
MAX_CONCURRENT = 2  # invocations of one schedule at once; a tick beyond that is skipped
# A clock that fell further behind than this (a laptop that slept) resumes at the latest due tick
# instead of firing every tick it missed.
MAX_CATCH_UP = timedelta(hours=1)
# A cron schedule's run that failed is run again, as Lambda retries an asynchronous invocation (EventBridge
# Scheduler's): twice (Lambda waits about one minute, then two; here a minute of the clock each time). A rate
# schedule's next tick is its retry.
CRON_RETRIES = 2
CRON_RETRY_AFTER = timedelta(minutes=1)
STOP_JOIN_S = 2.0  # how long stop() waits for the threads (an invocation under way ends when its pool stops)


def rule_arn(region: str, name: str) -> str:
    return f"arn:aws:events:{region}:{LOCAL_ACCOUNT}:rule/{name}"


def event_time(tick: datetime) -> str:
    """EventBridge's form of a tick: `2026-11-23T07:01:00Z`."""
    return tick.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def schedule_arn(region: str, name: str) -> str:
    return f"arn:aws:scheduler:{region}:{LOCAL_ACCOUNT}:schedule/default/{name}"


def scheduler_input(tick: datetime, schedule: str) -> dict[str, Any]:
    """What EventBridge Scheduler sends a cron schedule's function: its input, each placeholder replaced."""
    values = {"<aws.scheduler.scheduled-time>": event_time(tick), "<aws.scheduler.schedule-arn>": schedule}
    return {name: values.get(value, value) for name, value in SCHEDULER_INPUT.items()}


def scheduled_event(tick: datetime, rule: str, region: str) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's target (`rule` is the rule's ARN)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": event_time(tick),
        "region": region,
        "resources": [rule],
        "detail": {},
    }


class Clock:
    """The local stack's time: the real time at start, then running `speed` times as fast."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None):
        if not speed > 0:
            raise ValueError(f"the clock's speed must be above 0, not {speed!r}")
        self.speed = speed
        self.started_at = (start or datetime.now(UTC)).astimezone(UTC)
        self._started_mono = time.monotonic()

    def now(self) -> datetime:
        return self.started_at + timedelta(seconds=(time.monotonic() - self._started_mono) * self.speed)

    def real_seconds_until(self, moment: datetime) -> float:
        return max(0.0, (moment - self.now()).total_seconds() / self.speed)

    def first_tick(self) -> datetime:
        """The first minute boundary after the clock started: every schedule's first tick, as in EventBridge."""
        return self.started_at.replace(second=0, microsecond=0) + timedelta(minutes=1)


@dataclass(frozen=True)
class LocalSchedule:
    key: str
    rule_name: str
    function: str
    every_minutes: int | None  # a rate (an EventBridge rule); None: a cron schedule
    invoke: Invoke
    log_path: Path | None = None  # the function's log, where a function error is written
    cron: Cron | None = None  # a cron schedule's expression (EventBridge Scheduler), in `timezone`
    timezone: str = "UTC"

    def first_tick(self, clock: Clock) -> datetime | None:
        if self.cron is None:
            return clock.first_tick()
        return next_moment(self.cron, zone_named(self.timezone), clock.now())

    def after(self, tick: datetime) -> datetime | None:
        if self.cron is None:
            return tick + timedelta(minutes=self.every_minutes or 1)
        return next_moment(self.cron, zone_named(self.timezone), tick)

    def event(self, tick: datetime, region: str) -> dict[str, Any]:
        if self.cron is None:
            return scheduled_event(tick, rule_arn(region, self.rule_name), region)
        return scheduler_input(tick, schedule_arn(region, self.rule_name))


class Scheduler:
    """One thread per schedule, each firing its ticks on the clock, each tick invoked in a thread of its own."""

    def __init__(self, schedules: list[LocalSchedule], region: str, clock: Clock | None = None):
        self.schedules = list(schedules)
        self.region = region
        self.clock = clock or Clock()
        self._stop = threading.Event()
        self._threads = {
            s.key: threading.Thread(target=self._run, args=(s,), name=f"schedule-{s.rule_name}", daemon=True)
            for s in self.schedules
        }
        self._slots = {s.key: threading.BoundedSemaphore(MAX_CONCURRENT) for s in self.schedules}
        self._invocations: set[threading.Thread] = set()
        self._lock = threading.Lock()  # guards _invocations

    def start(self) -> None:
        for thread in self._threads.values():
            thread.start()

    def running(self) -> list[LocalSchedule]:
        """The schedules whose thread is ticking."""
        return [s for s in self.schedules if self._threads[s.key].is_alive() and not self._stop.is_set()]

    def request_stop(self) -> None:
        """Fire no more ticks; returns at once (stop() then waits for the threads)."""
        self._stop.set()

    def stop(self, join_s: float = STOP_JOIN_S) -> None:
        """Stop ticking at once (no waiting for the next tick); waits briefly for invocations under way."""
        self.request_stop()
        deadline = time.monotonic() + join_s
        for thread in self._threads.values():
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            invocations = list(self._invocations)
        for thread in invocations:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, schedule: LocalSchedule) -> None:
        tick = schedule.first_tick(self.clock)  # not now's: a thread that starts late fires that tick at once
        while tick is not None and not self._stop.wait(self.clock.real_seconds_until(tick)):
            behind = self.clock.now() - tick
            every = timedelta(minutes=schedule.every_minutes or 0)
            if behind > max(MAX_CATCH_UP, every):
                late, missed = tick, 0  # resume at the latest tick due
                while (following := schedule.after(tick)) is not None and following <= self.clock.now():
                    tick, missed = following, missed + 1
                print(
                    f"  ! {schedule.rule_name}: the clock is {behind} past the tick of {event_time(late)} "
                    f"(did the machine sleep?); {missed} tick(s) skipped",
                    flush=True,
                )
            self._fire(schedule, tick)
            tick = schedule.after(tick)

    def _fire(self, schedule: LocalSchedule, tick: datetime) -> None:
        slots = self._slots[schedule.key]
        if not slots.acquire(blocking=False):
            print(
                f"  ! {schedule.rule_name}: tick {event_time(tick)} skipped: {MAX_CONCURRENT} invocations "
                f"of {schedule.function} still running",
                flush=True,
            )
            return
        event = schedule.event(tick, self.region)
        thread = threading.Thread(
            target=self._invoke,
            args=(schedule, event, slots, event_time(tick)),
            name=f"tick-{schedule.rule_name}-{event_time(tick)}",
            daemon=True,
        )
        with self._lock:
            self._invocations.add(thread)
        try:
            thread.start()
        except BaseException:
            with self._lock:
                self._invocations.discard(thread)
            slots.release()
            raise

    def _invoke(
        self, schedule: LocalSchedule, event: dict[str, Any], slots: threading.BoundedSemaphore, tick: str
    ) -> None:
        try:
            for attempt in range(1 + (CRON_RETRIES if schedule.cron is not None else 0)):
                if attempt and self._stop.wait(self.clock.real_seconds_until(self.clock.now() + CRON_RETRY_AFTER)):
                    return
                if self._attempt(schedule, event, tick, retried=attempt < CRON_RETRIES and schedule.cron is not None):
                    return
        finally:
            slots.release()
            with self._lock:
                self._invocations.discard(threading.current_thread())

    def _attempt(self, schedule: LocalSchedule, event: dict[str, Any], tick: str, retried: bool) -> bool:
        """One invocation; whether it ended (done, or stopped): False when it failed."""
        try:
            answer = schedule.invoke(event)
        except InvocationError as exc:
            if exc.error_type == STOPPED and self._stop.is_set():
                return True
            self._report(schedule, tick, exc.error_type, exc.trace, retried)
            return False
        except Exception as exc:  # the invocation itself failed (not the function): report it, keep ticking
            if self._stop.is_set():
                return True
            self._report(schedule, tick, type(exc).__name__, traceback.format_exc(), retried)
            return False
        items = answer.items() if isinstance(answer, dict) else ()
        done = [f"{k} {v}" for k, v in items if isinstance(v, int) and not isinstance(v, bool) and v]
        if done:  # a tick that found nothing to do says nothing
            print(f"  {schedule.rule_name} -> {schedule.function}: tick {tick}: {', '.join(done)}", flush=True)
        return True

    def _report(self, schedule: LocalSchedule, tick: str, error_type: str, trace: str, retried: bool = False) -> None:
        where = f"; see {schedule.log_path}" if schedule.log_path else ""
        then = "tried again in a minute, as Lambda retries it" if retried else "the next tick comes anyway"
        print(
            f"  ! {schedule.rule_name} -> {schedule.function}: function error {error_type} "
            f"at tick {tick}{where}; {then}",
            flush=True,
        )
        if schedule.log_path is None:
            return
        record = {
            "level": "ERROR",
            "location": "leadflow.local.scheduler",
            "message": "scheduled invocation failed",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "rule": schedule.rule_name,
            "tick": tick,
            "errorType": error_type,
            "stackTrace": trace,
        }
        try:
            with schedule.log_path.open("a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
        except OSError as exc:
            print(f"  ! {schedule.rule_name}: cannot write to {schedule.log_path} ({exc})", flush=True)


def local_schedules(
    definition: StackDefinition, invokers: dict[str, Invoke], log_paths: dict[str, Path]
) -> list[LocalSchedule]:
    """The definition's schedules, rate and cron, each invoking its function through `invokers[function]`."""
    rates = [
        LocalSchedule(
            key=spec.key,
            rule_name=spec.name,  # as infra/constructs/schedules.py names the rule
            function=spec.function,
            every_minutes=spec.every_minutes,
            invoke=invokers[spec.function],
            log_path=log_paths.get(spec.function),
        )
        for spec in definition.schedules
    ]
    crons = [
        LocalSchedule(
            key=spec.key,
            rule_name=spec.name,  # as infra/constructs/schedules.py names the schedule
            function=spec.function,
            every_minutes=None,
            invoke=invokers[spec.function],
            log_path=log_paths.get(spec.function),
            cron=parse(spec.cron),
            timezone=spec.timezone,
        )
        for spec in definition.cron_schedules
    ]
    return rates + crons

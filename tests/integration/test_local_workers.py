"""The local function pools keep Lambda's execution-environment semantics under failure and load."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import pytest

from leadflow.definition import FunctionSpec
from leadflow.local.workers import STOPPED, FunctionPool, InvocationError

HANDLER = """
import os
import pathlib
import time


def handler(event, context):
    if "started_file" in event:
        pathlib.Path(event["started_file"]).touch()
    time.sleep(event.get("sleep_s", 0))
    if "exit_status" in event:
        os._exit(event["exit_status"])
    return {"pid": os.getpid()}
"""
BOUND_S = 30  # how long a test waits for an invocation before it calls the pool wedged

MakePool = Callable[..., FunctionPool]


@pytest.fixture
def make_pool(tmp_path: Path) -> Iterator[MakePool]:
    """Pools of a handler that sleeps, exits or answers its pid, as the event asks; stopped after the test."""
    (tmp_path / "handler.py").write_text(HANDLER)
    pools: list[FunctionPool] = []

    def make(size: int, timeout_s: int = 1, handler_source: str | None = None) -> FunctionPool:
        source_dir = tmp_path
        if handler_source is not None:
            source_dir = tmp_path / f"function-{len(pools)}"
            source_dir.mkdir()
            (source_dir / "handler.py").write_text(handler_source)
        spec = FunctionSpec(key="sleeper", description="a test function", source_dir=source_dir, timeout_s=timeout_s)
        pool = FunctionPool(spec, "Leads-test-sleeper", {}, tmp_path, size, timeout_grace_s=0.2)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.stop()


def submit(executor: ThreadPoolExecutor, pool: FunctionPool, *events: dict[str, Any]) -> list[Future[Any]]:
    return [executor.submit(pool.invoke, event) for event in events]


def outcomes(pool: FunctionPool, futures: list[Future[Any]]) -> list[Any]:
    """Each invocation's answer or error; a pool still wedged after BOUND_S is stopped, so the test fails, not hangs."""
    _, pending = wait(futures, timeout=BOUND_S)
    if pending:
        pool.stop()
    assert not pending, f"{len(pending)} invocation(s) still unanswered after {BOUND_S} s"
    return [future.exception() or future.result() for future in futures]


def invoke_bounded(pool: FunctionPool, event: dict[str, Any]) -> Any:
    with ThreadPoolExecutor(1) as executor:
        return outcomes(pool, submit(executor, pool, event))[0]


def wait_for_file(path: Path) -> None:
    deadline = time.monotonic() + BOUND_S
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def test_two_timeouts_filling_the_pool_leave_it_serving_the_next_invocation(make_pool: MakePool) -> None:
    pool = make_pool(size=2, timeout_s=1)
    with ThreadPoolExecutor(2) as executor:
        timed_out = outcomes(pool, submit(executor, pool, {"sleep_s": 60}, {"sleep_s": 60}))

    assert [getattr(error, "error_type", error) for error in timed_out] == ["Timeout", "Timeout"]
    assert "pid" in invoke_bounded(pool, {})


def test_an_invocation_waiting_for_a_worker_is_served_once_the_busy_worker_times_out(
    make_pool: MakePool, tmp_path: Path
) -> None:
    pool = make_pool(size=1, timeout_s=1)
    started = tmp_path / "started"
    with ThreadPoolExecutor(2) as executor:
        [slow] = submit(executor, pool, {"sleep_s": 60, "started_file": str(started)})
        wait_for_file(started)
        [waiting] = submit(executor, pool, {})
        timed_out, served = outcomes(pool, [slow, waiting])

    assert isinstance(timed_out, InvocationError)
    assert timed_out.error_type == "Timeout"
    assert "pid" in served


def test_a_runtime_that_exits_mid_invocation_is_a_function_error_and_is_replaced(make_pool: MakePool) -> None:
    pool = make_pool(size=1)
    first_pid = invoke_bounded(pool, {})["pid"]

    crashed = invoke_bounded(pool, {"exit_status": 3})
    after = invoke_bounded(pool, {})

    assert isinstance(crashed, InvocationError)
    assert (crashed.error_type, crashed.trace) == ("Runtime.ExitError", "Runtime exited with error: exit status 3")
    assert after["pid"] != first_pid


def test_a_worker_that_died_while_idle_is_replaced_on_the_next_invocation(make_pool: MakePool) -> None:
    pool = make_pool(size=1)
    dead_pid = invoke_bounded(pool, {})["pid"]
    os.kill(dead_pid, signal.SIGKILL)
    deadline = time.monotonic() + BOUND_S
    while os.waitid(os.P_PID, dead_pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:  # exited, left for the pool
        assert time.monotonic() < deadline, "the killed worker never exited"
        time.sleep(0.02)

    answer = invoke_bounded(pool, {})

    assert answer["pid"] != dead_pid


def test_twenty_concurrent_invocations_start_no_more_workers_than_the_pool_size(make_pool: MakePool) -> None:
    pool = make_pool(size=2, timeout_s=10)
    with ThreadPoolExecutor(20) as executor:
        answers = outcomes(pool, submit(executor, pool, *[{"sleep_s": 0.05}] * 20))

    worker_pids = {answer["pid"] for answer in answers}
    assert 1 <= len(worker_pids) <= 2


def test_a_handler_that_fails_to_import_is_an_init_error_naming_the_log(make_pool: MakePool, tmp_path: Path) -> None:
    pool = make_pool(size=1, handler_source="raise ImportError('no such module')\n")

    error = invoke_bounded(pool, {})

    assert isinstance(error, InvocationError)
    assert error.error_type == "Runtime.InitError"
    assert str(tmp_path / "sleeper.log") in error.trace


def test_stop_ends_the_busy_and_the_waiting_invocation_as_stopped(make_pool: MakePool, tmp_path: Path) -> None:
    pool = make_pool(size=1, timeout_s=60)
    started = tmp_path / "started"
    with ThreadPoolExecutor(2) as executor:
        [busy] = submit(executor, pool, {"sleep_s": 60, "started_file": str(started)})
        wait_for_file(started)
        [waiting] = submit(executor, pool, {})
        pool.stop()
        errors = outcomes(pool, [busy, waiting])

    assert [(type(error), getattr(error, "error_type", None)) for error in errors] == [(InvocationError, STOPPED)] * 2
    with pytest.raises(InvocationError):
        pool.invoke({})

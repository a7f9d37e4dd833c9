"""Run each function as Lambda does: its own process, its own environment, its handler unchanged.

A `FunctionPool` keeps warm worker processes for one function. A worker imports the
function's `handler.py` from its source directory with the environment the stack gives it
(resolved against the local resources), then answers invocations one at a time, as a Lambda
execution environment does. Its output (the handler's JSON logs) goes to a log file.

As in Lambda, an execution environment that timed out or whose runtime exited is thrown
away and the next invocation gets a fresh one; either failure is a function error
(`InvocationError`), never an exception of the pipe to the worker.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from leadflow.definition import FunctionSpec

STOPPED = "LocalStackStopped"  # the error type of an invocation the stopping pool refused or cut short


class InvocationError(Exception):
    """The function failed (it raised, timed out or its runtime exited): Lambda reports this as a function error."""

    def __init__(self, function: str, error_type: str, trace: str):
        super().__init__(f"{function}: {error_type}")
        self.error_type = error_type
        self.trace = trace


class WorkerStartError(RuntimeError):
    """A worker process did not get ready: its handler failed to import, or it did not answer in time."""


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = ""
    function_version: str = "$LATEST"
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    deadline: float = 0.0  # time.monotonic() when the invocation times out; 0: its timeout from now

    def __post_init__(self) -> None:
        if not self.deadline:
            self.deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def load_handler(spec: FunctionSpec, module_name: str | None = None) -> Callable[[dict[str, Any], Any], Any]:
    """Import a function's handler from its source directory, as the Lambda runtime does.

    In a worker the module is named as Lambda names it (`handler`); tests that load several
    functions in one process give each its own module name.
    """
    file_stem, _, attribute = spec.handler.rpartition(".")
    name = module_name or file_stem
    loaded = importlib.util.spec_from_file_location(name, spec.source_dir / f"{file_stem}.py")
    if loaded is None or loaded.loader is None:
        raise RuntimeError(f"cannot load {spec.handler} from {spec.source_dir}")
    module = importlib.util.module_from_spec(loaded)
    sys.modules[name] = module
    loaded.loader.exec_module(module)
    return getattr(module, attribute)  # type: ignore[no-any-return,unused-ignore]


def _worker_main(spec: FunctionSpec, function_name: str, env: dict[str, str], log_path: str, conn: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the runtime, which then stops its workers
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
    sys.stdout = sys.stderr = log
    os.environ.update(env)
    handler = load_handler(spec)  # an import error ends the process, its traceback in the log
    region = env.get("AWS_DEFAULT_REGION", "us-east-1")
    try:
        conn.send(("ready", None))
        while True:
            event = conn.recv()
            context = LambdaContext(
                function_name=function_name,
                memory_limit_in_mb=spec.memory_mb,
                timeout_s=spec.timeout_s,
                aws_request_id=str(uuid.uuid4()),
                invoked_function_arn=f"arn:aws:lambda:{region}:123456789012:function:{function_name}",
                log_group_name=f"/aws/lambda/{function_name}",
                deadline=time.monotonic() + spec.timeout_s,
            )
            try:
                answer: tuple[str, Any] = ("ok", handler(event, context))
            except Exception as exc:  # a function error, reported like Lambda does
                answer = ("error", (type(exc).__name__, traceback.format_exc()))
            _send_answer(conn, answer)
    except (EOFError, OSError):  # the pool closed the pipe: this environment is done
        return


def _send_answer(conn: Connection, answer: tuple[str, Any]) -> None:
    try:
        conn.send(answer)  # pickled before anything is written, so a failure leaves the pipe clean
    except OSError:
        raise
    except Exception as exc:  # the handler's result cannot be sent back
        conn.send(("error", ("Runtime.MarshalError", f"Unable to marshal response: {type(exc).__name__}: {exc}")))


class _Worker:
    """One execution environment: a process that imports the handler once, then answers one event at a time.

    Only the thread that holds a worker (took it from the pool) talks over its pipe or closes
    it; any thread may `kill` it, which makes the holder's wait end with the runtime's exit.
    """

    def __init__(self, spec: FunctionSpec, function_name: str, env: dict[str, str], log_path: Path):
        self.function_name = function_name
        self.log_path = log_path
        self.usable = True  # False once it timed out or its pipe failed: the pool then throws it away
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(spec, function_name, env, str(log_path), child), daemon=True, name=function_name
        )
        try:
            self.process.start()
        except BaseException:
            self.conn.close()
            raise
        finally:
            child.close()

    def wait_ready(self, timeout_s: float) -> None:
        """Wait for the handler to be imported; `WorkerStartError` naming the log when it is not."""
        try:
            if not self.conn.poll(timeout_s):
                raise WorkerStartError(
                    f"function {self.function_name} did not start within {timeout_s:g} s; see {self.log_path}"
                )
            if self.conn.recv() == ("ready", None):
                return
        except (EOFError, OSError):
            pass
        self.usable = False
        self.process.join(1)
        raise WorkerStartError(
            f"function {self.function_name} failed to start ({_exit_status(self.process.exitcode)}); "
            f"see {self.log_path}"
        )

    def invoke(self, event: dict[str, Any], timeout_s: int, grace_s: float) -> tuple[str, Any]:
        """The handler's answer, ("ok", result) or ("error", (error type, trace)), as Lambda reports it.

        The handler has `timeout_s`, as in Lambda; `grace_s` more covers the trip over the pipe.
        """
        try:
            self.conn.send(event)
            if self.conn.poll(timeout_s + grace_s):
                answer: tuple[str, Any] = self.conn.recv()
                return answer
        except (EOFError, OSError):  # BrokenPipeError, ConnectionResetError: the runtime exited
            self.usable = False
            self.process.join(1)
            status = _exit_status(self.process.exitcode)
            return "error", ("Runtime.ExitError", f"Runtime exited with error: {status}")
        self.usable = False
        self.kill()
        return "error", ("Timeout", f"Task timed out after {timeout_s:.2f} seconds")

    def kill(self) -> None:
        self.process.kill()

    def close(self, join_s: float) -> None:
        """End the process: it exits by itself once its pipe is closed, or is killed after `join_s`."""
        self.conn.close()
        self.process.join(join_s)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1)


def _exit_status(exitcode: int | None) -> str:
    if exitcode is None:
        return "still running"
    if exitcode >= 0:
        return f"exit status {exitcode}"
    try:
        return f"signal: {signal.Signals(-exitcode).name}"
    except ValueError:
        return f"signal: {-exitcode}"


class FunctionPool:
    """Up to `size` warm execution environments of one function, started on first use.

    An invocation takes an idle worker, else starts one if the pool has room, else waits for
    a worker or a free place. A worker that timed out, exited or was found dead is thrown
    away and its place freed, so the next invocation starts a fresh one.

    `timeout_grace_s` is how long past the function's timeout an invocation waits for the
    answer to cross the pipe; `stop_grace_s` is how long `stop` lets workers end by themselves.
    """

    def __init__(
        self,
        spec: FunctionSpec,
        function_name: str,
        env: dict[str, str],
        log_dir: Path,
        size: int = 2,
        *,
        timeout_grace_s: float = 1.0,
        start_timeout_s: float = 60.0,
        stop_grace_s: float = 0.5,
    ):
        self.spec = spec
        self.function_name = function_name
        self.env = env
        self.log_path = log_dir / f"{spec.key}.log"
        self.size = size
        self.timeout_grace_s = timeout_grace_s
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self._changed = threading.Condition()  # guards the fields below; notified whenever a place may have freed
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()  # held by an invocation, or getting ready
        self._reserved = 0  # places taken by workers whose process is being started
        self._stopped = False

    def warm(self) -> None:
        """Start one worker before the first invocation; `WorkerStartError` names the log when it cannot start."""
        worker = self._acquire()
        self._release(worker)

    def invoke(self, event: dict[str, Any]) -> Any:
        try:
            worker = self._acquire()
        except WorkerStartError as exc:
            raise InvocationError(self.spec.key, "Runtime.InitError", str(exc)) from None
        try:
            status, payload = worker.invoke(event, self.spec.timeout_s, self.timeout_grace_s)
        except BaseException:
            worker.usable = False
            raise
        finally:
            self._release(worker)
        if status == "error":
            error_type, trace = payload
            if self._stopped and error_type == "Runtime.ExitError":  # the stop ended it, not the function
                raise InvocationError(self.spec.key, STOPPED, "the local stack stopped during the invocation")
            raise InvocationError(self.spec.key, error_type, trace)
        return payload

    def stop(self) -> None:
        """Stop every worker within about `stop_grace_s`, and refuse invocations from now on.

        Idle workers exit as their pipe closes; a busy one may finish its invocation until the
        grace ends, then is killed (its invocation gets a function error). Invocations waiting
        for a worker get `InvocationError` at once.
        """
        with self._changed:
            self._stopped = True
            idle, self._idle = self._idle, []
            self._changed.notify_all()
        deadline = time.monotonic() + self.stop_grace_s
        for worker in idle:
            worker.conn.close()  # all at once, so they exit side by side
        for worker in idle:
            worker.close(join_s=max(0.0, deadline - time.monotonic()))
        with self._changed:
            if not self._changed.wait_for(self._drained, timeout=max(0.0, deadline - time.monotonic())):
                for worker in self._busy:
                    worker.kill()
                self._changed.wait_for(self._drained, timeout=1.0)  # their holders reap them

    def _drained(self) -> bool:
        return not self._busy and not self._reserved

    def _acquire(self) -> _Worker:
        dead: list[_Worker] = []
        try:
            with self._changed:
                while True:
                    if self._stopped:
                        raise InvocationError(self.spec.key, STOPPED, "the local stack is stopping")
                    if self._idle:
                        worker = self._idle.pop()
                        if worker.process.is_alive():
                            self._busy.add(worker)
                            return worker
                        dead.append(worker)  # it died while idle: its place is free again
                        continue
                    if len(self._idle) + len(self._busy) + self._reserved < self.size:
                        self._reserved += 1  # the place is ours before the process starts
                        break
                    self._changed.wait()
        finally:
            for worker in dead:
                worker.close(join_s=0)
        return self._start_reserved()

    def _start_reserved(self) -> _Worker:
        try:
            worker = _Worker(self.spec, self.function_name, self.env, self.log_path)
        except Exception as exc:
            with self._changed:
                self._reserved -= 1
                self._changed.notify_all()
            raise WorkerStartError(f"function {self.function_name} could not start a process: {exc}") from exc
        with self._changed:
            self._reserved -= 1
            stopped = self._stopped
            if not stopped:
                self._busy.add(worker)  # from here `stop` sees it, and may kill it while it gets ready
            self._changed.notify_all()
        if stopped:
            worker.close(join_s=0)
            raise InvocationError(self.spec.key, STOPPED, "the local stack is stopping")
        try:
            worker.wait_ready(self.start_timeout_s)
        except BaseException:
            worker.usable = False
            self._release(worker)
            raise
        return worker

    def _release(self, worker: _Worker) -> None:
        """Give a held worker back: idle if it can serve again, else ended and its place freed."""
        with self._changed:
            if worker.usable and not self._stopped:
                self._busy.discard(worker)
                self._idle.append(worker)
                self._changed.notify_all()
                return
        worker.close(join_s=self.stop_grace_s if worker.usable else 0.0)  # before freeing the place
        with self._changed:
            self._busy.discard(worker)
            self._changed.notify_all()

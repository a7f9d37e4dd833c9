"""Run each function as Lambda does: its own process, its own environment, its handler unchanged.

A `FunctionPool` keeps warm worker processes for one function. A worker imports the
function's `handler.py` from its source directory with the environment the stack gives it
(resolved against the local resources), then answers invocations one at a time, as a Lambda
execution environment does. Its output (the handler's JSON logs) goes to a log file.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import queue
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


class InvocationError(Exception):
    """The handler raised: Lambda reports this as a function error."""

    def __init__(self, function: str, error_type: str, trace: str):
        super().__init__(f"{function}: {error_type}")
        self.error_type = error_type
        self.trace = trace


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
    deadline: float = 0.0

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
    handler = load_handler(spec)
    region = env.get("AWS_DEFAULT_REGION", "us-east-1")
    conn.send(("ready", None))
    while True:
        try:
            event = conn.recv()
        except EOFError:
            return
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
            conn.send(("ok", handler(event, context)))
        except Exception as exc:  # a function error, reported like Lambda does
            conn.send(("error", (type(exc).__name__, traceback.format_exc())))


class _Worker:
    def __init__(self, spec: FunctionSpec, function_name: str, env: dict[str, str], log_path: Path):
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(spec, function_name, env, str(log_path), child), daemon=True, name=function_name
        )
        self.process.start()
        child.close()
        if not self.conn.poll(60):
            raise RuntimeError(f"function {function_name} did not start within 60 s; see {log_path}")
        status, _ = self.conn.recv()
        if status != "ready":
            raise RuntimeError(f"function {function_name} failed to start; see {log_path}")

    def invoke(self, event: dict[str, Any], timeout_s: int) -> tuple[str, Any]:
        self.conn.send(event)
        if not self.conn.poll(timeout_s + 5):
            self.process.kill()
            return "error", ("Timeout", f"Task timed out after {timeout_s} seconds")
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.close()
        self.process.join(timeout=3)
        if self.process.is_alive():
            self.process.kill()


class FunctionPool:
    """Up to `size` warm execution environments of one function, started on first use."""

    def __init__(self, spec: FunctionSpec, function_name: str, env: dict[str, str], log_dir: Path, size: int = 2):
        self.spec = spec
        self.function_name = function_name
        self.env = env
        self.log_path = log_dir / f"{spec.key}.log"
        self.size = size
        self._idle: queue.SimpleQueue[_Worker] = queue.SimpleQueue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        self._idle.put(self._start())

    def invoke(self, event: dict[str, Any]) -> Any:
        worker = self._acquire()
        status, payload = worker.invoke(event, self.spec.timeout_s)
        if worker.process.is_alive():
            self._idle.put(worker)
        else:
            with self._lock:
                self._all.remove(worker)
        if status == "error":
            error_type, trace = payload
            raise InvocationError(self.spec.key, error_type, trace)
        return payload

    def stop(self) -> None:
        with self._lock:
            for worker in self._all:
                worker.stop()
            self._all.clear()

    def _acquire(self) -> _Worker:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            can_start = len(self._all) < self.size
        return self._start() if can_start else self._idle.get()

    def _start(self) -> _Worker:
        worker = _Worker(self.spec, self.function_name, self.env, self.log_path)
        with self._lock:
            self._all.append(worker)
        return worker

"""End-to-end tier: `leadflow local` in a subprocess, spoken to over HTTP like a website would."""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import free_port
from tests.support import CLIENTS, ROOT

LEADFLOW = str(Path(sys.executable).with_name("leadflow"))


@dataclass
class RunningStack:
    api: str
    aws: str
    process: subprocess.Popen[str]
    log: Path
    clients: Path | None = None  # the client files it runs, when not the repository's demo

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        own = ["--clients-dir", str(self.clients)] if self.clients and "--clients-dir" not in args else []
        return subprocess.run(
            [LEADFLOW, *args, "--local", "--endpoint", self.aws, *own], capture_output=True, text=True, cwd=ROOT,
            timeout=60,
        )  # fmt: skip

    def lead(self, email: str, timeout_s: float = 20) -> dict[str, Any]:
        """The stored lead, polled until it has been stored (the intake is asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while True:
            shown = self.cli("leads", "show", email, "--json")
            if shown.returncode == 0:
                return json.loads(shown.stdout)
            if time.monotonic() > deadline:
                raise AssertionError(f"lead {email} not stored within {timeout_s} s: {shown.stderr}")
            time.sleep(0.3)

    def routed(self, email: str, timeout_s: float = 30) -> dict[str, Any]:
        """The lead once routing decided for it (the queue hops are asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            lead = self.lead(email)
            if lead.get("routing"):
                return lead
            time.sleep(0.3)
        raise AssertionError(f"{email} was not routed within {timeout_s} s")

    def settled_lead(self, email: str, inquiries: int, timeout_s: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            lead = self.lead(email, timeout_s)
            if lead["inquiry_count"] >= inquiries or time.monotonic() > deadline:
                return lead
            time.sleep(0.3)


def start_local_stack(
    scratch: Path, *extra: str, api_port: int | None = None, client_file: str | None = None
) -> RunningStack:
    """`leadflow local` for the demo client (or `client_file`'s text), its data in scratch/state, on free ports."""
    api_port, moto_port = api_port or free_port(), free_port()
    log = scratch / f"leadflow-local-{api_port}.log"
    # The demo client, with its origins and thank-you/error pages on this test's port.
    clients = scratch / "clients"
    clients.mkdir(exist_ok=True)
    text = client_file if client_file is not None else (CLIENTS / "demo.toml").read_text()
    (clients / "demo.toml").write_text(text.replace(":3000", f":{api_port}"))
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                LEADFLOW, "local", "--api-port", str(api_port), "--moto-port", str(moto_port),
                "--clients-dir", str(clients), "--state-dir", str(scratch / "state"), *extra,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    stack = RunningStack(
        f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}", process, log,
        clients if client_file is not None else None,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while "Ctrl-C stops." not in log.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"leadflow local did not start:\n{log.read_text()}")
        time.sleep(0.2)
    return stack


def stop_local_stack(stack: RunningStack, thread: int | None = None) -> None:
    """Ctrl-C, as a person stops `make run`; it must stop cleanly and soon.

    `thread` (an index into the process's other threads) hands the signal to that thread, as the
    kernel may do with a Ctrl-C meant for the whole process.
    """
    if thread is None:
        stack.process.send_signal(signal.SIGINT)
    else:  # Linux, glibc 2.30+; a thread that ended since the listing is passed over for the next
        pid = stack.process.pid
        others = sorted(int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid)
        tgkill = ctypes.CDLL(None, use_errno=True).tgkill
        assert any(tgkill(pid, tid, signal.SIGINT) == 0 for tid in others[thread:]), "no other thread to signal"
    try:
        stack.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        stack.process.kill()
        tail = "\n".join(stack.log.read_text().splitlines()[-30:])
        raise AssertionError(f"leadflow local did not stop within 20 s of Ctrl-C; its log ends:\n{tail}") from None
    assert "Stopped." in stack.log.read_text()


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    stack = start_local_stack(tmp_path_factory.mktemp("local"))
    yield stack
    stop_local_stack(stack)


# --- the browser tier: Debian's Chromium, headless, driven by Playwright ----------------------

ARTIFACTS = ROOT / ".build" / "test-artifacts"  # screenshots a person can look at after the run
CHROMIUM = os.environ.get("LEADFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise AssertionError(f"no Chromium at {CHROMIUM}: `make test` installs Debian's, or set LEADFLOW_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    """A page in Chromium as a phone shows it: 390 x 844, touch, twice the pixels."""
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


@pytest.fixture
def desktop(browser: Any) -> Iterator[Any]:
    """A page in Chromium at a laptop's size, 1100 x 900."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    yield context.new_page()
    context.close()

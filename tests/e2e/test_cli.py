"""The `leadflow` command as an ops engineer meets it, in a subprocess."""

from __future__ import annotations

import subprocess
from pathlib import Path

from leadflow.config import load_client_config
from tests.e2e.conftest import LEADFLOW
from tests.integration.conftest import free_port
from tests.support import CLIENTS, ROOT


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LEADFLOW, *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_client_new_writes_a_commented_config_that_loads(tmp_path: Path) -> None:
    done = run("client", "new", "acme-us", "--clients-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = tmp_path / "acme-us.toml"
    assert load_client_config(written).name == "acme-us"
    assert written.read_text().count("#") > 10


def test_client_new_never_overwrites_a_client(tmp_path: Path) -> None:
    (tmp_path / "acme.toml").write_text("keep me")
    done = run("client", "new", "acme", "--clients-dir", str(tmp_path))
    assert done.returncode == 1
    assert (tmp_path / "acme.toml").read_text() == "keep me"


def test_client_new_refuses_a_name_that_cannot_be_a_stack(tmp_path: Path) -> None:
    done = run("client", "new", "Acme Inc", "--clients-dir", str(tmp_path))
    assert done.returncode == 2
    assert "lower-case letters" in done.stderr


def test_local_with_a_bad_client_file_stops_naming_file_line_field_and_rule(tmp_path: Path) -> None:
    bad = (CLIENTS / "demo.toml").read_text().replace('"http://localhost:3000"]', '"localhost:3000/form"]')
    (tmp_path / "demo.toml").write_text(bad)
    ports = ["--moto-port", str(free_port()), "--api-port", str(free_port())]
    done = run("local", "--clients-dir", str(tmp_path), *ports)
    assert done.returncode == 2
    assert str(tmp_path / "demo.toml") in done.stderr
    assert "capture.allowed_origins[1] = 'localhost:3000/form': must be an origin" in done.stderr
    assert "Traceback" not in done.stderr


def test_client_snippet_prints_the_form_for_the_local_stack() -> None:
    done = run("client", "snippet", "demo", "--local", "--api-port", "3999")
    assert done.returncode == 0, done.stderr
    assert '<form action="http://127.0.0.1:3999/leads" method="post" data-leadflow' in done.stdout
    assert '<script src="http://127.0.0.1:3999/leadflow.js" defer></script>' in done.stdout

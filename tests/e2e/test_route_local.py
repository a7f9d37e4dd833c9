"""Routing on the local stack: a website's sales-ready inquiry reaches an owner, explained, with no hand in between."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack, start_local_stack, stop_local_stack

EVERY_DAY = "mon,tue,wed,thu,fri,sat,sun"


def at_work_now() -> tuple[str, ...]:
    """Settings of a rep at work whenever the test runs: every day, in the zone where it is about noon now."""
    offset = 12 - datetime.now(UTC).hour  # Etc/GMT-N is N hours east of UTC (the sign is POSIX's)
    zone = f"Etc/GMT{'-' if offset >= 0 else '+'}{abs(offset)}"
    return ("--timezone", zone, "--workdays", EVERY_DAY, "--hours", "06:00-18:00")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of this module's own: its routing counts on the reps it adds and on no other test's
    (the browser tests add reps at work to the shared stack's DACH team)."""
    stack = start_local_stack(tmp_path_factory.mktemp("route"))
    yield stack
    stop_local_stack(stack)


def post(stack: RunningStack, **body: Any) -> None:
    answer = requests.post(f"{stack.api}/leads", json=body, timeout=10)
    assert answer.status_code == 202, answer.text


def add_rep(stack: RunningStack, email: str, name: str, *extra: str, team: str = "dach") -> str:
    added = stack.cli("reps", "add", email, "--name", name, "--team", team, *extra, "--json")
    assert added.returncode == 0, added.stderr
    return str(json.loads(added.stdout)["rep_id"])


def test_a_sales_ready_inquiry_gets_an_owner_passing_over_the_away_the_full_and_the_off_hours(
    local_stack: RunningStack,
) -> None:
    # The demo's DACH team routes only to reps at work; each rep here has their own hours.
    now_utc = datetime.now(UTC)
    tomorrow = (now_utc + timedelta(days=1)).strftime("%a").lower()
    away = add_rep(local_stack, "away.rep@demo.example", "Avery Away", *at_work_now())
    until = (now_utc + timedelta(days=14)).date().isoformat()
    assert local_stack.cli("reps", "away", away, "--until", until).returncode == 0
    full = add_rep(local_stack, "full.rep@demo.example", "Fran Full", "--capacity", "0", *at_work_now())
    off = add_rep(local_stack, "off.rep@demo.example", "Otto Off", "--timezone", "UTC", "--workdays", tomorrow)
    ready = add_rep(local_stack, "ready.rep@demo.example", "Rae Ready", *at_work_now())
    # A German phone number: the demo's rule "German-speaking countries" sends it to the DACH team.
    post(local_stack, email="lena.vogel@zenith-freight.example", inquiry_type="demo_request", phone="+49 30 901820")
    lead = local_stack.routed("lena.vogel@zenith-freight.example")
    assert (lead["stage"], lead["owner"], lead["team"]) == ("assigned", ready, "dach")
    assert lead["routing"]["rule"] == "German-speaking countries"
    passed = {p["rep_id"]: p["reason"] for p in lead["routing"]["passed_over"]}
    assert passed[away].startswith("away until ")
    assert passed[full] == "full at 0 of 0"
    assert passed[off].startswith(f"off hours (works {tomorrow} ")
    shown = local_stack.cli("leads", "show", "lena.vogel@zenith-freight.example")
    assert "Owner: Rae Ready" in shown.stdout
    assert "Otto Off" in shown.stdout


def test_a_lead_no_rule_matches_goes_to_the_default_team_queue_when_it_has_no_reps(local_stack: RunningStack) -> None:
    post(local_stack, email="sam.hill@orbit-supply.example", inquiry_type="demo_request", phone="+1 415 555 0134")
    lead = local_stack.routed("sam.hill@orbit-supply.example")
    assert (lead["stage"], lead["queue"]) == ("sales_ready", "sales")
    assert "no rule matched" in lead["routing"]["why"]
    assert "team sales has no reps" in lead["routing"]["why"]
    assert lead["sla_next_at"] <= lead["sla"]["due_at"]

"""Phone first and account matching on the local stack: every hop through its own worker, as deployed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack, start_local_stack, stop_local_stack
from tests.support import CLIENTS

PASSWORD = "Correct-horse-1"
# The demo client with an inside-sales team that calls marketing-qualified leads before sales sees them.
INSIDE_SALES = """
[route.teams.inside]
strategy = "round_robin"
manager = "manager@demo.example"
only_at_work = false
"""


def phone_first_client() -> str:
    demo = (CLIENTS / "demo.toml").read_text()
    assert 'default_team = "sales"\n' in demo
    return demo.replace('default_team = "sales"\n', 'default_team = "sales"\nqualification_team = "inside"\n') + (
        INSIDE_SALES
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = start_local_stack(tmp_path_factory.mktemp("phone-first"), client_file=phone_first_client())
    reps = (("quinn@demo.example", "inside"), ("sara@demo.example", "sales"), ("tom@demo.example", "sales"))
    for email, team in reps:
        added = running.cli("reps", "add", email, "--name", email.split("@")[0].title(), "--team", team,
                            "--password", PASSWORD)  # fmt: skip
        assert added.returncode == 0, added.stderr
    yield running
    stop_local_stack(running)


def post(stack: RunningStack, **body: Any) -> None:
    answer = requests.post(f"{stack.api}/leads", json=body, timeout=10)
    assert answer.status_code == 202, answer.text


def until(stack: RunningStack, email: str, done: Any, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        lead = stack.lead(email)
        if done(lead):
            return lead
        time.sleep(0.3)
    raise AssertionError(f"{email} did not get there within {timeout_s} s: {json.dumps(lead)[:500]}")


def test_a_marketing_qualified_lead_is_called_first_and_its_sales_ready_outcome_hands_it_to_sales(
    stack: RunningStack,
) -> None:
    # Company email and a decision maker: marketing-qualified, not sales-ready.
    post(stack, email="ines@hollow-freight.example", job_title="Director of Operations", first_name="Ines",
         inquiry_type="contact")  # fmt: skip
    called = until(stack, "ines@hollow-freight.example", lambda lead: lead.get("stage") == "qualifying")
    assert (called["team"], called["owner_name"]) == ("inside", "Quinn")
    signed_in = stack.cli("token", "quinn@demo.example", "--password", PASSWORD)
    assert signed_in.returncode == 0, signed_in.stderr
    answer = requests.post(
        f"{stack.api}/leads/{called['lead_id']}/follow-up",
        headers={"Authorization": signed_in.stdout.strip()},
        json={"action": "sales_ready", "note": "Budget approved, wants a demo in March"},
        timeout=20,
    )
    assert answer.status_code == 200, answer.text
    sold = until(stack, "ines@hollow-freight.example", lambda lead: lead.get("team") == "sales" and lead.get("owner"))
    assert sold["stage"] == "assigned"
    assert sold["owner_name"] in ("Sara", "Tom")
    assert sold["qualification"]["note"] == "Budget approved, wants a demo in March"


def test_a_second_lead_of_a_company_goes_to_the_owner_of_its_first(stack: RunningStack) -> None:
    post(stack, email="ana@zenith-labs.example", inquiry_type="demo_request")
    first = until(stack, "ana@zenith-labs.example", lambda lead: bool(lead.get("owner")))
    for n in range(2):  # round-robin alone would give at least one of these to the other sales rep
        post(stack, email=f"colleague{n}@zenith-labs.example", inquiry_type="demo_request")
        later = until(stack, f"colleague{n}@zenith-labs.example", lambda lead: bool(lead.get("owner")))
        assert later["owner"] == first["owner"]
        assert later["routing"]["account"] == "zenith-labs.example"

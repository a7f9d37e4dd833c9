"""The rep API on the local stack: Cognito tokens issued by moto, checked like API Gateway, over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack, start_local_stack, stop_local_stack
from tests.support import expired_id_token, forged_id_token

PASSWORD = "Correct-horse-1"
POOL = "leadflow-demo-users"
CALLERS = ("no token", "forged", "expired", "other team's rep", "teammate", "owner", "other manager", "manager", "ops")
# Callers who may not see the owner's lead: no answer to them may name it.
NOT_THEIRS = frozenset({"other team's rep", "teammate", "other manager"})


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: who owns what must not depend on the reps other tests add."""
    running = start_local_stack(tmp_path_factory.mktemp("rep-api"))
    yield running
    stop_local_stack(running)


def add_rep(stack: RunningStack, email: str, team: str) -> str:
    added = stack.cli("reps", "add", email, "--name", email.split("@")[0].title(), "--team", team,
                      "--password", PASSWORD, "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    return str(json.loads(added.stdout)["rep_id"])


def add_user(stack: RunningStack, email: str, group: str) -> None:
    added = stack.cli("users", "add", email, "--group", group, "--password", PASSWORD)
    assert added.returncode == 0, added.stderr


def token(stack: RunningStack, email: str) -> str:
    signed_in = stack.cli("token", email, "--password", PASSWORD)
    assert signed_in.returncode == 0, signed_in.stderr
    return signed_in.stdout.strip()


def api(stack: RunningStack, method: str, path: str, id_token: str | None, body: Any = None) -> requests.Response:
    headers = {"Authorization": id_token} if id_token else {}
    return requests.request(method, f"{stack.api}{path}", headers=headers, json=body, timeout=20)


def post_lead(stack: RunningStack, email: str) -> str:
    answer = requests.post(f"{stack.api}/leads", json={"email": email, "inquiry_type": "demo_request"}, timeout=10)
    assert answer.status_code == 202, answer.text
    return str(answer.json()["lead_id"])


def test_every_route_answers_each_caller_as_the_access_rules_say(stack: RunningStack) -> None:
    owner_id = add_rep(stack, "owner.rep@demo.example", "sales")  # the demo's only sales rep: every sales lead
    add_rep(stack, "other.rep@demo.example", "dach")
    add_user(stack, "manager@demo.example", "manager")  # the demo file names them the sales team's manager
    add_user(stack, "leitung@demo.example", "manager")  # and them the dach team's
    add_user(stack, "ops@demo.example", "ops")
    post_lead(stack, "lin@acme-robotics.example")
    lead = stack.routed("lin@acme-robotics.example")
    assert lead["owner"] == owner_id
    lead_id = lead["lead_id"]
    add_rep(stack, "teammate.rep@demo.example", "sales")  # after the routing: the lead is the owner's alone
    tokens = {
        "no token": None,
        "forged": forged_id_token(stack.aws, POOL, "owner.rep@demo.example", ["rep", "ops"]),
        "expired": expired_id_token(stack.aws, POOL, "owner.rep@demo.example"),
        "other team's rep": token(stack, "other.rep@demo.example"),
        "teammate": token(stack, "teammate.rep@demo.example"),
        "owner": token(stack, "owner.rep@demo.example"),
        "other manager": token(stack, "leitung@demo.example"),
        "manager": token(stack, "manager@demo.example"),
        "ops": token(stack, "ops@demo.example"),
    }
    # Each route, and what each caller gets (in the order of CALLERS).
    signed_out = (401, 401, 401)
    expected: dict[tuple[str, str], tuple[int, ...]] = {
        #                                          other rep  teammate  owner  other mgr  manager  ops
        ("GET", "/me"): (*signed_out,                  200,      200,    200,     200,      200,   200),
        ("PUT", "/me/away"): (*signed_out,             200,      200,    200,     403,      403,   403),
        ("GET", "/leads"): (*signed_out,               200,      200,    200,     200,      200,   200),
        ("GET", f"/leads/{lead_id}"): (*signed_out,    404,      404,    200,     404,      200,   200),
        ("POST", f"/leads/{lead_id}/claim"): (*signed_out, 404,  404,    200,     403,      403,   403),
        ("POST", f"/leads/{lead_id}/follow-up"): (*signed_out, 404, 404, 200,     404,      200,   200),
        ("GET", "/teams/sales/queue"): (*signed_out,   404,      200,    200,     404,      200,   200),
        ("GET", "/reps"): (*signed_out,                403,      403,    403,     200,      200,   200),
        ("PATCH", f"/reps/{owner_id}"): (*signed_out,  403,      403,    403,     404,      200,   200),
        ("GET", "/reports/funnel"): (*signed_out,      403,      403,    403,     200,      200,   200),
        ("GET", "/reports/rules"): (*signed_out,       403,      403,    403,     200,      200,   200),
        ("GET", "/openapi.json"): (200,) * len(CALLERS),  # public: the API's description, no lead in it
    }  # fmt: skip
    bodies = {"/me/away": {"until": None}, "/follow-up": {"action": "note", "note": "Left a voicemail"},
              f"/reps/{owner_id}": {"capacity": 30}}  # fmt: skip
    got: dict[tuple[str, str], tuple[int, ...]] = {}
    for method, path in expected:
        body = next((value for end, value in bodies.items() if path.endswith(end)), None)
        answers = [api(stack, method, path, tokens[caller], body) for caller in CALLERS]
        got[method, path] = tuple(answer.status_code for answer in answers)
        for caller, answer in zip(CALLERS, answers, strict=True):
            if answer.status_code == 401:
                assert answer.json() == {"message": "Unauthorized"}, (method, path, caller)
            if answer.status_code >= 400:
                assert "lin@acme-robotics" not in answer.text, (method, path, caller)
            if caller in NOT_THEIRS and not path.startswith(f"/leads/{lead_id}"):
                assert lead_id not in answer.text, (method, path, caller)  # not in their lists either
    assert got == expected


def test_a_claim_race_on_the_local_stack_has_exactly_one_winner(stack: RunningStack) -> None:
    racers = [f"racer{n}@demo.example" for n in range(4)]
    for email in racers:
        add_rep(stack, email, "sales")
    tokens = [token(stack, email) for email in racers]
    # Every sales rep away (the racers through the API, as a rep on a phone does): the next lead waits in the queue.
    back_on = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    for id_token in [*tokens, token(stack, "owner.rep@demo.example"), token(stack, "teammate.rep@demo.example")]:
        assert api(stack, "PUT", "/me/away", id_token, {"until": back_on}).status_code == 200
    lead_id = post_lead(stack, "kim@globex.example")
    assert stack.routed("kim@globex.example").get("queue") == "sales"
    queue = api(stack, "GET", "/teams/sales/queue", tokens[0]).json()["leads"]
    assert lead_id in [entry["lead_id"] for entry in queue]

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        answers = list(pool.map(lambda t: api(stack, "POST", f"/leads/{lead_id}/claim", t), tokens))
    assert sorted(answer.status_code for answer in answers) == [200, 409, 409, 409]
    winner = next(answer.json()["owner"] for answer in answers if answer.status_code == 200)
    assert all("took this lead first" in a.json()["message"] for a in answers if a.status_code == 409)
    lead = stack.lead("kim@globex.example")
    assert (lead["owner"], lead["stage"]) == (winner, "accepted")
    assert "claimed from the sales queue" in lead["routing"]["why"]

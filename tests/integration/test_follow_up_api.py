"""The rep API (functions/follow_up), unchanged, with the events API Gateway sends after its Cognito authorizer."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leadflow import settings, wiring
from leadflow.config import config_snapshot
from leadflow.definition import REPO_ROOT
from leadflow.follow_up.api import openapi_json
from leadflow.route.changes import route_lead
from tests.integration.conftest import Stack
from tests.integration.test_phone_first import MARKETING_QUALIFIED, hand_offs, phone_first_client
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import load_event

SAMPLES = {"GET": "follow_up-get-lead.json", "POST": "follow_up-post-follow-up.json"}


def claims(email: str, *groups: str) -> dict[str, str]:
    """The claims API Gateway passes on for a checked ID token (REST API form: strings, groups comma-separated)."""
    sample = load_event("follow_up-get-lead.json")["requestContext"]["authorizer"]["claims"]
    return {**sample, "email": email, "cognito:username": email, "cognito:groups": ",".join(groups)}


def call(
    stack: Stack,
    context: Any,
    method: str,
    resource: str,
    who: dict[str, str],
    body: Any = None,
    query: dict[str, str] | None = None,
    **parameters: str,
) -> tuple[int, Any]:
    event = copy.deepcopy(load_event(SAMPLES.get(method, SAMPLES["POST"])))
    path = resource
    for name, value in parameters.items():
        path = path.replace("{" + name + "}", value)
    event.update({"resource": resource, "path": path, "httpMethod": method, "pathParameters": parameters or None,
                  "queryStringParameters": query, "multiValueQueryStringParameters":
                  {k: [v] for k, v in query.items()} if query else None,
                  "body": body if isinstance(body, str) or body is None else json.dumps(body)})  # fmt: skip
    event["requestContext"].update({"resourcePath": resource, "httpMethod": method, "authorizer": {"claims": who}})
    answer = stack.handler("follow_up")(event, context)
    return answer["statusCode"], json.loads(answer["body"]) if answer.get("body") else None


def routed_to(stack: Stack, rep_id: str, email: str, team: str = "sales") -> str:
    """A sales-ready lead routed while `rep_id` is the only rep of its team: theirs."""
    message = sales_ready(stack, email, company="Acme Robotics", first_name="Lin")
    applied = route_lead(message, stack.services(), stack.config, roster(stack), stack.store())
    assert applied.change is not None
    assert applied.change.profile.get("owner") == rep_id
    return str(applied.change.profile["lead_id"])


def queued(stack: Stack, email: str) -> str:
    """A sales-ready lead routed while every rep of the sales team is away: it waits in the sales queue."""
    message = sales_ready(stack, email)
    applied = route_lead(message, stack.services(), stack.config, roster(stack), stack.store())
    assert applied.change is not None
    assert applied.change.profile.get("queue") == "sales"
    return str(applied.change.profile["lead_id"])


def away(stack: Stack, rep_id: str) -> None:
    roster(stack).update_rep(rep_id, {"away_until": (datetime.now(UTC) + timedelta(days=3)).isoformat()})


def back(stack: Stack, rep_id: str) -> None:
    roster(stack).update_rep(rep_id, {"away_until": None})


ADA = claims("ada@demo.example", "rep")
MAX = claims("max@demo.example", "rep")
MANAGER = claims("manager@demo.example", "manager")
OPS = claims("ops@demo.example", "ops")


def test_a_rep_lists_their_own_open_leads_and_not_another_reps(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    adas = routed_to(stack, "ada", "lin@acme-robotics.example")
    add_rep(stack, "max")
    away(stack, "ada")
    maxs = routed_to(stack, "max", "kim@globex.example")
    status, body = call(stack, lambda_context, "GET", "/leads", ADA)
    assert status == 200
    assert [lead["lead_id"] for lead in body["leads"]] == [adas]
    assert body["leads"][0]["company"] == "Acme Robotics"
    assert [lead["lead_id"] for lead in call(stack, lambda_context, "GET", "/leads", MAX)[1]["leads"]] == [maxs]


def test_a_manager_lists_the_teams_leads_and_ops_every_lead(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    adas = routed_to(stack, "ada", "lin@acme-robotics.example")
    away(stack, "ada")
    waiting = queued(stack, "kim@globex.example")
    for who in (MANAGER, OPS):
        status, body = call(stack, lambda_context, "GET", "/leads", who)
        assert (status, sorted(lead["lead_id"] for lead in body["leads"])) == (200, sorted([adas, waiting]))
    dach_manager = claims("leitung@demo.example", "manager")
    assert call(stack, lambda_context, "GET", "/leads", dach_manager)[1] == {"leads": []}


def test_a_lead_shows_its_routing_decision_and_timeline_to_its_owner(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    lead_id = routed_to(stack, "ada", "lin@acme-robotics.example")
    status, body = call(stack, lambda_context, "GET", "/leads/{lead_id}", ADA, lead_id=lead_id)
    assert status == 200
    assert body["lead"]["owner"] == "ada"
    assert body["decision"]["team"] == "sales"
    assert body["decision"]["why"]
    assert "routed" in [entry["type"] for entry in body["timeline"]]


def test_another_reps_lead_and_an_unknown_lead_get_the_same_404(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    add_rep(stack, "max", team="dach")
    lead_id = routed_to(stack, "ada", "lin@acme-robotics.example")
    others = call(stack, lambda_context, "GET", "/leads/{lead_id}", MAX, lead_id=lead_id)
    unknown = call(stack, lambda_context, "GET", "/leads/{lead_id}", ADA, lead_id="ld_" + "a" * 24)
    assert others[0] == unknown[0] == 404
    assert others[1] == unknown[1]
    follow = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", MAX, {"action": "accept"},
                  lead_id=lead_id)  # fmt: skip
    assert follow[0] == 404


def test_the_owner_accepts_and_an_invalid_move_is_409_naming_both_stages(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    lead_id = routed_to(stack, "ada", "lin@acme-robotics.example")
    accept = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", ADA, {"action": "accept"},
                  lead_id=lead_id)  # fmt: skip
    assert accept == (200, {"result": "changed", "lead_id": lead_id, "stage": "accepted", "owner": "ada"})
    again = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", ADA, {"action": "accept"},
                 lead_id=lead_id)  # fmt: skip
    assert again[1]["result"] == "unchanged"
    status, body = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", ADA,
                        {"action": "won", "amount": "1200", "currency": "EUR"}, lead_id=lead_id)  # fmt: skip
    assert status == 409
    assert (body["stage"], body["wanted"]) == ("accepted", "won")
    assert "from accepted to won" in body["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "celebrate"}, "action"),
        ({"action": "accept", "mood": "great"}, "mood"),
        ({"action": "won", "amount": "lots", "currency": "EUR"}, "amount"),
        ({"action": "won", "amount": "100", "currency": "XXX"}, "currency"),
        ({"action": "lost", "reason": "bored"}, "reason"),
        ({}, "action"),
        ("{not json", "body"),
    ],
)
def test_a_bad_follow_up_is_400_naming_the_field(stack: Stack, lambda_context: Any, body: Any, field: str) -> None:
    add_rep(stack, "ada")
    lead_id = routed_to(stack, "ada", "lin@acme-robotics.example")
    status, answer = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", ADA, body, lead_id=lead_id)
    assert status == 400
    assert field in [error["field"] for error in answer["errors"]]
    assert stack.store().get_profile(lead_id)["stage"] == "assigned"


def test_a_rep_of_the_team_sees_its_queue_and_claims_a_lead_accepted_at_once(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    away(stack, "ada")
    lead_id = queued(stack, "kim@globex.example")
    back(stack, "ada")
    status, body = call(stack, lambda_context, "GET", "/teams/{team}/queue", ADA, team="sales")
    assert (status, [lead["lead_id"] for lead in body["leads"]]) == (200, [lead_id])
    claimed = call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", ADA, lead_id=lead_id)
    assert claimed == (200, {"result": "changed", "lead_id": lead_id, "stage": "accepted", "owner": "ada"})
    assert call(stack, lambda_context, "GET", "/teams/{team}/queue", ADA, team="sales")[1] == {"leads": []}
    assert [lead["lead_id"] for lead in call(stack, lambda_context, "GET", "/leads", ADA)[1]["leads"]] == [lead_id]
    assert roster(stack).get_rep("ada").open_leads == 1  # type: ignore[union-attr]


def test_a_claim_somebody_else_won_is_409_saying_who(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    add_rep(stack, "max")
    away(stack, "ada")
    away(stack, "max")
    lead_id = queued(stack, "kim@globex.example")
    assert call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", MAX, lead_id=lead_id)[0] == 200
    status, body = call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", ADA, lead_id=lead_id)
    assert status == 409
    assert "Max took this lead first" in body["message"]


def test_a_claim_race_between_eight_reps_has_exactly_one_winner(stack: Stack, lambda_context: Any) -> None:
    names = [f"rep{n}" for n in range(8)]
    for name in names:
        add_rep(stack, name)
        away(stack, name)
    lead_id = queued(stack, "kim@globex.example")

    def claim(name: str) -> int:
        who = claims(f"{name}@demo.example", "rep")
        return call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", who, lead_id=lead_id)[0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(claim, names))
    assert sorted(statuses) == [200] + [409] * 7
    owner = stack.store().get_profile(lead_id)["owner"]
    assert sum(roster(stack).get_rep(name).open_leads for name in names) == 1  # type: ignore[union-attr]
    assert roster(stack).get_rep(owner).open_leads == 1  # type: ignore[union-attr]


def test_a_rep_of_another_team_cannot_see_or_claim_the_queue(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    away(stack, "ada")
    add_rep(stack, "max", team="dach")
    lead_id = queued(stack, "kim@globex.example")
    assert call(stack, lambda_context, "GET", "/teams/{team}/queue", MAX, team="sales")[0] == 404
    assert call(stack, lambda_context, "POST", "/leads/{lead_id}/claim", MAX, lead_id=lead_id)[0] == 404


def test_a_rep_marks_themselves_away_and_routing_passes_them_over(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    back_on = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    status, body = call(stack, lambda_context, "PUT", "/me/away", ADA, {"until": back_on})
    assert status == 200
    assert body["away_until"].startswith(back_on)  # the start of that day in the rep's zone (UTC here)
    message = sales_ready(stack, "kim@globex.example")
    decision = route_lead(message, stack.services(), stack.config, roster(stack), stack.store()).change.profile
    assert decision.get("queue") == "sales"
    assert "away until" in decision["routing"]["passed_over"][0]["reason"]
    assert call(stack, lambda_context, "PUT", "/me/away", ADA, {"until": None})[1]["away_until"] is None


def test_away_in_the_past_is_400_naming_until(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    status, body = call(stack, lambda_context, "PUT", "/me/away", ADA, {"until": "2020-01-01"})
    assert status == 400
    assert body["errors"][0]["field"] == "until"


def test_a_manager_sets_a_reps_capacity_and_a_rep_may_not(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    status, body = call(stack, lambda_context, "PATCH", "/reps/{rep_id}", MANAGER, {"capacity": 3}, rep_id="ada")
    assert (status, body["capacity"]) == (200, 3)
    assert call(stack, lambda_context, "PATCH", "/reps/{rep_id}", ADA, {"capacity": 99}, rep_id="ada")[0] == 403
    dach_manager = claims("leitung@demo.example", "manager")
    assert call(stack, lambda_context, "PATCH", "/reps/{rep_id}", dach_manager, {"capacity": 9}, rep_id="ada")[0] == 404


def test_someone_in_no_group_or_off_the_roster_is_403(stack: Stack, lambda_context: Any) -> None:
    assert call(stack, lambda_context, "GET", "/me", claims("nobody@demo.example"))[0] == 403
    status, body = call(stack, lambda_context, "GET", "/me", claims("gone@demo.example", "rep"))
    assert status == 403
    assert "leadflow reps add" in body["message"]


def test_the_openapi_document_served_is_the_one_committed(stack: Stack, lambda_context: Any) -> None:
    status, served = call(stack, lambda_context, "GET", "/openapi.json", {})
    assert status == 200
    committed = (REPO_ROOT / "docs" / "openapi.json").read_text()
    assert served == json.loads(openapi_json())
    assert committed == openapi_json(), "docs/openapi.json is out of date: run `make openapi` and commit it"


def test_a_lead_leaves_the_reps_list_when_it_is_lost(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada")
    lead_id = routed_to(stack, "ada", "lin@acme-robotics.example")
    for body in ({"action": "accept"}, {"action": "lost", "reason": "competitor"}):
        assert call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", ADA, body, lead_id=lead_id)[0] == 200
    assert call(stack, lambda_context, "GET", "/leads", ADA)[1] == {"leads": []}
    assert call(stack, lambda_context, "GET", "/leads/{lead_id}", ADA, lead_id=lead_id)[1]["lead"]["stage"] == "lost"


def test_a_qualifiers_sales_ready_outcome_hands_the_lead_to_sales_with_only_the_functions_own_settings(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = phone_first_client(stack)
    snapshot = tmp_path / "phone-first.json"
    snapshot.write_text(config_snapshot(config))
    monkeypatch.setenv("LEADFLOW_CLIENT_CONFIG", str(snapshot))
    [message] = hand_offs(stack, config, MARKETING_QUALIFIED)
    lead_id = route_lead(message, stack.services(), config, roster(stack), stack.store()).change.profile["lead_id"]
    own = set(stack.definition.function("follow_up").environment)  # as in Lambda: no other function's variables
    for name in {name for spec in stack.definition.functions for name in spec.environment} - own:
        monkeypatch.delenv(name, raising=False)
    settings.forget_cached()
    wiring.forget_cached()
    quinn = claims("quinn@demo.example", "rep")
    status, body = call(stack, lambda_context, "POST", "/leads/{lead_id}/follow-up", quinn,
                        {"action": "sales_ready", "note": "Budget approved"}, lead_id=lead_id)  # fmt: skip
    wiring.forget_cached()
    assert (status, body["stage"]) == (200, "sales_ready")
    handed = [json.loads(m["Body"]) for m in stack.queue_messages("routing")]
    to_sales = [m["lead_id"] for m in handed if m.get("purpose") != "qualify"]  # beside the first, to be called
    assert to_sales == [lead_id]


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "body"), ({"active": None}, "active"), ({"capacity": None}, "capacity"), ({"weight": 0}, "weight")],
)
def test_a_rep_change_that_names_nothing_or_nulls_a_setting_is_400(
    stack: Stack, lambda_context: Any, body: dict[str, Any], field: str
) -> None:
    add_rep(stack, "ada")
    status, answer = call(stack, lambda_context, "PATCH", "/reps/{rep_id}", MANAGER, body, rep_id="ada")
    assert (status, [error["field"] for error in answer["errors"]]) == (400, [field])
    assert roster(stack).get_rep("ada").active  # type: ignore[union-attr]


@pytest.mark.parametrize("until", ["2099-01-04", "9999-12-31T23:00:00-05:00"])
def test_away_for_more_than_a_year_is_400_naming_until(stack: Stack, lambda_context: Any, until: str) -> None:
    add_rep(stack, "ada")
    status, body = call(stack, lambda_context, "PUT", "/me/away", ADA, {"until": until})
    assert (status, body["errors"][0]["field"]) == (400, "until")
    assert "a year ahead" in body["errors"][0]["message"]


@pytest.mark.parametrize("lead_id", ["ld_" + "a" * 3000, "LEAD#x", "ld_" + "1" * 24])
def test_a_path_that_cannot_name_a_lead_is_404_not_a_store_error(
    stack: Stack, lambda_context: Any, lead_id: str
) -> None:
    add_rep(stack, "ada")
    for method, resource in (("GET", "/leads/{lead_id}"), ("POST", "/leads/{lead_id}/claim")):
        assert call(stack, lambda_context, method, resource, ADA, lead_id=lead_id)[0] == 404
    assert call(stack, lambda_context, "PATCH", "/reps/{rep_id}", OPS, {"capacity": 3}, rep_id="x" * 3000)[0] == 404

"""The one-tap Accept / Reject page (functions/respond), unchanged, with API Gateway events, against moto."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.links import LinkSigner
from leadflow.route.changes import route_lead
from tests.integration.conftest import Stack
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import load_event


def assigned_lead(stack: Stack) -> tuple[str, str]:
    add_rep(stack, "ada")
    routed = route_lead(sales_ready(stack, "lin@acme-robotics.example", first_name="Lin", company="Acme Robotics"),
                        stack.services(), stack.config, roster(stack), stack.store())  # fmt: skip
    return routed.change.profile["lead_id"], routed.change.profile["owner"]


def token(stack: Stack, lead_id: str, rep_id: str, days: float = 7, assigned_at: str | None = None) -> str:
    """A link as the owner's email carries it: for this lead, this rep and this assignment."""
    signer = LinkSigner(stack.resources.secret_values["link-key"].encode())
    profile = stack.store().get_profile(lead_id) or {}
    assignment = {"assigned_at": assigned_at if assigned_at is not None else str(profile.get("assigned_at", ""))}
    return signer.sign("respond", lead_id, rep_id, datetime.now(UTC) + timedelta(days=days), assignment)


def call(
    stack: Stack, context: Any, method: str, link: str, body: str = "", query: dict[str, str] | None = None
) -> Any:
    event = copy.deepcopy(load_event("respond-post.json" if method == "POST" else "respond-get.json"))
    event["pathParameters"] = {"token": link}
    event["path"] = f"/r/{link}"
    event["body"] = body or None
    event["isBase64Encoded"] = False
    event["queryStringParameters"] = query
    return stack.handler("respond")(event, context)


def test_the_link_shows_the_lead_and_asks_before_acting(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    answer = call(stack, lambda_context, "GET", token(stack, lead_id, owner), query={"action": "accept"})
    assert answer["statusCode"] == 200
    assert "Acme Robotics" in answer["body"]
    assert '<form method="post">' in answer["body"]
    assert stack.store().get_profile(lead_id)["stage"] == "assigned"  # a GET never acts
    assert answer["headers"]["Referrer-Policy"] == "no-referrer"


def test_accept_by_post_records_it_and_a_reused_link_is_refused(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    link = token(stack, lead_id, owner)
    answer = call(stack, lambda_context, "POST", link, body="action=accept")
    assert (answer["statusCode"], "Accepted" in answer["body"]) == (200, True)
    profile = stack.store().get_profile(lead_id)
    assert profile["stage"] == "accepted"
    again = call(stack, lambda_context, "POST", link, body="action=accept")
    assert again["statusCode"] == 409
    assert "Already answered" in again["body"]


def test_reject_needs_a_reason_from_the_clients_list(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    link = token(stack, lead_id, owner)
    assert call(stack, lambda_context, "POST", link, body="action=reject")["statusCode"] == 400
    answer = call(stack, lambda_context, "POST", link, body="action=reject&reason=not_ready")
    assert answer["statusCode"] == 200
    assert stack.store().get_profile(lead_id)["stage"] == "nurture"


def test_an_altered_an_expired_and_another_reps_link_are_refused(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    link = token(stack, lead_id, owner)
    altered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert call(stack, lambda_context, "POST", altered, body="action=accept")["statusCode"] == 404
    expired = token(stack, lead_id, owner, days=-1)
    assert call(stack, lambda_context, "POST", expired, body="action=accept")["statusCode"] == 410
    someone_else = token(stack, lead_id, "rep_other")
    assert call(stack, lambda_context, "POST", someone_else, body="action=accept")["statusCode"] == 410
    assert stack.store().get_profile(lead_id)["stage"] == "assigned"


def test_a_link_from_an_earlier_assignment_of_the_same_rep_is_refused(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    earlier = token(stack, lead_id, owner, assigned_at="2026-01-05T09:00:00.000+00:00")
    assert call(stack, lambda_context, "POST", earlier, body="action=accept")["statusCode"] == 410
    assert stack.store().get_profile(lead_id)["stage"] == "assigned"


def test_a_post_that_is_not_the_pages_form_gets_400(stack: Stack, lambda_context: Any) -> None:
    lead_id, owner = assigned_lead(stack)
    crowded = "&".join(f"f{n}=x" for n in range(20))
    assert call(stack, lambda_context, "POST", token(stack, lead_id, owner), body=crowded)["statusCode"] == 400

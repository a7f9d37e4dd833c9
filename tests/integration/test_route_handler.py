"""The routing consumer, unchanged, with SQS batch events, against moto's DynamoDB."""

from __future__ import annotations

import json
import threading
from collections import Counter
from datetime import UTC, datetime, time
from typing import Any

import pytest

from leadflow.aws.leads_table import LEADS_BY_DUE_INDEX, due_partition
from leadflow.aws.roster import RosterTable
from leadflow.lead.change import Conflict
from leadflow.qualify.changes import record_inquiry
from leadflow.route.changes import route_lead
from leadflow.route.roster import Rep
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record
from tests.support import coming_tuesday, load_event

EVERY_HOUR = {"workdays": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "hours": ("00:00-24:00",)}


class TuesdayMorning(datetime):
    """Routing's clock in these tests: the coming Tuesday at 10:00 UTC, at work in every calendar here (dach's too).

    On the wall clock these tests failed at times: EVERY_HOUR ended at 23:59 while calendars had
    no 24:00, and a team's holidays (dach's Christmas) hold for its reps' own hours too, so a
    lead routed then waited in its team's queue. A fixed date failed once it was past: a lead
    captured at the real now was then routed before it was captured, and its timeline ran backwards.
    """

    @classmethod
    def now(cls, tz: Any = None) -> Any:
        return datetime.combine(coming_tuesday(), time(10), UTC).astimezone(tz)


@pytest.fixture(autouse=True)
def routing_at_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("leadflow.route.changes.datetime", TuesdayMorning)


def roster(stack: Stack) -> RosterTable:
    return RosterTable(stack.definition.table("leads").name, stack.session.client("dynamodb"))


def add_rep(stack: Stack, rep_id: str, team: str = "sales", **fields: Any) -> Rep:
    rep = Rep(rep_id=rep_id, name=rep_id.title(), email=f"{rep_id}@demo.example", teams=(team,),
              **{"timezone": "UTC", **EVERY_HOUR, **fields})  # fmt: skip
    roster(stack).add_rep(rep)
    return rep


def sales_ready(stack: Stack, email: str, **fields: Any) -> dict[str, Any]:
    """A lead stored by intake as a sales-ready hand-raiser; the routing message it handed off."""
    record = captured_record(stack, {"email": email, "inquiry_type": "demo_request", **fields})
    applied = record_inquiry(json.loads(record["body"]), stack.services(), stack.config.qualify)
    assert applied.change is not None
    assert applied.change.profile["stage"] == "sales_ready"
    return applied.change.handoffs[0].message


def route(stack: Stack, message: dict[str, Any]) -> Any:
    store = stack.store()
    return route_lead(message, stack.services(), stack.config, roster(stack), store)


def test_sample_batch_gives_each_lead_an_owner_of_the_team_its_rule_picks(stack: Stack, lambda_context: Any) -> None:
    stack.handler("intake")(load_event("intake-sqs-batch.json"), lambda_context)
    add_rep(stack, "ada", "sales")
    add_rep(stack, "max", "dach")
    answer = stack.handler("route")(load_event("route-sqs-batch.json"), lambda_context)
    assert answer == {"batchItemFailures": []}
    dana, sam = (json.loads(r["body"])["lead_id"] for r in load_event("route-sqs-batch.json")["Records"])
    assert stack.store().get_profile(dana)["owner"] == "max"  # a German phone: the DACH rule
    assert stack.store().get_profile(sam)["owner"] == "ada"  # no rule matched: the default team


def test_the_decision_is_on_the_profile_and_the_timeline(stack: Stack) -> None:
    add_rep(stack, "ada")
    add_rep(stack, "bob", active=False)
    lead_id = route(stack, sales_ready(stack, "lin@acme-robotics.example")).change.profile["lead_id"]
    lead = stack.store().get_lead(lead_id)
    assert lead is not None
    assert (lead.profile["stage"], lead.profile["owner"], lead.profile["team"]) == ("assigned", "ada", "sales")
    [routed] = [entry for entry in lead.timeline if entry["type"] == "routed"]
    assert routed["decision"]["passed_over"] == [{"rep_id": "bob", "name": "Bob", "reason": "inactive"}]
    assert routed["decision"]["strategy"] == "weighted_round_robin"
    assert [e["to"] for e in lead.timeline if e["type"] == "stage_changed"] == ["sales_ready", "assigned"]


def test_a_redelivered_hand_off_routes_the_lead_once(stack: Stack) -> None:
    add_rep(stack, "ada")
    message = sales_ready(stack, "lin@acme-robotics.example")
    assert route(stack, message).outcome == "changed"
    assert route(stack, message).outcome == "unchanged"
    assert roster(stack).get_rep("ada").open_leads == 1  # type: ignore[union-attr]


def test_a_lead_nobody_can_take_waits_in_the_queue_and_is_due_in_the_sweeps_index(stack: Stack) -> None:
    add_rep(stack, "ada", away_until="2099-01-01T00:00:00.000+00:00")
    profile = route(stack, sales_ready(stack, "lin@acme-robotics.example")).change.profile
    assert (profile["stage"], profile.get("owner"), profile["queue"]) == ("sales_ready", None, "sales")
    dynamodb = stack.session.client("dynamodb")
    from leadflow.aws.leads_table import counter_shard

    due = dynamodb.query(
        TableName=stack.definition.table("leads").name,
        IndexName=LEADS_BY_DUE_INDEX,
        KeyConditionExpression="gsi2pk = :p AND gsi2sk <= :now",
        ExpressionAttributeValues={
            ":p": {"S": due_partition(counter_shard(profile["lead_id"]))},
            ":now": {"S": "2100-01-01"},
        },
    )["Items"]
    assert [item["pk"]["S"] for item in due] == [f"LEAD#{profile['lead_id']}"]
    assert set(due[0]) == {"pk", "sk", "gsi2pk", "gsi2sk"}  # keys only: a timed lead's change copies no profile


def test_a_lead_from_a_company_already_owned_goes_to_the_same_owner(stack: Stack) -> None:
    for rep_id in ("ada", "bob", "cyd"):
        add_rep(stack, rep_id)
    first = route(stack, sales_ready(stack, "lin@acme-robotics.example")).change.profile
    second = route(stack, sales_ready(stack, "kim@acme-robotics.example")).change.profile
    assert second["owner"] == first["owner"]
    assert second["routing"]["account"] == "acme-robotics.example"


def test_parallel_routing_gives_each_lead_one_owner_and_each_rep_its_weights_share(stack: Stack) -> None:
    weights = {"ann": 1.0, "ben": 2.0, "cat": 3.0}
    for rep_id, weight in weights.items():
        add_rep(stack, rep_id, weight=weight, capacity=1000)
    # Free-mail addresses: no account matching, so every lead is the strategy's to place.
    messages = [sales_ready(stack, f"person{n}@gmail.com") for n in range(200)]
    conflicts = Counter[str]()

    def worker(share: list[dict[str, Any]]) -> None:
        for message in share:
            while True:
                try:
                    route(stack, message)
                    break
                except Conflict:  # ten plans lost to other writers: the queue would deliver it again
                    conflicts["redelivered"] += 1

    threads = [threading.Thread(target=worker, args=(messages[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    owners = Counter(stack.store().get_profile(m["lead_id"])["owner"] for m in messages)  # type: ignore[index]
    total = sum(weights.values())
    for rep_id, weight in weights.items():
        assert abs(owners[rep_id] - 200 * weight / total) <= 1, owners
        assert roster(stack).get_rep(rep_id).open_leads == owners[rep_id]  # type: ignore[union-attr]


def test_a_lead_already_past_sales_ready_is_not_routed_again(stack: Stack) -> None:
    add_rep(stack, "ada")
    message = sales_ready(stack, "lin@acme-robotics.example")
    route(stack, message)
    later = {**message, "handed_off_at": datetime.now(UTC).isoformat()}
    assert route(stack, later).outcome == "unchanged"


def test_a_lead_rejected_to_nurture_that_asks_again_is_routed_again(stack: Stack) -> None:
    from leadflow.follow_up.changes import Actor, FollowUp, check_follow_up, follow_up_lead

    add_rep(stack, "ada")
    first = route(stack, sales_ready(stack, "lin@acme-robotics.example")).change.profile
    rejected = check_follow_up(FollowUp("reject", reason="not_ready"), stack.config)
    follow_up_lead(first["lead_id"], rejected, Actor("rep", rep_id="ada"), stack.services(), stack.config,
                   datetime.now(UTC))  # fmt: skip
    again = sales_ready(stack, "lin@acme-robotics.example")  # a second demo request: sales-ready again
    assert again["handed_off_at"] != first["handed_off_at"]
    profile = route(stack, again).change.profile
    assert (profile["stage"], profile["owner"]) == ("assigned", "ada")


def test_a_lead_of_a_removed_rep_can_still_be_closed(stack: Stack) -> None:
    from leadflow.follow_up.changes import Actor, FollowUp, check_follow_up, follow_up_lead

    add_rep(stack, "ada")
    lead_id = route(stack, sales_ready(stack, "lin@acme-robotics.example")).change.profile["lead_id"]
    roster(stack).remove_rep("ada")
    assert roster(stack).list_reps() == []
    rejected = check_follow_up(FollowUp("reject", reason="wrong_team"), stack.config)
    applied = follow_up_lead(lead_id, rejected, Actor("ops", name="ops"), stack.services(), stack.config,
                             datetime.now(UTC))  # fmt: skip
    assert applied.outcome == "changed"

"""The SLA sweep, unchanged, with the schedule's events, against moto: remind, reassign, escalate on working time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadflow.aws.leads_table import LeadsTable
from leadflow.route.changes import route_lead
from leadflow.route.sla import sweep
from tests.integration.conftest import Stack
from tests.integration.test_route_handler import add_rep, roster, sales_ready
from tests.support import load_event

# The demo's sales team: Berlin, mon-fri 09:00-17:00, holidays 24-26 and 31 December and 1 January;
# a demo request must be accepted within 30 working minutes, with a reminder 15 before; one reassignment.
WEDNESDAY_BEFORE_CHRISTMAS_16_50_BERLIN = datetime(2026, 12, 23, 15, 50, tzinfo=UTC)
# 10 working minutes on Wednesday; Thursday 24 and Friday 25 are holidays, then the weekend (26 is one too):
REMIND_AT = "2026-12-28T08:05:00.000+00:00"  # Monday 09:05 in Berlin: 15 working minutes in
DUE_AT = "2026-12-28T08:20:00.000+00:00"  # Monday 09:20: 30 working minutes in


def tick(stack: Stack, lambda_context: Any, at: str) -> dict[str, int]:
    """The sweep as its schedule runs it, at the clock time `at`."""
    event = load_event("sla-scheduled.json")
    event["time"] = datetime.fromisoformat(at).strftime("%Y-%m-%dT%H:%M:%SZ")
    answer: dict[str, int] = stack.handler("sla")(event, lambda_context)
    return answer


def timeline_types(stack: Stack, lead_id: str) -> list[str]:
    lead = stack.store().get_lead(lead_id)
    assert lead is not None
    return [entry["type"] for entry in lead.timeline if entry["type"] != "inquiry"]


def test_an_overdue_lead_is_reminded_reassigned_then_escalated_across_a_weekend_and_holidays(
    stack: Stack, lambda_context: Any
) -> None:
    add_rep(stack, "ada")
    add_rep(stack, "bob")
    message = sales_ready(stack, "lin@acme-robotics.example")
    store = stack.store()
    routed = route_lead(message, stack.services(), stack.config, roster(stack), store,
                        now=WEDNESDAY_BEFORE_CHRISTMAS_16_50_BERLIN).change.profile  # fmt: skip
    lead_id, first_owner = routed["lead_id"], routed["owner"]
    assert (routed["sla"]["remind_at"], routed["sla"]["due_at"]) == (REMIND_AT, DUE_AT)

    assert tick(stack, lambda_context, "2026-12-24T10:00:00+00:00")["due"] == 0  # a holiday: no working time passed
    assert tick(stack, lambda_context, REMIND_AT)["changed"] == 1
    assert tick(stack, lambda_context, "2026-12-28T08:06:00+00:00")["due"] == 0  # reminded once

    assert tick(stack, lambda_context, DUE_AT)["changed"] == 1
    reassigned = store.get_profile(lead_id)
    assert reassigned is not None
    assert reassigned["owner"] != first_owner
    assert reassigned["sla"]["due_at"] == "2026-12-28T08:50:00.000+00:00"  # 30 working minutes from 09:20

    assert tick(stack, lambda_context, "2026-12-28T08:50:00+00:00")["changed"] == 1
    escalated = store.get_profile(lead_id)
    assert escalated is not None
    assert escalated["sla"]["escalated"]["to"] == "manager"
    assert "sla_next_at" not in escalated
    assert timeline_types(stack, lead_id) == [
        "stage_changed", "routed", "stage_changed",  # qualified, routed, assigned
        "sla_reminder", "sla_breached", "reassigned", "sla_breached", "escalated",
    ]  # fmt: skip
    owners = {rep.rep_id: rep.open_leads for rep in roster(stack).list_reps()}
    assert owners == {first_owner: 0, reassigned["owner"]: 1}
    assert (store.count("sla_reminded"), store.count("sla_breached"), store.count("sla_reassigned"),
            store.count("sla_escalated")) == (1, 2, 1, 1)  # fmt: skip


def test_the_sweep_reads_only_what_is_due(stack: Stack, lambda_context: Any) -> None:
    add_rep(stack, "ada", capacity=1000)
    early = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # Tuesday 10:00 Berlin
    for n in range(6):
        route_lead(sales_ready(stack, f"person{n}@gmail.com"), stack.services(), stack.config, roster(stack),
                   stack.store(), now=early if n < 2 else datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # fmt: skip
    reader = LeadsTable(stack.definition.table("leads").name, stack.session.client("dynamodb"))
    due = list(reader.due_lead_ids("2026-11-24T09:20:00.000+00:00"))  # the two early leads' reminders
    assert len(due) == 2
    assert reader.items_read == 2


def test_two_overlapping_sweeps_remind_once(stack: Stack, lambda_context: Any) -> None:
    import threading

    add_rep(stack, "ada")
    route_lead(sales_ready(stack, "lin@acme-robotics.example"), stack.services(), stack.config, roster(stack),
               stack.store(), now=WEDNESDAY_BEFORE_CHRISTMAS_16_50_BERLIN)  # fmt: skip
    answers: list[dict[str, int]] = []
    at = datetime.fromisoformat(REMIND_AT)

    def one_sweep() -> None:  # two Lambda invocations are two processes: each its own clients and metrics
        answers.append(sweep(stack.services(), stack.config, roster(stack), stack.store(), at))

    sweeps = [threading.Thread(target=one_sweep) for _ in range(2)]
    for thread in sweeps:
        thread.start()
    for thread in sweeps:
        thread.join()
    assert sorted(a["changed"] for a in answers) == [0, 1]  # one reminded; the other found it done
    assert stack.store().count("sla_reminded") == 1


def test_a_lead_queued_overnight_goes_to_the_first_rep_at_work_in_the_morning_without_a_breach(
    stack: Stack, lambda_context: Any
) -> None:
    add_rep(stack, "max", "dach", timezone=None, workdays=None, hours=None)  # the team's hours: 08:00-17:00 Berlin
    message = sales_ready(stack, "jonas@kessel-logistik.example", phone="+49 40 3999 1200")
    ten_pm_berlin = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    queued = route_lead(message, stack.services(), stack.config, roster(stack), stack.store(), now=ten_pm_berlin)
    profile = queued.change.profile
    assert (profile["queue"], profile["sla_next_at"]) == ("dach", "2026-11-25T07:00:00.000+00:00")
    assert tick(stack, lambda_context, "2026-11-25T07:00:00+00:00")["changed"] == 1
    claimed = stack.store().get_profile(profile["lead_id"])
    assert (claimed["stage"], claimed["owner"]) == ("assigned", "max")
    assert stack.store().count("sla_breached") == 0

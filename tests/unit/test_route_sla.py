"""The accept deadline's steps (leadflow.route.sla.plan_sla): remind, then reassign, then escalate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from leadflow.config import RouteSettings
from leadflow.lead.change import LedgerEntry, RepRelease
from leadflow.lead.profile import LeadProfile
from leadflow.route.roster import Rep
from leadflow.route.sla import plan_sla

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin
DUE = "2026-11-24T09:30:00.000+00:00"
REMIND = "2026-11-24T09:20:00.000+00:00"


def settings(reassign_times: int = 1, escalate_to: str = "manager") -> RouteSettings:
    return RouteSettings.model_validate({"teams": {"sales": {
        "manager": "maria@example.com", "only_at_work": False,
        "calendar": {"timezone": "Europe/Berlin", "hours": ["09:00-18:00"]},
        "accept": {"minutes": 30, "remind_before_minutes": 10, "reassign_times": reassign_times,
                   "escalate_to": escalate_to},
    }}})  # fmt: skip


def rep(rep_id: str) -> Rep:
    return Rep(rep_id=rep_id, name=rep_id.title(), email=f"{rep_id}@example.com", teams=("sales",), open_leads=1)


def assigned(owner: str | None = "ann", **sla: Any) -> LeadProfile:
    profile: LeadProfile = {
        "lead_id": "ld_" + "a" * 24, "email": "lin@northwind.example", "stage": "assigned" if owner else "sales_ready",
        "team": "sales", "created_at": "2026-11-24T08:59:00.000+00:00",
        "sla": {"started_at": START.isoformat(), "deadline_minutes": 30, "due_at": DUE, "remind_at": REMIND,
                "reminded": False, "reassignments": 0, **sla},  # type: ignore[typeddict-item]
        "sla_next_at": REMIND,
    }  # fmt: skip
    if owner:
        profile |= {"owner": owner, "owner_name": owner.title()}
    else:
        profile["queue"] = "sales"
    return profile


def at(stamp: str, seconds: int = 0) -> datetime:
    return datetime.fromisoformat(stamp) + timedelta(seconds=seconds)


def plan(profile: LeadProfile, now: datetime, roster: list[Rep] | None = None, **options: Any) -> Any:
    return plan_sla(profile, now, settings(**options), roster if roster is not None else [rep("ann"), rep("ben")], {})


def test_nothing_happens_before_the_timer_is_due() -> None:
    assert plan(assigned(), at(REMIND, -1)) is None


def test_the_reminder_comes_once_and_the_timer_moves_to_the_deadline() -> None:
    change = plan(assigned(), at(REMIND))
    assert change.profile["sla"]["reminded"] is True
    assert change.profile["sla_next_at"] == DUE
    assert [e.type for e in change.events] == ["LeadSlaReminder"]
    assert change.timeline[0]["reason"] == f"Ann: accept by {DUE}"
    assert plan(change.profile, at(REMIND, 30)) is None  # a second sweep before the deadline: nothing


def test_past_the_deadline_the_lead_goes_to_the_next_available_rep_with_a_new_deadline() -> None:
    change = plan(assigned(sla_next_at=DUE, reminded=True), at(DUE))
    profile = change.profile
    assert (profile["owner"], profile["stage"]) == ("ben", "assigned")
    assert profile["sla"]["reassignments"] == 1
    assert profile["sla"]["previous_owners"] == ["ann"]
    assert profile["sla"]["due_at"] == "2026-11-24T10:00:00.000+00:00"
    assert change.ledger[0] == RepRelease("ann")
    assert isinstance(change.ledger[1], LedgerEntry)
    assert change.ledger[1].rep_id == "ben"
    assert [e.type for e in change.events] == ["LeadSlaBreached", "LeadReassigned"]
    assert [c.name for c in change.counters] == ["sla_breached", "sla_reassigned"]


def test_a_breach_with_reassignment_spent_escalates_to_the_manager_who_is_named() -> None:
    change = plan(assigned(reassignments=1, previous_owners=["zed"]), at(DUE))
    assert change.profile["owner"] == "ann"  # the manager decides; the owner keeps it
    assert "sla_next_at" not in change.profile
    escalated = change.events[-1]
    assert (escalated.type, escalated.detail["to"], escalated.detail["manager"]) == (
        "LeadEscalated", "manager", "maria@example.com",
    )  # fmt: skip
    assert escalated.detail["reason"].endswith("reassignment spent")


def test_nobody_else_available_escalates_at_once() -> None:
    change = plan(assigned(), at(DUE), roster=[rep("ann")])
    assert change.events[-1].detail["reason"].endswith("nobody else can take it")


def test_escalation_to_the_queue_takes_the_lead_from_its_owner() -> None:
    change = plan(assigned(reassignments=1), at(DUE), escalate_to="queue")
    profile = change.profile
    assert (profile["stage"], profile.get("owner"), profile["queue"]) == ("sales_ready", None, "sales")
    assert change.ledger == [RepRelease("ann")]
    assert "LeadStageChanged" in [e.type for e in change.events]


def test_a_queued_lead_past_its_deadline_goes_to_a_rep_who_is_free_now() -> None:
    change = plan(assigned(owner=None), at(DUE))
    assert (change.profile["stage"], change.profile["owner"]) == ("assigned", "ann")
    assert [entry.rep_id for entry in change.ledger] == ["ann"]  # nobody to release
    assert change.events[-1].detail["previous_owner"] is None


def test_a_removed_owner_is_not_released() -> None:
    change = plan(assigned(owner="gone"), at(DUE))
    assert all(not isinstance(entry, RepRelease) for entry in change.ledger)


def test_an_accepted_lead_has_nothing_to_time() -> None:
    accepted = assigned()
    accepted["stage"] = "accepted"
    change = plan(accepted, at(DUE))
    assert "sla_next_at" not in change.profile
    assert change.events == []


def queued_due_for_a_look() -> LeadProfile:
    """A queued lead whose next look (a retry, before its reminder) is now: 09:05 UTC."""
    profile = assigned(owner=None)
    profile["sla_next_at"] = "2026-11-24T09:05:00.000+00:00"
    return profile


def test_a_queued_lead_goes_to_a_rep_who_became_free_before_its_deadline_with_no_breach() -> None:
    change = plan(queued_due_for_a_look(), at("2026-11-24T09:05:00.000+00:00"))
    assert (change.profile["stage"], change.profile["owner"]) == ("assigned", "ann")
    assert change.profile["sla"]["due_at"] == DUE  # the clock kept running
    assert change.profile["sla_next_at"] == REMIND
    assert [e.type for e in change.events] == ["LeadStageChanged", "LeadAssigned"]
    assert [c.name for c in change.counters] == ["assigned"]


def test_a_queued_lead_nobody_can_take_yet_is_looked_at_again_later_without_a_step() -> None:
    now = at("2026-11-24T09:05:00.000+00:00")
    change = plan(queued_due_for_a_look(), now, roster=[])
    assert change.timeline == []
    assert change.events == []
    assert now < datetime.fromisoformat(change.profile["sla_next_at"]) <= at(REMIND)

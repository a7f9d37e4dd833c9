"""Follow-up (leadflow.follow_up.changes): accept, reject, and on to won or lost, along the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow.config import ClientConfig
from leadflow.follow_up.changes import (
    Actor,
    ClaimRefused,
    FollowUp,
    FollowUpError,
    NotTheOwner,
    NotYourLead,
    check_follow_up,
    plan_claim,
    plan_follow_up,
)
from leadflow.lead.change import RepRelease
from leadflow.lead.lifecycle import InvalidTransition
from leadflow.lead.profile import LeadProfile
from leadflow.route.roster import Rep

OWNER = Actor("rep", rep_id="rep_ann", name="Ann")
# Monday 30 November 2026, 10:30 in Berlin; the demo's sales team works mon-fri 09:00-17:00 there.
MONDAY_10_30_BERLIN = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def lead(stage: str = "assigned", **more: Any) -> LeadProfile:
    profile: LeadProfile = {"lead_id": "ld_" + "a" * 24, "email": "lin@northwind.example", "stage": stage,
                            "team": "sales", "owner": "rep_ann", "owner_name": "Ann",
                            "assigned_at": "2026-11-27T15:45:00.000+00:00",  # Friday 16:45 in Berlin
                            "sla_next_at": "2026-11-30T08:15:00.000+00:00"}  # fmt: skip
    profile.update(more)  # type: ignore[typeddict-item]
    return profile


def plan(config: ClientConfig, profile: LeadProfile, action: str, actor: Actor = OWNER, **values: Any) -> Any:
    follow_up = check_follow_up(FollowUp(action, **values), config)  # type: ignore[arg-type]
    return plan_follow_up(profile, follow_up, actor, MONDAY_10_30_BERLIN, config)


def test_accepting_stops_the_timer_and_records_the_working_minutes_it_took(demo_config: ClientConfig) -> None:
    change = plan(demo_config, lead(), "accept")
    assert change.profile["stage"] == "accepted"
    assert "sla_next_at" not in change.profile
    assert change.profile["minutes_to_accept"] == 105.0  # Friday 16:45-17:00 and Monday 09:00-10:30
    assert [e.type for e in change.events] == ["LeadStageChanged", "LeadAccepted"]
    assert change.events[-1].detail["working_minutes"] == 105.0


def test_accepting_twice_changes_nothing(demo_config: ClientConfig) -> None:
    assert plan(demo_config, lead("accepted"), "accept") is None


def test_a_move_the_lifecycle_forbids_names_both_stages(demo_config: ClientConfig) -> None:
    with pytest.raises(InvalidTransition, match="cannot move from assigned to won"):
        plan(demo_config, lead(), "won", amount="10", currency="EUR")


def test_rejecting_sends_the_lead_where_its_reason_says_and_frees_the_reps_place(demo_config: ClientConfig) -> None:
    change = plan(demo_config, lead(), "reject", reason="not_ready")
    assert change.profile["stage"] == "nurture"
    assert [(e["from"], e["to"]) for e in change.timeline if e["type"] == "stage_changed"] == [
        ("assigned", "rejected"), ("rejected", "nurture"),
    ]  # fmt: skip
    assert change.ledger == [RepRelease("rep_ann")]
    assert "owner" not in change.profile
    junk = plan(demo_config, lead(), "reject", reason="not_a_fit")
    assert junk.profile["stage"] == "junk"


def test_a_reject_reason_not_in_the_client_list_is_refused_naming_the_allowed(demo_config: ClientConfig) -> None:
    with pytest.raises(FollowUpError, match="reason: must be one of not_a_fit, not_ready"):
        plan(demo_config, lead(), "reject", reason="meh")


def test_the_first_contact_records_the_working_minutes_from_accept(demo_config: ClientConfig) -> None:
    change = plan(demo_config, lead("accepted", accepted_at="2026-11-30T08:00:00.000+00:00"), "contacted")
    assert change.profile["minutes_to_first_contact"] == 90.0


def test_won_records_the_amount_as_an_exact_decimal_and_counts_revenue_in_cents(demo_config: ClientConfig) -> None:
    change = plan(demo_config, lead("opportunity"), "won", amount="12500.5", currency="EUR")
    assert change.profile["won"]["amount"] == "12500.50"
    assert ("revenue_cents_EUR", 1250050) in [(c.name, c.amount) for c in change.counters]
    assert change.ledger == [RepRelease("rep_ann")]


@pytest.mark.parametrize(
    ("values", "field"),
    [({"amount": "lots", "currency": "EUR"}, "amount"), ({"amount": "-5", "currency": "EUR"}, "amount"),
     ({"amount": "NaN", "currency": "EUR"}, "amount"), ({"amount": "10", "currency": "XXX"}, "currency")],
)  # fmt: skip
def test_a_won_deal_with_a_bad_amount_or_currency_names_the_field(
    demo_config: ClientConfig, values: dict[str, str], field: str
) -> None:
    with pytest.raises(FollowUpError) as raised:
        plan(demo_config, lead("opportunity"), "won", **values)
    assert raised.value.field == field


def test_lost_from_any_working_stage_needs_a_listed_reason(demo_config: ClientConfig) -> None:
    for stage in ("accepted", "contacted", "meeting", "opportunity"):
        assert plan(demo_config, lead(stage), "lost", reason="competitor").profile["stage"] == "lost"
    with pytest.raises(FollowUpError, match="reason"):
        plan(demo_config, lead("meeting"), "lost", reason=None)


def test_a_note_is_a_timeline_entry_and_moves_no_stage(demo_config: ClientConfig) -> None:
    change = plan(demo_config, lead("contacted"), "note", note="Call back after the trade fair.")
    assert change.profile["stage"] == "contacted"
    assert change.timeline == [{"type": "note", "at": "2026-11-30T09:30:00.000+00:00",
                                "reason": "Call back after the trade fair.", "by": "rep_ann"}]  # fmt: skip


def test_another_reps_lead_is_not_found(demo_config: ClientConfig) -> None:
    with pytest.raises(NotYourLead):
        plan(demo_config, lead(), "accept", actor=Actor("rep", rep_id="rep_bob"))


def test_a_manager_acts_on_their_teams_leads_only(demo_config: ClientConfig) -> None:
    assert plan(demo_config, lead(), "accept", actor=Actor("manager", name="Maria", teams=("sales",))) is not None
    with pytest.raises(NotYourLead):
        plan(demo_config, lead(), "accept", actor=Actor("manager", name="Max", teams=("dach",)))


# --- pull: a rep claims a lead from their team's queue ---------------------------------------


def queued_lead(stage: str = "sales_ready", queue: str = "sales") -> LeadProfile:
    profile = lead(stage)
    for name in ("owner", "owner_name", "assigned_at"):
        profile.pop(name)  # type: ignore[misc]
    profile.update({"queue": queue, "team": queue,
                    "sla": {"started_at": "2026-11-27T15:45:00.000+00:00", "due_at": "2026-11-30T09:15:00.000+00:00",
                            "remind_at": "2026-11-30T09:00:00.000+00:00", "reminded": False}})  # fmt: skip
    return profile


def test_a_claimed_sales_lead_is_the_reps_and_accepted_with_the_queue_time_as_time_to_accept(
    demo_config: ClientConfig,
) -> None:
    change = plan_claim(queued_lead(), rep(), MONDAY_10_30_BERLIN, demo_config)
    assert (change.profile["owner"], change.profile["stage"]) == ("rep_ann", "accepted")
    assert "queue" not in change.profile
    assert "sla_next_at" not in change.profile
    assert change.profile["minutes_to_accept"] == 105.0
    assert [e.type for e in change.events] == ["LeadStageChanged", "LeadStageChanged", "LeadClaimed"]
    assert change.ledger[0].open_leads == 3


def test_a_qualifier_claims_a_lead_to_call_with_its_deadline_still_running(demo_config: ClientConfig) -> None:
    config = demo_config.model_copy(
        update={"route": demo_config.route.model_copy(update={"qualification_team": "dach"})}
    )
    waiting = queued_lead("nurture", "dach")
    waiting["sla"] |= {"remind_at": "2026-11-30T10:00:00.000+00:00", "due_at": "2026-11-30T10:15:00.000+00:00"}
    change = plan_claim(waiting, rep(teams=("dach",)), MONDAY_10_30_BERLIN, config)
    assert change.profile["stage"] == "qualifying"
    assert change.profile["sla_next_at"] == "2026-11-30T10:00:00.000+00:00"  # the reminder, still ahead


def test_a_qualifier_who_claims_an_overdue_lead_is_not_held_to_the_passed_deadline(demo_config: ClientConfig) -> None:
    config = demo_config.model_copy(
        update={"route": demo_config.route.model_copy(update={"qualification_team": "dach"})}
    )
    change = plan_claim(queued_lead("nurture", "dach"), rep(teams=("dach",)), MONDAY_10_30_BERLIN, config)
    assert "sla_next_at" not in change.profile  # due 09:15 UTC, claimed 09:30: the sweep must not breach it again


def test_claiming_a_lead_a_teammate_took_from_the_queue_first_is_refused_naming_them(
    demo_config: ClientConfig,
) -> None:
    taken = lead("accepted", owner="rep_bo", owner_name="Bo", left_queue="sales")
    with pytest.raises(ClaimRefused, match="Bo took this lead first"):
        plan_claim(taken, rep(), MONDAY_10_30_BERLIN, demo_config)


def test_a_teammates_lead_that_never_waited_in_the_queue_is_not_the_reps_to_know_of(demo_config: ClientConfig) -> None:
    with pytest.raises(NotYourLead):
        plan_claim(lead("accepted", owner="rep_bo", owner_name="Bo"), rep(), MONDAY_10_30_BERLIN, demo_config)


def test_claiming_ones_own_lead_again_changes_nothing(demo_config: ClientConfig) -> None:
    assert plan_claim(lead("accepted"), rep(), MONDAY_10_30_BERLIN, demo_config) is None


def test_another_teams_queue_is_not_the_reps_to_claim(demo_config: ClientConfig) -> None:
    with pytest.raises(NotYourLead):
        plan_claim(queued_lead(queue="dach"), rep(), MONDAY_10_30_BERLIN, demo_config)


def test_a_full_rep_cannot_claim_more(demo_config: ClientConfig) -> None:
    with pytest.raises(ClaimRefused, match="you hold 5 of 5 leads"):
        plan_claim(queued_lead(), rep(open_leads=5, capacity=5), MONDAY_10_30_BERLIN, demo_config)


def test_a_rep_sees_their_teams_queue_but_records_follow_up_only_on_their_own_leads(demo_config: ClientConfig) -> None:
    actor = Actor("rep", rep_id="rep_ann", name="Ann", teams=("sales",))
    assert actor.may_see(queued_lead())
    assert not actor.may_change(queued_lead())
    with pytest.raises(NotTheOwner):
        plan(demo_config, queued_lead(), "accept", actor=actor)


def rep(**more: Any) -> Rep:
    return Rep(**{"rep_id": "rep_ann", "name": "Ann", "email": "ann@demo.example", "teams": ("sales",),
                  "open_leads": 2, **more})  # fmt: skip

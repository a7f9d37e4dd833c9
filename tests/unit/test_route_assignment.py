"""Routing decisions (leadflow.route.assignment): the team by the rules, the owner by the strategy, explained."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadflow.config import RouteSettings
from leadflow.lead.change import LedgerEntry
from leadflow.route.assignment import AccountLead, Pick, pick_owner
from leadflow.route.roster import Rep

# A Tuesday, 10:00 in Berlin: everyone with Berlin office hours is at work.
TUESDAY_10_BERLIN = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def settings(**overrides: Any) -> RouteSettings:
    data: dict[str, Any] = {
        "teams": {
            "sales": {
                "strategy": "weighted_round_robin",
                "manager": "maria@example.com",
                "calendar": {"timezone": "Europe/Berlin", "hours": ["09:00-18:00"]},
                "accept": {"minutes": 30, "by_inquiry_type": {"demo_request": 15}, "remind_before_minutes": 5},
            },
            "dach": {"strategy": "round_robin", "manager": "max@example.com",
                     "calendar": {"timezone": "Europe/Berlin", "hours": ["09:00-18:00"]}},
        },
        "rules": [
            {"name": "DACH", "team": "dach", "when": [{"field": "country", "in": ["DE", "AT", "CH"]}]},
            {"name": "Big deals", "team": "sales", "priority": "high",
             "when": [{"field": "score", "between": [80, 100]}]},
        ],
        "default_team": "sales",
    }  # fmt: skip
    data.update(overrides)
    return RouteSettings.model_validate(data)


def rep(rep_id: str, team: str = "sales", **fields: Any) -> Rep:
    return Rep(
        rep_id=rep_id, name=rep_id.title(), email=f"{rep_id}@example.com", teams=(team,), capacity=1000, **fields
    )


def facts(**values: Any) -> dict[str, Any]:
    return {"lead_id": "ld_x", "email_domain": "northwind.example", "email_kind": "corporate", "country": "US",
            "score": 65, **values}  # fmt: skip


def booked(roster: list[Rep], entry: LedgerEntry | None) -> list[Rep]:
    """The roster after an assignment's ledger entry is written, as the table would hold it."""
    if entry is None:
        return roster
    return [
        replace(r, served={**r.served, entry.team: entry.served}, open_leads=entry.open_leads,
                last_assigned_at=entry.assigned_at, version=r.version + 1) if r.rep_id == entry.rep_id else r
        for r in roster
    ]  # fmt: skip


def route_many(roster: list[Rep], count: int, start: datetime = TUESDAY_10_BERLIN) -> tuple[list[Rep], Counter[str]]:
    owners: Counter[str] = Counter()
    for i in range(count):
        pick = pick_owner(facts(), settings(), roster, start + timedelta(seconds=i))
        assert pick.decision.owner is not None
        owners[pick.decision.owner] += 1
        roster = booked(roster, pick.ledger)
    return roster, owners


def reasons(pick: Pick) -> dict[str, str]:
    return {p.rep_id: p.reason for p in pick.decision.passed_over}


# --- which team ------------------------------------------------------------------------------


def test_the_first_rule_that_matches_picks_the_team_and_is_named() -> None:
    pick = pick_owner(facts(country="DE", score=90), settings(), [rep("ada", "dach")], TUESDAY_10_BERLIN)
    assert (pick.decision.rule, pick.decision.team, pick.decision.owner) == ("DACH", "dach", "ada")
    assert pick.decision.why == 'rule "DACH" matched'


def test_a_lead_no_rule_matches_goes_to_the_default_team_with_each_rules_miss() -> None:
    pick = pick_owner(facts(country="US", score=65), settings(), [rep("bo")], TUESDAY_10_BERLIN)
    assert pick.decision.rule is None
    assert pick.decision.team == "sales"
    assert '"DACH": country is US, not one of DE, AT, CH' in pick.decision.why
    assert '"Big deals": score is 65, not between 80 and 100' in pick.decision.why


def test_a_missing_fact_is_named_as_missing() -> None:
    pick = pick_owner({"email_kind": "free"}, settings(), [rep("bo")], TUESDAY_10_BERLIN)
    assert '"DACH": no country' in pick.decision.why


def test_a_client_file_with_no_team_puts_the_lead_in_the_default_queue() -> None:
    pick = pick_owner(facts(), RouteSettings(), [rep("bo")], TUESDAY_10_BERLIN)
    assert (pick.decision.owner, pick.decision.queue, pick.decision.due_at, pick.ledger) == (
        None, "unassigned", None, None,
    )  # fmt: skip


# --- who is passed over, and why ---------------------------------------------------------------


def test_inactive_away_full_and_off_hours_reps_are_passed_over_each_with_its_reason() -> None:
    roster = [
        rep("ann", active=False),
        rep("ben", away_until="2026-12-07T00:00:00.000+00:00"),
        replace(rep("cal"), capacity=3, open_leads=3),
        rep("dee", timezone="America/New_York"),  # 04:00 there
        rep("eve"),
    ]
    pick = pick_owner(facts(), settings(), roster, TUESDAY_10_BERLIN)
    assert pick.decision.owner == "eve"
    assert reasons(pick) == {
        "ann": "inactive",
        "ben": "away until 2026-12-07T00:00:00.000+00:00",
        "cal": "full at 3 of 3",
        "dee": "off hours (works mon-fri 09:00-18:00 America/New_York)",
    }


def test_a_rep_outside_the_leads_country_is_passed_over() -> None:
    roster = [rep("fay", territories=("FR",)), rep("gus", territories=("US", "CA"))]
    pick = pick_owner(facts(country="US"), settings(), roster, TUESDAY_10_BERLIN)
    assert pick.decision.owner == "gus"
    assert reasons(pick) == {"fay": "outside territory (FR; the lead is in US)"}


def test_a_team_that_routes_to_anyone_ignores_working_hours() -> None:
    loose = settings()
    loose = loose.model_copy(
        update={"teams": {**loose.teams, "sales": loose.teams["sales"].model_copy(update={"only_at_work": False})}}
    )
    pick = pick_owner(facts(), loose, [rep("dee", timezone="America/New_York")], TUESDAY_10_BERLIN)
    assert pick.decision.owner == "dee"


def test_nobody_available_leaves_the_lead_in_the_teams_queue_with_the_clock_running() -> None:
    pick = pick_owner(facts(), settings(), [rep("ann", active=False)], TUESDAY_10_BERLIN)
    assert (pick.decision.owner, pick.decision.queue, pick.ledger) == (None, "sales", None)
    assert pick.decision.due_at == "2026-11-24T09:30:00.000+00:00"
    assert "nobody in team sales can take it now" in pick.decision.why


def test_a_team_with_no_reps_says_so() -> None:
    pick = pick_owner(facts(), settings(), [], TUESDAY_10_BERLIN)
    assert pick.decision.queue == "sales"
    assert "team sales has no reps" in pick.decision.why


def test_reps_who_had_the_lead_are_passed_over_on_reassignment() -> None:
    pick = pick_owner(facts(), settings(), [rep("ann"), rep("ben")], TUESDAY_10_BERLIN, exclude=["ann"])
    assert pick.decision.owner == "ben"
    assert reasons(pick) == {"ann": "had this lead before"}


# --- the ledger: fair, weighted, and level after changes --------------------------------------


@pytest.mark.parametrize("weights", [(1, 1, 1), (1, 2, 3), (0.5, 1, 2.5)])
def test_weighted_round_robin_gives_each_rep_its_weights_share_within_one(weights: Iterable[float]) -> None:
    roster = [rep(f"r{i}", weight=w) for i, w in enumerate(weights)]
    _, owners = route_many(roster, 300)
    total_weight = sum(r.weight for r in roster)
    for r in roster:
        assert abs(owners[r.rep_id] - 300 * r.weight / total_weight) <= 1, owners


def test_round_robin_ignores_weights() -> None:
    roster = [rep("a", "dach", weight=1), rep("b", "dach", weight=5)]
    owners: Counter[str] = Counter()
    for i in range(10):
        pick = pick_owner(facts(country="DE"), settings(), roster, TUESDAY_10_BERLIN + timedelta(seconds=i))
        owners[str(pick.decision.owner)] += 1
        roster = booked(roster, pick.ledger)
    assert owners == {"a": 5, "b": 5}


def test_a_rep_back_from_two_weeks_away_is_not_flooded() -> None:
    roster = [rep("ann"), rep("ben"), rep("cal")]
    roster, _ = route_many(roster, 30)
    away = [replace(r, away_until="2026-12-08T00:00:00.000+00:00") if r.rep_id == "cal" else r for r in roster]
    back, _ = route_many(away, 60)  # cal misses 60 leads
    back = [replace(r, away_until=None) for r in back]
    _, owners = route_many(back, 30)
    assert all(9 <= owners[r] <= 11 for r in ("ann", "ben", "cal")), owners


def test_a_new_rep_starts_level_with_the_team() -> None:
    roster, _ = route_many([rep("ann"), rep("ben")], 100)
    _, owners = route_many([*roster, rep("new")], 30)
    assert all(9 <= owners[r] <= 11 for r in ("ann", "ben", "new")), owners


def test_a_weight_change_applies_from_the_next_lead_on() -> None:
    roster, _ = route_many([rep("ann"), rep("ben")], 50)
    heavier = [replace(r, weight=3.0) if r.rep_id == "ben" else r for r in roster]
    _, owners = route_many(heavier, 40)
    assert abs(owners["ben"] - 30) <= 1, owners
    assert abs(owners["ann"] - 10) <= 1, owners


def test_the_ledger_entry_is_written_only_if_the_rep_is_still_as_read() -> None:
    pick = pick_owner(facts(), settings(), [replace(rep("ann"), version=7, open_leads=2)], TUESDAY_10_BERLIN)
    assert pick.ledger is not None
    assert (pick.ledger.rep_id, pick.ledger.version, pick.ledger.open_leads, pick.ledger.team) == ("ann", 7, 3, "sales")


def test_least_loaded_picks_the_rep_with_the_fewest_open_leads_for_their_capacity() -> None:
    least = settings()
    least = least.model_copy(
        update={"teams": {"sales": least.teams["sales"].model_copy(update={"strategy": "least_loaded"})}}
    )
    roster = [replace(rep("ann"), open_leads=5, capacity=10), replace(rep("ben"), open_leads=3, capacity=4)]
    assert pick_owner(facts(), least, roster, TUESDAY_10_BERLIN).decision.owner == "ann"


# --- account matching -------------------------------------------------------------------------


def account(owner: str, stage: str = "accepted", days_ago: int = 10, domain: str = "northwind.example") -> AccountLead:
    at = (TUESDAY_10_BERLIN - timedelta(days=days_ago)).isoformat(timespec="milliseconds")
    return AccountLead(domain, "ld_other", owner, stage, at)


def test_a_lead_from_a_known_account_goes_to_the_accounts_owner() -> None:
    roster = [rep("ann"), rep("ben")]
    pick = pick_owner(facts(), settings(), roster, TUESDAY_10_BERLIN, accounts=[account("ben")])
    assert (pick.decision.owner, pick.decision.account) == ("ben", "northwind.example")
    assert pick.decision.why.startswith("account northwind.example: its lead ld_other is accepted with Ben")


def test_a_won_account_matches_a_lost_one_does_not() -> None:
    roster = [rep("ann"), rep("ben")]
    assert pick_owner(facts(), settings(), roster, TUESDAY_10_BERLIN, accounts=[account("ben", "won")]).decision.account
    lost = pick_owner(facts(), settings(), roster, TUESDAY_10_BERLIN, accounts=[account("ben", "lost")])
    assert lost.decision.account is None


def test_an_account_lead_older_than_the_window_does_not_match() -> None:
    pick = pick_owner(
        facts(), settings(), [rep("ann"), rep("ben")], TUESDAY_10_BERLIN, accounts=[account("ben", days_ago=181)]
    )
    assert pick.decision.account is None


def test_a_free_mail_domain_never_matches_an_account() -> None:
    gmail = facts(email_domain="gmail.com", email_kind="free")
    pick = pick_owner(gmail, settings(), [rep("ann"), rep("ben")], TUESDAY_10_BERLIN,
                      accounts=[account("ben", domain="gmail.com")])  # fmt: skip
    assert pick.decision.account is None


def test_an_away_account_owner_is_passed_over_and_the_team_routes_the_lead() -> None:
    roster = [rep("ann"), rep("ben", away_until="2026-12-01T00:00:00.000+00:00")]
    pick = pick_owner(facts(), settings(), roster, TUESDAY_10_BERLIN, accounts=[account("ben")])
    assert pick.decision.owner == "ann"
    assert reasons(pick)["ben"] == "owner of account northwind.example, but away until 2026-12-01T00:00:00.000+00:00"


def test_account_matching_switched_off_routes_by_the_rules() -> None:
    pick = pick_owner(facts(), settings(account_match_days=0), [rep("ann"), rep("ben")], TUESDAY_10_BERLIN,
                      accounts=[account("ben")])  # fmt: skip
    assert pick.decision.account is None
    assert pick.decision.owner == "ann"


# --- the deadline ----------------------------------------------------------------------------


def test_the_deadline_counts_working_minutes_over_a_weekend() -> None:
    friday_17_55_berlin = datetime(2026, 11, 27, 16, 55, tzinfo=UTC)
    pick = pick_owner(facts(), settings(), [rep("ann")], friday_17_55_berlin)  # off hours: queued, clock running
    assert pick.decision.due_at == "2026-11-30T08:25:00.000+00:00"  # Monday 09:25 in Berlin
    assert pick.decision.remind_at == "2026-11-30T08:20:00.000+00:00"


def test_the_shortest_deadline_that_applies_wins() -> None:
    pick = pick_owner(facts(inquiry_type="demo_request"), settings(), [rep("ann")], TUESDAY_10_BERLIN)
    assert (pick.decision.deadline_minutes, pick.decision.due_at) == (15, "2026-11-24T09:15:00.000+00:00")


def test_a_lead_queued_off_hours_is_offered_again_when_the_team_starts_work() -> None:
    ten_pm_berlin = datetime(2026, 11, 24, 21, 0, tzinfo=UTC)
    pick = pick_owner(facts(country="DE"), settings(), [rep("max", "dach")], ten_pm_berlin)
    assert pick.decision.queue == "dach"
    assert pick.decision.retry_at == "2026-11-25T08:00:00.000+00:00"  # Wednesday 09:00 in Berlin
    assert pick.decision.due_at == "2026-11-25T09:00:00.000+00:00"  # 60 working minutes from then

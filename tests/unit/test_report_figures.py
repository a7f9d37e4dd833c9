"""The report's figures: what each change of a lead adds, once per lead, under every dimension."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import datetime
from typing import Any

from leadflow.lead.profile import LeadProfile
from leadflow.report.figures import FigureDelta, bucket_of, new_figures, note_speed_to_owner, recount

CAPTURED = "2026-10-05T09:00:00.000+00:00"


def lead(**more: Any) -> LeadProfile:
    profile: dict[str, Any] = {
        "lead_id": "L1",
        "stage": "new",
        "created_at": CAPTURED,
        "first_touch": {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring", "inquiry_type": "demo"},
        "report": {"counted": {"captured": ""}},  # counted since its capture
    }
    return {**profile, **more}  # type: ignore[return-value]


def moved(to: str, at: str = "2026-10-06T10:00:00.000+00:00") -> dict[str, Any]:
    return {"type": "stage_changed", "at": at, "to": to}


def step(
    before: LeadProfile | None, changes: dict[str, Any], entries: list[dict[str, Any]]
) -> tuple[LeadProfile, list[FigureDelta]]:
    after = copy.deepcopy(before) if before else lead()
    after.update(changes)  # type: ignore[typeddict-item]
    return after, new_figures(before, after, entries)


def names(deltas: list[FigureDelta]) -> list[str]:
    return [delta.figure for delta in deltas]


def test_a_new_lead_counts_captured_and_its_stage_on_its_capture_day_under_each_dimension() -> None:
    _, deltas = step(None, {"stage": "nurture"}, [moved("nurture")])

    assert names(deltas) == ["captured", "nurture"]
    assert {delta.day for delta in deltas} == {"2026-10-05"}  # the capture day, not the day of the change
    assert dict(deltas[0].values) == {"source": "google", "medium": "cpc", "campaign": "spring",
                                      "inquiry_type": "demo", "owner": "(none)"}  # fmt: skip


def test_a_stage_reached_again_is_not_counted_again() -> None:
    first, _ = step(lead(), {"stage": "assigned", "owner": "ann"}, [moved("assigned")])
    back, _ = step(first, {"stage": "sales_ready"}, [moved("sales_ready")])
    _, again = step(back, {"stage": "assigned", "owner": "bob"}, [moved("assigned")])

    assert "assigned" not in names(again)


def test_a_rejection_counts_with_the_rep_who_rejected_and_the_first_reason() -> None:
    owned, _ = step(lead(), {"stage": "assigned", "owner": "ann"}, [moved("assigned")])
    after = copy.deepcopy(owned)
    after.pop("owner")
    after.update({"stage": "nurture", "rejected": {"reason": "no_budget"}})  # type: ignore[typeddict-item]

    deltas = new_figures(owned, after, [moved("rejected"), moved("nurture")])

    assert names(deltas) == ["rejected", "rejected:no_budget", "nurture"]
    assert dict(deltas[0].values)["owner"] == "ann"


def test_a_won_lead_counts_its_revenue_in_cents_and_under_each_rule_that_fired() -> None:
    score = {"reasons": [{"rule": "big fleet"}, {"rule": "ceo"}, {"rule": "big fleet"}]}
    before = lead(stage="opportunity", owner="ann", score=score)
    _, deltas = step(before, {"stage": "won", "won": {"amount": "1234.50", "currency": "eur"}}, [moved("won")])

    revenue = next(delta for delta in deltas if delta.figure.startswith("revenue:"))
    assert (revenue.figure, revenue.amount) == ("revenue:EUR", 123450)
    assert [value for dimension, value in deltas[0].values if dimension == "rule"] == ["big fleet", "ceo"]


def test_the_deadline_counts_met_on_accept_unless_it_was_breached_first() -> None:
    owned, _ = step(lead(), {"stage": "assigned", "owner": "ann"}, [moved("assigned")])
    _, in_time = step(owned, {"stage": "accepted"}, [moved("accepted")])
    breached, late_deltas = step(owned, {}, [{"type": "sla_breached", "at": CAPTURED}])
    _, late = step(breached, {"stage": "accepted"}, [moved("accepted")])

    assert "sla_met" in names(in_time)
    assert names(late_deltas) == ["sla_breached"]
    assert "sla_met" not in names(late)


def test_a_speed_is_counted_once_in_the_bucket_of_its_working_minutes() -> None:
    owned, _ = step(lead(), {"stage": "assigned", "owner": "ann"}, [moved("assigned")])
    accepted, deltas = step(owned, {"stage": "accepted", "minutes_to_accept": 12.5}, [moved("accepted")])
    _, later = step(accepted, {"minutes_to_accept": 200.0}, [])

    assert "to_accept:15" in names(deltas)
    assert not [name for name in names(later) if name.startswith("to_accept")]
    assert (bucket_of(0), bucket_of(1), bucket_of(1.1), bucket_of(2400), bucket_of(2401)) == (
        "1",
        "1",
        "5",
        "2400",
        "more",
    )


def test_the_source_is_the_referrers_host_without_a_utm_source_and_direct_without_either() -> None:
    referred = lead(first_touch={"referrer": "https://www.example.org/blog?q=1"})
    direct = lead(first_touch={})

    assert dict(new_figures(None, referred, [])[0].values)["source"] == "example.org"
    assert dict(new_figures(None, direct, [])[0].values)["source"] == "(direct)"


def test_recounting_a_lead_gives_what_its_changes_added_one_by_one() -> None:
    score = {"reasons": [{"rule": "ceo"}]}
    history = [
        ({"stage": "sales_ready", "marketing_qualified": True, "score": score}, [moved("sales_ready")]),
        ({"stage": "assigned", "owner": "ann", "minutes_to_owner": 3.0}, [moved("assigned")]),
        ({}, [{"type": "sla_reminder", "at": CAPTURED}]),
        ({"stage": "accepted", "minutes_to_accept": 40.0}, [moved("accepted")]),
        ({"stage": "contacted", "minutes_to_first_contact": 500.0}, [moved("contacted")]),
        ({"stage": "lost", "lost": {"reason": "price"}}, [moved("lost")]),
    ]
    profile: LeadProfile | None = None
    added: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
    for changes, entries in history:
        profile, deltas = step(profile, changes, entries)
        added.update({(delta.figure, delta.values): delta.amount for delta in deltas})

    assert profile is not None
    assert Counter({(delta.figure, delta.values): delta.amount for delta in recount(profile)}) == added
    assert {"lost:price", "to_owner:5", "to_accept:60", "to_contact:960", "sla_reminded"} <= {f for f, _ in added}


def test_the_minutes_to_the_first_owner_are_working_minutes_of_the_owners_team() -> None:
    asked: list[tuple[str, datetime, datetime]] = []

    def minutes(team: str, start: datetime, end: datetime) -> float:
        asked.append((team, start, end))
        return 42.04

    after = lead(owner="ann", team="sales", assigned_at="2026-10-05T10:00:00.000+00:00")
    note_speed_to_owner(lead(), after, minutes)
    reassigned = lead(owner="bob", team="sales", assigned_at="2026-10-07T10:00:00.000+00:00")
    note_speed_to_owner(after, reassigned, minutes)

    assert after["minutes_to_owner"] == 42.0
    assert "minutes_to_owner" not in reassigned  # the second owner is not the lead's first
    assert [(team, start.hour, end.hour) for team, start, end in asked] == [("sales", 9, 10)]


def test_a_missed_deadline_is_counted_against_the_rep_who_missed_it_not_the_one_it_goes_to() -> None:
    owned, _ = step(lead(), {"stage": "assigned", "owner": "ann"}, [moved("assigned")])
    breach = [{"type": "sla_breached", "at": CAPTURED}, {"type": "reassigned", "at": CAPTURED}]

    _, deltas = step(owned, {"owner": "bob"}, breach)

    assert {delta.figure: dict(delta.values)["owner"] for delta in deltas} == {
        "sla_breached": "ann",
        "sla_reassigned": "ann",
    }


def test_a_lead_stored_before_the_report_counted_is_not_counted_from_the_middle_of_its_life() -> None:
    legacy = lead(stage="opportunity", owner="ann")
    legacy.pop("report")

    after, deltas = step(legacy, {"stage": "won", "won": {"amount": "10", "currency": "EUR"}}, [moved("won")])

    assert deltas == []
    assert "report" not in after


def test_a_long_value_is_cut_to_60_bytes_never_inside_a_character() -> None:
    profile = lead(first_touch={"utm_campaign": "é" * 200 + "  tail", "utm_source": " spaced   out "})
    profile.pop("report")

    values = dict(new_figures(None, profile, [])[0].values)

    assert values["campaign"] == "é" * 30  # 2 bytes each
    assert values["source"] == "spaced out"

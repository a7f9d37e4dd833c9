from __future__ import annotations

import itertools

import pytest

from leadflow.lead.lifecycle import STAGES, TRANSITIONS, InvalidTransition, check_transition


def test_every_stage_has_its_allowed_moves_and_only_known_stages() -> None:
    assert set(TRANSITIONS) == set(STAGES)
    assert all(targets <= set(STAGES) for targets in TRANSITIONS.values())


def test_the_path_to_won_is_allowed() -> None:
    path = ["new", "sales_ready", "assigned", "accepted", "contacted", "meeting", "opportunity", "won"]
    for current, target in itertools.pairwise(path):
        check_transition(current, target)


def test_invalid_move_names_both_stages_and_what_is_allowed() -> None:
    with pytest.raises(InvalidTransition, match="cannot move from won to nurture; from won it can move to nowhere"):
        check_transition("won", "nurture")


def test_rejected_lead_is_recycled_or_disqualified() -> None:
    assert TRANSITIONS["rejected"] == {"nurture", "junk"}

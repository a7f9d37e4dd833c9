"""A lead's work link (leadflow.aws.leads_table.work_link): the item its team's lists read, moved with every change."""

from __future__ import annotations

from typing import Any

import pytest

from leadflow.aws.leads_table import change_transaction, work_link
from leadflow.lead.change import LeadChange, StoredLead
from leadflow.lead.profile import LeadProfile

LEAD = "ld_" + "b" * 24


def profile(**fields: Any) -> LeadProfile:
    base = {"lead_id": LEAD, "created_at": "2026-11-23T10:00:00.000+00:00", "team": "sales",
            "first_name": "Lin", "last_name": "Ho", "company": "Acme", "score": {"total": 70}}  # fmt: skip
    return {**base, **fields}  # type: ignore[return-value]


@pytest.mark.parametrize("stage", ["assigned", "accepted", "contacted", "meeting", "opportunity", "qualifying"])
def test_an_owned_open_lead_is_in_its_owners_part_of_the_team(stage: str) -> None:
    link = work_link(profile(stage=stage, owner="ann"))
    assert link is not None
    assert (link["pk"], link["sk"], link["name"], link["score"]) == ("TEAM#sales", f"OWNER#ann#{LEAD}", "Lin Ho", 70)


def test_a_queued_lead_is_in_the_queue_ordered_by_its_deadline() -> None:
    queued = profile(stage="sales_ready", queue="sales", sla={"due_at": "2026-11-23T11:00:00.000+00:00"},
                     sla_next_at="2026-11-23T10:45:00.000+00:00")  # fmt: skip
    link = work_link(queued)
    assert link is not None
    due = "2026-11-23T11:00:00.000+00:00"
    assert (link["sk"], link["due_at"]) == (f"QUEUE#{due}#{LEAD}", due)


@pytest.mark.parametrize(
    "fields",
    [
        {"stage": "won", "owner": "ann"},
        {"stage": "lost", "owner": "ann"},
        {"stage": "nurture"},  # rejected back to nurture: nobody's work
        {"stage": "junk", "queue": "sales"},
        {"stage": "sales_ready"},  # not routed yet
    ],
)
def test_a_closed_nurtured_or_unrouted_lead_has_no_link(fields: dict[str, Any]) -> None:
    assert work_link(profile(**fields)) is None


def kinds(before: LeadProfile, after: LeadProfile) -> list[tuple[str, str]]:
    items = change_transaction("leads", LeadChange(after), StoredLead(before, 1, ()), []).items
    return [
        (kind, (body.get("Key") or body.get("Item"))["sk"]["S"])
        for item in items
        for kind, body in item.items()
        if (body.get("Key") or body.get("Item"))["pk"]["S"].startswith("TEAM#")
    ]


def test_escalation_back_to_the_queue_moves_the_link_from_the_owner_to_the_queue() -> None:
    owned = profile(stage="assigned", owner="ann")
    queued = profile(stage="sales_ready", queue="sales", sla={"due_at": "2026-11-23T11:00:00.000+00:00"})
    due = "2026-11-23T11:00:00.000+00:00"
    assert kinds(owned, queued) == [("Delete", f"OWNER#ann#{LEAD}"), ("Put", f"QUEUE#{due}#{LEAD}")]


def test_a_change_that_keeps_the_owner_rewrites_the_link_in_place() -> None:
    assert kinds(profile(stage="assigned", owner="ann"), profile(stage="accepted", owner="ann")) == [
        ("Put", f"OWNER#ann#{LEAD}")
    ]


def test_a_won_lead_loses_its_link() -> None:
    assert kinds(profile(stage="opportunity", owner="ann"), profile(stage="won", owner="ann")) == [
        ("Delete", f"OWNER#ann#{LEAD}")
    ]

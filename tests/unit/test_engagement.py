"""A click in a nurture email, recorded on its lead: it raises the score like an inquiry would, hands off once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from leadflow.config import ClientConfig
from leadflow.lead.change import LeadServices, StoredLead
from leadflow.lead.profile import LeadProfile
from leadflow.qualify.changes import plan_engagement, plan_inquiry, record_engagement
from tests.unit.test_change_applier import MemoryStore, Recorder

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LEAD = "ld_abcdefghijklmnopqrstuvwx"


def nurtured_lead(demo_config: ClientConfig) -> LeadProfile:
    """A VP at a company address: 50 points with the demo's lead definition, 10 short of sales-ready."""
    inquiry = {
        "lead_id": LEAD,
        "inquiry_id": "iq_01",
        "email": "dana@northwind-logistics.com",
        "received_at": NOW.isoformat(),
        "fields": {"job_title": "VP Operations", "inquiry_type": "guide_download"},
    }
    profile = plan_inquiry(None, inquiry, demo_config.qualify, NOW).profile
    assert (profile["stage"], profile["score"]["total"]) == ("nurture", 50.0)
    return profile


def click(n: int, url: str = "https://demo.example/case") -> dict[str, Any]:
    """The intake message for the lead's n-th click (what functions/email_links queues)."""
    at = (NOW + timedelta(minutes=n)).isoformat()
    return {
        "kind": "engagement",
        "lead_id": LEAD,
        "engagement_id": f"ec_{n:024d}",
        "engagement": {"kind": "email_click", "at": at, "detail": url},
    }


def record_lead(store: MemoryStore, profile: LeadProfile) -> None:
    store.leads[LEAD] = StoredLead(profile, version=1)


@pytest.fixture
def services() -> tuple[MemoryStore, Recorder, LeadServices]:
    store, recorder = MemoryStore(), Recorder()
    return store, recorder, LeadServices("demo", store, recorder, {"routing": recorder})


def test_a_click_is_kept_on_the_lead_and_raises_its_engagement_score(demo_config: ClientConfig) -> None:
    before = nurtured_lead(demo_config)
    change = plan_engagement(before, click(1), demo_config.qualify, NOW + timedelta(minutes=1))
    assert change is not None
    profile = change.profile
    assert profile["engagement"][-1] == {
        "kind": "email_click", "at": click(1)["engagement"]["at"], "detail": "https://demo.example/case",
    }  # fmt: skip
    assert profile["score"]["engagement"] == before["score"]["engagement"] + 5  # the demo's email_click points
    assert profile["score"]["total"] == 55.0
    assert (profile["stage"], change.handoffs) == ("nurture", [])


def test_clicks_past_the_threshold_make_the_lead_sales_ready_with_one_hand_off_to_routing(
    demo_config: ClientConfig, services: tuple[MemoryStore, Recorder, LeadServices]
) -> None:
    store, recorder, lead_services = services
    record_lead(store, nurtured_lead(demo_config))
    for n in (1, 2):
        record_engagement(click(n), lead_services, demo_config.qualify, now=NOW + timedelta(minutes=n))
    lead = store.leads[LEAD].profile
    assert (lead["stage"], lead["score"]["total"]) == ("sales_ready", 60.0)
    assert [message["lead_id"] for message in recorder.sent] == [LEAD]
    assert any(e["type"] == "LeadStageChanged" and e["detail"]["to_stage"] == "sales_ready" for e in recorder.events)


def test_a_click_after_the_lead_became_sales_ready_hands_it_off_no_second_time(
    demo_config: ClientConfig, services: tuple[MemoryStore, Recorder, LeadServices]
) -> None:
    store, recorder, lead_services = services
    record_lead(store, nurtured_lead(demo_config))
    for n in (1, 2, 3):
        record_engagement(click(n), lead_services, demo_config.qualify, now=NOW + timedelta(minutes=n))
    assert store.leads[LEAD].profile["score"]["total"] == 65.0  # the third click counted
    assert len(recorder.sent) == 1


def test_a_redelivered_engagement_message_changes_nothing(
    demo_config: ClientConfig, services: tuple[MemoryStore, Recorder, LeadServices]
) -> None:
    store, _, lead_services = services
    record_lead(store, nurtured_lead(demo_config))
    first = record_engagement(click(1), lead_services, demo_config.qualify, now=NOW)
    again = record_engagement(click(1), lead_services, demo_config.qualify, now=NOW)
    assert (first.outcome, again.outcome) == ("changed", "duplicate")
    assert len(store.leads[LEAD].profile["engagement"]) == 1
    assert store.leads[LEAD].profile["score"]["total"] == 55.0


def test_a_click_for_a_lead_not_stored_records_nothing(
    demo_config: ClientConfig, services: tuple[MemoryStore, Recorder, LeadServices]
) -> None:
    store, recorder, lead_services = services
    applied = record_engagement(click(1), lead_services, demo_config.qualify, now=NOW)
    assert (applied.outcome, store.leads, recorder.events) == ("unchanged", {}, [])


def test_the_stage_change_says_which_email_was_clicked(demo_config: ClientConfig) -> None:
    one_click = plan_engagement(nurtured_lead(demo_config), click(1), demo_config.qualify, NOW)
    assert one_click is not None  # 55 points: the next click makes it sales-ready
    message = {**click(2), "sequence": "welcome", "step": 2}
    change = plan_engagement(one_click.profile, message, demo_config.qualify, NOW)
    assert change is not None
    [moved] = [entry for entry in change.timeline if entry["type"] == "stage_changed"]
    assert moved["reason"] == f"email click {message['engagement_id']} (sequence welcome, step 2)"

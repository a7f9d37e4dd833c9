"""Issue 3's walk-through: inquiries posted to the local stack end in the expected stage, with reasons."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e


def unique(local_part: str, domain: str) -> str:
    return f"{local_part}.{uuid.uuid4().hex[:8]}@{domain}"


def post(stack: RunningStack, **body: str) -> None:
    assert requests.post(f"{stack.api}/leads", json=body, timeout=10).status_code == 202


def rules(lead: dict) -> set[str]:
    return {reason["rule"] for reason in lead["score"]["reasons"]}


def test_corporate_demo_request_is_sales_ready_by_hand_raise(local_stack: RunningStack) -> None:
    email = unique("dana", "northwind-logistics.com")
    post(local_stack, email=email, job_title="Head of Operations", inquiry_type="demo_request")
    lead = local_stack.lead(email)
    assert lead["stage"] == "sales_ready"
    assert {"Company email", "Decision maker"} <= rules(lead)
    assert lead["handed_off_at"]


def test_student_with_a_free_address_is_nurtured_with_the_reasons(local_stack: RunningStack) -> None:
    email = unique("sam", "gmail.com")
    post(local_stack, email=email, job_title="Marketing student")
    lead = local_stack.lead(email)
    assert lead["stage"] == "nurture"
    assert rules(lead) == {"Free email address", "Student"}
    assert lead["score"]["total"] == -50


def test_disposable_address_is_junk_kept_and_says_why(local_stack: RunningStack) -> None:
    email = unique("x", "mailinator.com")
    post(local_stack, email=email, inquiry_type="demo_request")
    lead = local_stack.lead(email)
    assert lead["stage"] == "junk"
    assert any("disposable" in rule for rule in rules(lead))


def test_same_person_twice_is_one_lead_with_engagement_raised(local_stack: RunningStack) -> None:
    email = unique("ada", "engines.co.uk")
    post(local_stack, email=email, job_title="CTO")
    first = local_stack.lead(email)
    post(local_stack, email=email, message="Following up on my question")
    second = local_stack.settled_lead(email, inquiries=2)
    assert second["lead_id"] == first["lead_id"]
    assert first["score"]["engagement"] == 0
    assert second["score"]["engagement"] == 15
    assert second["stage"] == "sales_ready"  # 25 + 25 fit, + 15 for asking again

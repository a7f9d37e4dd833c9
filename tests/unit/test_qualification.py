"""Stage decisions with the demo client's lead definition."""

from __future__ import annotations

from datetime import UTC, datetime

from leadflow.config import ClientConfig, NegativeRule
from leadflow.qualify.qualification import qualify
from leadflow.qualify.scoring import EngagementEvent

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def lead(**profile: object) -> dict:
    return {"email": "dana@northwind-logistics.com", "stage": "new", "last_touch": {}, "first_touch": {}, **profile}


def test_hand_raise_is_sales_ready_whatever_the_score(demo_config: ClientConfig) -> None:
    result = qualify(lead(last_touch={"inquiry_type": "demo_request"}), [], demo_config.qualify, NOW)
    assert result.stage == "sales_ready"


def test_corporate_decision_maker_is_marketing_qualified_but_not_yet_sales_ready(demo_config: ClientConfig) -> None:
    result = qualify(lead(job_title="VP Operations"), [], demo_config.qualify, NOW)
    assert result.score.total == 50.0
    assert result.stage == "nurture"
    assert result.marketing_qualified


def test_engagement_carries_a_qualified_lead_over_the_sales_ready_threshold(demo_config: ClientConfig) -> None:
    repeat = EngagementEvent("repeat_inquiry", NOW)
    result = qualify(lead(job_title="VP Operations"), [repeat], demo_config.qualify, NOW)
    assert result.score.total == 65.0
    assert result.stage == "sales_ready"


def test_student_with_free_address_is_nurtured_with_its_reasons(demo_config: ClientConfig) -> None:
    result = qualify(lead(email="sam@gmail.com", job_title="Student"), [], demo_config.qualify, NOW)
    assert result.stage == "nurture"
    assert {r.rule for r in result.score.reasons} == {"Free email address", "Student"}
    assert result.score.total == -50.0


def test_disposable_address_is_junk_and_says_why(demo_config: ClientConfig) -> None:
    result = qualify(lead(email="x@mailinator.com"), [], demo_config.qualify, NOW)
    assert result.stage == "junk"
    assert any(r.kind == "verification" and "disposable" in r.rule for r in result.score.reasons)


def test_junk_stays_junk_while_its_reason_holds_until_ops_restore_it(demo_config: ClientConfig) -> None:
    junk = lead(email="x@mailinator.com", stage="junk")
    assert qualify(junk, [], demo_config.qualify, NOW).stage == "junk"
    assert qualify({**junk, "restored": True}, [], demo_config.qualify, NOW).stage == "nurture"


def test_junk_whose_reason_no_longer_holds_qualifies_again(demo_config: ClientConfig) -> None:
    competitor = NegativeRule(name="Competitor", field="email_domain", **{"in": ["rival.example"]}, disqualify=True)
    with_rule = demo_config.qualify.model_copy(update={"negative": [competitor]})
    junk = lead(email="dana@rival.example")
    assert qualify(junk, [], with_rule, NOW).stage == "junk"
    assert qualify({**junk, "stage": "junk"}, [], demo_config.qualify, NOW).stage == "nurture"  # the rule is gone


def test_junk_is_never_marketing_qualified(demo_config: ClientConfig) -> None:
    competitor = NegativeRule(name="Competitor", field="email_domain", **{"in": ["rival.example"]}, disqualify=True)
    with_rule = demo_config.qualify.model_copy(update={"negative": [competitor]})
    result = qualify(lead(email="dana@rival.example", job_title="VP Sales"), [], with_rule, NOW)
    assert result.stage == "junk"
    assert result.score.total >= demo_config.qualify.marketing_qualified
    assert result.marketing_qualified is False


def test_a_lead_past_qualification_keeps_its_stage(demo_config: ClientConfig) -> None:
    assert qualify(lead(stage="assigned", email="x@mailinator.com"), [], demo_config.qualify, NOW).stage == "assigned"


def test_hand_raise_is_explained_by_a_zero_point_reason_naming_what_was_asked(demo_config: ClientConfig) -> None:
    result = qualify(lead(last_touch={"inquiry_type": "demo_request"}), [], demo_config.qualify, NOW)
    [asked] = [r for r in result.score.reasons if r.kind == "hand_raise"]
    assert (asked.rule, asked.points, asked.disqualify) == ("asked for: demo_request", 0.0, False)


def test_reasons_of_a_hand_raise_still_sum_to_the_score(demo_config: ClientConfig) -> None:
    repeat = EngagementEvent("repeat_inquiry", NOW)
    profile = lead(job_title="VP Operations", last_touch={"inquiry_type": "contact_sales"})
    score = qualify(profile, [repeat], demo_config.qualify, NOW).score
    assert round(sum(r.points for r in score.reasons), 1) == score.total == 65.0


def test_a_lead_that_asked_for_no_sales_has_no_hand_raise_reason(demo_config: ClientConfig) -> None:
    result = qualify(lead(last_touch={"inquiry_type": "contact"}), [], demo_config.qualify, NOW)
    assert all(r.kind != "hand_raise" for r in result.score.reasons)


def test_a_junk_hand_raise_is_not_explained_as_sales_ready(demo_config: ClientConfig) -> None:
    result = qualify(
        lead(email="x@mailinator.com", last_touch={"inquiry_type": "demo_request"}), [], demo_config.qualify, NOW
    )
    assert result.stage == "junk"
    assert all(r.kind != "hand_raise" for r in result.score.reasons)

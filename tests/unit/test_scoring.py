"""The rules engine: predicates, reasons that sum to the score, and decay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadflow.config import EngagementSettings, FitRule, NegativeRule
from leadflow.qualify.scoring import EngagementEvent, rule_matches, score_lead

NOW = datetime(2026, 11, 23, tzinfo=UTC)
ENGAGEMENT = EngagementSettings(half_life_days=30, repeat_inquiry=10, email_click=5, pages={"/pricing": 10})


def fit(field: str, points: float = 10, **predicate: object) -> FitRule:
    return FitRule.model_validate({"name": f"{field} {predicate}", "field": field, "points": points, **predicate})


def test_equals_ignores_case_and_spaces() -> None:
    assert rule_matches(fit("email_kind", equals="Corporate"), {"email_kind": "corporate "})


def test_in_matches_any_option() -> None:
    assert rule_matches(fit("job_seniority", **{"in": ["vp", "director"]}), {"job_seniority": "director"})


def test_contains_is_a_case_insensitive_substring() -> None:
    assert rule_matches(fit("job_title", contains="ops"), {"job_title": "Head of DevOps"})


def test_between_parses_numbers_sent_as_text() -> None:
    rule = fit("custom.company_size", between=[50, 500])
    assert rule_matches(rule, {"custom.company_size": "1,200"}) is False  # a thousands separator
    assert rule_matches(rule, {"custom.company_size": "120"})
    assert rule_matches(rule, {"custom.company_size": "many"}) is False


def test_matches_searches_a_regular_expression() -> None:
    assert rule_matches(fit("message", matches=r"(?i)\bpricing\b"), {"message": "What is your Pricing?"})


def test_a_missing_fact_matches_no_rule() -> None:
    assert rule_matches(fit("company", contains="a"), {}) is False


def test_reasons_name_each_rule_with_its_points() -> None:
    score = score_lead(
        {"email_kind": "corporate"}, [fit("email_kind", 25, equals="corporate")], [], [], ENGAGEMENT, NOW
    )
    assert [(r.kind, r.points) for r in score.reasons] == [("fit", 25.0)]
    assert score.total == 25.0


def test_engagement_halves_every_half_life() -> None:
    events = [EngagementEvent("repeat_inquiry", NOW - timedelta(days=30))]
    assert score_lead({}, [], [], events, ENGAGEMENT, NOW).engagement == 5.0


def test_page_of_interest_counts_its_points() -> None:
    events = [EngagementEvent("page", NOW, "https://example.com/pricing?plan=pro")]
    assert score_lead({}, [], [], events, ENGAGEMENT, NOW).engagement == 10.0


def test_disqualifying_negative_rule_marks_the_score_disqualified() -> None:
    competitor = NegativeRule(name="Competitor", field="email_domain", **{"in": ["rival.com"]}, disqualify=True)
    assert score_lead({"email_domain": "rival.com"}, [], [competitor], [], ENGAGEMENT, NOW).disqualified


# --- properties -------------------------------------------------------------------------

facts_strategy = st.fixed_dictionaries(
    {"email_kind": st.sampled_from(["corporate", "free", "disposable"]), "custom.size": st.integers(0, 10_000)}
)
points = st.floats(min_value=0.1, max_value=500, allow_nan=False).map(lambda p: round(p, 3))
fit_rules = st.lists(
    st.builds(
        lambda n, kind, p: fit("email_kind", p, equals=kind).model_copy(update={"name": f"r{n}"}),
        st.integers(0, 10_000),
        st.sampled_from(["corporate", "free"]),
        points,
    ),
    max_size=6,
)
negative_rules = st.lists(
    st.builds(
        lambda lo, width, p: NegativeRule(name=f"size {lo}", field="custom.size", between=(lo, lo + width), points=-p),
        st.integers(0, 10_000),
        st.integers(0, 5_000),
        points,
    ),
    max_size=4,
)
events = st.lists(
    st.builds(
        EngagementEvent,
        st.sampled_from(["repeat_inquiry", "email_click", "page"]),
        st.integers(0, 400).map(lambda d: NOW - timedelta(days=d, hours=d % 7)),
        st.sampled_from(["", "/pricing", "/blog"]),
    ),
    max_size=8,
)


@given(facts_strategy, fit_rules, negative_rules, events)
def test_explanation_always_sums_to_the_score(facts, fits, negatives, acted) -> None:
    score = score_lead(facts, fits, negatives, acted, ENGAGEMENT, NOW)
    assert round(sum(r.points for r in score.reasons), 1) == score.total
    assert round(score.fit + score.engagement, 1) == score.total


@given(facts_strategy, fit_rules, negative_rules, events, points)
def test_adding_a_matching_positive_rule_never_lowers_the_score(facts, fits, negatives, acted, extra) -> None:
    before = score_lead(facts, fits, negatives, acted, ENGAGEMENT, NOW)
    matching = fit("email_kind", extra, equals=facts["email_kind"]).model_copy(update={"name": "extra"})
    after = score_lead(facts, [*fits, matching], negatives, acted, ENGAGEMENT, NOW)
    assert after.total >= before.total


@given(facts_strategy, fit_rules, negative_rules, events, st.integers(0, 1000))
def test_decay_never_raises_a_score(facts, fits, negatives, acted, days_later) -> None:
    now = score_lead(facts, fits, negatives, acted, ENGAGEMENT, NOW)
    later = score_lead(facts, fits, negatives, acted, ENGAGEMENT, NOW + timedelta(days=days_later))
    assert later.total <= now.total

"""Scoring a lead against the client's lead definition, with the reasons for every point.

A score is fit (who the lead is: fit and negative rules) plus engagement (what the lead
did, fading with a half-life). Every rule that fired is a `Reason` with its points, and the
reasons always add up to the score exactly: each reason is rounded to one decimal first and
the totals are summed from the rounded reasons.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leadflow.config import EngagementSettings, ScoringRule


@dataclass(frozen=True)
class Reason:
    kind: str  # fit, negative, engagement, verification, or hand_raise (0 points: asked for sales)
    rule: str
    points: float = 0.0
    disqualify: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Score:
    fit: float
    engagement: float
    total: float
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    @property
    def disqualified(self) -> bool:
        return any(reason.disqualify for reason in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {
            "fit": self.fit,
            "engagement": self.engagement,
            "total": self.total,
            "reasons": [r.as_dict() for r in self.reasons],
        }


@dataclass(frozen=True)
class EngagementEvent:
    kind: str  # repeat_inquiry, email_click or page
    at: datetime
    detail: str = ""


@cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


def rule_matches(rule: ScoringRule, facts: Mapping[str, Any]) -> bool:
    """Whether a rule's predicate holds for the facts; a missing fact matches nothing."""
    value = facts.get(rule.field)
    if value is None:
        return False
    if rule.equals is not None:
        return _same(value, rule.equals)
    if rule.in_ is not None:
        return any(_same(value, option) for option in rule.in_)
    if rule.contains is not None:
        return rule.contains.lower() in str(value).lower()
    if rule.between is not None:
        number = _number(value)
        return number is not None and rule.between[0] <= number <= rule.between[1]
    if rule.matches is not None:
        return _pattern(rule.matches).search(str(value)) is not None
    return False


def fit_reasons(rules: Iterable[ScoringRule], facts: Mapping[str, Any], kind: str) -> list[Reason]:
    return [
        Reason(kind, rule.name, round(float(rule.points), 1), rule.disqualify)
        for rule in rules
        if rule_matches(rule, facts)
    ]


def engagement_reasons(events: Iterable[EngagementEvent], settings: EngagementSettings, now: datetime) -> list[Reason]:
    """Each event's points, halved every `half_life_days` since it happened."""
    reasons = []
    for event in events:
        points = _engagement_points(event, settings)
        if points <= 0:
            continue
        age_days = max(0.0, (now - event.at).total_seconds() / 86400)
        decayed = round(points * 0.5 ** (age_days / settings.half_life_days), 1)
        label = f"{event.kind.replace('_', ' ')}{f' {event.detail}' if event.detail else ''} ({event.at.date()})"
        reasons.append(Reason("engagement", label, decayed))
    return reasons


def score_lead(
    facts: Mapping[str, Any],
    fit_rules: Iterable[ScoringRule],
    negative_rules: Iterable[ScoringRule],
    events: Iterable[EngagementEvent],
    engagement: EngagementSettings,
    now: datetime,
    verification: Iterable[Reason] = (),
) -> Score:
    profile = [*fit_reasons(fit_rules, facts, "fit"), *fit_reasons(negative_rules, facts, "negative")]
    acted = engagement_reasons(events, engagement, now)
    reasons = (*verification, *profile, *acted)
    fit = round(sum(r.points for r in (*verification, *profile)), 1)
    engaged = round(sum(r.points for r in acted), 1)
    return Score(fit=fit, engagement=engaged, total=round(fit + engaged, 1), reasons=reasons)


def _engagement_points(event: EngagementEvent, settings: EngagementSettings) -> float:
    if event.kind == "page":
        return max((points for path, points in settings.pages.items() if path in event.detail), default=0.0)
    return float(getattr(settings, event.kind, 0.0))


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return str(value).lower() == str(expected).lower()
    if isinstance(expected, int | float):
        number = _number(value)
        return number is not None and number == expected
    return str(value).strip().lower() == str(expected).strip().lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", "").strip())
    except ValueError:
        return None

"""Qualification: verify a lead, score it against the client's definition, and decide its stage.

Pure: the lead's profile and engagement in, a `Qualification` out. Junk is kept and marked
with its reasons, and stays junk while a disqualifying reason holds; a lead ops restored is
not made junk again by the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from leadflow.config import QualifySettings
from leadflow.lead.lifecycle import QUALIFYING_STAGES
from leadflow.qualify.facts import lead_facts
from leadflow.qualify.scoring import EngagementEvent, Reason, Score, score_lead


@dataclass(frozen=True)
class Qualification:
    score: Score
    stage: str  # the stage the lead should be in now
    marketing_qualified: bool
    facts: dict[str, Any]

    @property
    def explanation(self) -> list[dict[str, Any]]:
        return [r.as_dict() for r in self.score.reasons]


def qualify(
    profile: dict[str, Any], events: Iterable[EngagementEvent], settings: QualifySettings, now: datetime
) -> Qualification:
    checks = settings.verification
    facts, flags = lead_facts(profile, checks.default_phone_region, checks.junk_disposable_email, checks.junk_test_data)
    restored = bool(profile.get("restored"))
    verification = [Reason("verification", flag.message, 0.0, flag.junk) for flag in flags]
    score = score_lead(facts, settings.fit, settings.negative, events, settings.engagement, now, verification)
    current = str(profile.get("stage", "new"))
    stage = _stage(current, score, facts, settings, restored)
    if stage != "junk" and _is_hand_raise(facts, settings):
        # Explained like points are, with none: the reasons still add up to the score.
        asked = Reason("hand_raise", f"asked for: {facts['inquiry_type']}", 0.0)
        score = replace(score, reasons=(*score.reasons, asked))
    return Qualification(score, stage, stage != "junk" and score.total >= settings.marketing_qualified, facts)


def _is_hand_raise(facts: dict[str, Any], settings: QualifySettings) -> bool:
    """The visitor asked for sales (a demo, a call): sales-ready whatever the score."""
    return facts.get("inquiry_type") in settings.hand_raise


def _stage(current: str, score: Score, facts: dict[str, Any], settings: QualifySettings, restored: bool) -> str:
    if current not in QUALIFYING_STAGES:
        return current  # routing and the reps move it from here
    if score.disqualified and not restored:
        return "junk"  # a restored lead is never made junk again by the rules: ops decided
    # A junk lead whose reasons no longer hold (a rule was dropped, a rescore) qualifies again.
    if _is_hand_raise(facts, settings) or score.total >= settings.sales_ready:
        return "sales_ready"
    return "nurture"

"""What routing rules can test about a lead: the facts scoring tests, and what qualification made of it."""

from __future__ import annotations

from typing import Any

from leadflow.lead.profile import LeadProfile
from leadflow.qualify.facts import FACT_FIELDS, lead_facts

ROUTING_FIELDS: dict[str, str] = {
    **FACT_FIELDS,
    "country": "ISO country, like DE: the custom country field when the form has one, else the phone's",
    "source": "utm_source of the first inquiry, else the referrer's host, else direct",
    "score": "the lead's score (fit + engagement), for bands like between = [60, 80]",
    "fit": "the fit part of the score",
    "stage": "sales_ready, or nurture for a marketing-qualified lead of a phone-first client",
}


def routing_facts(profile: LeadProfile, default_phone_region: str) -> dict[str, Any]:
    """The facts a routing rule's conditions test (a missing fact matches nothing)."""
    facts, _ = lead_facts(dict(profile), default_phone_region)
    custom = profile.get("custom") or {}
    country = str(custom.get("country", "")).strip().upper() or facts.get("phone_country")
    if country:
        facts["country"] = country
    facts["source"] = facts.get("utm_source") or _host(facts.get("referrer")) or "direct"
    score = profile.get("score") or {}
    if "total" in score:
        facts["score"] = score["total"]
        facts["fit"] = score.get("fit", 0)
    facts["stage"] = profile.get("stage")
    facts["lead_id"] = profile.get("lead_id")  # not a field rules test: account matching leaves the lead itself out
    return {k: v for k, v in facts.items() if v is not None}


def _host(url: Any) -> str | None:
    if not url:
        return None
    from urllib.parse import urlsplit

    host = urlsplit(str(url)).hostname
    return host.removeprefix("www.") if host else None

"""Report figures, counted when a lead changes: what the change makes the lead reach, by whom, how fast.

A lead's figures are counted once each, in the change's own transaction (so a redelivered
message never counts twice), and dated by the day the lead was captured: a report from the 1st
to the 30th tells what became of the leads captured then, so every conversion is a true share
(never more leads won than captured). The figures:

- the funnel: `captured`, then each stage the lead reaches for the first time (`junk`,
  `nurture`, `marketing_qualified`, `sales_ready`, `assigned`, `accepted`, `rejected`,
  `contacted`, `meeting`, `opportunity`, `won`, `lost`), and what stopped its emails
  (`unsubscribed`, `bounced`, `complained`, `undeliverable`);
- why: `rejected:<reason>` and `lost:<reason>`, with the first reason given;
- revenue: `revenue:<currency>`, in cents, when it is won;
- speed-to-lead, in working minutes of the owner's team, as a histogram bucket each:
  `to_owner:<bucket>` (capture to the first owner), `to_accept:<bucket>` (owner to accepted)
  and `to_contact:<bucket>` (accepted to first contact), a bucket named by its upper bound;
- the accept deadline: `sla_met` (accepted with no deadline missed), `sla_reminded`,
  `sla_breached`, `sla_reassigned`, `sla_escalated`.

Each figure is counted under every dimension at once: the lead's source, medium, campaign and
inquiry type (as its first inquiry brought it) and the owner the figure was counted with. A
lead that reaches won or lost is also counted under each scoring rule that fired for it
(dimension `rule`), so the report shows which rules of the lead definition predict revenue.

What was counted stays on the profile (`report`), so the next change counts only what is new,
and `leadflow report verify` can recount every figure from the leads themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from leadflow.lead.profile import LeadProfile

if TYPE_CHECKING:
    from leadflow.config import ClientConfig
    from leadflow.route.calendar import WorkingCalendar

DIMENSIONS = ("source", "medium", "campaign", "inquiry_type", "owner")
RULE_DIMENSION = "rule"  # won and lost leads only, once per scoring rule that fired for them
NONE = "(none)"  # the value of a dimension a lead has nothing for
DIRECT = "(direct)"  # the source of a lead with neither a utm_source nor a referrer
MAX_VALUE_BYTES = 60  # UTF-8 bytes of a dimension's value kept (the rest of a long campaign name is cut)
# The dimensions whose values a website sends (anything at all): each report item takes at most MOST_VALUES of them
# (see leadflow.aws.leads_table); a lead whose value finds its item full is counted under OTHER instead.
SENT_DIMENSIONS = ("source", "medium", "campaign", "inquiry_type")
OTHER = "(other)"

# The stages a lead is counted in the first time it reaches them, in funnel order.
FUNNEL_STAGES = (
    "junk", "nurture", "sales_ready", "assigned", "accepted", "rejected",
    "contacted", "meeting", "opportunity", "won", "lost",
)  # fmt: skip
SUPPRESSIONS = ("unsubscribed", "bounced", "complained", "undeliverable")
SLA_ENTRIES = {"sla_reminder": "sla_reminded", "sla_breached": "sla_breached",
               "reassigned": "sla_reassigned", "escalated": "sla_escalated"}  # fmt: skip
DEADLINE_FIGURES = frozenset(SLA_ENTRIES.values())
# Speed-to-lead buckets, by their upper bound in working minutes (a working day is often 480).
BUCKETS = (1, 5, 15, 30, 60, 120, 240, 480, 960, 2400)
OVER = "more"  # the bucket past the last bound
SPEEDS = {"to_owner": "minutes_to_owner", "to_accept": "minutes_to_accept", "to_contact": "minutes_to_first_contact"}


@dataclass(frozen=True)
class FigureDelta:
    """One figure a change adds to: under every dimension of the lead, on the day the lead was captured."""

    figure: str  # like "won", "rejected:no_budget", "to_owner:15"
    day: str  # yyyy-mm-dd: the lead's capture day (UTC)
    values: tuple[tuple[str, str], ...]  # (dimension, value) pairs the figure is counted under
    amount: int = 1


def bucket_of(minutes: float) -> str:
    """The histogram bucket of a speed: the smallest bound it is within, or OVER."""
    for bound in BUCKETS:
        if minutes <= bound:
            return str(bound)
    return OVER


def sent_values(profile: LeadProfile) -> dict[str, str]:
    """The lead's value in each dimension its website sent, as its first inquiry brought them."""
    touch = profile.get("first_touch") or {}
    source = touch.get("utm_source") or _host(touch.get("referrer") or "") or DIRECT
    values = (source, touch.get("utm_medium"), touch.get("utm_campaign"), touch.get("inquiry_type"))
    return {name: _value(value) for name, value in zip(SENT_DIMENSIONS, values, strict=True)}


def dimension_values(profile: LeadProfile, owner: str | None) -> tuple[tuple[str, str], ...]:
    """The lead's value in each dimension, with `owner` as the owner a figure is counted with.

    The sent ones as its record kept them when it was first counted (OTHER where an item was
    full), so that every figure of the lead, and a recount, lands where its capture did.
    """
    kept = ((profile.get("report") or {}).get("values")) or sent_values(profile)
    return (*((name, kept.get(name, NONE)) for name in SENT_DIMENSIONS), ("owner", _value(owner)))


def _value(value: object) -> str:
    text = " ".join(str(value or "").split())
    cut = text.encode()[:MAX_VALUE_BYTES].decode(errors="ignore")  # never half a character
    return cut or NONE


def as_other(profile: LeadProfile, figures: list[FigureDelta], full: Iterable[str]) -> list[FigureDelta]:
    """The figures of a lead's first count again, its values in the `full` dimensions as OTHER (on the profile too)."""
    full = set(full)
    record = profile.get("report") or {}
    record["values"] = {name: OTHER if name in full else value for name, value in (record.get("values") or {}).items()}
    return [
        FigureDelta(delta.figure, delta.day,
                    tuple((name, OTHER if name in full else value) for name, value in delta.values), delta.amount)
        for delta in figures
    ]  # fmt: skip


def _host(url: str) -> str:
    try:
        host = urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""
    return host.removeprefix("www.")


def reached(before: LeadProfile | None, after: LeadProfile, entries: Iterable[dict[str, Any]]) -> list[str]:
    """The figures a change makes its lead reach, in order, whether or not they were counted before."""
    figures = ["captured"] if before is None else []
    for entry in entries:
        kind = entry.get("type")
        if kind == "stage_changed" and entry.get("to") in FUNNEL_STAGES:
            figures.append(str(entry["to"]))
            if entry["to"] == "accepted":
                figures.append("sla_met")  # unless a deadline was missed already (see `new_figures`)
        elif kind in SLA_ENTRIES:
            figures.append(SLA_ENTRIES[str(kind)])
    if after.get("marketing_qualified"):
        figures.append("marketing_qualified")
    suppressed = ((after.get("nurture") or {}).get("suppressed") or {}).get("reason")
    if suppressed in SUPPRESSIONS:
        figures.append(str(suppressed))
    for speed, key in SPEEDS.items():
        if isinstance(after.get(key), int | float):
            figures.append(f"{speed}:{bucket_of(float(after[key]))}")  # type: ignore[literal-required]
    return figures


def new_figures(before: LeadProfile | None, after: LeadProfile, entries: Iterable[dict[str, Any]]) -> list[FigureDelta]:
    """What a change adds to the report, recorded on `after` (its `report`): each figure once per lead.

    A figure is counted with the lead's owner after the change, or before it when the change
    took the owner away (a rejection, an escalation back to the queue): the rep who rejected.
    A deadline's figures are the owner's whose deadline it was, before the change: a breach
    that hands the lead to the next rep is the first rep's breach.

    A lead stored before the report counted (a profile with no record) is left uncounted, not
    counted from the middle of its life; `leadflow report verify` names how many there are.
    """
    if before is not None and "report" not in before:
        return []
    record = dict((before or {}).get("report") or {})
    counted: dict[str, str] = dict(record.get("counted") or {})
    owner = after.get("owner") or (before or {}).get("owner") or ""
    owner_before = (before or {}).get("owner") or ""
    fresh: list[str] = []
    for figure in reached(before, after, entries):
        speed = figure.split(":", 1)[0]
        if figure in counted or (speed in SPEEDS and any(f.startswith(f"{speed}:") for f in counted)):
            continue
        if figure == "sla_met" and ("sla_breached" in counted or "sla_breached" in fresh):
            continue
        fresh.append(figure)
        counted[figure] = owner_before if figure in DEADLINE_FIGURES else owner
        if figure in ("rejected", "lost"):
            closed = (after.get("rejected") if figure == "rejected" else after.get("lost")) or {}
            reason = _value(closed.get("reason"))
            fresh.append(f"{figure}:{reason}")
            counted[f"{figure}:{reason}"] = owner
    if not fresh:
        return []
    record["counted"] = counted
    record.setdefault("values", sent_values(after))
    if ("won" in fresh or "lost" in fresh) and "rules" not in record:
        record["rules"] = fired_rules(after)
    after["report"] = record
    return deltas_of(after, fresh, counted, record.get("rules") or [])


def deltas_of(
    profile: LeadProfile, figures: Iterable[str], counted: dict[str, str], rules: list[str]
) -> list[FigureDelta]:
    """The deltas of `figures` of a lead whose counted record is `counted` (figure -> owner)."""
    day = str(profile.get("created_at", ""))[:10]
    deltas: list[FigureDelta] = []
    for figure in figures:
        values = dimension_values(profile, counted.get(figure) or None)
        if figure in ("won", "lost"):
            values += tuple((RULE_DIMENSION, rule) for rule in rules)
        deltas.append(FigureDelta(figure, day, values))
        if figure == "won":
            won = profile.get("won") or {}
            currency = _value(won.get("currency")).upper()
            deltas.append(FigureDelta(f"revenue:{currency}", day, values, cents_of(won.get("amount"))))
    return deltas


def cents_of(amount: object) -> int:
    """A won deal's amount (a decimal string, like "1234.50") in cents, exactly."""
    return int(Decimal(str(amount or 0)) * 100)


def recount(profile: LeadProfile) -> list[FigureDelta]:
    """Every figure a stored lead has been counted for: what `leadflow report verify` adds up."""
    record = profile.get("report") or {}
    counted: dict[str, str] = record.get("counted") or {}
    return deltas_of(profile, counted, counted, record.get("rules") or [])


def fired_rules(profile: LeadProfile) -> list[str]:
    """The scoring rules that fired for a lead (its score's reasons), each once, as named in the client file."""
    names = [
        str(reason.get("rule")) for reason in (profile.get("score") or {}).get("reasons") or [] if reason.get("rule")
    ]
    return sorted({_value(name) for name in names})


MinutesBetween = Callable[[str, datetime, datetime], float | None]  # team, start, end: working minutes (None: no team)


def note_speed_to_owner(before: LeadProfile | None, after: LeadProfile, minutes: MinutesBetween) -> None:
    """Put on the profile how long the lead waited for its first owner, in the owner's team's working minutes."""
    if after.get("minutes_to_owner") is not None or not after.get("owner") or (before or {}).get("owner"):
        return
    if not after.get("assigned_at") or not after.get("created_at") or not after.get("team"):
        return
    spent = minutes(str(after["team"]), datetime.fromisoformat(after["created_at"]),
                    datetime.fromisoformat(after["assigned_at"]))  # fmt: skip
    if spent is not None:
        after["minutes_to_owner"] = round(spent, 1)


def team_minutes(config: ClientConfig) -> MinutesBetween:
    """Working minutes between two moments on a team's calendar, as the client file sets it (None: no such team)."""
    calendars: dict[str, WorkingCalendar] = {}

    def minutes(team: str, start: datetime, end: datetime) -> float | None:
        settings = config.route.teams.get(team)
        if settings is None:
            return None
        if team not in calendars:
            calendars[team] = settings.calendar.calendar()
        return calendars[team].working_minutes_between(start, max(start, end))

    return minutes

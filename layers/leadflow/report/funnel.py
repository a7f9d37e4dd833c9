"""The funnel read back: the report items of some days added up, by one dimension's values.

`funnel(items, ...)` turns what `LeadsTable.report_items` read into a `Funnel`: a row per value
of the dimension (a source, a campaign, an owner, ...) and a row for all of them, each with
the leads that reached every stage, the conversion from each stage to the next, revenue by
currency, speed-to-lead read back from its histograms (median and 90th percentile, as the
bucket they fall in) and the accept deadline's figures. `rule_table` does the same for the
scoring rules of won and lost leads. Both are plain data; `as_json`, `as_csv` and
leadflow.report.page present them.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from leadflow.report.figures import BUCKETS, OVER, SPEEDS

# The funnel's stages, in order, and the step each converts from (conversion = stage / step before it).
STAGES = (
    "captured", "marketing_qualified", "sales_ready", "assigned", "accepted",
    "contacted", "meeting", "opportunity", "won",
)  # fmt: skip
OUTCOMES = ("junk", "nurture", "rejected", "lost", "unsubscribed", "bounced", "complained", "undeliverable")
SLA = ("sla_met", "sla_reminded", "sla_breached", "sla_reassigned", "sla_escalated")
SPEED_NAMES = {"to_owner": "capture to owner", "to_accept": "owner to accepted", "to_contact": "accepted to contact"}
ALL = "(all)"


MAX_DAYS = 366  # a report's longest span of capture days
DEFAULT_DAYS = 30  # without `from`: the 30 days up to `to`


class SpanError(ValueError):
    """A report's days that cannot be read: the parameter at fault ("from" or "to") and what to do."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def report_span(first: date | None, last: date | None, today: date) -> tuple[str, str]:
    """The first and last capture day (yyyy-mm-dd) of a report asked for `first` to `last`, each optional."""
    end = last or today
    start = first or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise SpanError("from", f"{start} is after to ({end}): give the earlier day as from")
    if (end - start).days + 1 > MAX_DAYS:
        raise SpanError("to" if last else "from", f"a report spans at most {MAX_DAYS} days: ask for a year at a time")
    return start.isoformat(), end.isoformat()


@dataclass
class Row:
    """One value of the dimension (or ALL): its figures summed over the report's days."""

    value: str
    counts: dict[str, int] = field(default_factory=dict)  # figure -> leads (revenue:<cur> -> cents)

    def get(self, figure: str) -> int:
        return self.counts.get(figure, 0)

    def add(self, figure: str, amount: int) -> None:
        self.counts[figure] = self.counts.get(figure, 0) + amount

    def conversion(self) -> dict[str, float | None]:
        """Each stage as a share of the stage before it (None: nothing reached the stage before)."""
        shares: dict[str, float | None] = {}
        for before, stage in itertools.pairwise(STAGES):
            shares[stage] = _share(self.get(stage), self.get(before))
        shares["won_of_closed"] = _share(self.get("won"), self.get("won") + self.get("lost"))
        shares["won_of_captured"] = _share(self.get("won"), self.get("captured"))
        return shares

    def revenue(self) -> dict[str, str]:
        """Revenue by currency, as decimal strings ("1234.50")."""
        return {
            figure.split(":", 1)[1]: str(Decimal(cents).scaleb(-2).quantize(Decimal("0.01")))
            for figure, cents in sorted(self.counts.items())
            if figure.startswith("revenue:")
        }

    def reasons(self, stage: str) -> dict[str, int]:
        """Why leads were rejected (or lost): reason -> leads, most first."""
        found = {f.split(":", 1)[1]: n for f, n in self.counts.items() if f.startswith(f"{stage}:") and n}
        return dict(sorted(found.items(), key=lambda pair: (-pair[1], pair[0])))

    def speed(self, speed: str) -> dict[str, Any]:
        """A speed's leads, median and 90th percentile: the upper bound of the bucket each falls in (None: beyond)."""
        counts = [(bucket, self.get(f"{speed}:{bucket}")) for bucket in [*map(str, BUCKETS), OVER]]
        total = sum(n for _, n in counts)
        return {"leads": total, "median": _quantile(counts, total, 0.5), "p90": _quantile(counts, total, 0.9)}

    def sla(self) -> dict[str, Any]:
        met, breached = self.get("sla_met"), self.get("sla_breached")
        return {**{name.removeprefix("sla_"): self.get(name) for name in SLA}, "met_share": _share(met, met + breached)}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _quantile(counts: list[tuple[str, int]], total: int, q: float) -> int | None:
    if not total:
        return None
    seen = 0
    for bucket, n in counts:
        seen += n
        if seen >= q * total:
            return None if bucket == OVER else int(bucket)
    return None  # pragma: no cover - the last bucket always reaches the total


@dataclass
class Funnel:
    group_by: str
    first_day: str
    last_day: str
    total: Row
    rows: list[Row]
    items_read: int


def funnel(items: Iterable[Mapping[str, Any]], group_by: str, first_day: str, last_day: str) -> Funnel:
    """The report items of `group_by` for the days `first_day`..`last_day`, added up by value."""
    rows: dict[str, Row] = {}
    total = Row(ALL)
    read = 0
    for item in items:
        read += 1
        for name, amount in item.items():
            if "|" not in name:
                continue  # pk, sk
            figure, value = name.split("|", 1)
            rows.setdefault(value, Row(value)).add(figure, int(amount))
            total.add(figure, int(amount))
    ordered = sorted(rows.values(), key=lambda row: (-row.get("captured"), -row.get("won"), row.value))
    return Funnel(group_by, first_day, last_day, total, ordered, read)


def only_values(report: Funnel, values: Iterable[str]) -> Funnel:
    """The report with only the rows of `values`, its total theirs alone (a manager's own reps, say)."""
    kept = set(values)
    rows = [row for row in report.rows if row.value in kept]
    total = Row(ALL)
    for row in rows:
        for figure, amount in row.counts.items():
            total.add(figure, amount)
    return Funnel(report.group_by, report.first_day, report.last_day, total, rows, report.items_read)


def row_json(row: Row) -> dict[str, Any]:
    return {
        "value": row.value,
        "stages": {stage: row.get(stage) for stage in STAGES},
        "outcomes": {outcome: row.get(outcome) for outcome in OUTCOMES},
        "conversion": row.conversion(),
        "revenue": row.revenue(),
        "speed_working_minutes": {speed: row.speed(speed) for speed in SPEEDS},
        "sla": row.sla(),
        "rejected_reasons": row.reasons("rejected"),
        "lost_reasons": row.reasons("lost"),
    }


def as_json(report: Funnel, names: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The funnel as the API answers it; `names` gives owners' names by rep id."""
    rows = []
    for row in report.rows:
        entry = row_json(row)
        if names and row.value in names:
            entry["name"] = names[row.value]
        rows.append(entry)
    return {
        "from": report.first_day,
        "to": report.last_day,
        "group_by": report.group_by,
        "dated_by": "the day each lead was captured (UTC)",
        "speed_buckets_working_minutes": list(BUCKETS),
        "total": row_json(report.total),
        "rows": rows,
        "items_read": report.items_read,
    }


CSV_COLUMNS = (
    *STAGES, *OUTCOMES,
    *(f"conversion_{stage}" for stage in STAGES[1:]), "conversion_won_of_closed",
    *(f"{speed}_{q}_minutes" for speed in SPEEDS for q in ("median", "p90")),
    *(name for name in SLA), "sla_met_share",
)  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that would start a formula is prefixed with an apostrophe."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


def as_csv(report: Funnel, names: Mapping[str, str] | None = None) -> str:
    """The funnel as a CSV table: a row per value, then the total; revenue in one column per currency."""
    currencies = sorted({currency for row in [report.total, *report.rows] for currency in row.revenue()})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.group_by, "name", *CSV_COLUMNS, *(f"revenue_{c}" for c in currencies)])
    for row in [*report.rows, report.total]:
        conversion, sla = row.conversion(), row.sla()
        cells: list[object] = [row.value, (names or {}).get(row.value, "")]
        cells += [row.get(name) for name in (*STAGES, *OUTCOMES)]
        cells += [conversion[stage] for stage in STAGES[1:]] + [conversion["won_of_closed"]]
        cells += [row.speed(speed)[q] for speed in SPEEDS for q in ("median", "p90")]
        cells += [row.get(name) for name in SLA] + [sla["met_share"]]
        cells += [row.revenue().get(currency, "") for currency in currencies]
        writer.writerow([safe_cell(cell) for cell in cells])
    return out.getvalue()


@dataclass(frozen=True)
class RuleRow:
    rule: str
    won: int
    lost: int

    @property
    def closed(self) -> int:
        return self.won + self.lost

    @property
    def win_rate(self) -> float | None:
        return _share(self.won, self.closed)


def rule_table(rule_items: Iterable[Mapping[str, Any]], total: Row) -> dict[str, Any]:
    """Each scoring rule's win rate among the closed leads it fired for, beside the base rate of all closed leads."""
    report = funnel(rule_items, "rule", "", "")
    base = RuleRow(ALL, total.get("won"), total.get("lost"))
    rules = [RuleRow(row.value, row.get("won"), row.get("lost")) for row in report.rows]
    rules.sort(key=lambda r: (-(r.win_rate or 0), -r.closed, r.rule))

    def entry(rule: RuleRow) -> dict[str, Any]:
        lift = round(rule.win_rate / base.win_rate, 2) if rule.win_rate is not None and base.win_rate else None
        return {"rule": rule.rule, "won": rule.won, "lost": rule.lost, "closed": rule.closed,
                "win_rate": rule.win_rate, "lift": lift}  # fmt: skip

    return {"base": entry(base), "rules": [entry(rule) for rule in rules], "items_read": report.items_read}

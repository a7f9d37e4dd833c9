"""The funnel as a page for people: bars drawn as inline SVG, tables that scroll on a phone, no script, no font.

`funnel_page` renders a `Funnel` (and, when given, the rule table) as one self-contained HTML
document: the API answers it to `Accept: text/html`, and the weekly email carries the same
document. Everything a lead or a website sent (a campaign's name, a reason) is escaped text.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from leadflow.report.figures import BUCKETS, SPEEDS
from leadflow.report.funnel import ALL, SPEED_NAMES, STAGES, Funnel, Row

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'",
}
STAGE_NAMES = {
    "captured": "Captured", "marketing_qualified": "Marketing-qualified", "sales_ready": "Sales-ready",
    "assigned": "Assigned", "accepted": "Accepted", "contacted": "Contacted", "meeting": "Meeting",
    "opportunity": "Opportunity", "won": "Won",
}  # fmt: skip
GROUP_NAMES = {"source": "source", "medium": "medium", "campaign": "campaign", "inquiry_type": "inquiry type",
               "owner": "owner"}  # fmt: skip
BAR = "#2f6fdf"
WON = "#1a7f37"
STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1f2328}
h1{font-size:1.35rem;margin:.2rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
p.note{color:#59636e;font-size:.9rem;margin:.2rem 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem;min-width:100%}
th,td{padding:.35rem .5rem;border-bottom:1px solid #d1d9e0;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal;overflow-wrap:anywhere;min-width:7rem;max-width:14rem}
thead th{background:#f6f8fa}tr.total td{font-weight:600}
svg{display:block;width:100%;height:auto;max-width:36rem}
svg text{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;font-size:13px;fill:#1f2328}
.figures{display:flex;flex-wrap:wrap;gap:.6rem}
.figure{border:1px solid #d1d9e0;border-radius:.5rem;padding:.5rem .8rem;min-width:8.5rem}
.figure b{display:block;font-size:1.3rem}.figure span{color:#59636e;font-size:.85rem}
"""


def funnel_page(report: Funnel, names: Mapping[str, str] | None = None, rules: Mapping[str, Any] | None = None,
                title: str = "Lead funnel") -> str:  # fmt: skip
    """The whole report as one HTML document."""
    names = names or {}
    group = GROUP_NAMES.get(report.group_by, report.group_by)
    total = report.total
    parts = [
        f"<h1>{escape(title)}</h1>",
        f"<p class=note>Leads captured {escape(report.first_day)} to {escape(report.last_day)} (UTC), "
        f"by {escape(group)}. "
        "Each lead is counted once per stage it reached, on the day it was captured.</p>",
        "<h2>Funnel</h2>",
        "<p class=note>Beside each stage: its leads, and their share of the stage before.</p>",
        funnel_bars(total),
        f"<h2>By {escape(group)}</h2>",
        _rows_table(report, names),
        "<h2>Speed-to-lead</h2>",
        "<p class=note>Working minutes of the owner's team; the median and 90th percentile are the upper bound "
        "of the bucket they fall in.</p>",
        _speed(total),
        "<h2>Accept deadline</h2>",
        _sla(total),
        f"<h2>Revenue by {escape(group)}</h2>",
        _revenue(report, names),
        "<h2>Why leads were rejected or lost</h2>",
        _reasons(total),
    ]
    if rules is not None:
        parts += ["<h2>Which scoring rules predict revenue</h2>", _rules(rules)]
    body = "\n".join(parts)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="referrer" content="no-referrer">
<title>{escape(title)} {escape(report.first_day)} to {escape(report.last_day)}</title><style>{STYLE}</style></head>
<body>{body}</body></html>"""


def funnel_bars(row: Row) -> str:
    """The funnel as horizontal bars, each stage's width its share of the captured, with the step's conversion."""
    captured = max(row.get("captured"), 1)
    conversion = row.conversion()
    height, label_w, width = 30, 140, 420
    bars = []
    for n, stage in enumerate(STAGES):
        count = row.get(stage)
        y = n * height
        bar = 0 if not count else max(2, round((width - label_w - 90) * count / captured))
        step = conversion.get(stage)
        share = "" if stage == "captured" or step is None else f" · {step:.0%}"
        colour = WON if stage == "won" else BAR
        bars.append(
            f'<text x="0" y="{y + 19}">{escape(STAGE_NAMES[stage])}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{bar}" height="{height - 10}" rx="3" fill="{colour}"/>'
            f'<text x="{label_w + bar + 5}" y="{y + 19}">{count:,}{escape(share)}</text>'
        )
    total_h = height * len(STAGES)
    return (f'<svg viewBox="0 0 {width} {total_h}" role="img" aria-label="The funnel, stage by stage">'
            f"{''.join(bars)}</svg>")  # fmt: skip


def _rows_table(report: Funnel, names: Mapping[str, str]) -> str:
    head = "".join(f"<th>{escape(STAGE_NAMES[s])}</th>" for s in STAGES) + "<th>Won of closed</th><th>Lost</th>"
    lines = []
    for row in [*report.rows, report.total]:
        won_share = row.conversion()["won_of_closed"]
        cells = "".join(f"<td>{row.get(stage):,}</td>" for stage in STAGES)
        cells += f"<td>{percent(won_share)}</td><td>{row.get('lost'):,}</td>"
        css = ' class="total"' if row.value == ALL else ""
        lines.append(f"<tr{css}><td>{escape(_label(row.value, names))}</td>{cells}</tr>")
    group = GROUP_NAMES.get(report.group_by, report.group_by)
    return (f'<div class="scroll"><table><thead><tr><th>{escape(group.capitalize())}</th>{head}</tr></thead>'
            f"<tbody>{''.join(lines)}</tbody></table></div>")  # fmt: skip


def _speed(row: Row) -> str:
    figures = []
    for speed in SPEEDS:
        figure = row.speed(speed)
        median, p90 = minutes_shown(figure["median"], figure["leads"]), minutes_shown(figure["p90"], figure["leads"])
        figures.append(f"<div class=figure><span>{escape(SPEED_NAMES[speed])}</span><b>{escape(median)}</b>"
                       f"<span>median · 90%: {escape(p90)} · {figure['leads']:,} leads</span></div>")  # fmt: skip
    return f"<div class=figures>{''.join(figures)}</div>"


def minutes_shown(bound: int | None, leads: int) -> str:
    if not leads:
        return "-"
    return f"over {BUCKETS[-1]} min" if bound is None else f"≤ {bound} min"


def _sla(row: Row) -> str:
    sla = row.sla()
    figures = [("met", f"{percent(sla['met_share'])}", f"{sla['met']:,} accepted in time")]
    figures += [(name, f"{sla[name]:,}", "leads") for name in ("reminded", "breached", "reassigned", "escalated")]
    return "<div class=figures>" + "".join(
        f"<div class=figure><span>{escape(name)}</span><b>{escape(value)}</b><span>{escape(note)}</span></div>"
        for name, value, note in figures
    ) + "</div>"  # fmt: skip


def _revenue(report: Funnel, names: Mapping[str, str]) -> str:
    currencies = sorted(report.total.revenue())
    if not currencies:
        return "<p class=note>No lead captured in these days has been won yet.</p>"
    charts = []
    for currency in currencies:
        rows = [(row.value, row.get(f"revenue:{currency}")) for row in report.rows if row.get(f"revenue:{currency}")]
        rows.sort(key=lambda pair: -pair[1])
        most = max(cents for _, cents in rows)
        height, label_w, width = 30, 140, 420
        bars = []
        for n, (value, cents) in enumerate(rows):
            bar = max(2, round((width - label_w - 110) * cents / most))
            y = n * height
            bars.append(
                f'<text x="0" y="{y + 19}">{escape(_short(_label(value, names), 18))}</text>'
                f'<rect x="{label_w}" y="{y + 5}" width="{bar}" height="{height - 10}" rx="3" fill="{WON}"/>'
                f'<text x="{label_w + bar + 6}" y="{y + 19}">{escape(money(cents, currency))}</text>'
            )
        charts.append(
            f'<svg viewBox="0 0 {width} {height * len(rows)}" role="img" aria-label="Revenue in {escape(currency)}">'
            f"{''.join(bars)}</svg>"
        )
    total = ", ".join(money(report.total.get(f"revenue:{currency}"), currency) for currency in currencies)
    return "".join(charts) + f"<p class=note>In all: {escape(total)}.</p>"


def _reasons(row: Row) -> str:
    lines = [(f"rejected: {reason}", n) for reason, n in row.reasons("rejected").items()]
    lines += [(f"lost: {reason}", n) for reason, n in row.reasons("lost").items()]
    if not lines:
        return "<p class=note>None rejected or lost.</p>"
    body = "".join(f"<tr><td>{escape(reason)}</td><td>{n:,}</td></tr>" for reason, n in lines)
    head = "<thead><tr><th>Reason</th><th>Leads</th></tr></thead>"
    return f'<div class="scroll"><table>{head}<tbody>{body}</tbody></table></div>'


def _rules(rules: Mapping[str, Any]) -> str:
    base = rules["base"]
    lines = []
    for rule in [*rules["rules"], base]:
        css = ' class="total"' if rule is base else ""
        name = "All closed leads (the base rate)" if rule is base else rule["rule"]
        lift = "" if rule["lift"] is None else f"{rule['lift']:.2f}x"
        lines.append(f"<tr{css}><td>{escape(name)}</td><td>{percent(rule['win_rate'])}</td><td>{rule['won']:,}</td>"
                     f"<td>{rule['closed']:,}</td><td>{escape(lift)}</td></tr>")  # fmt: skip
    return ('<p class=note>Among the leads that were won or lost: the share won when the rule fired, beside the '
            "share of all of them.</p>"
            '<div class="scroll"><table><thead><tr><th>Rule</th><th>Win rate</th><th>Won</th><th>Closed</th>'
            f"<th>Lift</th></tr></thead><tbody>{''.join(lines)}</tbody></table></div>")  # fmt: skip


def _label(value: str, names: Mapping[str, str]) -> str:
    return f"{names[value]} ({value})" if value in names else ("All" if value == ALL else value)


def _short(text: str, most: int = 24) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency}"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share:.0%}"


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)

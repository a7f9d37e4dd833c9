"""The weekly report: last week's funnel by email to the client's recipients, its CSV kept in the stack's bucket.

A schedule (`[report] weekly`, a cron expression in `[report] timezone`; EventBridge
Scheduler in AWS, leadflow.local.scheduler locally) runs the report_weekly function with the
moment it was due. The week is the seven capture days before that moment's day (`week_before`):
a Monday-morning report covers Monday to Sunday of the week before. The report is the
same funnel as `GET /reports/funnel` (leadflow.report.funnel), by source, for those capture
days, beside the week before's figures.

The email is written for mail clients, not browsers: tables and inline styles, bars drawn as
table cells (Gmail and Outlook drop SVG, and most drop a `<style>` sheet), with a plain-text
alternative, and the CSV attached. The CSV is also put in the stack's reports bucket, under
`weekly/<first day>_<last day>/`, where a lifecycle rule deletes it after `[report] keep_days`.

Run twice for one week (a retried tick, or `leadflow report weekly --send` by hand), it writes
the same CSV to the same key, and each recipient's email goes out once: a marker in the leads
table is claimed before the send and settled after it (`send_weekly`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from leadflow.aws.mailer import Attachment
from leadflow.config import ClientConfig
from leadflow.report.funnel import STAGES, Funnel, Row, as_csv, funnel
from leadflow.report.page import STAGE_NAMES, escape, minutes_shown, money, percent
from leadflow.route.calendar import zone_named
from leadflow.route.notice import Email

WEEK_DAYS = 7
WEEKLY_MARKER_PREFIX = "weekly-report#"  # the function's role may write markers of this prefix only
ARCHIVE_PREFIX = "weekly/"  # and objects of the reports bucket of this one
SOURCES_SHOWN = 10  # the email's table of sources: the busiest ten, the rest in the CSV
BAR_PX = 300  # the widest bar of the email's funnel chart
BAR = "#2f6fdf"
WON = "#1a7f37"
FONT = "font-family:Arial,Helvetica,sans-serif;"
CELL = "padding:4px 5px;border-bottom:1px solid #d1d9e0;font-size:13px;"


class ReportItems(Protocol):
    def report_items(self, dimension: str, first_day: str, last_day: str) -> list[dict[str, Any]]: ...


class Marks(Protocol):
    def claim(self, marker: str, token: str, now: datetime, until: datetime) -> str: ...

    def settle(self, marker: str, now: datetime) -> None: ...

    def release(self, marker: str, token: str) -> None: ...


class StillSending(RuntimeError):
    """Another run holds some recipients' emails of this week right now: this run fails, to be tried again."""


class Archive(Protocol):
    def put_csv(self, key: str, body: str) -> str: ...


class Sender(Protocol):
    """What sends an email with files (leadflow.aws.mailer.Mailer); SES's message id."""

    def send(self, email: Email, *, attachments: Sequence[Attachment]) -> str: ...


@dataclass(frozen=True)
class Week:
    first: date
    last: date

    @property
    def before(self) -> Week:
        return Week(self.first - timedelta(days=WEEK_DAYS), self.last - timedelta(days=WEEK_DAYS))

    def label(self) -> str:
        if self.first.year != self.last.year:
            return f"{self.first:%-d %b %Y} to {self.last:%-d %b %Y}"
        if self.first.month != self.last.month:
            return f"{self.first:%-d %b} to {self.last:%-d %b %Y}"
        return f"{self.first:%-d} to {self.last:%-d %b %Y}"


def week_before(moment: datetime, timezone: str) -> Week:
    """The seven capture days that ended before `moment`, complete both in `timezone` and in UTC.

    The report dates each lead by its UTC capture day. East of UTC a Monday-morning run can come
    while Sunday's UTC day is still going (Monday 08:00 in Sydney is Sunday 21:00 UTC), so there the
    week ends on the Saturday. Which day it ends on is decided by the zone's largest offset of the
    year, never by the offset of the run's day: a week's last weekday stays the same when the
    clocks change, and no day falls between two weeks or into two.
    """
    zone = zone_named(timezone)
    local = moment.astimezone(zone)
    ahead = max(timedelta(0), *(_offset(zone, local.year, month) for month in range(1, 13)))
    day = min(local.date(), (local.replace(tzinfo=None) - ahead).date())
    return Week(day - timedelta(days=WEEK_DAYS), day - timedelta(days=1))


def _offset(zone: ZoneInfo, year: int, month: int) -> timedelta:
    return datetime(year, month, 1, 12, tzinfo=zone).utcoffset() or timedelta(0)


@dataclass(frozen=True)
class WeeklyReport:
    week: Week
    by_source: Funnel
    before: Row  # the week before's figures, all sources
    title: str

    @property
    def csv_name(self) -> str:
        return f"leadflow-funnel-by-source-{self.week.first}-{self.week.last}.csv"

    @property
    def archive_key(self) -> str:
        return f"{ARCHIVE_PREFIX}{self.week.first}_{self.week.last}/{self.csv_name}"

    def csv(self) -> str:
        return as_csv(self.by_source)

    def email(self, to: str) -> Email:
        return Email(to, f"{self.title}: leads of {self.week.label()}", email_text(self), email_html(self))


def weekly_report(items: ReportItems, config: ClientConfig, week: Week) -> WeeklyReport:
    """Read the week's and the week before's report items by source (a Query each: the days, not the leads)."""
    first, last = week.first.isoformat(), week.last.isoformat()
    by_source = funnel(items.report_items("source", first, last), "source", first, last)
    earlier = week.before
    before = funnel(
        items.report_items("source", earlier.first.isoformat(), earlier.last.isoformat()),
        "source", earlier.first.isoformat(), earlier.last.isoformat(),
    ).total  # fmt: skip
    return WeeklyReport(week, by_source, before, config.display_name or config.name)


def send_weekly(
    report: WeeklyReport,
    recipients: Iterable[str],
    sender: Sender,
    marks: Marks,
    archive: Archive,
    until: datetime,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, Any]:
    """Keep the CSV, then email each recipient who has not had this week's report yet. What was done, as counts.

    Each recipient's email is claimed for this run (which ends by `until`: a Lambda's timeout)
    before it is sent, and settled once SES took it. A send that fails gives its claim back and
    raises, so the run is retried. A recipient another run holds right now is left to it, and this
    run raises StillSending at the end: its retry finds that email sent, or, if that run died, its
    claim run out and takes it over. Only a run that dies between SES taking an email and the
    settle sends that email twice.
    """
    body = report.csv()
    kept_at = archive.put_csv(report.archive_key, body)
    attached = Attachment(report.csv_name, "text/csv; charset=utf-8", body.encode("utf-8"))
    token = uuid.uuid4().hex
    sent = skipped = 0
    busy: list[str] = []
    for recipient in recipients:
        marker = weekly_marker(report.week, recipient)
        claimed = marks.claim(marker, token, clock(), until)
        if claimed != "claimed":
            skipped += claimed == "done"
            busy += [recipient] if claimed == "busy" else []
            continue
        try:
            sender.send(report.email(recipient), attachments=[attached])
        except BaseException:
            marks.release(marker, token)
            raise
        marks.settle(marker, clock())
        sent += 1
    if busy:
        raise StillSending(
            f"{len(busy)} recipient(s)' email of the week {report.week.first}..{report.week.last} is being sent by "
            f"another run ({sent} sent by this one): try again in a few minutes, and it is either sent or taken over"
        )
    return {"week": f"{report.week.first}..{report.week.last}", "kept_at": kept_at, "sent": sent,
            "already_sent": skipped, "captured": report.by_source.total.get("captured")}  # fmt: skip


def weekly_marker(week: Week, recipient: str) -> str:
    """The marker that one recipient's email of one week went out (the address hashed: no address in a key)."""
    digest = hashlib.sha256(recipient.strip().lower().encode("utf-8")).hexdigest()[:16]
    return f"{WEEKLY_MARKER_PREFIX}{week.first}#{digest}"


# --- the email -----------------------------------------------------------------------------------


def unlinkable(value: str) -> str:
    """A value a website sent, as the email shows it: no mail client makes it a link.

    Gmail and Outlook turn a bare `https://…` or `partner.example` into a link, and a source named
    like a sign-in page would then be one click away in a trusted internal email. Its dots and slashes
    are shown as look-alikes (U+2024, U+2215); the CSV keeps the value as it was sent.
    """
    return value.replace(".", "\u2024").replace("/", "\u2215")


def _change(now: int, before: int) -> str:
    if not before:
        return "new" if now else "-"
    return f"{(now - before) / before:+.0%}"


def _money(row: Row) -> str:
    return ", ".join(money(row.get(f"revenue:{currency}"), currency) for currency in row.revenue()) or "-"


def headline(report: WeeklyReport) -> list[tuple[str, str, str]]:
    """The figures the email opens with: (name, this week, against the week before)."""
    now, before = report.by_source.total, report.before
    lines = [
        (STAGE_NAMES[stage], f"{now.get(stage):,}", _change(now.get(stage), before.get(stage)))
        for stage in ("captured", "sales_ready", "won")
    ]
    lines.append(("Revenue", _money(now), f"week before: {_money(before)}"))
    speed = now.speed("to_owner")
    lines.append(
        ("Capture to owner (median)", minutes_shown(speed["median"], speed["leads"]), f"{speed['leads']:,} leads")
    )
    sla = now.sla()
    lines.append(("Accepted in time", percent(sla["met_share"]), f"{sla['breached']:,} missed"))
    return lines


def email_html(report: WeeklyReport) -> str:
    """The week's summary for a mail client: tables and inline styles only."""
    total = report.by_source.total
    figures = "".join(  # boxes that wrap on a phone (Outlook, which has no inline-block, stacks them)
        f'<div style="display:inline-block;vertical-align:top;min-width:120px;margin:0 6px 6px 0;padding:8px 12px;'
        f'border:1px solid #d1d9e0;{FONT}">'
        f'<div style="font-size:12px;color:#59636e">{escape(name)}</div>'
        f'<div style="font-size:20px;font-weight:bold">{escape(value)}</div>'
        f'<div style="font-size:12px;color:#59636e">{escape(note)}</div></div>'
        for name, value, note in headline(report)
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(report.title)}</title></head>
<body style="margin:0;padding:16px;color:#1f2328;{FONT}">
<h1 style="font-size:20px;margin:0 0 4px">{escape(report.title)}: leads of {escape(report.week.label())}</h1>
<p style="margin:0 0 12px;font-size:13px;color:#59636e">Leads captured {report.week.first} to {report.week.last} (UTC
days), each counted once per stage it reached so far; against the week before.</p>
<div>{figures}</div>
<h2 style="font-size:16px;margin:20px 0 6px">Funnel</h2>
{funnel_chart(total)}
<h2 style="font-size:16px;margin:20px 0 6px">By source</h2>
{sources_table(report.by_source)}
<p style="font-size:12px;color:#59636e;margin:16px 0 0">Every figure by source is in the attached CSV. These leads
keep moving through the funnel: later reports of the same days show more of them won.</p>
</body></html>"""


def funnel_chart(row: Row) -> str:
    """The funnel as bars a mail client draws: each a table cell of its stage's width, with the step's conversion."""
    captured = max(row.get("captured"), 1)
    conversion = row.conversion()
    lines = []
    for stage in STAGES:
        count = row.get(stage)
        width = 0 if not count else max(2, round(BAR_PX * count / captured))
        step = conversion.get(stage)
        share = "" if stage == "captured" or step is None else f" ({step:.0%})"
        colour = WON if stage == "won" else BAR
        bar = (f'<table role="presentation" cellspacing="0" cellpadding="0"><tr><td width="{width}" height="16" '
               f'style="background:{colour};width:{width}px;height:16px;font-size:0;line-height:0">&nbsp;</td>'
               "</tr></table>") if width else ""  # fmt: skip
        lines.append(
            f'<tr><td style="{FONT}{CELL}white-space:nowrap">{escape(STAGE_NAMES[stage])}</td>'
            f'<td style="{CELL}width:{BAR_PX}px">{bar}</td>'
            f'<td style="{FONT}{CELL}text-align:right;white-space:nowrap">{count:,}{escape(share)}</td></tr>'
        )
    return (f'<table role="presentation" cellspacing="0" cellpadding="0" style="border-collapse:collapse">'
            f"{''.join(lines)}</table>")  # fmt: skip


def sources_table(report: Funnel) -> str:
    heads = ["Source", "Captured", "Sales-ready", "Won", "Won %", "Revenue"]
    head = "".join(f'<th style="{FONT}{CELL}background:#f6f8fa;text-align:left">{h}</th>' for h in heads)
    rows = report.rows[:SOURCES_SHOWN]
    lines = [_source_line(row, unlinkable(row.value)) for row in rows]
    if len(report.rows) > SOURCES_SHOWN:
        lines.append(f'<tr><td colspan="6" style="{FONT}{CELL}color:#59636e">{len(report.rows) - SOURCES_SHOWN:,} '
                     "more sources: see the CSV</td></tr>")  # fmt: skip
    lines.append(_source_line(report.total, "All sources", bold=True))
    return (f'<table cellspacing="0" cellpadding="0" style="border-collapse:collapse"><tr>{head}</tr>'
            f"{''.join(lines)}</table>")  # fmt: skip


def _source_line(row: Row, label: str, bold: bool = False) -> str:
    weight = "font-weight:bold;" if bold else ""
    cells = [label, f"{row.get('captured'):,}", f"{row.get('sales_ready'):,}", f"{row.get('won'):,}",
             percent(row.conversion()["won_of_captured"]), _money(row)]  # fmt: skip
    return "<tr>" + "".join(f'<td style="{FONT}{CELL}{weight}">{escape(cell)}</td>' for cell in cells) + "</tr>"


def email_text(report: WeeklyReport) -> str:
    """The same summary as plain text, for mail clients that show no HTML."""
    total = report.by_source.total
    lines = [f"{report.title}: leads of {report.week.label()}", ""]
    lines += [f"{name}: {value} ({note})" for name, value, note in headline(report)]
    lines += ["", "Funnel:"]
    conversion = total.conversion()
    for stage in STAGES:
        step = conversion.get(stage)
        share = "" if stage == "captured" or step is None else f" ({step:.0%})"
        lines.append(f"  {STAGE_NAMES[stage]}: {total.get(stage):,}{share}")
    lines += ["", "By source (captured, won, revenue):"]
    for row in report.by_source.rows[:SOURCES_SHOWN]:
        lines.append(f"  {unlinkable(row.value)}: {row.get('captured'):,}, {row.get('won'):,}, {_money(row)}")
    lines += ["", "Every figure by source is in the attached CSV."]
    return "\n".join(lines) + "\n"


def summary_of(answer: Mapping[str, Any]) -> str:
    """One line for a log or a terminal: what a run did."""
    return (f"week {answer['week']}: {answer['captured']:,} leads captured; CSV kept at {answer['kept_at']}; "
            f"emailed {answer['sent']} recipient(s), {answer['already_sent']} had it already")  # fmt: skip

"""`leadflow report ...`: the funnel in the terminal, the weekly email, a recount of every figure, a backfill.

`report funnel` reads what the API's GET /reports/funnel reads (the report items of the days
asked for), straight from the stack's table with the operator's credentials. `report verify`
scans the whole table (an admin tool: the report itself never scans), recounts every figure
from the leads' profiles and lists where the report items differ; it exits 1 when any does.
`report weekly` shows last week's report as the schedule emails it (`--send` sends it, as the
schedule does: nobody is emailed twice for one week). `report backfill` counts the leads stored
before the stack counted report figures, from their own history (leadflow.report.backfill).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.table import Table

from leadflow.cli.lead_commands import as_text
from leadflow.cli.stack_access import (
    DEFAULT_CLIENT,
    DEFAULT_CLIENTS_DIR,
    DEFAULT_ENDPOINT,
    ClientOption,
    ClientsDir,
    EndpointOption,
    LocalFlag,
    StackAccess,
    console,
    errors,
    open_stack,
    progress_bar,
)
from leadflow.cli.table_scans import item_count, report_scan, uncounted_lead_ids
from leadflow.report.figures import DIMENSIONS

report_app = typer.Typer(help="Reports: the funnel, and a recount of its figures from the leads.", no_args_is_help=True)

T = TypeVar("T")
MOST_SHOWN = 50  # differences listed by `verify` (all are counted)
SENDING_TAKES = timedelta(minutes=5)  # how long `report weekly --send` holds a recipient's email while it sends


@report_app.command("funnel")
def report_funnel(
    first: Annotated[str | None, typer.Option("--from", help="The first capture day, YYYY-MM-DD (UTC).")] = None,
    last: Annotated[str | None, typer.Option("--to", help="The last capture day; default: today (UTC).")] = None,
    group_by: Annotated[str, typer.Option(help=f"What each row is: {', '.join(DIMENSIONS)}.")] = "source",
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV (as the API's Accept: text/csv).")] = False,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """The funnel of the leads captured from one day to another (default: the last 30 days), by source or more."""
    from leadflow.report import funnel as funnel_module

    if group_by not in DIMENSIONS:
        errors.print(f"--group-by {group_by!r}: give one of {', '.join(DIMENSIONS)}", markup=False)
        raise typer.Exit(2)
    try:
        span = funnel_module.report_span(_day(first, "--from"), _day(last, "--to"), datetime.now(UTC).date())
    except funnel_module.SpanError as error:
        errors.print(f"--{error.field}: {error.problem}", markup=False)
        raise typer.Exit(2) from None
    stack = open_stack(client, clients_dir, use_local, endpoint)
    items = stack.call(lambda: stack.store.report_items(group_by, *span), "read the report")
    report = funnel_module.funnel(items, group_by, *span)
    if as_csv:
        print(funnel_module.as_csv(report), end="")
        return
    table = Table(group_by, "captured", "MQL", "sales-ready", "assigned", "accepted", "won", "lost", "revenue",
                  title=f"Leads captured {span[0]} to {span[1]}")  # fmt: skip
    for row in [*report.rows, report.total]:
        revenue = ", ".join(f"{amount} {currency}" for currency, amount in row.revenue().items())
        counts = [row.get(name) for name in ("captured", "marketing_qualified", "sales_ready", "assigned",
                                             "accepted", "won", "lost")]  # fmt: skip
        table.add_row(as_text(row.value), *(f"{n:,}" for n in counts), as_text(revenue))
    console.print(table)
    console.print(f"{report.items_read:,} report items read.")


@report_app.command("verify")
def report_verify(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Recount every report figure from the leads (a Scan of the table) and list where the report differs."""
    from leadflow.report.verify import Recount

    stack = open_stack(client, clients_dir, use_local, endpoint)
    tally = Recount.empty()
    _scan(stack, "Scanning the table's items", report_scan(stack.store), tally.add,
          lambda: f"scan the table (stopped after {tally.leads:,} leads; running it again is safe)")  # fmt: skip
    found = tally.differences()
    if tally.uncounted:
        console.print(
            f"{tally.uncounted:,} of {tally.leads:,} leads were stored before the report counted: they are in no "
            "figure (the report starts with the leads captured since)."
        )
    if not found:
        console.print(f"Every figure of {tally.leads:,} leads matches the report ({len(tally.counted):,} figures).")
        return
    table = Table("dimension", "day", "figure", "value", "report", "leads")
    for difference in found[:MOST_SHOWN]:
        table.add_row(*(as_text(v) for v in (difference.dimension, difference.day, difference.figure,
                                             difference.value, difference.counted, difference.recounted)))  # fmt: skip
    console.print(table)
    more = f" (the first {MOST_SHOWN} shown)" if len(found) > MOST_SHOWN else ""
    errors.print(
        f"{len(found):,} figures differ from what {tally.leads:,} leads add up to{more}: each is a figure lost or "
        "counted twice. Run it again on a quiet stack (leads changing during the scan differ for a moment); if "
        "the difference stays, report it with this list.",
        markup=False,
    )
    raise typer.Exit(1)


@report_app.command("backfill")
def report_backfill(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Count the leads stored before the report counted, from their own history (a Scan; safe to run again)."""
    from leadflow.report.backfill import backfill_lead

    stack = open_stack(client, clients_dir, use_local, endpoint)
    counted = [0]

    def backfill(lead_ids: list[str]) -> None:
        counted[0] += sum(backfill_lead(lead_id, stack.store) for lead_id in lead_ids)

    _scan(stack, "Scanning for leads the report has not counted", uncounted_lead_ids(stack.store), backfill,
          lambda: f"count the leads (stopped after {counted[0]:,}; running it again goes on from there)")  # fmt: skip
    console.print(
        f"Counted {counted[0]:,} leads stored before the report counted. `leadflow report verify` checks them."
    )


@report_app.command("weekly")
def report_weekly(
    week_ending: Annotated[
        str | None,
        typer.Option(help="The week's last capture day, YYYY-MM-DD; default: the week the schedule last sent."),
    ] = None,
    send: Annotated[
        bool, typer.Option("--send", help="Keep the CSV in the reports bucket and email the recipients who lack it.")
    ] = False,
    html: Annotated[Path | None, typer.Option(help="Write the email's HTML to this file, to look at it.")] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """The weekly report the schedule sends: shown here; with --send, sent as the schedule would send it."""
    from leadflow.aws.mailer import Mailer
    from leadflow.aws.report_bucket import ReportBucket
    from leadflow.report.weekly import (
        StillSending,
        Week,
        email_html,
        email_text,
        send_weekly,
        summary_of,
        week_before,
        weekly_report,
    )

    stack = open_stack(client, clients_dir, use_local, endpoint)
    settings = stack.config.report
    last = _day(week_ending, "--week-ending")
    week = Week(last - timedelta(6), last) if last else week_before(last_run(settings.weekly, settings.timezone),
                                                                     settings.timezone)  # fmt: skip
    report = stack.call(lambda: weekly_report(stack.store, stack.config, week), "read the report")
    if html is not None:
        html.write_text(email_html(report), encoding="utf-8")
        print(f"The email's HTML is in {html}.")
    if not send:
        print(email_text(report), end="")
        whom = ", ".join(settings.recipients) or "no one ([report] recipients is empty)"
        print(f"\nNot sent. With --send: the CSV is kept in the reports bucket, and {whom} emailed.")
        return
    sender = stack.definition.email("email")
    mailer = Mailer(sender.from_address, sender.from_name, sender.configuration_set, stack.aws_client("sesv2"))

    archive = ReportBucket(stack.reports_bucket, stack.aws_client("s3"))
    until = datetime.now(UTC) + SENDING_TAKES  # this run's claims on the recipients' emails
    try:
        answer = stack.call(lambda: send_weekly(report, settings.recipients, mailer, stack.store, archive, until),
                            "send the weekly report")  # fmt: skip
    except StillSending as busy:
        errors.print(str(busy), markup=False)
        raise typer.Exit(1) from None
    print(summary_of(answer))


def last_run(weekly: str, timezone: str) -> datetime:
    """When the weekly schedule last ran (now, if it never has): its week is the one `report weekly` shows."""
    from leadflow.cron import parse, previous_moment
    from leadflow.route.calendar import zone_named

    now = datetime.now(UTC)
    return previous_moment(parse(weekly), zone_named(timezone), now) or now


def _scan(stack: StackAccess, doing: str, pages: Iterator[tuple[T, int]], handle: Callable[[T], None],
          stopped: Callable[[], str]) -> None:  # fmt: skip
    """Hand each page of a Scan to `handle`, a progress bar advancing by the items scanned; a failure says where."""
    from botocore.exceptions import BotoCoreError, ClientError

    total = stack.call(lambda: item_count(stack.store), "read the table's item count")
    progress = progress_bar()
    with progress:
        task = progress.add_task(doing, total=total or None)
        try:
            for page, scanned in pages:
                handle(page)
                progress.advance(task, scanned)
        except (BotoCoreError, ClientError) as exc:
            progress.stop()
            stack.fail(exc, stopped())


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.print(f"{option} {text!r}: write a day as YYYY-MM-DD, like 2026-10-01", markup=False)
        raise typer.Exit(2) from None

"""`leadflow leads ...`: look at the leads of a stack, see why each scored as it did, restore junk."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, NoReturn

import typer
from rich import box
from rich.table import Table
from rich.text import Text

from leadflow.aws.event_bus import EventsNotPublished
from leadflow.aws.queues import QueueUnavailable
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
from leadflow.follow_up.changes import ACTIONS
from leadflow.lead.change import Conflict
from leadflow.qualify.changes import requalify_lead

RESTORE_REASON = "restored by ops"
FIT_KINDS = ("verification", "fit", "negative")  # what the lead is; engagement is what it did
HAND_RAISE = "hand_raise"  # asked for sales (a demo, a call): sales-ready whatever the score, with 0 points

# Leads that are nobody's work (leadflow.aws.leads_table.work_link): relink skips reading them again.
CLOSED_FOR_WORK = frozenset({"won", "lost", "junk", "rejected", "new"})
leads_app = typer.Typer(help="Look at the leads of a deployed or local stack, and restore junk.", no_args_is_help=True)

# Characters stored text may not send to a terminal: controls (escape sequences) and bidi overrides.
_NOT_FOR_TERMINALS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

LeadArgument = Annotated[str, typer.Argument(help="A lead id (ld_...) or the person's email.")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@leads_app.command("list")
def leads_list(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many of the newest leads.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The newest leads, newest first."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    leads = stack.call(lambda: stack.store.list_leads(limit), "read the leads")
    if as_json:
        print(json.dumps(leads, indent=2, default=str))
        return
    table = Table("lead", "email", "name", "company", "stage", "inquiries", "created")
    for lead in leads:
        name = " ".join(str(part) for part in (lead.get("first_name"), lead.get("last_name")) if part)
        table.add_row(
            *(
                as_text(value)
                for value in (
                    lead["lead_id"],
                    lead.get("email", ""),
                    name,
                    lead.get("company", ""),
                    lead.get("stage", ""),
                    lead.get("inquiry_count", 0),
                    lead.get("created_at", ""),
                )
            )
        )
    console.print(table)
    console.print(f"{len(leads)} lead(s) shown.")


@leads_app.command("show")
def leads_show(
    id_or_email: LeadArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    as_json: JsonFlag = False,
) -> None:
    """One lead: its profile, why it scored as it did, and every inquiry on its timeline."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    lead_id = stack.lead_id(id_or_email)
    lead = stack.call(lambda: stack.store.get_lead(lead_id), f"read lead {lead_id}")
    if lead is None:
        no_such_lead(stack, id_or_email)
    if as_json:
        print(json.dumps({**lead.profile, "timeline": lead.timeline}, indent=2, default=str))
        return
    profile: Mapping[str, Any] = lead.profile
    table = Table(show_header=False, box=None)
    for key in sorted(profile):
        if key in ("score", "routing"):
            continue  # shown below, reason by reason
        value = profile[key]
        shown = json.dumps(value, default=str, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
        table.add_row(as_text(key), as_text(shown))
    console.print(table)
    print_why(profile)
    print_routing(profile)
    console.print(f"\n[bold]{len(lead.inquiries)} inquiry(ies)[/bold]")
    for entry in lead.inquiries:
        fields = entry.get("fields", {})
        line = (
            f"  {entry['at']}  {entry['inquiry_id']}  {fields.get('inquiry_type', '')}  via {entry.get('channel', '')}"
            f"  {fields.get('utm_source', '')}"
        )
        ignored = entry.get("ignored_fields")
        if ignored:
            line += f"\n    not stored (not leadflow fields, not mapped): {', '.join(map(str, ignored))}"
        console.print(as_text(line), soft_wrap=True)
    history = [entry for entry in lead.timeline if entry.get("type") != "inquiry"]
    if history:
        console.print("\n[bold]History[/bold]")
    for entry in history:
        console.print(as_text(f"  {entry['at']}  {describe_entry(entry)}"), soft_wrap=True)


def describe_entry(entry: Mapping[str, Any]) -> str:
    """One timeline entry in words: a stage change, a routing decision, the SLA timer's steps, a note."""
    kind = entry.get("type", "")
    if kind == "stage_changed":
        return f"{entry.get('from')} -> {entry.get('to')}: {entry.get('reason', '')}"
    if kind in ("routed", "reassigned"):
        decision = entry.get("decision") or {}
        whom = decision.get("owner_name") or f"the {decision.get('queue')} queue"
        return f"{kind} to {whom}: {decision.get('why', '')}"
    if kind == "note":
        return f"note by {entry.get('by', '')}: {entry.get('reason', '')}"
    return f"{kind.replace('_', ' ')}: {entry.get('reason', '')}"


@leads_app.command("restore")
def leads_restore(
    id_or_email: LeadArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Take a lead out of junk: it is qualified again, and the rules never make it junk again."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    lead_id = stack.lead_id(id_or_email)
    current = stack.call(lambda: stack.store.get_profile(lead_id), f"read lead {lead_id}")
    if current is None:
        no_such_lead(stack, id_or_email)
    if current.get("stage") != "junk":
        errors.print(
            as_text(
                f"Lead {lead_id} is {current.get('stage', 'new')}, not junk: only junk leads are restored. "
                f"`{stack.command('leads', 'show', lead_id)}` says why it is where it is."
            )
        )
        raise typer.Exit(1)
    services = stack.services
    try:
        change = stack.call(
            lambda: (
                requalify_lead(
                    lead_id,
                    services,
                    stack.config.qualify,
                    RESTORE_REASON,
                    restore=True,
                    phone_first=stack.config.route.phone_first,
                ).change
            ),
            f"restore lead {lead_id}",
        )
    except Conflict:
        errors.print(as_text(f"Lead {lead_id} kept changing while it was being restored: run the same command again."))
        raise typer.Exit(1) from None
    except (EventsNotPublished, QueueUnavailable) as exc:
        errors.print(
            as_text(
                f"Lead {lead_id} is restored, but its events could not be sent yet ({type(exc).__name__}: {exc}); "
                f"they wait in its outbox and go out with its next change. "
                f"`{stack.command('leads', 'show', lead_id)}` shows where it is now."
            )
        )
        raise typer.Exit(1) from None
    profile = change.profile if change is not None else current
    console.print(
        as_text(f"Restored {lead_id} ({profile.get('email', '')}): {current['stage']} -> {profile['stage']}"),
        soft_wrap=True,
    )
    print_why(profile)


@leads_app.command("follow-up")
def leads_follow_up(
    id_or_email: LeadArgument,
    action: Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")],
    reason: Annotated[str | None, typer.Option(help="reject, junk: a reject reason; lost: a lost reason.")] = None,
    note: Annotated[str | None, typer.Option(help="A note on the lead's timeline (required for note).")] = None,
    amount: Annotated[str | None, typer.Option(help="won: the amount, like 12500.00.")] = None,
    currency: Annotated[str | None, typer.Option(help="won: ISO 4217, one of the client's currencies.")] = None,
    as_rep: Annotated[
        str | None, typer.Option("--as", help="Act as this rep (id or email), as their phone would.")
    ] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Record what happened with a lead: accept, reject, a call's outcome, contacted ... won or lost, a note.

    Ops act on any lead; with --as, as that rep, on their own leads only (as the rep API will).
    """
    from datetime import UTC, datetime

    from leadflow.aws.roster import RosterTable
    from leadflow.follow_up.changes import Actor, FollowUp, FollowUpError, NotYourLead, check_follow_up, follow_up_lead
    from leadflow.lead.lifecycle import InvalidTransition

    if action not in ACTIONS:
        errors.print(as_text(f"{action!r} is not a follow-up: use one of {', '.join(ACTIONS)}"))
        raise typer.Exit(1)
    stack = open_stack(client, clients_dir, use_local, endpoint)
    lead_id = stack.lead_id(id_or_email)
    actor = Actor("ops", name="cli", via="cli")
    if as_rep is not None:
        roster = RosterTable(stack.definition.table("leads").name, stack.aws_client("dynamodb"))
        reps = stack.call(roster.list_reps, "read the roster")
        wanted = as_rep.lower()
        rep = next((r for r in reps if wanted in (r.rep_id, r.email.lower())), None)
        if rep is None:
            errors.print(as_text(f"no rep {as_rep} on the roster; `{stack.command('reps', 'list')}` lists them"))
            raise typer.Exit(1)
        actor = Actor("rep", rep_id=rep.rep_id, name=rep.name, via="cli")
    try:
        follow_up = check_follow_up(
            FollowUp(action, reason=reason, amount=amount, currency=currency, note=note),
            stack.config,
        )
        applied = stack.call(
            lambda: follow_up_lead(lead_id, follow_up, actor, stack.services, stack.config, datetime.now(UTC)),
            f"record {action} on lead {lead_id}",
        )
    except FollowUpError as error:
        errors.print(as_text(f"--{error.field}: {error.problem}"))
        raise typer.Exit(1) from None
    except InvalidTransition as error:
        errors.print(as_text(str(error)))
        raise typer.Exit(1) from None
    except NotYourLead:
        no_such_lead(stack, id_or_email)
    if applied.change is None:
        console.print(
            as_text(f"Nothing to do: the lead is {applied.before.get('stage') if applied.before else '?'} already.")
        )
        return
    console.print(as_text(f"Recorded {action}: the lead is {applied.change.profile.get('stage')} now."))


def no_such_lead(stack: StackAccess, id_or_email: str) -> NoReturn:
    errors.print(
        as_text(
            f"No lead {id_or_email} in client {stack.config.name}. "
            f"`{stack.command('leads', 'list')}` shows the newest leads with their ids and emails."
        )
    )
    raise typer.Exit(1)


def print_why(profile: Mapping[str, Any]) -> None:
    """The score as reasons that add up: the fit rules to fit, the engagement to engagement, both to the total."""
    score = profile.get("score")
    if not score:
        console.print(Text("\nNot scored yet: `leadflow rescore` scores every open lead."))
        return
    console.print(f"\n[bold]Why: score {format_points(score['total'], signed=False)}[/bold]")
    table = Table("kind", "rule", "points", "", box=box.SIMPLE_HEAD, show_edge=False)
    table.columns[2].justify = "right"
    reasons = score.get("reasons", [])
    for part, kinds in (("fit", FIT_KINDS), ("engagement", ("engagement",))):
        for reason in (r for r in reasons if r["kind"] in kinds):
            mark = ""
            if reason.get("disqualify"):
                mark = "disqualifies (overruled: restored)" if profile.get("restored") else "disqualifies: junk"
            table.add_row(as_text(reason["kind"]), as_text(reason["rule"]), format_points(reason["points"]), mark)
        table.add_row("", Text(f"= {part}", style="bold"), Text(format_points(score[part]), style="bold"), "")
        table.add_section()
    table.add_row(
        "",
        Text("= total (fit + engagement)", style="bold"),
        Text(format_points(score["total"]), style="bold"),
        "",
    )
    hand_raises = [r for r in reasons if r["kind"] == HAND_RAISE]
    if hand_raises:
        table.add_section()
    for reason in hand_raises:
        mark = "sales-ready whatever the score"
        table.add_row(Text("hand-raise"), as_text(reason["rule"]), format_points(reason["points"]), mark)
    console.print(table)
    console.print(
        Text(
            f"fit {format_points(score['fit'])} + engagement {format_points(score['engagement'])}"
            f" = total {format_points(score['total'], signed=False)}"
        )
    )


def print_routing(profile: Mapping[str, Any]) -> None:
    """Who owns the lead and why: the rule, the team, the strategy, each rep passed over and the deadline."""
    decision = profile.get("routing")
    if not decision:
        return
    if decision.get("owner"):
        headline = f"Owner: {decision['owner_name']} ({decision['owner']}), team {decision['team']}"
    else:
        headline = f"Waiting in the {decision['queue']} queue: nobody owns it yet"
    console.print(Text(f"\n{headline}", style="bold"))
    console.print(as_text(f"  why: {decision['why']}"), soft_wrap=True)
    if decision.get("strategy"):
        console.print(as_text(f"  strategy: {decision['strategy']}, priority {decision['priority']}"))
    sla = profile.get("sla") or {}
    if sla.get("due_at"):
        verb = "accept" if decision.get("owner") else "claim"
        console.print(as_text(f"  {verb} by: {sla['due_at']} ({sla['deadline_minutes']} working minutes)"))
    passed = decision.get("passed_over") or []
    if passed:
        table = Table("passed over", "why", box=box.SIMPLE_HEAD, show_edge=False)
        for rep in passed:
            table.add_row(as_text(f"{rep['name']} ({rep['rep_id']})"), as_text(rep["reason"]))
        console.print(table)


def as_text(value: object) -> Text:
    """Stored text as text: never rich markup (`[/bold]`) or an emoji code, and no control for the terminal."""
    return Text(_NOT_FOR_TERMINALS.sub(lambda found: f"\\u{ord(found.group()):04x}", str(value)))


def format_points(points: float, signed: bool = True) -> str:
    value = round(float(points), 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    if not value:
        return "0.0"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


@leads_app.command("relink")
def leads_relink(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Put every open lead in its team's work lists (once, for leads stored before the rep API): safe to run again."""
    from botocore.exceptions import BotoCoreError, ClientError

    stack = open_stack(client, clients_dir, use_local, endpoint)
    total = stack.call(stack.store.count, "count the leads")
    linked = 0
    progress = progress_bar()
    with progress:
        task = progress.add_task("Linking open leads", total=total or None)
        try:
            for page in stack.store.pages_of_leads():  # page by page: 100,000 leads never sit in memory at once
                for profile in page:
                    if profile.get("stage") not in CLOSED_FOR_WORK:
                        linked += stack.store.relink(profile["lead_id"])
                    progress.advance(task)
        except (BotoCoreError, ClientError) as exc:
            progress.stop()
            stack.fail(exc, f"go on linking (stopped after {linked} open leads; running it again is safe)")
    console.print(f"Open leads in their teams' work lists (their owners' and the queues): {linked}.")

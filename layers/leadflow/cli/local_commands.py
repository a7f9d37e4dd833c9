"""`leadflow local`: run a client's whole stack on this machine; play SES for a bounce, a complaint or an email.

`leadflow local` alone starts the stack. `leadflow local bounce EMAIL` and `leadflow local
complain EMAIL` play SES's part for a lead's address: they put on moto's default EventBridge bus
the event SES sends there when an email through the stack's configuration set bounces or draws a
complaint (built by leadflow.nurture.ses_events.ses_event), so the stack handles it as in AWS:
its rule copies the event to its SES events queue, and the function suppresses the lead.
`leadflow local unsubscribe-by-email EMAIL` plays the lead's mail app and SES's receiving: it
emails the mailto of List-Unsubscribe in the lead's newest nurture email, and publishes that
email to the topic of the receipt rule that takes its address, as SES does.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer

from leadflow.cli.lead_commands import as_text, no_such_lead
from leadflow.cli.stack_access import (
    DEFAULT_CLIENT,
    DEFAULT_CLIENTS_DIR,
    LOCAL_REGION,
    ClientOption,
    ClientsDir,
    console,
    errors,
    open_stack,
)

local_app = typer.Typer(add_completion=False)

MotoPort = Annotated[int, typer.Option(help="Port of moto's server (the local AWS).")]
EmailArgument = Annotated[str, typer.Argument(help="The lead's email address.", show_default=False)]


@local_app.callback(invoke_without_command=True)
def local(
    ctx: typer.Context,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    moto_port: MotoPort = 4566,
    api_port: Annotated[int, typer.Option(help="Port of the local API.")] = 3000,
    fresh: Annotated[
        bool,
        typer.Option("--fresh", help="Start empty: forget the leads, queued messages and sign-ins of earlier runs."),
    ] = False,
    state_dir: Annotated[
        Path, typer.Option(help="Where the local data is kept between runs (one SQLite file per client).")
    ] = Path(".leadflow/state"),
    clock: Annotated[
        str, typer.Option(help="How fast the schedules' clock runs: 60x makes a minute last a second.")
    ] = "1x",
    clock_start: Annotated[
        str | None,
        typer.Option(
            help="When the schedules' clock starts, ISO 8601 with its offset, like 2026-12-01T08:00:00+00:00 "
            "(now or later; default: now): with --clock, see a week of sends and deadlines in minutes."
        ),
    ] = None,
) -> None:
    """Start the client's whole stack on this machine: moto, functions, API, queue pollers and schedules.

    The data (every table item, queued message and person who signs in) is kept in
    STATE_DIR/CLIENT.sqlite and is there again at the next start; --fresh starts empty.
    With a command (bounce, complain, unsubscribe-by-email), act on the stack that runs instead.
    """
    if ctx.invoked_subcommand is not None:
        _refuse_start_options(ctx)
        return
    from leadflow.local.runtime import LocalOptions, LocalStack
    from leadflow.local.workers import WorkerStartError

    try:
        clock_speed = float(clock.strip().lower().removesuffix("x"))
    except ValueError:
        clock_speed = 0.0
    if not 0 < clock_speed < float("inf"):
        raise typer.BadParameter(f"{clock!r} is not a speed: write it like 60x (or 60)", param_hint="--clock")
    stack = LocalStack(
        LocalOptions(
            client_file=clients_dir / f"{client}.toml",
            host=host,
            moto_port=moto_port,
            api_port=api_port,
            fresh=fresh,
            state_dir=state_dir,
            clock_speed=clock_speed,
            clock_start=_clock_start(clock_start),
        )
    )
    console.print(f"Starting client [bold]{client}[/bold]: moto, resources, function workers...")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stack.start()
        print(stack.describe(), flush=True)
        # Python runs a signal's handler in the main thread only, and a Ctrl-C the kernel hands to
        # another thread does not wake a main thread blocked for good: it wakes twice a second instead.
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except WorkerStartError as exc:  # a handler that does not import: its log says why
        errors.print(f"A function could not start: {exc}", markup=False)
        raise typer.Exit(1) from None
    finally:
        console.print("Stopping...")
        stack.stop()
        console.print("Stopped.")
    # Everything is saved and closed. Freeing a large stack's objects one by one at exit takes
    # longer than the stop itself (20 s at 100,000 leads): leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _refuse_start_options(ctx: typer.Context) -> None:
    """Options written before a command would start a stack, not choose the one the command acts on: say so."""
    sources = {param.opts[0]: ctx.get_parameter_source(param.name) for param in ctx.command.params if param.name}
    given = [option for option, source in sources.items() if source is not None and source.name == "COMMANDLINE"]
    if given:
        errors.print(
            f"{', '.join(given)} before `{ctx.invoked_subcommand}` would start a stack; write the options after it: "
            f"leadflow local {ctx.invoked_subcommand} EMAIL --client NAME --moto-port PORT",
            markup=False,
        )
        raise typer.Exit(2)


@local_app.command("bounce")
def local_bounce(
    email: EmailArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    moto_port: MotoPort = 4566,
) -> None:
    """Report a hard bounce of the lead's address, as SES does: the running stack takes it out of nurture."""
    put_ses_event("bounce", email, client, clients_dir, moto_port)


@local_app.command("complain")
def local_complain(
    email: EmailArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    moto_port: MotoPort = 4566,
) -> None:
    """Report that the lead marked a nurture email as spam, as SES does: the running stack takes it out of nurture."""
    put_ses_event("complaint", email, client, clients_dir, moto_port)


def put_ses_event(kind: Literal["bounce", "complaint"], email: str, client: str, clients_dir: Path, port: int) -> None:
    """Put the event SES would send for an email to the lead on moto's default bus: the path AWS takes.

    The lead id comes from the running stack's own lead id key (its secret in moto), as the
    function's tag would carry it; an address with no lead is refused, since SES only reports
    on email it sent.
    """
    from leadflow.nurture.ses_events import ses_event

    stack = open_stack(client, clients_dir, use_local=True, endpoint=f"http://127.0.0.1:{port}")
    lead_id = stack.lead_id(email)
    if stack.call(lambda: stack.store.get_profile(lead_id), f"read lead {lead_id}") is None:
        no_such_lead(stack, email)
    configuration_set = stack.definition.email("email").configuration_set
    now = datetime.now(UTC)
    event = ses_event(kind, email, lead_id, configuration_set, f"local-{uuid.uuid4()}-000000", now,
                      sender=stack.config.notify.from_address, region=LOCAL_REGION)  # fmt: skip
    entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
             "Time": now, "EventBusName": "default"}  # fmt: skip
    events = stack.aws_client("events")
    answer = stack.call(lambda: events.put_events(Entries=[entry]), "put the SES event on the default event bus")
    if answer.get("FailedEntryCount"):
        [failed] = answer["Entries"]
        errors.print(f"The default event bus refused the event: {failed.get('ErrorCode')} {failed.get('ErrorMessage')}")
        raise typer.Exit(1)
    what = "a hard bounce (Permanent)" if kind == "bounce" else "a complaint (abuse)"
    console.print(
        as_text(
            f'Put SES\'s "{event["detail-type"]}" event, {what} of an email to {email} (lead {lead_id}, configuration '
            f"set {configuration_set}), on the local default event bus.\n"
            f"The stack suppresses the address within a few seconds: `{stack.command('leads', 'show', email)}` "
            "then shows nurture.suppressed, and the lead gets no nurture email again."
        )
    )


@local_app.command("unsubscribe-by-email")
def local_unsubscribe_by_email(
    email: EmailArgument,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    moto_port: MotoPort = 4566,
    api_port: Annotated[int, typer.Option(help="Port of the local API (its outbox).")] = 3000,
) -> None:
    """Unsubscribe as Apple Mail's unsubscribe banner does: email the mailto in List-Unsubscribe of the lead's
    newest nurture email, and let the stack's SES receipt rule take it."""
    from urllib.parse import parse_qs, unquote, urlsplit

    from leadflow.local.outbox import OutboxUnavailable, read_outbox

    stack = open_stack(client, clients_dir, use_local=True, endpoint=f"http://127.0.0.1:{moto_port}")
    try:
        emails = read_outbox(f"http://127.0.0.1:{api_port}", to=email, most=50)
    except OutboxUnavailable as exc:
        errors.print(f"The local stack's outbox is not reachable ({exc.reason}): start it with make run.", markup=False)
        raise typer.Exit(1) from None
    mailto = next((m for e in emails for m in _mailtos(e.header("List-Unsubscribe") or "")), None)
    if mailto is None:
        errors.print(
            f"No email to {email} in the outbox offers to unsubscribe by email (a List-Unsubscribe mailto): only "
            f"nurture emails do. `{stack.command('outbox')} --to {email}` lists what it was sent.",
            markup=False,
        )
        raise typer.Exit(1)
    parts = urlsplit(mailto)
    address, subject = unquote(parts.path), parse_qs(parts.query).get("subject", [""])[0]
    ses, sns = stack.aws_client("ses"), stack.aws_client("sns")
    active = stack.call(ses.describe_active_receipt_rule_set, "read SES's active receipt rule set")
    topics = [
        action["SNSAction"]["TopicArn"]
        for rule in active.get("Rules", [])
        if rule.get("Enabled") and _receives(rule.get("Recipients", []), address)
        for action in rule.get("Actions", [])
        if "SNSAction" in action
    ]
    if not topics:
        errors.print(
            f"SES would bounce an email to {address}: no rule of the active receipt rule set takes it. Restart the "
            "local stack with this client file (make run) to make its rule.",
            markup=False,
        )
        raise typer.Exit(1)
    from leadflow.nurture.unsubscribe_mail import received_notification

    message_id = f"local-{uuid.uuid4().hex}"
    for topic_arn in topics:  # what SES does for the rule: publish the email to the topic, in its notification
        notification = received_notification(
            email, address, subject, message_id, datetime.now(UTC), topic_arn=topic_arn
        )
        publish = {"TopicArn": topic_arn, "Subject": "Amazon SES Email Receipt Notification",
                   "Message": json.dumps(notification)}  # fmt: skip
        stack.call(lambda: sns.publish(**publish), "publish the received email to the stack's topic")  # noqa: B023
    console.print(
        as_text(
            f'Emailed {address} from {email} with the subject "{subject[:40]}...", as a mail app does for the '
            "List-Unsubscribe mailto, and SES's receipt rule published it to the stack's topic.\n"
            f"The stack suppresses the address within a few seconds: `{stack.command('leads', 'show', email)}` "
            "then shows nurture.suppressed (unsubscribed), and the lead gets no nurture email again."
        )
    )


def _mailtos(list_unsubscribe: str) -> list[str]:
    """The mailto URIs of a List-Unsubscribe header (RFC 2369: <uri>, <uri>)."""
    uris = [part.strip().strip("<>") for part in list_unsubscribe.split(",")]
    return [uri for uri in uris if uri.lower().startswith("mailto:")]


def _receives(recipients: list[str], address: str) -> bool:
    """Whether a receipt rule's recipients take the address, as SES matches them: none (every address), the
    address itself, its domain, or ".a-domain" (any subdomain of it)."""
    domain = address.rpartition("@")[2].lower()
    wanted = [r.lower() for r in recipients]
    return not wanted or any(r in (address.lower(), domain) or (r[:1] == "." and domain.endswith(r)) for r in wanted)


def _clock_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        start = None
    if start is None or start.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} is not a moment with its offset: write it like 2026-12-01T08:00:00+00:00",
            param_hint="--clock-start",
        )
    if start < datetime.now(UTC):
        raise typer.BadParameter(
            f"{value} is in the past: what the stack stores is stamped now, so start the clock now or later",
            param_hint="--clock-start",
        )
    return start

"""`leadflow outbox`: the emails the local stack's SES would have sent, newest first.

It reads the outbox a running `leadflow local` serves on its API (`/outbox.json`, see
`leadflow.local.outbox`), so it works from a second terminal while `make run` runs in the first.
Everything an email holds was written, at least in part, by a lead: it is printed as text,
never as Rich markup.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from leadflow.cli.lead_commands import as_text
from leadflow.cli.stack_access import DEFAULT_CLIENT, DEFAULT_CLIENTS_DIR, ClientOption, ClientsDir, console, errors
from leadflow.config import load_client_config
from leadflow.local.outbox import OutboxEmail, OutboxUnavailable, read_outbox

LOCAL_HOST = "127.0.0.1"  # where `leadflow local` serves by default
DEFAULT_API_PORT = 3000  # `leadflow local`'s default --api-port
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058's List-Unsubscribe-Post value

ApiPortOption = Annotated[int, typer.Option("--api-port", help="Port of the API that `leadflow local` serves.")]
ToOption = Annotated[str | None, typer.Option("--to", metavar="EMAIL", help="Only the emails to this address.")]
LastOption = Annotated[int, typer.Option("--last", min=1, metavar="N", help="How many of the newest emails to list.")]
ShowOption = Annotated[
    int | None,
    typer.Option("--show", min=1, metavar="N", help="Print the Nth email of the list (1: the newest) whole."),
]


def outbox(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    api_port: ApiPortOption = DEFAULT_API_PORT,
    to: ToOption = None,
    last: LastOption = 20,
    show: ShowOption = None,
) -> None:
    """The emails the local stack sent through SES (moto keeps them): time, recipient, subject, unsubscribe header.

    --show N prints one whole: every header, then its text body.
    """
    config = load_client_config(clients_dir / f"{client}.toml")
    api_url = f"http://{LOCAL_HOST}:{api_port}"
    try:
        emails = read_outbox(api_url, to=to, most=max(last, show or 0) + 1)  # one more: whether there are more
    except OutboxUnavailable as exc:
        serve = "leadflow local" + ("" if client == DEFAULT_CLIENT else f" --client {client}")
        serve += "" if api_port == DEFAULT_API_PORT else f" --api-port {api_port}"
        errors.print(
            f"The local stack is not running at {api_url} ({exc.reason}): start it with make run "
            f"(or `{serve}`), then try again.",
            markup=False,
        )
        raise typer.Exit(1) from None
    if show is not None:
        _print_whole(emails, show, to)
        return
    whose = f" to {to}" if to else ""
    if not emails:
        console.print(f"No email{whose} in the outbox of {config.display_name or config.name} yet.", markup=False)
        return
    table = Table(title=as_text(f"Outbox of {config.display_name or config.name}{whose}"))
    table.add_column("#", justify="right")
    table.add_column("sent (UTC)", no_wrap=True)
    for heading in ("to", "subject", "unsubscribe"):
        table.add_column(heading)
    for number, email in enumerate(emails[:last], start=1):
        table.add_row(
            str(number),
            as_text(email.sent_at.strftime("%Y-%m-%d %H:%M:%S") if email.sent_at else "-"),
            as_text(", ".join(email.to)),
            as_text(email.subject),
            as_text(unsubscribe_of(email)),
        )
    console.print(table)
    shown = min(last, len(emails))
    more = f"the {shown} newest email(s){whose} shown, --last N shows more" if len(emails) > last else (
        f"{shown} email(s){whose}, newest first")  # fmt: skip
    console.print(f"{more}; --show N prints the Nth whole.", markup=False)


def unsubscribe_of(email: OutboxEmail) -> str:
    """The List-Unsubscribe the email carries, marked one-click when it has RFC 8058's POST header; '-' if none."""
    value = email.header("List-Unsubscribe")
    if value is None:
        return "-"
    post = email.header("List-Unsubscribe-Post")
    return f"{value} (one-click)" if post is not None and post.strip() == ONE_CLICK else value


def _print_whole(emails: list[OutboxEmail], number: int, to: str | None) -> None:
    if number > len(emails):
        whose = f" to {to}" if to else ""
        errors.print(f"There is no email {number}: the outbox holds {len(emails)} email(s){whose}.", markup=False)
        raise typer.Exit(1)
    email = emails[number - 1]
    for name, value in email.headers:
        console.print(as_text(f"{name}: {value}"), soft_wrap=True)
    console.print()
    if email.text is not None:
        console.print(as_text(email.text), soft_wrap=True)
    else:
        console.print("(no text body; the HTML body is on the local API's /outbox page, from `make run`)", markup=False)

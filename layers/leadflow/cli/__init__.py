"""The `leadflow` command: run the stack locally, look at leads, start a client's config."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from leadflow.config import CLIENT_NAME, ClientConfig, ConfigError, load_client_config
from leadflow.definition import build_definition
from leadflow.ids import lead_id_for
from leadflow.inquiry import normalize_email
from leadflow.leads_store import LeadStore

T = TypeVar("T")

app = typer.Typer(help="leadflow: open lead management on AWS.", no_args_is_help=True, add_completion=False)
leads_app = typer.Typer(help="Look at the leads of a deployed or local stack.", no_args_is_help=True)
client_app = typer.Typer(help="Client config files (clients/NAME.toml).", no_args_is_help=True)
app.add_typer(leads_app, name="leads")
app.add_typer(client_app, name="client")
console = Console()
errors = Console(stderr=True, soft_wrap=True)

ClientOption = Annotated[str, typer.Option("--client", "-c", help="Client name: clients/NAME.toml.")]
ClientsDir = Annotated[Path, typer.Option("--clients-dir", help="Folder of client config files.")]
LocalFlag = Annotated[bool, typer.Option("--local", help="Read the stack `leadflow local` runs, not AWS.")]
EndpointOption = Annotated[str, typer.Option("--endpoint", help="The local stack's AWS endpoint (with --local).")]


def main() -> None:
    try:
        app()
    except ConfigError as exc:
        print(exc, file=sys.stderr)  # plain, unwrapped: the lines name file, line and setting
        sys.exit(2)


@app.command()
def local(
    client: ClientOption = "demo",
    clients_dir: ClientsDir = Path("clients"),
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    moto_port: Annotated[int, typer.Option(help="Port of moto's server (the local AWS).")] = 4566,
    api_port: Annotated[int, typer.Option(help="Port of the local API.")] = 3000,
) -> None:
    """Start the client's whole stack on this machine: moto, functions, API and queue pollers."""
    from leadflow.local.runtime import LocalOptions, LocalStack

    stack = LocalStack(
        LocalOptions(client_file=clients_dir / f"{client}.toml", host=host, moto_port=moto_port, api_port=api_port)
    )
    console.print(f"Starting client [bold]{client}[/bold]: moto, resources, function workers...")
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stack.start()
        print(stack.describe(), flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        console.print("Stopping...")
        stack.stop()
        console.print("Stopped.")


def _lead_store(client: str, clients_dir: Path, use_local: bool, endpoint: str) -> tuple[ClientConfig, LeadStore]:
    config = load_client_config(clients_dir / f"{client}.toml")
    table = build_definition(config).table("leads").name
    import boto3

    if use_local:
        from leadflow.local.runtime import local_aws_environment

        env = local_aws_environment(endpoint, "us-east-1")
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        client_ = session.client("dynamodb", endpoint_url=endpoint)
    else:
        client_ = boto3.Session(region_name=config.aws.region or os.environ.get("AWS_REGION")).client("dynamodb")
    return config, LeadStore(table, client_)


def _read(action: Callable[[], T], what: str) -> T:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return action()
    except (BotoCoreError, ClientError) as exc:
        errors.print(f"Could not read {what}: {exc}", markup=False)
        errors.print(
            "With --local, is `make run` running? Without it, are your AWS credentials and the client's region set?"
        )
        raise typer.Exit(1) from None


@leads_app.command("list")
def leads_list(
    client: ClientOption = "demo",
    clients_dir: ClientsDir = Path("clients"),
    use_local: LocalFlag = False,
    endpoint: EndpointOption = "http://127.0.0.1:4566",
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many of the newest leads.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The newest leads, newest first."""
    _, store = _lead_store(client, clients_dir, use_local, endpoint)
    leads = _read(lambda: store.list_leads(limit), "the leads")
    if as_json:
        print(json.dumps(leads, indent=2, default=str))
        return
    table = Table("lead", "email", "name", "company", "stage", "inquiries", "created")
    for lead in leads:
        name = " ".join(filter(None, (lead.get("first_name"), lead.get("last_name"))))
        table.add_row(
            lead["lead_id"],
            lead.get("email", ""),
            name,
            lead.get("company", ""),
            lead.get("stage", ""),
            str(lead.get("inquiry_count", 0)),
            lead.get("created_at", ""),
        )
    console.print(table)
    console.print(f"{len(leads)} lead(s) shown.")


@leads_app.command("show")
def leads_show(
    id_or_email: Annotated[str, typer.Argument(help="A lead id (ld_...) or the person's email.")],
    client: ClientOption = "demo",
    clients_dir: ClientsDir = Path("clients"),
    use_local: LocalFlag = False,
    endpoint: EndpointOption = "http://127.0.0.1:4566",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One lead: its profile and every inquiry on its timeline."""
    config, store = _lead_store(client, clients_dir, use_local, endpoint)
    lead_id = lead_id_for(config.name, normalize_email(id_or_email)) if "@" in id_or_email else id_or_email
    lead = _read(lambda: store.get_lead(lead_id), f"lead {lead_id}")
    if lead is None:
        errors.print(f"No lead {id_or_email} in client {config.name}. `leadflow leads list` shows the newest.")
        raise typer.Exit(1)
    if as_json:
        print(json.dumps({**lead.profile, "timeline": lead.timeline}, indent=2, default=str))
        return
    table = Table(show_header=False, box=None)
    for key in sorted(lead.profile):
        table.add_row(
            key,
            json.dumps(lead.profile[key], default=str)
            if isinstance(lead.profile[key], dict)
            else str(lead.profile[key]),
        )
    console.print(table)
    console.print(f"\n[bold]{len(lead.inquiries)} inquiry(ies)[/bold]")
    for entry in lead.inquiries:
        fields = entry.get("fields", {})
        console.print(
            f"  {entry['at']}  {entry['inquiry_id']}  {fields.get('inquiry_type', '')}  via {entry.get('channel', '')}"
            f"  {fields.get('utm_source', '')}",
            markup=False,
            soft_wrap=True,
        )


@client_app.command("new")
def client_new(
    name: Annotated[str, typer.Argument(help="Client name: lower-case letters, digits and -, like acme-eu.")],
    clients_dir: ClientsDir = Path("clients"),
) -> None:
    """Write clients/NAME.toml, a commented config to start from."""
    if not CLIENT_NAME.match(name):
        errors.print(
            f"{name!r} cannot be a client name: use 3 to 32 lower-case letters, digits and -, starting with a letter."
        )
        raise typer.Exit(2)
    path = clients_dir / f"{name}.toml"
    if path.exists():
        errors.print(f"{path} exists already; edit it, or pick another name.")
        raise typer.Exit(1)
    clients_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(CLIENT_TEMPLATE.format(name=name), encoding="utf-8")
    load_client_config(path)  # the template must always be a valid config
    console.print(
        f"Wrote {path}. Edit the origins and URLs, then `make synth CLIENT={name}` and `make deploy CLIENT={name}`."
    )


CLIENT_TEMPLATE = """\
# leadflow client config. One file per client; the stack is Leads-{name}.
# Checked at synth, at `make run` and when a function starts: a mistake names the line.

# Must match the file name: lower-case letters, digits and -.
name = "{name}"
# How people and reports name the client.
display_name = "{name}"

# Where the stack deploys. Leave out to use your AWS profile's account and region.
[aws]
# account = "123456789012"
# region = "eu-west-1"

[capture]
# Websites allowed to post from a browser: scheme://host[:port], no path.
allowed_origins = ["https://www.example.com"]
# Where a plain HTML form sends the visitor after a good post.
thank_you_url = "https://www.example.com/thank-you"
# ...and after a bad one (the failing fields are added to the query). Leave out for a plain error page.
error_url = "https://www.example.com/contact?error=1"
# A hidden form field that people never fill in and bots do: such posts are answered
# as a success and stored nowhere.
honeypot_field = "website"
# Largest body accepted, in KB (a bigger one gets 413).
max_body_kb = 32
# Longest value of a single field, and of the message, in characters.
max_field_chars = 500
max_message_chars = 5000
# How many custom.* fields one inquiry may carry (0 to 30).
max_custom_fields = 30

[monitoring]
# Who hears about dead-lettered inquiries and function errors.
# alarm_email = "ops@example.com"
# Days to keep function logs: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...
log_retention_days = 30
"""

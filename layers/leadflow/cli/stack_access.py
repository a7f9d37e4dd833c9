"""How the CLI reaches a client's stack: its config, its resources, and the services intake uses.

Every command that touches a stack opens it with `open_stack`: the client file is read
(so a changed lead definition takes effect), resource names come from the stack
definition, and boto3 talks either to AWS (the user's credentials, the client's region)
or, with --local, to the moto server `leadflow local` runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from leadflow.aws.event_bus import EventBus
from leadflow.aws.leads_table import LeadsTable
from leadflow.aws.queues import FifoQueue
from leadflow.capture.inquiry import normalize_email
from leadflow.config import ClientConfig, load_client_config
from leadflow.definition import StackDefinition, build_definition
from leadflow.lead.change import LeadServices
from leadflow.lead.ids import LeadIds
from leadflow.nurture.sequences import nurture_keeper
from leadflow.report.figures import team_minutes

T = TypeVar("T")

DEFAULT_CLIENT = "demo"
DEFAULT_CLIENTS_DIR = Path("clients")
DEFAULT_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "us-east-1"  # the region `leadflow local` creates its resources in

console = Console()
errors = Console(stderr=True, soft_wrap=True)

ClientOption = Annotated[str, typer.Option("--client", "-c", help="Client name: clients/NAME.toml.")]
ClientsDir = Annotated[Path, typer.Option("--clients-dir", help="Folder of client config files.")]
LocalFlag = Annotated[bool, typer.Option("--local", help="Use the stack `leadflow local` runs, not AWS.")]
EndpointOption = Annotated[str, typer.Option("--endpoint", help="The local stack's AWS endpoint (with --local).")]


@dataclass
class StackAccess:
    config: ClientConfig
    config_file: Path
    definition: StackDefinition
    session: Any  # boto3.Session, imported lazily to keep the CLI quick to start
    endpoint: str | None  # None: AWS itself

    @property
    def is_local(self) -> bool:
        return self.endpoint is not None

    def aws_client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    @cached_property
    def store(self) -> LeadsTable:
        return LeadsTable(self.definition.table("leads").name, self.aws_client("dynamodb"))

    @cached_property
    def services(self) -> LeadServices:
        """What the intake function works with (store, bus, routing queue), on this stack."""
        sqs = self.aws_client("sqs")
        routing_queue = self.definition.queue("routing").name
        url = self.call(lambda: sqs.get_queue_url(QueueName=routing_queue)["QueueUrl"], f"find queue {routing_queue}")
        return LeadServices(
            client=self.config.name,
            store=self.store,
            bus=EventBus(self.definition.event_bus("events").name, self.aws_client("events")),
            queues={"routing": FifoQueue(url, sqs)},
            keep=nurture_keeper(self.config),  # a lead rejected back to nurture, or lost, enters its sequences
            working_minutes=team_minutes(self.config),
        )

    @cached_property
    def lead_ids(self) -> LeadIds:
        """How the stack names its leads: keyed with its lead id key, read from its secret."""
        secrets = self.aws_client("secretsmanager")
        name = self.definition.secret("lead-id-key").name
        key = self.call(lambda: secrets.get_secret_value(SecretId=name)["SecretString"], f"read secret {name}")
        return LeadIds(self.config.name, key.encode())

    @cached_property
    def reports_bucket(self) -> str:
        """The bucket the weekly report keeps its CSVs in: the stack's ReportsBucketName output (locally, its name)."""
        from leadflow.local.resources import local_bucket_name

        if self.is_local:
            return local_bucket_name(self.definition, self.definition.bucket("reports"))
        cloudformation = self.aws_client("cloudformation")
        name = self.definition.stack_name
        [stack] = self.call(lambda: cloudformation.describe_stacks(StackName=name)["Stacks"], f"read stack {name}")
        outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
        if "ReportsBucketName" not in outputs:
            errors.print(f"Stack {name} has no reports bucket yet: deploy it again (`make deploy`).", markup=False)
            raise typer.Exit(1)
        return str(outputs["ReportsBucketName"])

    def lead_id(self, id_or_email: str) -> str:
        """A lead id as given, or the id the client's stack derives from an email."""
        return self.lead_ids.lead_id(normalize_email(id_or_email)) if "@" in id_or_email else id_or_email

    def command(self, *words: str) -> str:
        """A leadflow command line that reaches this same stack, for hints in messages."""
        flags = []
        if self.config.name != DEFAULT_CLIENT:
            flags.append(f"--client {self.config.name}")
        if self.config_file.parent != DEFAULT_CLIENTS_DIR:
            flags.append(f"--clients-dir {self.config_file.parent}")
        if self.endpoint is not None:
            flags.append("--local" if self.endpoint == DEFAULT_ENDPOINT else f"--local --endpoint {self.endpoint}")
        return " ".join(["leadflow", *words, *flags])

    def call(self, action: Callable[[], T], doing: str) -> T:
        """Run an AWS call; on failure say what failed and what to check, and exit 1."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return action()
        except (BotoCoreError, ClientError) as exc:
            self.fail(exc, doing)

    def fail(self, exc: Exception, doing: str) -> NoReturn:
        errors.print(f"Could not {doing}: {exc}", markup=False)
        if self.is_local:
            serve = (
                "leadflow local"
                if self.config.name == DEFAULT_CLIENT
                else f"leadflow local --client {self.config.name}"
            )
            errors.print(f"Is `{serve}` serving {self.endpoint}? (`make run` serves client demo.)", markup=False)
        else:
            region = self.session.region_name or "(none set)"
            errors.print(
                f"Are your AWS credentials set, and is stack {self.config.stack_name} deployed in region {region}? "
                "For the local stack add --local.",
                markup=False,
            )
        raise typer.Exit(1)


def open_stack(client: str, clients_dir: Path, use_local: bool, endpoint: str) -> StackAccess:
    config_file = clients_dir / f"{client}.toml"
    config = load_client_config(config_file)
    import boto3

    if use_local:
        from leadflow.local.runtime import local_aws_environment

        env = local_aws_environment(endpoint, LOCAL_REGION)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env["AWS_SESSION_TOKEN"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        return StackAccess(config, config_file, build_definition(config), session, endpoint)
    session = boto3.Session(region_name=config.aws.region or os.environ.get("AWS_REGION"))
    return StackAccess(config, config_file, build_definition(config), session, None)


def progress_bar() -> Any:
    """The bar a long command shows on stderr: what it does, the bar, done of total, time spent (rich Progress)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=Console(stderr=True))

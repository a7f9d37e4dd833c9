"""`leadflow webhooks ...`: the client's webhooks, the deliveries that failed every try, and the signing key.

A delivery that failed its last try waits in the webhooks dead-letter queue (leadflow.webhooks).
`failed` lists those without taking them: each is hidden while the listing runs (at most
HIDE_WHILE_READING_S), then made visible again. `resend` puts them back on the webhooks queue,
where they get every try again, and takes each off the dead-letter queue once it is sent.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any, NoReturn

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
)
from leadflow.config import load_client_config
from leadflow.webhooks import (
    EVENT_ID_HEADER,
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    FailedDelivery,
    describe_message,
    is_delivery,
)

WEBHOOKS_QUEUE = "webhooks"  # its key in the definition
WEBHOOK_KEY = "webhook-key"
HIDE_WHILE_READING_S = 30  # a dead letter being listed or resent is hidden from other readers this long at most

webhooks_app = typer.Typer(
    help="The client's webhooks ([[notify.webhooks]] in its file): what each gets, the deliveries that failed "
    "every try, sending those again, and the key receivers verify the Leadflow-Signature header with.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@webhooks_app.command("list")
def webhooks_list(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    as_json: JsonFlag = False,
) -> None:
    """The webhooks the client file configures: each one's URL and the events it gets."""
    config = load_client_config(clients_dir / f"{client}.toml")
    hooks = config.notify.webhooks
    if as_json:
        print(json.dumps([hook.model_dump() for hook in hooks], indent=2))
        return
    if not hooks:
        console.print(
            as_text(
                f"Client {config.name} has no webhooks: add a [[notify.webhooks]] (name, url, events) to "
                f"{clients_dir / (client + '.toml')} and deploy."
            )
        )
        return
    table = Table("webhook", "url", "events")
    for hook in hooks:
        table.add_row(as_text(hook.name), as_text(hook.url), as_text(", ".join(hook.events)))
    console.print(table)
    console.print(
        f"Each is POSTed as JSON with the headers {EVENT_ID_HEADER} and {SIGNATURE_HEADER} "
        "(t=<unix seconds>,v1=<HMAC-SHA256 hex>); `leadflow webhooks key` prints the key to verify it with.",
        markup=False,
    )


@webhooks_app.command("failed")
def webhooks_failed(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Read at most this many.")] = 1000,
    as_json: JsonFlag = False,
) -> None:
    """The deliveries that failed every try and wait in the dead-letter queue (left there)."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    dead_letters = DeadLetters(stack)
    messages = dead_letters.take(limit)
    dead_letters.release(messages)
    listed = [_listed(message) for message in messages]
    if as_json:
        print(json.dumps(listed, indent=2))
        return
    if not listed:
        console.print(f"No failed webhook deliveries: {dead_letters.name} is empty.", markup=False)
        return
    table = Table("webhook", "event", "lead", "event id", "first try", "receives")
    for row in listed:
        cells = (
            row["webhook"] or "(not split yet)",
            row["event_type"],
            row["lead_id"],
            row["event_id"],
            row["first_try"],
            row["receives"],
        )
        table.add_row(*(as_text(cell) for cell in cells))
    console.print(table)
    log = f".leadflow/logs/{WEBHOOKS_QUEUE}.log" if stack.is_local else f"the {WEBHOOKS_QUEUE} function's log group"
    console.print(
        as_text(
            f"{len(listed)} delivery(ies) failed {MAX_ATTEMPTS} tries. Why each try failed is in {log} "
            f"(webhook_failed, with the event id). `{stack.command('webhooks', 'resend')}` sends them again."
        )
    )


@webhooks_app.command("resend")
def webhooks_resend(
    webhook: Annotated[
        str | None, typer.Option("--webhook", help="Only the deliveries to this webhook (its name in the client file).")
    ] = None,
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Send the failed deliveries again: back on the webhooks queue, each gets every try again."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    configured = [hook.name for hook in stack.config.notify.webhooks]
    if webhook is not None and webhook not in configured:
        _fail(f"No webhook {webhook!r} in {stack.config_file}: its webhooks are {', '.join(configured) or 'none'}.")
    dead_letters = DeadLetters(stack)
    messages = dead_letters.take(10_000)
    chosen: list[dict[str, Any]] = []
    left: list[dict[str, Any]] = []
    for message in messages:
        body = _parsed(message)
        wanted = body is not None and (
            (is_delivery(body) and body["webhook"] in configured and webhook in (None, body["webhook"]))
            or (not is_delivery(body) and webhook is None)  # an event never split: split and sent to all again
        )
        (chosen if wanted else left).append(message)
    dead_letters.release(left)
    sent = dead_letters.send_back(chosen)
    kept = f"; {len(left)} left in {dead_letters.name}" if left else ""
    console.print(
        f"Sent {sent} failed delivery(ies) back to the webhooks queue: each gets {MAX_ATTEMPTS} tries again{kept}.",
        markup=False,
    )
    if left and webhook is None:
        console.print(
            as_text(
                f"Those left are for webhooks no longer in {stack.config_file} (or unreadable): "
                f"`{stack.command('webhooks', 'failed')}` lists them."
            )
        )


@webhooks_app.command("key")
def webhooks_key(
    client: ClientOption = DEFAULT_CLIENT,
    clients_dir: ClientsDir = DEFAULT_CLIENTS_DIR,
    use_local: LocalFlag = False,
    endpoint: EndpointOption = DEFAULT_ENDPOINT,
) -> None:
    """Print the key webhooks are signed with, for the receivers to verify Leadflow-Signature (keep it secret)."""
    stack = open_stack(client, clients_dir, use_local, endpoint)
    _require_webhooks(stack)
    secrets = stack.aws_client("secretsmanager")
    name = stack.definition.secret(WEBHOOK_KEY).name
    key = stack.call(lambda: secrets.get_secret_value(SecretId=name)["SecretString"], f"read secret {name}")
    print(key)


class DeadLetters:
    """The webhooks dead-letter queue of a stack, read without taking anything off it unless asked."""

    def __init__(self, stack: StackAccess) -> None:
        _require_webhooks(stack)
        self.stack = stack
        self.sqs = stack.aws_client("sqs")
        spec = stack.definition.queue(WEBHOOKS_QUEUE)
        self.name = spec.dead_letter_name
        self.url = self._url(spec.dead_letter_name)
        self.queue_url = self._url(spec.name)

    def take(self, limit: int) -> list[dict[str, Any]]:
        """Up to limit messages, each hidden for HIDE_WHILE_READING_S (release() shows them again)."""
        taken: dict[str, dict[str, Any]] = {}
        while len(taken) < limit:
            batch = self.stack.call(
                lambda: self.sqs.receive_message(
                    QueueUrl=self.url,
                    MaxNumberOfMessages=min(10, limit - len(taken)),
                    VisibilityTimeout=HIDE_WHILE_READING_S,
                    WaitTimeSeconds=1,  # a long poll asks every SQS server: an empty answer means none is left
                    MessageSystemAttributeNames=["All"],
                ).get("Messages", []),
                f"read {self.name}",
            )
            if not batch:
                break
            taken.update((message["MessageId"], message) for message in batch)
        return list(taken.values())

    def release(self, messages: list[dict[str, Any]]) -> None:
        """Make taken messages visible again at once."""
        for start in range(0, len(messages), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"], "VisibilityTimeout": 0}
                for index, message in enumerate(messages[start : start + 10])
            ]
            self.stack.call(
                partial(self.sqs.change_message_visibility_batch, QueueUrl=self.url, Entries=entries),
                f"put messages back on {self.name}",
            )

    def send_back(self, messages: list[dict[str, Any]]) -> int:
        """Send each to the webhooks queue, then delete it from the dead-letter queue; how many were sent."""
        for message in messages:
            self.stack.call(
                partial(self.sqs.send_message, QueueUrl=self.queue_url, MessageBody=message["Body"]),
                "send a delivery back to the webhooks queue",
            )
            self.stack.call(
                partial(self.sqs.delete_message, QueueUrl=self.url, ReceiptHandle=message["ReceiptHandle"]),
                f"delete a resent delivery from {self.name} (it is on the webhooks queue: it may be sent twice)",
            )
        return len(messages)

    def _url(self, name: str) -> str:
        return str(self.stack.call(lambda: self.sqs.get_queue_url(QueueName=name)["QueueUrl"], f"find queue {name}"))


def _listed(message: dict[str, Any]) -> dict[str, Any]:
    body = _parsed(message)
    described = describe_message(body) if body is not None else FailedDelivery("", "(unreadable)", "", "")
    attributes = message.get("Attributes", {})
    sent_ms = attributes.get("SentTimestamp")
    first_try = datetime.fromtimestamp(int(sent_ms) / 1000, UTC).isoformat(timespec="seconds") if sent_ms else ""
    return {
        **asdict(described),
        "first_try": first_try,
        "receives": int(attributes.get("ApproximateReceiveCount", 0)),
        "message_id": message["MessageId"],
    }


def _parsed(message: dict[str, Any]) -> dict[str, Any] | None:
    try:
        body = json.loads(message["Body"])
    except json.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _require_webhooks(stack: StackAccess) -> None:
    if not stack.config.notify.webhooks:
        _fail(
            f"Client {stack.config.name} has no webhooks, so its stack has no webhooks queue or key: add a "
            f"[[notify.webhooks]] (name, url, events) to {stack.config_file} and deploy."
        )


def _fail(message: str) -> NoReturn:
    errors.print(as_text(message))
    raise typer.Exit(1)

"""Start a client's whole stack locally from the same definition CDK deploys.

moto's server stands in for AWS (boto3 reaches it through AWS_ENDPOINT_URL, so no handler
changes), the definition's tables, queues and user pools are created in it, every function
runs in its own worker processes, the routes are served over HTTP as API Gateway proxy events
(a route that names a user pool behind API Gateway's Cognito authorizer), every queue
trigger is polled with Lambda's batch semantics, and every schedule ticks on a clock that
can run faster than the real one (`LocalOptions.clock_speed`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from leadflow.config import ClientConfig, config_snapshot, load_client_config
from leadflow.definition import DEFAULT_BUS, StackDefinition, build_definition
from leadflow.lead.ids import new_lead_id_key
from leadflow.local.api import LocalApi, Page
from leadflow.local.authorizer import CognitoAuthorizer, issuer, jwks_url
from leadflow.local.pollers import QueuePoller
from leadflow.local.resources import LocalResources, create_resources
from leadflow.local.scheduler import Clock, Scheduler, local_schedules
from leadflow.local.state import LocalState
from leadflow.local.workers import FunctionPool
from leadflow.snippet import form_snippet

OUTBOX_PAGE_MOST = 100  # emails the local API's /outbox page lists, the newest
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local"}
# moto derives a user pool's id (and its app client's) from its name and settings instead of drawing
# a random one: the pool created again at the next start has the same id, so the people restored into
# it (leadflow.local.state) keep signing in, and a token issued before the restart still names its issuer.
MOTO_COGNITO_IDS = {
    "MOTO_COGNITO_IDP_USER_POOL_ID_STRATEGY": "HASH",
    "MOTO_COGNITO_IDP_USER_POOL_CLIENT_ID_STRATEGY": "HASH",
}


@dataclass
class LocalOptions:
    client_file: Path
    host: str = "127.0.0.1"
    moto_port: int = 4566
    api_port: int = 3000
    region: str = "us-east-1"
    log_dir: Path = Path(".leadflow/logs")
    state_dir: Path = Path(".leadflow/state")  # <client>.sqlite: the tables' items and the queues' messages
    fresh: bool = False  # start empty: delete the client's state file first
    workers_per_function: int = 2
    clock_speed: float = 1.0  # how fast the schedules' clock runs: 60 makes a minute last a second
    # Where the schedules' clock starts (None: now). Later than now only: a stack's data is never from its future.
    clock_start: datetime | None = None

    @property
    def state_file(self) -> Path:
        return self.state_dir / f"{self.client_file.stem}.sqlite"

    @property
    def lead_id_key_file(self) -> Path:
        """The local stack's lead id key: kept, like a deployed stack's secret, so ids never change."""
        return self.secret_file("lead-id-key")

    def lead_id_key(self) -> str:
        return self.secret_value("lead-id-key")

    def secret_file(self, key: str) -> Path:
        """Where the local stack keeps a secret of its definition (`<client>.<key>`), as a deployed stack keeps it."""
        return self.state_dir / f"{self.client_file.stem}.{key}"

    def secret_value(self, key: str) -> str:
        """The secret's value, made on first use and kept: ids stay the same, links sent earlier stay valid."""
        path = self.secret_file(key)
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):  # another process made it first: use theirs
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # private from the start
                with os.fdopen(descriptor, "w", encoding="utf-8") as key_file:
                    key_file.write(new_lead_id_key())
        return path.read_text(encoding="utf-8").strip()


def local_aws_environment(endpoint: str, region: str) -> dict[str, str]:
    """What points boto3 (and the aws CLI) at the local stack instead of AWS."""
    return {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": region, "AWS_REGION": region}


@dataclass
class ServedStack:
    """What the local runtime serves, in the definition's terms (the parity test reads it)."""

    functions: set[str] = field(default_factory=set)
    routes: set[tuple[str, str, str]] = field(default_factory=set)  # method, path, function: every route
    # The routes served only with an ID token of a user pool: method, path, function, the pool's name.
    authorized_routes: set[tuple[str, str, str, str]] = field(default_factory=set)
    # The user pools as moto holds them: pool name, its app clients' names (sorted), its groups (sorted).
    user_pools: set[tuple[str, tuple[str, ...], tuple[str, ...]]] = field(default_factory=set)
    queue_triggers: set[tuple[str, str, int]] = field(default_factory=set)  # queue name, function, batch size
    tables: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)
    event_buses: set[str] = field(default_factory=set)
    schedules: set[tuple[str, str, int]] = field(default_factory=set)  # rule name, function, every N minutes
    # EventBridge Scheduler's: schedule name, function, cron expression, time zone
    cron_schedules: set[tuple[str, str, str, str]] = field(default_factory=set)
    # The stack's buckets: the days each keeps an object (its lifecycle rule's expiration)
    bucket_expirations: set[int] = field(default_factory=set)
    # rule name, bus name, sources and detail types (each sorted), target queue name
    event_rules: set[tuple[str, str, tuple[str, ...], tuple[str, ...], str]] = field(default_factory=set)
    # SES receipt rules of the active rule set that publish to a topic: rule set, rule name, recipients (sorted),
    # topic name, names of the queues subscribed to the topic (sorted)
    receipt_rules: set[tuple[str, str, tuple[str, ...], str, tuple[str, ...]]] = field(default_factory=set)


class LocalStack:
    def __init__(self, options: LocalOptions):
        if not options.clock_speed > 0:
            raise ValueError(f"the clock speed must be above 0, not {options.clock_speed!r}")
        self.options = options
        self.config = load_client_config(options.client_file)
        self.definition: StackDefinition = build_definition(self.config)
        self.endpoint = f"http://{options.host}:{options.moto_port}"
        self.pools: dict[str, FunctionPool] = {}
        self.pollers: list[QueuePoller] = []
        self.scheduler: Scheduler | None = None
        self.resources = LocalResources()
        self.api: LocalApi | None = None
        self._moto: Any = None
        self._api_thread: threading.Thread | None = None
        self._route_functions: dict[tuple[str, str], str] = {}
        self.state: LocalState | None = None

    def start(self, warm: bool = True) -> None:
        for port, what in ((self.options.moto_port, "moto"), (self.options.api_port, "API")):
            _require_free_port(self.options.host, port, what)
        from leadflow.local.moto_server import MotoServer

        for name, value in MOTO_COGNITO_IDS.items():
            os.environ.setdefault(name, value)
        self._moto = MotoServer(ip_address=self.options.host, port=self.options.moto_port)
        self._moto.start()
        aws_env = local_aws_environment(self.endpoint, self.options.region)
        os.environ.update(aws_env)
        import boto3

        session = boto3.Session(region_name=self.options.region)
        self.resources = create_resources(
            self.definition,
            session,
            secret_values={secret.key: self.options.secret_value(secret.key) for secret in self.definition.secrets},
            api_url=f"http://{self.options.host}:{self.options.api_port}/",
        )
        self._restore_state()
        self.options.log_dir.mkdir(parents=True, exist_ok=True)
        snapshot = self.options.log_dir.parent / f"{self.config.name}.client.json"
        snapshot.write_text(config_snapshot(self.config), encoding="utf-8")
        for spec in self.definition.functions:
            name = f"{self.definition.stack_name}-{spec.key}"
            env = {
                **aws_env,
                **self.resources.environment(spec.environment),
                "LEADFLOW_CLIENT_CONFIG": str(snapshot.resolve()),
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            }
            self.pools[spec.key] = FunctionPool(
                spec, name, env, self.options.log_dir, self.options.workers_per_function
            )
        if warm:
            for pool in self.pools.values():
                pool.warm()
        self._route_functions = {(r.method, r.path): r.function for r in self.definition.routes}
        routes = {(r.method, r.path): self.pools[r.function].invoke for r in self.definition.routes}
        self.api = LocalApi(
            self.options.host,
            self.options.api_port,
            routes,
            _pages(self.config, f"http://{self.options.host}:{self.options.api_port}/"),
            self._authorizers(),
        )
        sqs = session.client("sqs")
        # As Lambda scales a queue trigger out, one poller per warm environment of the function: a FIFO
        # queue hands out one message group to one poller at a time, so a person's inquiries stay in order.
        for trigger in self.definition.queue_triggers:
            for _ in range(self.options.workers_per_function):
                self.pollers.append(
                    QueuePoller(
                        sqs,
                        self.resources.queue_urls[trigger.queue],
                        self.resources.queue_arns[trigger.queue],
                        self.pools[trigger.function].invoke,
                        trigger.batch_size,
                        self.options.region,
                        name=f"{self.definition.queue(trigger.queue).name} -> {trigger.function}",
                        function=trigger.function,
                    )
                )
        for poller in self.pollers:
            poller.start()
        self.scheduler = Scheduler(
            local_schedules(
                self.definition,
                {key: pool.invoke for key, pool in self.pools.items()},
                {key: pool.log_path for key, pool in self.pools.items()},
            ),
            self.options.region,
            Clock(self.options.clock_speed, self.options.clock_start),
        )
        self.scheduler.start()
        self._api_thread = threading.Thread(target=self.api.serve_forever, name="local-api", daemon=True)
        self._api_thread.start()

    def stop(self) -> None:
        """Stop everything; a part that takes over a second says so, so a slow Ctrl-C names its cause."""
        with _timed("the API"):
            if self.api is not None:
                self.api.shutdown()
        if self.scheduler is not None:  # no tick from now on, not even one due in the next second
            self.scheduler.request_stop()
        for poller in self.pollers:  # all at once: none waits for another
            poller.request_stop()
        # Every pool at once (each lets its busy workers end within its grace, then kills them), so Ctrl-C
        # takes one grace, not one per function, when a fast clock keeps every schedule busy.
        with _timed("the function workers"):
            stopping = [threading.Thread(target=pool.stop, name=f"stop-{key}") for key, pool in self.pools.items()]
            for thread in stopping:  # ends any invocation under way; its messages stay queued
                thread.start()
            for thread in stopping:
                thread.join()
        with _timed("the queue pollers"):
            for poller in self.pollers:
                poller.stop()
        with _timed("the schedules"):
            if self.scheduler is not None:
                self.scheduler.stop()
        with _timed("saving the state"):
            if self.state is not None:
                self.state.stop()
                self.state = None
        with _timed("moto"):
            if self._moto is not None:
                self._moto.stop()

    def _authorizers(self) -> dict[tuple[str, str], CognitoAuthorizer]:
        """API Gateway's Cognito authorizer on each route that names a user pool, one per pool."""
        by_pool = {
            spec.key: CognitoAuthorizer(
                spec.name,
                issuer(self.options.region, self.resources.user_pool_ids[spec.key]),
                jwks_url(self.endpoint, self.resources.user_pool_ids[spec.key]),
            )
            for spec in self.definition.user_pools
        }
        return {(r.method, r.path): by_pool[r.authorizer] for r in self.definition.routes if r.authorizer is not None}

    def _restore_state(self) -> None:
        path = self.options.state_file
        if self.options.fresh:
            for stale in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
                stale.unlink(missing_ok=True)
        self.state = LocalState(path, self.options.region)
        self.state.open()
        stored = self.state.count_items()
        if stored:
            print(f"Restoring {stored:,} stored items from {path} (--fresh starts empty)...", flush=True)
        restored = self.state.restore(lambda n: print(f"  {n:,} of {stored:,}", flush=True))
        if stored or restored.messages or restored.users or restored.objects:
            print(
                f"Restored {restored.items:,} items, {restored.messages:,} queued messages, "
                f"{restored.users:,} people who sign in and {restored.objects:,} report files.",
                flush=True,
            )
        self.state.start()

    def served(self) -> ServedStack:
        """What is really up: tables and queues as moto lists them, routes and pollers as running."""
        import boto3

        session = boto3.Session(region_name=self.options.region)
        queue_urls = session.client("sqs").list_queues().get("QueueUrls", [])
        events = session.client("events")
        buses = {b["Name"] for b in events.list_event_buses()["EventBuses"]} - {"default"}
        return ServedStack(
            functions=set(self.pools),
            routes={(method, path, self._route_functions[method, path]) for method, path in self.api.routes}
            if self.api
            else set(),
            authorized_routes={
                (method, path, self._route_functions[method, path], authorizer.pool_name)
                for (method, path), authorizer in self.api.authorizers.items()
            }
            if self.api
            else set(),
            user_pools=_user_pools(session.client("cognito-idp")),
            queue_triggers={(p.queue_url.rsplit("/", 1)[-1], p.function, p.batch_size) for p in self.pollers},
            tables=set(session.client("dynamodb").list_tables()["TableNames"]),
            queues={url.rsplit("/", 1)[-1] for url in queue_urls},
            event_buses=buses,
            event_rules={rule for bus in sorted(buses | {DEFAULT_BUS}) for rule in _event_rules(events, bus)},
            schedules={
                (s.rule_name, s.function, s.every_minutes)
                for s in (self.scheduler.running() if self.scheduler else [])
                if s.every_minutes is not None
            },
            cron_schedules={
                (s.rule_name, s.function, s.cron.expression, s.timezone)
                for s in (self.scheduler.running() if self.scheduler else [])
                if s.cron is not None
            },
            bucket_expirations=_bucket_expirations(session.client("s3"), self.resources.bucket_names.values()),
            receipt_rules=_receipt_rules(session.client("ses"), session.client("sns")),
        )

    def describe(self) -> str:
        d = self.definition
        api_url = self.api.url if self.api else "-"
        lines = [
            f"leadflow local: client {self.config.name} ({self.options.client_file}), stack {d.stack_name}",
            f"  demo    {api_url}/  (the demo client's form: open it in a browser)",
            f"  API     {api_url}",
        ]
        lines += [
            f"          {r.method:7} {r.path}  -> {r.function}"
            + (f"  (signed in: an ID token of pool {d.user_pool(r.authorizer).name})" if r.authorizer else "")
            for r in d.routes
        ]
        lines.append(f"  AWS     {self.endpoint}  (moto; set AWS_ENDPOINT_URL to this for boto3 or the aws CLI)")
        lines += [
            f"  users   {p.name} (Cognito user pool {self.resources.user_pool_ids.get(p.key, '-')}; groups "
            f"{', '.join(p.groups)}), app client {p.client_name} {self.resources.user_pool_client_ids.get(p.key, '-')}"
            for p in d.user_pools
        ]
        lines += [f"  table   {t.name}" for t in d.tables]
        lines += [f"  events  {b.name} (EventBridge bus: every lead's state change)" for b in d.event_buses]
        lines += [
            f"  rule    {r.name} {', '.join(r.detail_types)} on "
            f"{DEFAULT_BUS + ' bus' if r.bus == DEFAULT_BUS else d.event_bus(r.bus).name} "
            f"-> queue {d.queue(r.queue).name}"
            for r in d.event_rules
        ]
        lines += [
            f"  email   from {e.from_name} <{e.from_address}> through SES (what it sends: {api_url}/outbox, or "
            f".venv/bin/leadflow outbox --api-port {self.options.api_port})"
            for e in d.emails
        ]
        lines += [
            f"  inbox   {m.recipient}: SES receipt rule {m.rule_name} in rule set {m.rule_set} -> topic {m.topic_name} "
            f"-> queue {d.queue(m.queue).name} (try .venv/bin/leadflow local unsubscribe-by-email EMAIL)"
            for m in d.inbound_mail
        ]
        for q in d.queues:
            consumers = [t for t in d.queue_triggers if t.queue == q.key]
            feed = ", ".join(f"-> {t.function} (batch {t.batch_size})" for t in consumers) or "(no consumer yet: waits)"
            lines.append(
                f"  queue   {q.name} {feed}; dead letters: {q.dead_letter_name} after {q.max_receive_count} tries"
            )
        lines += self._describe_schedules()
        lines.append(f"  logs    {self.options.log_dir}/<function>.log")
        lines.append(f"  state   {self.options.state_file}  (kept across restarts; --fresh starts empty)")
        if api_url not in self.config.capture.allowed_origins:
            lines.append(
                f"  ! {api_url} is not in capture.allowed_origins of {self.options.client_file}, so the demo form's "
                "posts from it are refused: add it there (and point thank_you_url at this port) to use the demo page"
            )
        lines += [
            "Try:",
            f"  curl -i -X POST {api_url}/leads -H 'Content-Type: application/json' \\\n"
            '       -d \'{"email": "ada@example.com"}\'',
            f"  curl -i -X POST {api_url}/leads -d 'email=grace@example.com&first_name=Grace'",
            "  .venv/bin/leadflow leads show --local ada@example.com",
        ]
        if d.user_pools:
            team = next(iter(self.config.route.teams), "sales")
            signed_in = next((r.path for r in d.routes if r.authorizer and "{" not in r.path), "/")
            lines += [
                f'  .venv/bin/leadflow reps add rae@example.com --name "Rae Ready" --team {team} --local'
                "  # asks for her password",
                f'  curl -H "Authorization: $(.venv/bin/leadflow token rae@example.com --local)" {api_url}{signed_in}',
            ]
        lines += [
            "Ctrl-C stops.",
        ]
        return "\n".join(lines)

    def _describe_schedules(self) -> list[str]:
        speed = self.options.clock_speed
        lines = []
        for s in self.definition.schedules:
            unit = "minute" if s.every_minutes == 1 else "minutes"
            clock = "" if speed == 1 else f"; clock {speed:g}x: a tick every {s.every_minutes * 60 / speed:g} s"
            lines.append(
                f"  rule    {s.name} rate({s.every_minutes} {unit}) -> {s.function} (EventBridge schedule{clock})"
            )
        for c in self.definition.cron_schedules:
            lines.append(f"  cron    {c.name} {c.cron} in {c.timezone} -> {c.function} (EventBridge Scheduler)")
        return lines


def _bucket_expirations(s3: Any, names: Iterable[str]) -> set[int]:
    """The days each bucket's lifecycle rules keep an object, as moto holds them."""
    found = set()
    for name in names:
        for rule in s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]:
            found.add(int(rule["Expiration"]["Days"]))
    return found


def _user_pools(cognito: Any) -> set[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """The user pools moto holds: name, app client names, group names (both sorted)."""
    found = set()
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        clients = cognito.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
        groups = cognito.list_groups(UserPoolId=pool["Id"], Limit=60)["Groups"]
        found.add(
            (
                pool["Name"],
                tuple(sorted(c["ClientName"] for c in clients)),
                tuple(sorted(g["GroupName"] for g in groups)),
            )
        )
    return found


def _event_rules(events: Any, bus: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...], str]]:
    """The rules on a moto bus that feed queues: name, bus, sources, detail types, queue name."""
    found = []
    for rule in events.list_rules(EventBusName=bus)["Rules"]:
        if "EventPattern" not in rule:
            continue
        pattern = json.loads(rule["EventPattern"])
        for target in events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]:
            if target["Arn"].startswith("arn:aws:sqs:"):
                found.append(
                    (
                        rule["Name"],
                        bus,
                        tuple(sorted(pattern.get("source", []))),
                        tuple(sorted(pattern.get("detail-type", []))),
                        target["Arn"].rsplit(":", 1)[-1],
                    )
                )
    return found


def _receipt_rules(ses: Any, sns: Any) -> set[tuple[str, str, tuple[str, ...], str, tuple[str, ...]]]:
    """The active rule set's rules that publish to a topic, with the queues subscribed to each topic (moto's)."""
    active = ses.describe_active_receipt_rule_set()
    found = set()
    for rule in active.get("Rules", []):
        for action in rule.get("Actions", []):
            if "SNSAction" in action:
                topic_arn = action["SNSAction"]["TopicArn"]
                subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
                queues = tuple(
                    sorted(s["Endpoint"].rsplit(":", 1)[-1] for s in subscriptions if s["Protocol"] == "sqs")
                )
                rule_set = active["Metadata"]["Name"]
                found.add((rule_set, rule["Name"], tuple(sorted(rule.get("Recipients", []))),
                           topic_arn.rsplit(":", 1)[-1], queues))  # fmt: skip
    return found


def _require_free_port(host: str, port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            flag = "--moto-port" if what == "moto" else "--api-port"
            raise SystemExit(
                f"port {port} on {host} is taken, so the local {what} cannot start there: stop what uses it "
                f"(another `leadflow local`?) or pick another port with {flag}"
            ) from None


_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5}"
    "label{display:block;font-weight:600}input:not([type=checkbox]),textarea{width:100%;padding:.4rem;font:inherit}"
    "p label:has(input[type=checkbox]){font-weight:400}.leadflow-error{color:#b00020;display:block}"
    "button{padding:.5rem 1.2rem;font:inherit}code{background:#f3f3f3;padding:0 .2rem}</style>"
)


def _pages(config: ClientConfig, api_url: str) -> dict[str, Page]:
    """The local pages: the demo form at /, the thank-you and error pages the demo client names, and the
    outbox (/outbox, and /outbox.json for `leadflow outbox`), the emails SES would have sent, read from
    the moto server this process runs."""
    name = escape(config.display_name or config.name)

    def page(title: str, body: str) -> str:
        return f"<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>{_STYLE}<body>{body}"

    def demo(query: dict[str, list[str]]) -> str:
        return page(
            f"{name}: contact",
            f"<h1>Talk to {name}</h1>"
            "<p>This is the form <code>leadflow client snippet</code> prints, served by <code>make run</code>. "
            "Send it, then see the lead with <code>.venv/bin/leadflow leads show --local EMAIL</code>.</p>"
            + form_snippet(config, api_url),
        )

    def thank_you(query: dict[str, list[str]]) -> str:
        return page("Thank you", f"<h1>Thank you</h1><p>{name} has your message and will be in touch.</p>")

    def form_error(query: dict[str, list[str]]) -> str:
        fields = [f for f in _first(query, "error_fields").split(",") if f]
        items = "".join(f"<li><b>{escape(f)}</b> {escape(_first(query, f'error.{f}'))}</li>" for f in fields)
        return page(
            "Please check the form",
            f'<h1>Please check the form</h1><ul>{items}</ul><p><a href="/">Back to the form</a></p>',
        )

    outbox_style = (
        "<style>body{max-width:60rem}table{border-collapse:collapse;width:100%}"
        "th,td{text-align:left;vertical-align:top;padding:.2rem .5rem;border-bottom:1px solid #ddd;"
        "overflow-wrap:anywhere}pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.5rem}"
        "iframe{width:100%;height:32rem;border:1px solid #ccc}</style>"
    )

    def outbox(query: dict[str, list[str]]) -> str:
        from urllib.parse import quote

        from leadflow.local.outbox import outbox_in_process

        to = _first(query, "to") or None
        emails = outbox_in_process(to, most=OUTBOX_PAGE_MOST + 1)  # one more: whether there are more
        rows = "".join(
            f"<tr><td>{escape(e.sent_at.strftime('%Y-%m-%d %H:%M:%S') if e.sent_at else '-')}"
            f"<td>{escape(', '.join(e.to))}"
            f'<td><a href="{escape("/outbox/email?id=" + quote(e.message_id, safe=""))}">'
            f"{escape(e.subject or '(no subject)')}</a></tr>"
            for e in emails[:OUTBOX_PAGE_MOST]
        )
        whose = f" to {escape(to)}" if to else ""
        more = (
            f"<p>The {OUTBOX_PAGE_MOST} newest are shown; "
            "<code>.venv/bin/leadflow outbox --last N</code> lists more.</p>"
            if len(emails) > OUTBOX_PAGE_MOST
            else ""
        )
        table = f"<table><tr><th>sent (UTC)<th>to<th>subject</tr>{rows}</table>{more}"
        listed = table if rows else "<p>No email yet.</p>"
        return page(
            "Outbox",
            f"{outbox_style}<h1>Outbox{whose}</h1><p>The emails SES would have sent (moto keeps them), newest first; "
            "<code>.venv/bin/leadflow outbox</code> lists them in a terminal.</p>" + listed,
        )

    def outbox_as_json(query: dict[str, list[str]]) -> str:
        from leadflow.local.outbox import outbox_json

        last = _first(query, "last")
        return outbox_json(_first(query, "to") or None, most=int(last) if last.isdigit() and int(last) > 0 else None)

    def outbox_email(query: dict[str, list[str]]) -> str:
        from leadflow.local.outbox import outbox_in_process

        message_id = _first(query, "id")
        email = next(iter(outbox_in_process(message_id=message_id)), None) if message_id else None
        if email is None:
            return page(
                "No such email",
                f"<h1>No such email</h1><p>The outbox holds no email with id <code>{escape(message_id)}</code>.</p>"
                '<p><a href="/outbox">Back to the outbox</a></p>',
            )
        return page(
            escape(email.subject or "(no subject)"),
            f"{outbox_style}{_email_page_body(email.subject, email.headers, email.text, email.html)}",
        )

    return {
        "/": demo,
        "/thank-you": thank_you,
        "/form-error": form_error,
        "/outbox": outbox,
        "/outbox.json": outbox_as_json,
        "/outbox/email": outbox_email,
    }


def _email_page_body(subject: str, headers: list[tuple[str, str]], text: str | None, html: str | None) -> str:
    """One email of the outbox, all of it escaped: what a lead typed is data, never markup of this page.

    The HTML body is shown as a browser shows it, inside an iframe whose `sandbox` allows
    nothing (no script, no form, no navigation of this page): an email's script never runs.
    """
    rows = "".join(f"<tr><th>{escape(name)}<td>{escape(value)}</tr>" for name, value in headers)
    shown = (
        f'<iframe sandbox srcdoc="{escape(html)}" title="HTML body of the email"></iframe>'
        if html is not None
        else "<p>This email has no HTML body.</p>"
    )
    plain = f"<pre>{escape(text)}</pre>" if text is not None else "<p>This email has no text body.</p>"
    return (
        f'<p><a href="/outbox">Back to the outbox</a></p><h1>{escape(subject or "(no subject)")}</h1>'
        f"<h2>Headers</h2><table>{rows}</table><h2>HTML body</h2>{shown}<h2>Text body</h2>{plain}"
    )


def _first(query: dict[str, list[str]], name: str) -> str:
    """The first value of a query-string parameter, or ""."""
    return (query.get(name) or [""])[0]


@contextlib.contextmanager
def _timed(part: str, say_after_s: float = 1.0) -> Iterator[None]:
    """Time one part of the stop; print it when it took longer than `say_after_s`."""
    started = time.monotonic()
    yield
    took = time.monotonic() - started
    if took > say_after_s:
        print(f"  stopping {part} took {took:.1f} s", flush=True)

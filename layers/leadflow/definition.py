"""The one definition of a client's stack that CDK deploys and `leadflow local` serves.

Everything a client stack is made of (table, queues, functions, routes and the queue
triggers) is declared here once, from the client's config. `infra/` turns it into
CloudFormation; `leadflow.local` creates the same resources in moto and serves the same
routes and triggers. A test checks that the synthesized template holds nothing the local
runtime does not serve.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from leadflow.config import WEBHOOK_EVENTS, ClientConfig
from leadflow.nurture.send import CONCURRENT_SENDERS
from leadflow.nurture.ses_events import CONFIGURATION_SET_TAG, DETAIL_TYPES, SOURCE
from leadflow.report.weekly import ARCHIVE_PREFIX, WEEKLY_MARKER_PREFIX
from leadflow.settings import (
    LEAD_ID_KEY_VARIABLE,
    LINK_KEY_SECRET_VARIABLE,
    UNSUBSCRIBE_MAILBOX_VARIABLE,
    WEBHOOK_KEY_SECRET_VARIABLE,
)
from leadflow.webhooks import MAX_ATTEMPTS as WEBHOOK_ATTEMPTS
from leadflow.webhooks import retries_span_s

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"

# The checked client config (leadflow.config.config_snapshot) inside the deployed functions,
# shipped in the client's config layer.
DEPLOYED_CLIENT_CONFIG = "/opt/leadflow/client.json"

# A client can be deployed more than once side by side (`cdk deploy -c stage=staging`). The
# default stage keeps the plain names (stack Leads-acme, leadflow-acme-...); any other stage
# adds itself to every name (Leads-acme-staging, leadflow-acme-staging-...). No hyphen in a
# stage, and short, so that queue names stay under SQS's 80 characters.
DEFAULT_STAGE = "prod"
STAGE_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


class InvalidStageError(ValueError):
    """A stage name that would not make valid, unambiguous resource names."""


@dataclass(frozen=True)
class ResourceRef:
    """An environment value only known once a resource exists (a queue URL, say)."""

    kind: Literal[
        "queue_url",
        "queue_arn",
        "table_name",
        "bus_name",
        "secret_value",
        "api_url",
        "email_configuration_set",
        "bucket_name",
    ]
    key: str


EnvValue = str | ResourceRef


@dataclass(frozen=True)
class SecretSpec:
    """A secret the stack generates once and keeps: on stack deletion, across every redeploy.

    The lead id key is one: lead ids are keyed with it, so a new key would give a person who
    writes again a second lead. Functions that need it get its value in their environment
    (a CloudFormation dynamic reference, resolved at deploy: no call at cold start).
    """

    key: str
    name: str
    description: str
    # Why it is never rotated automatically (cdk-nag asks; the answer is shown where it is acknowledged).
    not_rotated_because: str


@dataclass(frozen=True)
class EmailSpec:
    """How the stack sends email through SES: its sender and its configuration set (for SES's events)."""

    key: str
    from_address: str
    from_name: str
    configuration_set: str


DEFAULT_BUS = "default"  # the account's own EventBridge bus, where AWS services (SES) send their events


@dataclass(frozen=True)
class InboundMailSpec:
    """Mail SES receives for the stack: the unsubscribe requests sent to the mailto of List-Unsubscribe.

    SES evaluates one receipt rule set per account and region, the active one, so every stack adds
    its own rule to that shared set: the rule takes mail to the stack's one address, scans it, and
    publishes it to the stack's topic, which the queue subscribes to (its consumer reads the token).
    """

    key: str
    rule_set: str  # the account's active receipt rule set, made once per account and region (see the README)
    rule_name: str  # unique in the rule set: the stack's name prefix
    recipient: str  # the address the mailto names: unsubscribe-<client>[-<stage>]@<unsubscribe_mail_domain>
    topic_name: str
    queue: str  # a queue key: where the topic delivers each notification, in SNS's envelope


@dataclass(frozen=True)
class EventRuleSpec:
    """Events of some types, copied from a bus to a queue (a delivery function consumes it).

    Mostly the stack's domain events from its own bus; SES's events about the stack's mail come
    on the account's default bus (`bus = DEFAULT_BUS`), told apart by `detail` (the stack's
    configuration set).
    """

    key: str
    name: str
    bus: str  # an event bus key of the definition, or DEFAULT_BUS
    source: str  # the `source` every domain event of the client carries (leadflow.lead.change.publish), or aws.ses
    detail_types: tuple[str, ...]
    queue: str
    detail: dict[str, Any] | None = None  # an EventBridge pattern on the detail, when source and type say too little


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str
    # ALL copies every attribute into the index; KEYS_ONLY only the keys (for an index read for ids alone).
    projection: Literal["ALL", "KEYS_ONLY"] = "ALL"


@dataclass(frozen=True)
class TableSpec:
    key: str
    name: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    indexes: tuple[Index, ...] = ()


@dataclass(frozen=True)
class QueueSpec:
    key: str
    name: str
    dead_letter_name: str
    fifo: bool = False
    # FIFO high-throughput mode: deduplication and throughput limits per message group.
    fifo_high_throughput: bool = False
    visibility_timeout_s: int = 180
    max_receive_count: int = 5
    retention_days: int = 14
    # How long a message may wait, in all, before its last try, when its consumer puts each failed try
    # off itself (a backoff): the oldest-message alarm waits that long. None: a failed message comes
    # back after the visibility timeout, so its tries take visibility_timeout_s * max_receive_count.
    retries_take_s: int | None = None

    @property
    def longest_wait_s(self) -> int:
        """How old its oldest message may grow while its consumer works as it should."""
        return self.retries_take_s or self.visibility_timeout_s * self.max_receive_count


@dataclass(frozen=True)
class BucketSpec:
    """An S3 bucket of the stack: private, encrypted, TLS only; each object deleted `keep_days` after it was written.

    Named by CloudFormation (bucket names are global: a name of the client's could be taken by anyone);
    functions get the name in their environment (ResourceRef("bucket_name", key)).
    """

    key: str
    keep_days: int
    description: str


@dataclass(frozen=True)
class EventBusSpec:
    """The stack's EventBridge bus: every lead's state change is published there as a domain event."""

    key: str
    name: str


# What a function may do to one resource, one kind per need; infra/constructs/functions.py
# turns each kind into the exact IAM actions:
#   send           a queue: SendMessage
#   consume        a queue, as Lambda's queue trigger does: ReceiveMessage, DeleteMessage, GetQueueAttributes
#   retry_later    a queue: ChangeMessageVisibility, as a consumer puts off the next try of a message that failed
#   apply_changes  a table, as the change applier does: read a lead by key (GetItem) and write a
#                  change in one transaction (PutItem, UpdateItem), then clear its outbox (UpdateItem)
#   query          a table, as routing reads the roster and a company's leads: Query on the table itself
#   query_indexes  a table's indexes, as a sweep finds what is due: Query on its indexes, not the table
#   publish        an event bus: PutEvents
#   send_email     the stack's email sender: SES SendEmail from its identity, through its configuration set
#   send_bulk_email  the same sender: SES SendBulkEmail (nurture's emails, up to fifty a request)
#   read_secret    a stack secret: GetSecretValue, at cold start (keys that sign what leaves the stack)
#   put_object     a bucket: PutObject of objects whose key starts with the grant's key_prefix (the weekly CSV)
#   mark           a table: PutItem of items whose key starts with the grant's key_prefix only (a weekly
#                  email's marker: claimed, settled, released), nothing else of the table
GrantAccess = Literal[
    "send",
    "consume",
    "retry_later",
    "apply_changes",
    "query",
    "query_indexes",
    "publish",
    "send_email",
    "send_bulk_email",
    "read_secret",
    "put_object",
    "mark",
]


@dataclass(frozen=True)
class Grant:
    """What a function may do to one resource: least privilege, declared beside it."""

    resource: str  # a table, queue or event bus key
    access: GrantAccess
    # mark: the partition keys the function may write start with it; put_object: the object keys
    key_prefix: str | None = None

    def __post_init__(self) -> None:
        if self.key_prefix is not None and self.access not in ("mark", "put_object"):
            raise ValueError(f"grant {self.access} on {self.resource}: a key_prefix goes with mark or put_object")
        if self.access == "mark" and self.key_prefix is None:
            raise ValueError(f"grant mark on {self.resource}: mark needs one (it keeps the function to its own items)")


@dataclass(frozen=True)
class FunctionSpec:
    key: str
    description: str
    source_dir: Path
    handler: str = "handler.handler"
    memory_mb: int = 256
    timeout_s: int = 10
    environment: dict[str, EnvValue] = field(default_factory=dict)
    grants: tuple[Grant, ...] = ()
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class UserPoolSpec:
    """The people who sign in to the stack's API: reps, managers and ops, each in a group (Amazon Cognito).

    API Gateway's Cognito authorizer checks an ID token of the pool on every route that names
    the pool; the function behind it reads who signed in from the claims it passes on
    (`requestContext.authorizer.claims`). `leadflow local` creates the same pool in moto and
    checks the same tokens against the pool's JWKS.
    """

    key: str
    name: str  # the pool's name; the CLI finds the pool by it
    client_name: str  # the app client people sign in through (no secret: a phone or a script holds it)
    groups: tuple[str, ...] = ("rep", "manager", "ops")
    # Passwords need this many characters, with lower and upper case, a digit and a symbol: in AWS and locally
    # alike, so a password `make run` takes is one a deployed stack takes too.
    password_min_length: int = 12


@dataclass(frozen=True)
class RouteSpec:
    method: str
    path: str
    function: str
    # The user pool (its key) whose ID token the route needs in `Authorization`; None: a public route.
    authorizer: str | None = None


@dataclass(frozen=True)
class QueueTrigger:
    queue: str
    function: str
    batch_size: int = 10
    max_batching_window_s: int = 0
    # At most this many of the function's instances consume the queue at once (None: as many as Lambda scales to).
    max_concurrency: int | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    """A function run at a fixed rate, as an EventBridge rule runs it: a "Scheduled Event" whose time is the tick."""

    key: str
    name: str  # the rule's physical name, named after the deployment: <name prefix>-<key>
    function: str
    every_minutes: int
    description: str


@dataclass(frozen=True)
class CronScheduleSpec:
    """A function run at the moments of a cron expression in a time zone, as EventBridge Scheduler runs it.

    EventBridge rules know UTC only; a schedule of EventBridge Scheduler takes the client's time
    zone and keeps to it across daylight saving time (leadflow.cron). The function gets SCHEDULER_INPUT,
    each `<aws.scheduler.…>` placeholder replaced by its value: `scheduled_time` is the moment due.
    """

    key: str
    name: str  # the schedule's physical name: <name prefix>-<key>
    function: str
    cron: str  # as EventBridge Scheduler takes it: cron(0 8 ? * MON *)
    timezone: str  # an IANA name: the cron's moments are local times there
    description: str


# What EventBridge Scheduler sends a cron schedule's function (leadflow.local.scheduler sends the same).
SCHEDULER_INPUT = {"scheduled_time": "<aws.scheduler.scheduled-time>", "schedule": "<aws.scheduler.schedule-arn>"}


@dataclass(frozen=True)
class StackDefinition:
    client: str
    stage: str
    stack_name: str
    name_prefix: str  # every physical name of the stack starts with it: leadflow-<client>[-<stage>]
    tables: tuple[TableSpec, ...]
    queues: tuple[QueueSpec, ...]
    event_buses: tuple[EventBusSpec, ...]
    secrets: tuple[SecretSpec, ...]
    emails: tuple[EmailSpec, ...]
    event_rules: tuple[EventRuleSpec, ...]
    functions: tuple[FunctionSpec, ...]
    routes: tuple[RouteSpec, ...]
    queue_triggers: tuple[QueueTrigger, ...]
    schedules: tuple[ScheduleSpec, ...] = ()
    user_pools: tuple[UserPoolSpec, ...] = ()
    inbound_mail: tuple[InboundMailSpec, ...] = ()
    buckets: tuple[BucketSpec, ...] = ()
    cron_schedules: tuple[CronScheduleSpec, ...] = ()

    def user_pool(self, key: str) -> UserPoolSpec:
        return next(p for p in self.user_pools if p.key == key)

    def table(self, key: str) -> TableSpec:
        return next(t for t in self.tables if t.key == key)

    def queue(self, key: str) -> QueueSpec:
        return next(q for q in self.queues if q.key == key)

    def event_bus(self, key: str) -> EventBusSpec:
        return next(b for b in self.event_buses if b.key == key)

    def secret(self, key: str) -> SecretSpec:
        return next(s for s in self.secrets if s.key == key)

    def email(self, key: str) -> EmailSpec:
        return next(e for e in self.emails if e.key == key)

    def function(self, key: str) -> FunctionSpec:
        return next(f for f in self.functions if f.key == key)

    def bucket(self, key: str) -> BucketSpec:
        return next(b for b in self.buckets if b.key == key)


# Names of the indexes the lead store reads through (see leadflow.aws.leads_table).
LEADS_BY_CREATED = Index("by_created", "gsi1pk", "gsi1sk")
# Sparse: leads with an SLA timer running. The sweep needs their ids only, so each change of a timed
# lead copies its keys into the index, not the whole profile.
LEADS_BY_DUE = Index("by_due", "gsi2pk", "gsi2sk", projection="KEYS_ONLY")


def event_source(client: str) -> str:
    """The `source` of every domain event a client's functions publish (see leadflow.lead.change.publish)."""
    return f"leadflow.{client}"


def check_stage(stage: str) -> str:
    if not STAGE_NAME.match(stage):
        raise InvalidStageError(
            f"stage {stage!r} is not a valid stage name: use 1 to 12 lower-case letters and digits, "
            f"starting with a letter (like staging or test2); leave it out for the default stage ({DEFAULT_STAGE})"
        )
    return stage


def _stage_suffix(stage: str) -> str:
    return "" if check_stage(stage) == DEFAULT_STAGE else f"-{stage}"


def physical_prefix(client: str, stage: str = DEFAULT_STAGE) -> str:
    return f"leadflow-{client}{_stage_suffix(stage)}"


def stack_name_for(client: str, stage: str = DEFAULT_STAGE) -> str:
    return f"Leads-{client}{_stage_suffix(stage)}"


def _lead_queue(prefix: str, key: str) -> QueueSpec:
    """A FIFO queue whose messages are grouped by lead, with its FIFO dead-letter queue."""
    return QueueSpec(
        key=key,
        name=f"{prefix}-{key}.fifo",
        dead_letter_name=f"{prefix}-{key}-dlq.fifo",
        fifo=True,
        fifo_high_throughput=True,
        visibility_timeout_s=180,  # six times the longest consumer timeout (30 s), as AWS advises
        max_receive_count=5,
    )


def build_definition(config: ClientConfig, stage: str = DEFAULT_STAGE) -> StackDefinition:
    prefix = physical_prefix(config.name, stage)
    leads = TableSpec(key="leads", name=f"{prefix}-leads", indexes=(LEADS_BY_CREATED, LEADS_BY_DUE))
    intake = _lead_queue(prefix, "intake")
    routing = _lead_queue(prefix, "routing")
    events = EventBusSpec(key="events", name=f"{prefix}-events")
    lead_id_key = SecretSpec(
        key="lead-id-key",
        name=f"{prefix}-lead-id-key",
        description="Keys the lead ids this stack derives from email addresses; keep it: a new key means new ids",
        not_rotated_because="The lead id key is not a credential but the key lead ids are derived with: rotating it "
        "would give every person who writes again a second lead. It is readable where the capture function's "
        "configuration is, by people who can read the leads table too.",
    )
    link_key = SecretSpec(
        key="link-key",
        name=f"{prefix}-link-key",
        description="Signs the links in the emails this stack sends (accept, reject); a new key refuses earlier links",
        not_rotated_because="It signs the one-tap links in emails, which expire within days; a rotation would refuse "
        "the links sent before it. Rotate it by deleting the secret's value and redeploying, when that is acceptable.",
    )
    email = EmailSpec(
        key="email",
        from_address=config.notify.from_address,
        from_name=config.notify.from_name,
        configuration_set=prefix,
    )
    notify_queue = QueueSpec(
        key="notify",
        name=f"{prefix}-notify",
        dead_letter_name=f"{prefix}-notify-dlq",
        visibility_timeout_s=180,
        max_receive_count=5,
    )
    notify_rule = EventRuleSpec(
        key="notify",
        name=f"{prefix}-notify",
        bus="events",
        source=event_source(config.name),
        detail_types=("LeadAssigned", "LeadReassigned", "LeadSlaReminder", "LeadEscalated"),
        queue="notify",
    )
    common_env: dict[str, EnvValue] = {
        "LEADFLOW_CLIENT": config.name,
        "LEADFLOW_STAGE": stage,
        "POWERTOOLS_SERVICE_NAME": "leadflow",
        "POWERTOOLS_METRICS_NAMESPACE": "leadflow",
        "LOG_LEVEL": "INFO",
        "LEADFLOW_CLIENT_CONFIG": DEPLOYED_CLIENT_CONFIG,
    }
    # What a function that changes leads reads (leadflow.wiring): the table and the bus it publishes to.
    changes_leads: dict[str, EnvValue] = {
        **common_env,
        "LEADS_TABLE": ResourceRef("table_name", "leads"),
        "EVENT_BUS_NAME": ResourceRef("bus_name", "events"),
    }
    reports = BucketSpec(
        key="reports",
        keep_days=config.report.keep_days,
        description="The weekly report's CSVs, each deleted [report] keep_days after it was written",
    )
    weekly_report = FunctionSpec(
        key="report_weekly",
        description="Weekly: email last week's funnel to the report's recipients, and keep its CSV in the bucket",
        source_dir=FUNCTIONS_DIR / "report_weekly",
        memory_mb=512,
        timeout_s=120,
        environment={
            **common_env,
            "LEADS_TABLE": ResourceRef("table_name", "leads"),
            "EMAIL_CONFIGURATION_SET": ResourceRef("email_configuration_set", "email"),
            "REPORTS_BUCKET": ResourceRef("bucket_name", "reports"),
        },
        grants=(
            Grant("leads", "query"),  # the report's items
            Grant("leads", "mark", key_prefix=f"MARKER#{WEEKLY_MARKER_PREFIX}"),  # each recipient's email of a week
            Grant("email", "send_email"),
            Grant("reports", "put_object", key_prefix=ARCHIVE_PREFIX),
        ),
    )
    capture = FunctionSpec(
        key="capture",
        description="POST /leads: validate an inquiry and make it durable on the intake queue",
        source_dir=FUNCTIONS_DIR / "capture",
        memory_mb=512,
        timeout_s=10,
        environment={
            **common_env,
            "INTAKE_QUEUE_URL": ResourceRef("queue_url", "intake"),
            LEAD_ID_KEY_VARIABLE: ResourceRef("secret_value", "lead-id-key"),
        },
        grants=(Grant("intake", "send"),),
    )
    intake_fn = FunctionSpec(
        key="intake",
        description="Store each inquiry on one lead per person, qualify the lead, hand sales-ready leads to routing",
        source_dir=FUNCTIONS_DIR / "intake",
        memory_mb=512,
        timeout_s=30,
        environment={
            **changes_leads,
            "ROUTING_QUEUE_URL": ResourceRef("queue_url", "routing"),
            "NURTURE_QUEUE_URL": ResourceRef("queue_url", "nurture"),  # acknowledgements an inquiry promised
        },
        grants=(
            Grant("leads", "apply_changes"),
            Grant("intake", "consume"),
            Grant("routing", "send"),
            Grant("nurture", "send"),
            Grant("events", "publish"),
        ),
    )
    route = FunctionSpec(
        key="route",
        description="Give each sales-ready lead one owner by the client's routing rules, with a deadline to accept it",
        source_dir=FUNCTIONS_DIR / "route",
        memory_mb=512,
        timeout_s=30,
        environment={
            **changes_leads,
        },
        grants=(
            Grant("leads", "apply_changes"),
            Grant("leads", "query"),
            Grant("routing", "consume"),
            Grant("events", "publish"),
        ),
    )
    sla = FunctionSpec(
        key="sla",
        description="Every minute: remind owners before the accept deadline, reassign or escalate leads past it",
        source_dir=FUNCTIONS_DIR / "sla",
        memory_mb=512,
        timeout_s=60,
        environment={
            **changes_leads,
        },
        grants=(
            Grant("leads", "apply_changes"),
            Grant("leads", "query"),
            Grant("leads", "query_indexes"),
            Grant("events", "publish"),
        ),
    )
    notify = FunctionSpec(
        key="notify",
        description="Email a lead's owner at once (with one-tap Accept and Reject links), reminders, escalations",
        source_dir=FUNCTIONS_DIR / "notify",
        memory_mb=512,
        timeout_s=30,
        environment={
            **common_env,
            "LEADS_TABLE": ResourceRef("table_name", "leads"),
            "PUBLIC_API_URL": config.notify.public_url or ResourceRef("api_url", "api"),
            "EMAIL_CONFIGURATION_SET": ResourceRef("email_configuration_set", "email"),
            LINK_KEY_SECRET_VARIABLE: link_key.name,  # its name: the value is read at cold start
        },
        grants=(
            Grant("leads", "apply_changes"),
            Grant("notify", "consume"),
            Grant("email", "send_email"),
            Grant("link-key", "read_secret"),
        ),
    )
    respond = FunctionSpec(
        key="respond",
        description="GET and POST /r/{token}: the one-tap page behind the Accept and Reject links in an owner's email",
        source_dir=FUNCTIONS_DIR / "respond",
        memory_mb=512,
        timeout_s=10,
        environment={
            **changes_leads,
            LINK_KEY_SECRET_VARIABLE: link_key.name,  # its name: the value is read at cold start
        },
        grants=(Grant("leads", "apply_changes"), Grant("events", "publish"), Grant("link-key", "read_secret")),
    )
    follow_up = FunctionSpec(
        key="follow_up",
        description="The API reps, managers and ops sign in to: their leads, team queues and claims, follow-up, away",
        source_dir=FUNCTIONS_DIR / "follow_up",
        memory_mb=512,
        timeout_s=10,
        environment={
            **changes_leads,
            "ROUTING_QUEUE_URL": ResourceRef("queue_url", "routing"),  # a qualifier's "sales_ready" hands it on
        },
        grants=(
            Grant("leads", "apply_changes"),
            Grant("leads", "query"),
            Grant("routing", "send"),
            Grant("events", "publish"),
        ),
    )
    users = UserPoolSpec(key="users", name=f"{prefix}-users", client_name=f"{prefix}-api")
    script = FunctionSpec(
        key="script",
        description="GET /leadflow.js: the script websites embed to enhance their leadflow forms",
        source_dir=FUNCTIONS_DIR / "script",
        memory_mb=128,
        timeout_s=5,
        environment=common_env,
    )
    webhooks = _webhooks(config, prefix, common_env)
    nurture = _nurture(config, stage, prefix, changes_leads, email, link_key)
    return StackDefinition(
        client=config.name,
        stage=stage,
        stack_name=stack_name_for(config.name, stage),
        name_prefix=prefix,
        tables=(leads,),
        queues=(intake, routing, notify_queue, *nurture.queues, *webhooks.queues),
        event_buses=(events,),
        secrets=(lead_id_key, link_key, *webhooks.secrets),
        emails=(email,),
        event_rules=(notify_rule, *nurture.event_rules, *webhooks.event_rules),
        functions=(
            capture,
            intake_fn,
            route,
            sla,
            notify,
            respond,
            follow_up,
            script,
            *nurture.functions,
            *webhooks.functions,
            weekly_report,
        ),
        routes=(
            RouteSpec("POST", "/leads", "capture"),
            RouteSpec("OPTIONS", "/leads", "capture"),
            RouteSpec("GET", "/leadflow.js", "script"),
            RouteSpec("GET", "/r/{token}", "respond"),
            RouteSpec("POST", "/r/{token}", "respond"),
            *follow_up_routes("follow_up", authorizer=users.key),
            *nurture.routes,
        ),
        user_pools=(users,),
        inbound_mail=nurture.inbound_mail,
        queue_triggers=(
            QueueTrigger(queue="intake", function="intake", batch_size=10),
            QueueTrigger(queue="routing", function="route", batch_size=10),
            QueueTrigger(queue="notify", function="notify", batch_size=10),
            *nurture.queue_triggers,
            *webhooks.queue_triggers,
        ),
        schedules=(
            ScheduleSpec(
                key="sla-sweep",
                name=f"{prefix}-sla-sweep",
                function="sla",
                every_minutes=1,
                description="Find leads whose reminder or accept deadline is due (a Query of the due index)",
            ),
            *nurture.schedules,
        ),
        buckets=(reports,),
        cron_schedules=(
            CronScheduleSpec(
                key="weekly-report",
                name=f"{prefix}-weekly-report",
                function="report_weekly",
                cron=config.report.weekly,
                timezone=config.report.timezone,
                description="The week's funnel by email to [report] recipients; its CSV kept in the reports bucket",
            ),
        ),
    )


def follow_up_routes(function: str, authorizer: str) -> tuple[RouteSpec, ...]:
    """The API people sign in to (leadflow.follow_up.api); its OpenAPI document is public, the rest is not."""
    signed_in = (
        ("GET", "/me"),
        ("PUT", "/me/away"),
        ("GET", "/leads"),
        ("GET", "/leads/{lead_id}"),
        ("POST", "/leads/{lead_id}/claim"),
        ("POST", "/leads/{lead_id}/follow-up"),
        ("GET", "/teams/{team}/queue"),
        ("GET", "/reps"),
        ("PATCH", "/reps/{rep_id}"),
        ("GET", "/reports/funnel"),
        ("GET", "/reports/rules"),
    )
    return (
        RouteSpec("GET", "/openapi.json", function),
        *(RouteSpec(method, path, function, authorizer=authorizer) for method, path in signed_in),
    )


@dataclass(frozen=True)
class _Part:
    """Resources a feature adds to the stack only when the client file asks for it."""

    queues: tuple[QueueSpec, ...] = ()
    secrets: tuple[SecretSpec, ...] = ()
    event_rules: tuple[EventRuleSpec, ...] = ()
    functions: tuple[FunctionSpec, ...] = ()
    queue_triggers: tuple[QueueTrigger, ...] = ()
    routes: tuple[RouteSpec, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    inbound_mail: tuple[InboundMailSpec, ...] = ()


# Lambda gives a function processor time in proportion to its memory: one vCPU at 1,769 MB, 0.29 of one at
# 512 MB. Rendering, signing and building fifty emails a batch is processor work (make bench: about 1.7 ms a
# step), which at 512 MB would take three and a half times as long, every second of it function time. A sweep
# that finds nothing due takes a fraction of a second, so the larger size costs next to nothing when idle.
SENDER_MEMORY_MB = 1769


def unsubscribe_mailbox(client: str, stage: str, domain: str | None) -> str | None:
    """The address the mailto of a nurture email's List-Unsubscribe names, or None with no domain to receive at.

    One per stack (at most 57 characters before the @, under the 64 an address allows): the
    receipt rule takes the stack's own mail and no other's.
    """
    return None if domain is None else f"unsubscribe-{client}{_stage_suffix(stage)}@{domain}"


def _nurture(
    config: ClientConfig,
    stage: str,
    prefix: str,
    changes_leads: dict[str, EnvValue],
    email: EmailSpec,
    link_key: SecretSpec,
) -> _Part:
    """Nurture (leadflow.nurture): the sweep and its queue, the sender, the links in emails, SES's events.

    Every stack has them, sequences or not: the links in a sent email and SES's events about it
    must keep working after a client removes its last sequence.
    """
    sends_email: dict[str, EnvValue] = {
        **changes_leads,
        "PUBLIC_API_URL": config.notify.public_url or ResourceRef("api_url", "api"),
        "EMAIL_CONFIGURATION_SET": ResourceRef("email_configuration_set", "email"),
        "NURTURE_QUEUE_URL": ResourceRef("queue_url", "nurture"),
        LINK_KEY_SECRET_VARIABLE: link_key.name,  # its name: the value is read at cold start
    }
    mailbox = unsubscribe_mailbox(config.name, stage, config.nurture.unsubscribe_mail_domain)
    inbound_mail: tuple[InboundMailSpec, ...] = ()
    if mailbox is not None:
        sends_email[UNSUBSCRIBE_MAILBOX_VARIABLE] = mailbox
        inbound_mail = (
            InboundMailSpec(
                key="unsubscribe-mail",
                rule_set=config.nurture.receipt_rule_set,
                rule_name=prefix,
                recipient=mailbox,
                topic_name=f"{prefix}-unsubscribe-mail",
                queue="ses-events",
            ),
        )
    sends_grants = (  # steps go out in bulk; the queue's consumer also sends each acknowledgement alone
        Grant("leads", "apply_changes"),
        Grant("events", "publish"),
        Grant("email", "send_bulk_email"),
        Grant("link-key", "read_secret"),
    )
    ses_events = QueueSpec(
        key="ses-events",
        name=f"{prefix}-ses-events",
        dead_letter_name=f"{prefix}-ses-events-dlq",
        visibility_timeout_s=180,
        max_receive_count=5,
    )
    return _Part(
        queues=(_lead_queue(prefix, "nurture"), ses_events),
        event_rules=(
            EventRuleSpec(
                key="ses-events",
                name=f"{prefix}-ses-events",
                bus=DEFAULT_BUS,
                source=SOURCE,
                detail_types=DETAIL_TYPES,
                queue="ses-events",
                detail={"mail": {"tags": {CONFIGURATION_SET_TAG: [email.configuration_set]}}},
            ),
        ),
        functions=(
            FunctionSpec(
                key="nurture_sweep",
                description="Every few minutes: send each nurture email that is due, or hand them to the nurture queue",
                source_dir=FUNCTIONS_DIR / "nurture_sweep",
                memory_mb=SENDER_MEMORY_MB,
                timeout_s=120,
                environment=sends_email,
                grants=(*sends_grants, Grant("leads", "query_indexes"), Grant("nurture", "send")),
            ),
            FunctionSpec(
                key="nurture_send",
                description="Send the acknowledgements inquiries promised, and the nurture steps a sweep handed on",
                source_dir=FUNCTIONS_DIR / "nurture_send",
                memory_mb=SENDER_MEMORY_MB,
                timeout_s=30,
                environment=sends_email,
                grants=(*sends_grants, Grant("email", "send_email"), Grant("nurture", "consume")),
            ),
            FunctionSpec(
                key="email_links",
                description="GET and POST /u/{token} (unsubscribe, one click); GET /c/{token} (a click, then its page)",
                source_dir=FUNCTIONS_DIR / "email_links",
                memory_mb=512,
                timeout_s=10,
                environment={
                    **changes_leads,
                    "INTAKE_QUEUE_URL": ResourceRef("queue_url", "intake"),  # a click raises the score there
                    LINK_KEY_SECRET_VARIABLE: link_key.name,
                },
                grants=(
                    Grant("leads", "apply_changes"),
                    Grant("events", "publish"),
                    Grant("intake", "send"),
                    Grant("link-key", "read_secret"),
                ),
            ),
            FunctionSpec(
                key="ses_events",
                description="Suppress an address SES reports bounced or complained, or that mailed an unsubscribe",
                source_dir=FUNCTIONS_DIR / "ses_events",
                memory_mb=256,
                timeout_s=30,
                environment={**changes_leads, LINK_KEY_SECRET_VARIABLE: link_key.name},  # an unsubscribe's token
                grants=(
                    Grant("leads", "apply_changes"),
                    Grant("events", "publish"),
                    Grant("ses-events", "consume"),
                    Grant("link-key", "read_secret"),
                ),
            ),
        ),
        queue_triggers=(
            QueueTrigger(queue="nurture", function="nurture_send", batch_size=10, max_concurrency=CONCURRENT_SENDERS),
            QueueTrigger(queue="ses-events", function="ses_events", batch_size=10),
        ),
        routes=(
            RouteSpec("GET", "/u/{token}", "email_links"),
            RouteSpec("POST", "/u/{token}", "email_links"),
            RouteSpec("GET", "/c/{token}", "email_links"),
        ),
        schedules=(
            ScheduleSpec(
                key="nurture-sweep",
                name=f"{prefix}-nurture-sweep",
                function="nurture_sweep",
                every_minutes=config.nurture.sweep_every_minutes,
                description="Find nurture emails that are due (a Query of the due index) and send them",
            ),
        ),
        inbound_mail=inbound_mail,
    )


def _webhooks(config: ClientConfig, prefix: str, common_env: dict[str, EnvValue]) -> _Part:
    """The client's webhooks (leadflow.webhooks): the bus's rule, the queue, the key, the delivery function.

    None of it when the client file configures no webhook.
    """
    hooks = config.notify.webhooks
    if not hooks:
        return _Part()
    wanted = {event for hook in hooks for event in hook.events}
    delivery_timeout_s = 60  # a batch of 5 deliveries, each allowed 5 s per network wait
    return _Part(
        queues=(
            QueueSpec(
                key="webhooks",
                name=f"{prefix}-webhooks",
                dead_letter_name=f"{prefix}-webhooks-dlq",
                visibility_timeout_s=6 * delivery_timeout_s,  # while a batch is handled; a failure sets its own
                max_receive_count=WEBHOOK_ATTEMPTS,
                retries_take_s=retries_span_s() + 6 * delivery_timeout_s,
            ),
        ),
        secrets=(
            SecretSpec(
                key="webhook-key",
                name=f"{prefix}-webhook-key",
                description="Signs the webhooks this stack sends (Leadflow-Signature); receivers verify with it",
                not_rotated_because="Every receiver of the client's webhooks holds this key to verify them "
                "(`leadflow webhooks key`); rotating it on a schedule would make them refuse every webhook until "
                "each was given the new key by hand. Rotate it by deleting the secret's value and redeploying, "
                "then giving each receiver the new key.",
            ),
        ),
        event_rules=(
            EventRuleSpec(
                key="webhooks",
                name=f"{prefix}-webhooks",
                bus="events",
                source=event_source(config.name),
                detail_types=tuple(event for event in WEBHOOK_EVENTS if event in wanted),
                queue="webhooks",
            ),
        ),
        functions=(
            FunctionSpec(
                key="webhooks",
                description="POST each event a client's webhook wants to it, signed; retry with backoff",
                source_dir=FUNCTIONS_DIR / "webhooks",
                memory_mb=256,
                timeout_s=delivery_timeout_s,
                environment={
                    **common_env,
                    "WEBHOOKS_QUEUE_URL": ResourceRef("queue_url", "webhooks"),
                    WEBHOOK_KEY_SECRET_VARIABLE: f"{prefix}-webhook-key",  # its name: the value is read at cold start
                },
                grants=(
                    Grant("webhooks", "consume"),
                    Grant("webhooks", "send"),  # an event, split into one message per webhook
                    Grant("webhooks", "retry_later"),  # a failed delivery's backoff
                    Grant("webhook-key", "read_secret"),
                ),
            ),
        ),
        queue_triggers=(QueueTrigger(queue="webhooks", function="webhooks", batch_size=5),),
    )

"""`make bench`, routing's figures: writes per lead to an owner, decisions per second, the sweep's reads, speed-to-lead.

Called by leadflow.bench with moto's server running and the demo stack's resources made:
- DynamoDB write requests per lead from capture to owner assigned, counted from botocore's
  events while the unchanged handlers run in process (goal <= 6);
- routing decisions per second through the route consumer, against the storage floor: the
  same transactions routing writes, planned beforehand and written bare;
- the SLA sweep's items read per due lead, with STORED leads in the table (goal <= 1.1);
- speed-to-lead: a demo request's POST to its owner's email in SES, on `leadflow local`
  (median and 95th percentile), against the same handlers called one after another in
  process with nothing waiting between them (goal: the local median <= 2x that).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.definition import REPO_ROOT, StackDefinition
from leadflow.local.pollers import sqs_event
from leadflow.local.workers import LambdaContext, load_handler
from leadflow.nurture.sequences import nurture_keeper
from leadflow.route.roster import Rep

CHAIN_LEADS = int(os.environ.get("LEADFLOW_BENCH_CHAIN", "20"))
ROUTED_LEADS = int(os.environ.get("LEADFLOW_BENCH_ROUTED", "100"))
DUE_LEADS = 100
WRITE_APIS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}
GOALS = {"writes_to_owner": 6, "sweep_reads_per_due_lead": 1.1, "speed_to_lead_ratio": 2.0}
EVERY_HOUR = {"workdays": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), "hours": ("00:00-23:59",)}


def bench_rep(rep_id: str, team: str = "sales") -> Rep:
    return Rep(rep_id=rep_id, name=rep_id.title(), email=f"{rep_id}@demo.example", teams=(team,), capacity=100_000,
               timezone="UTC", **EVERY_HOUR)  # type: ignore[arg-type]  # fmt: skip


def path_to_owner(definition: StackDefinition, resources: Any) -> dict[str, Any]:
    """Capture, intake, route and notify in process, one lead at a time: writes per lead and seconds per lead."""
    import boto3

    from leadflow.aws.roster import RosterTable

    session = boto3.Session(region_name="us-east-1")
    sqs, table = session.client("sqs"), definition.table("leads").name
    RosterTable(table, session.client("dynamodb")).add_rep(bench_rep("rep_chain"))
    counting = {"on": False}
    writes: Counter[str] = Counter()

    def count(event_name: str, **kwargs: Any) -> None:
        _, service, operation = event_name.split(".", 2)
        if counting["on"] and service == "dynamodb" and operation in WRITE_APIS:
            writes[operation] += 1

    boto3.setup_default_session(region_name="us-east-1")
    boto3.DEFAULT_SESSION.events.register("before-send", count)
    from leadflow import wiring

    wiring.forget_cached()  # the functions' clients, made anew on the session that counts
    handlers = {key: load_handler(definition.function(key), f"bench_chain_{key}") for key in
                ("capture", "intake", "route", "notify")}  # fmt: skip
    context = LambdaContext("bench", 512, 30, "bench")
    sample = json.loads((REPO_ROOT / "events" / "capture-json-post.json").read_text())
    for headers in (sample["headers"], sample["multiValueHeaders"]):
        headers.pop("Idempotency-Key", None)
    seconds = []
    with contextlib.redirect_stdout(io.StringIO()):
        for n in range(CHAIN_LEADS):
            body = {"email": f"chain{n}@freight{n}.example", "first_name": "Chain", "inquiry_type": "demo_request"}
            started = time.perf_counter()
            assert handlers["capture"](dict(sample, body=json.dumps(body)), context)["statusCode"] == 202
            for queue, key in (("intake", "intake"), ("routing", "route"), ("notify", "notify")):
                counting["on"] = key in ("intake", "route")
                _deliver(sqs, resources, queue, handlers[key], context)
                counting["on"] = False
            seconds.append(time.perf_counter() - started)
    return {"writes": writes, "seconds": seconds}


def _deliver(sqs: Any, resources: Any, queue: str, handler: Any, context: Any) -> None:
    url, arn = resources.queue_urls[queue], resources.queue_arns[queue]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
    if not messages:
        raise SystemExit(f"nothing reached the {queue} queue")
    answer = handler(sqs_event(messages, arn, "us-east-1"), context)
    assert answer == {"batchItemFailures": []}, answer
    sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                    for i, m in enumerate(messages)])  # fmt: skip


def routing_throughput(definition: StackDefinition, config: Any, endpoint: str) -> dict[str, float]:
    """Leads routed per second by the route consumer, against its transactions written bare into a twin table."""
    import boto3
    import requests

    from leadflow.aws.leads_table import LeadsTable, change_transaction
    from leadflow.aws.roster import RosterTable
    from leadflow.bench import BENCH_IDS
    from leadflow.capture.request import CaptureRules, WebRequest, handle_capture
    from leadflow.lead.change import LeadServices
    from leadflow.local.resources import create_resources, create_table
    from leadflow.qualify.changes import record_inquiry
    from leadflow.route.assignment import pick_owner
    from leadflow.route.changes import plan_routing
    from leadflow.route.facts import routing_facts

    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    session = boto3.Session(region_name="us-east-1")
    create_resources(definition, session)
    dynamodb, table = session.client("dynamodb"), definition.table("leads").name
    floor_table = dataclasses.replace(definition.table("leads"), name=f"{table}-floor")
    create_table(dynamodb, floor_table)
    roster = RosterTable(table, dynamodb)
    reps = [bench_rep(f"rep_{n:02d}") for n in range(10)]
    for rep in reps:
        roster.add_rep(rep)
        RosterTable(floor_table.name, dynamodb).add_rep(rep)
    store = LeadsTable(table, dynamodb)
    services = LeadServices(config.name, store, _NoBus(), {"routing": _NoQueue()}, keep=nurture_keeper(config))
    rules, now = CaptureRules.of(config), datetime.now(UTC)
    messages, floor = [], []
    for n in range(ROUTED_LEADS):
        body = {"email": f"routed{n}@gmail.com", "inquiry_type": "demo_request"}  # free mail: no account match
        captured = handle_capture(WebRequest("POST", {"content-type": "application/json"}, json.dumps(body).encode()),
                                  rules, BENCH_IDS).captured  # fmt: skip
        assert captured is not None
        applied = record_inquiry(captured.message, services, config.qualify, now)
        assert applied.change is not None
        messages.append(applied.change.handoffs[0].message)
        profile = applied.change.profile
        pick = pick_owner(routing_facts(profile, "US"), config.route, reps, now)
        change = plan_routing(profile, messages[-1]["handed_off_at"], pick, {})
        items = change_transaction(floor_table.name, change, None, []).items
        for item in items:  # bare: no condition that could fail
            for kind in item.values():
                kind.pop("ConditionExpression", None)
                if "ExpressionAttributeValues" in kind:
                    kind["ExpressionAttributeValues"].pop(":read", None)
                    kind["ExpressionAttributeValues"].pop(":v", None)
                    if not kind["ExpressionAttributeValues"]:
                        kind.pop("ExpressionAttributeValues")
        floor.append(items)
    route = load_handler(definition.function("route"), "bench_route_throughput")
    context = LambdaContext("bench", 512, 30, "bench")
    records = [_record(message) for message in messages]
    spent = {"floor": 0.0, "routed": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):
        for start in range(0, len(records), 10):
            started = time.perf_counter()
            for items in floor[start : start + 10]:
                dynamodb.transact_write_items(TransactItems=items)
            spent["floor"] += time.perf_counter() - started
            started = time.perf_counter()
            assert route({"Records": records[start : start + 10]}, context) == {"batchItemFailures": []}
            spent["routed"] += time.perf_counter() - started
    return {"routed": len(records) / spent["routed"], "floor": len(floor) / spent["floor"]}


class _NoBus:
    def publish(self, source: str, events: list[dict[str, Any]]) -> None:
        return None


class _NoQueue:
    def send(self, message: dict[str, Any], *, group_id: str, deduplication_id: str) -> None:
        return None


def _record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["lead_id"], "receiptHandle": message["lead_id"], "body": json.dumps(message),
        "attributes": {"MessageGroupId": message["lead_id"], "ApproximateReceiveCount": "1"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench-routing.fifo", "awsRegion": "us-east-1",
    }  # fmt: skip


def sweep_reads(config: Any, table_name: str) -> dict[str, float]:
    """Items the sweep reads per due lead, in a table that holds the STORED seeded leads besides."""
    import boto3

    from leadflow.aws.leads_table import LeadsTable
    from leadflow.aws.roster import RosterTable
    from leadflow.bench import BENCH_IDS
    from leadflow.lead.change import LeadServices
    from leadflow.local.seed import synthetic_message
    from leadflow.qualify.changes import record_inquiry
    from leadflow.route.changes import route_lead

    dynamodb = boto3.Session(region_name="us-east-1").client("dynamodb")
    store, roster = LeadsTable(table_name, dynamodb), RosterTable(table_name, dynamodb)
    roster.add_rep(bench_rep("rep_sweep"))
    services = LeadServices(config.name, store, _NoBus(), {"routing": _NoQueue()}, keep=nurture_keeper(config))
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday morning in Berlin
    for n in range(2 * DUE_LEADS):  # half due at the tick, half a week later
        message = synthetic_message(config, BENCH_IDS, 5_000_000 + n, start)
        message["fields"]["inquiry_type"] = "demo_request"
        applied = record_inquiry(message, services, config.qualify, start)
        assert applied.change is not None
        at = start if n < DUE_LEADS else start + timedelta(days=7)
        route_lead(applied.change.handoffs[0].message, services, config, roster, store, now=at)
    before = store.items_read
    due = list(store.due_lead_ids((start + timedelta(hours=2)).isoformat(timespec="milliseconds")))
    return {"due": float(len(due)), "read": float(store.items_read - before)}


def speed_to_lead_local(posts: int = 20) -> list[float]:
    """Seconds from a demo request's POST to its owner's email in SES, on `leadflow local`, one at a time."""
    import boto3
    import requests

    from leadflow.aws.roster import RosterTable
    from leadflow.bench import start_local, stop_local

    scratch = Path(tempfile.mkdtemp(prefix="leadflow-bench-speed-"))
    process, api_port, moto_port, log = start_local(scratch)
    try:
        endpoint = f"http://127.0.0.1:{moto_port}"
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        RosterTable("leadflow-demo-leads", dynamodb).add_rep(bench_rep("rep_speed"))
        seconds = []
        for n in range(posts):
            sent = _emails_sent(endpoint)
            started = time.monotonic()
            body = {"email": f"speed{n}@haulage{n}.example", "inquiry_type": "demo_request"}
            answer = requests.post(f"http://127.0.0.1:{api_port}/leads", timeout=30, json=body)
            assert answer.status_code == 202, answer.text
            while _emails_sent(endpoint) == sent:
                if time.monotonic() - started > 60:
                    raise SystemExit(f"no owner's email within 60 s of post {n}; see {scratch / 'local.log'}")
                time.sleep(0.01)
            seconds.append(time.monotonic() - started)
        return seconds
    finally:
        stop_local(process, log, scratch)


def _emails_sent(endpoint: str) -> int:
    import requests

    state = requests.get(f"{endpoint}/moto-api/data.json", timeout=30).json()
    return len(state.get("ses", {}).get("RawMessage", []))


def report(chain: dict[str, Any], throughput: dict[str, float], sweep: dict[str, float], local: list[float],
           stored: int) -> None:  # fmt: skip
    writes = sum(chain["writes"].values()) / CHAIN_LEADS
    print(f"\nrouting: capture to owner assigned ({CHAIN_LEADS} demo requests, handlers in process)")
    print(f"  DynamoDB write requests per lead: {writes:.2f}   (goal <= {GOALS['writes_to_owner']})")
    for api, n in sorted(chain["writes"].items()):
        print(f"      {api:34} {n / CHAIN_LEADS:.2f}")
    ratio = throughput["routed"] / throughput["floor"]
    print(f"  routing decisions: {ratio:.2f}x the storage floor ({throughput['routed']:.0f}/s against"
          f" {throughput['floor']:.0f}/s for the same transactions written bare;"
          f" {ROUTED_LEADS} leads, 10 reps)")  # fmt: skip
    per_due = sweep["read"] / max(sweep["due"], 1)
    print(f"  SLA sweep with {stored:,} leads stored: {sweep['read']:.0f} items read for {sweep['due']:.0f} due leads:"
          f" {per_due:.2f} per due lead   (goal <= {GOALS['sweep_reads_per_due_lead']})")  # fmt: skip
    direct = statistics.median(chain["seconds"])
    median, p95 = statistics.median(local), statistics.quantiles(local, n=20)[-1]
    print(f"  speed-to-lead on leadflow local (POST to the owner's email in SES, {len(local)} one at a time):"
          f" median {median:.2f} s, 95th percentile {p95:.2f} s")  # fmt: skip
    print(f"    {median / direct:.2f}x the same handlers called back to back in process ({direct:.2f} s)"
          f"   (goal <= {GOALS['speed_to_lead_ratio']}x)")  # fmt: skip

"""`make bench`: leadflow's performance goals, measured against baselines taken in the same run.

Figures are ratios or counts, never wall-clock thresholds (sizes: LEADFLOW_BENCH_STORED, default 100,000;
LEADFLOW_BENCH_BURST, default 1,000 inquiries):
- intake throughput with STORED leads already in the table against a fresh table, batch by
  batch in the same run (goal >= 0.8), and the resident memory each stored lead costs;
- the drain of a burst of BURST inquiries posted at concurrency 20 to `leadflow local`: the
  seconds from the last 2xx to the last lead stored (goal <= 60 s);
- capture's cold start (import + first invocation, in a fresh process) against a bare
  handler that imports boto3 and sends the same SQS message;
- AWS requests per captured lead, by API, counted from botocore's own events while the
  unchanged handlers run against moto's server: capture, then the intake consumer (which
  stores, qualifies, publishes and hands off);
- qualify throughput: leads per second through the intake consumer, against the rate of a
  bare PutItem per lead on the same moto server;
- routing's figures (leadflow.bench_routing): writes per lead to an owner, decisions per
  second against the storage floor, the SLA sweep's reads per due lead at STORED leads, and
  speed-to-lead on `leadflow local` against the same handlers called back to back;
- nurture's figures (leadflow.bench_nurture): the sweep's reads per due step with 100,000 leads
  in nurture, and the function time per due step sent against the bare floor;
- the report's figures (leadflow.bench_report): items a 90-day funnel reads at 10,000 and at
  STORED leads (goal: ratio <= 1.05), and its answer time on `leadflow local` with STORED leads.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from leadflow import bench_nurture, bench_report
from leadflow.bench_routing import path_to_owner, routing_throughput, speed_to_lead_local, sweep_reads
from leadflow.bench_routing import report as report_routing
from leadflow.config import config_snapshot, load_client_config
from leadflow.definition import REPO_ROOT, build_definition
from leadflow.lead.ids import LeadIds
from leadflow.local.resources import create_resources, create_table
from leadflow.local.runtime import local_aws_environment
from leadflow.local.workers import LambdaContext, load_handler

RUNS = int(os.environ.get("LEADFLOW_BENCH_RUNS", "7"))
THROUGHPUT_LEADS = int(os.environ.get("LEADFLOW_BENCH_LEADS", "100"))
LEADS = 40
REPEATS = 10
BENCH_IDS = LeadIds("demo", b"bench-lead-id-key-" + b"0" * 32)
STORED = int(os.environ.get("LEADFLOW_BENCH_STORED", "100000"))
BURST = int(os.environ.get("LEADFLOW_BENCH_BURST", "1000"))
GOALS = {
    "cold_start_ratio": 1.25,
    "requests_per_capture": 1,
    "writes_per_new_lead": 2,
    "stored_throughput_ratio": 0.8,
    "burst_drain_s": 60,
}

_COLD_START = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, {source_dir!r})
import handler
event = json.loads(open({event!r}).read())
answer = handler.handler(event, {context})
t1 = time.perf_counter()
assert answer["statusCode"] == 202, answer
print(t1 - t0)
"""

_BARE_HANDLER = """
import json, os, time
import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    message = {"email": "bench@example.com", "received_at": time.time()}
    sqs.send_message(QueueUrl=os.environ["INTAKE_QUEUE_URL"], MessageBody=json.dumps(message),
                     MessageGroupId="bench", MessageDeduplicationId=str(time.time_ns()))
    return {"statusCode": 202}
"""

_CONTEXT = (
    "type('Context', (), {'function_name': 'bench', 'memory_limit_in_mb': 512, 'aws_request_id': 'bench', "
    "'invoked_function_arn': 'arn:aws:lambda:us-east-1:123456789012:function:bench', "
    "'get_remaining_time_in_millis': lambda self: 10000})()"
)


def main() -> None:
    from leadflow.local.moto_server import MotoServer
    from leadflow.local.runtime import _require_free_port

    port = int(os.environ.get("LEADFLOW_BENCH_MOTO_PORT", "4599"))
    _require_free_port("127.0.0.1", port, "moto")
    server = MotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        env = local_aws_environment(f"http://127.0.0.1:{port}", "us-east-1")
        os.environ.update(env)
        config = load_client_config(REPO_ROOT / "clients" / "demo.toml")
        snapshot = Path(tempfile.mkdtemp(prefix="leadflow-bench-")) / "client.json"
        snapshot.write_text(config_snapshot(config))
        definition = build_definition(config)
        import boto3

        resources = create_resources(definition, boto3.Session(region_name="us-east-1"))
        every_function = {name: value for spec in definition.functions for name, value in spec.environment.items()}
        function_env = {
            **env,
            **resources.environment(every_function),
            "LEADFLOW_CLIENT_CONFIG": str(snapshot),
            "POWERTOOLS_METRICS_NAMESPACE": "leadflow-bench",
        }
        print(f"leadflow bench: demo client against moto's server; {RUNS} fresh processes per cold-start figure\n")
        cold = cold_start(definition.function("capture").source_dir, function_env)
        boto3.client("sqs").purge_queue(QueueUrl=resources.queue_urls["intake"])  # the cold-start runs' posts
        os.environ.update(function_env | _QUIET)
        requests = requests_per_lead(definition, resources)
        throughput = qualify_throughput(definition, config, f"http://127.0.0.1:{port}")
        units = write_units_per_new_lead(config, definition)
        routed = routing_throughput(definition, config, f"http://127.0.0.1:{port}")
        chain = path_to_owner(definition, create_resources(definition, boto3.Session(region_name="us-east-1")))
        scale = stored_throughput(definition, config)
        stored_table = scale.pop("table")  # the table with STORED leads in it
        sweep = sweep_reads(config, stored_table)
        report_reads = bench_report.report_reads(definition, config, stored_table, STORED)
        nurture_reads = bench_nurture.sweep_reads(definition, config)
        nurture_sends = bench_nurture.send_time(definition, config, resources, snapshot)
    finally:
        server.stop()
    report(cold, requests, units)
    report_throughput(throughput)
    report_scale(scale)
    report_burst(burst_drain())
    report_routing(chain, routed, sweep, speed_to_lead_local(), STORED)
    bench_nurture.report(nurture_reads, nurture_sends)
    bench_report.report(report_reads, bench_report.answer_time_local(STORED))


def cold_start(capture_dir: Path, env: dict[str, str]) -> dict[str, float]:
    """Median seconds from first import to the first answer, capture against the bare handler."""
    with tempfile.TemporaryDirectory() as scratch:
        bare_dir = Path(scratch) / "bare"
        bare_dir.mkdir()
        (bare_dir / "handler.py").write_text(_BARE_HANDLER)
        event = Path(scratch) / "event.json"
        sample = json.loads((REPO_ROOT / "events" / "capture-json-post.json").read_text())
        for headers in (sample["headers"], sample["multiValueHeaders"]):
            headers.pop("Idempotency-Key", None)  # each run a new inquiry, as a first post is
        event.write_text(json.dumps(sample))
        times: dict[str, list[float]] = {"capture": [], "bare": []}
        for _ in range(RUNS):  # interleaved, so drift on the machine touches both alike
            for name, source in (("capture", capture_dir), ("bare", bare_dir)):
                script = _COLD_START.format(source_dir=str(source), event=str(event), context=_CONTEXT)
                out = subprocess.run(
                    [sys.executable, "-c", script],
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if out.returncode != 0:
                    raise SystemExit(f"cold-start run of {name} failed:\n{out.stderr}")
                times[name].append(float(out.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(values) for name, values in times.items()}


def requests_per_lead(definition: Any, resources: Any) -> dict[str, Counter[str]]:
    """AWS requests the handlers make, by API, in two rounds: new people, then repeat inquiries."""
    import boto3

    from leadflow.local.pollers import sqs_event

    boto3.setup_default_session(region_name="us-east-1")
    phase = {"now": ""}
    counts: dict[str, Counter[str]] = {p: Counter() for p in ("capture", "intake-new", "intake-repeat")}

    def count(event_name: str, **kwargs: Any) -> None:
        if phase["now"]:
            _, service, operation = event_name.split(".", 2)
            counts[phase["now"]][f"{service}.{operation}"] += 1

    boto3.DEFAULT_SESSION.events.register("before-send", count)
    from leadflow import wiring

    wiring.forget_cached()  # the functions' clients, made anew on the session that counts
    capture = load_handler(definition.function("capture"), "bench_capture")
    intake = load_handler(definition.function("intake"), "bench_intake")
    sample = json.loads((REPO_ROOT / "events" / "capture-json-post.json").read_text())
    for headers in (sample["headers"], sample["multiValueHeaders"]):
        headers.pop("Idempotency-Key", None)
    context = LambdaContext("bench", 512, 30, "bench")
    sqs = boto3.client("sqs")
    url, arn = resources.queue_urls["intake"], resources.queue_arns["intake"]

    for round_name, people in (("intake-new", range(LEADS)), ("intake-repeat", range(REPEATS))):
        phase["now"] = "capture"
        for n in people:
            event = dict(sample, body=json.dumps({"email": f"person{n}@example.com", "first_name": "Bench"}))
            with contextlib.redirect_stdout(io.StringIO()):
                assert capture(event, context)["statusCode"] == 202
        phase["now"] = ""
        handled = 0
        while handled < len(people):
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
            messages = received.get("Messages", [])
            if not messages:
                raise SystemExit(f"only {handled} of {len(people)} inquiries reached the intake queue")
            phase["now"] = round_name
            with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics, printed as EMF
                answer = intake(sqs_event(messages, arn, "us-east-1"), context)
            phase["now"] = ""
            assert answer == {"batchItemFailures": []}, answer
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
            handled += len(messages)
    return counts


def qualify_throughput(definition: Any, config: Any, endpoint: str) -> dict[str, float]:
    """Leads per second through the intake consumer, against the storage floor on the same server.

    The floor is the one write storing a lead cannot do without: the same TransactWriteItems
    intake makes for each lead (planned beforehand, so only the writes are timed), into a twin
    table. moto copies tables for every transaction, so the two run batch by batch and their
    tables grow alike; the ratio then speaks of leadflow's own work around that write (the
    read, qualification, events, hand-offs, clearing the outbox), not of moto.
    """
    import boto3
    import requests

    from leadflow.aws.leads_table import change_transaction
    from leadflow.capture.request import CaptureRules, WebRequest, handle_capture
    from leadflow.qualify.changes import plan_inquiry

    session = boto3.Session(region_name="us-east-1")
    rules, table = CaptureRules.of(config), definition.table("leads").name
    titles = ["VP Operations", "Student", "CEO", "Analyst", "Head of Logistics"]
    messages = []
    for n in range(THROUGHPUT_LEADS):
        body = {"email": f"lead{n}@company{n % 7}.example", "job_title": titles[n % len(titles)]}
        if n % 4 == 0:
            body["inquiry_type"] = "demo_request"
        request = WebRequest("POST", {"content-type": "application/json"}, json.dumps(body).encode())
        captured = handle_capture(request, rules, BENCH_IDS).captured
        assert captured is not None
        messages.append(captured.message)

    requests.post(f"{endpoint}/moto-api/reset", timeout=10)
    create_resources(definition, session)
    floor_table = dataclasses.replace(definition.table("leads"), name=f"{table}-floor")
    create_table(session.client("dynamodb"), floor_table)
    now = datetime.now(UTC)
    writes = [
        change_transaction(floor_table.name, plan_inquiry(None, m, config.qualify, now), None, []).items
        for m in messages
    ]
    dynamodb = session.client("dynamodb")
    intake = load_handler(definition.function("intake"), "bench_intake_throughput")
    context = LambdaContext("bench", 512, 30, "bench")
    records = [_record(message) for message in messages]
    # Batch by batch, floor then intake, so both tables grow alike and drift touches both.
    spent = {"floor": 0.0, "qualified": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics, printed as EMF
        for start in range(0, len(records), 10):
            started = time.perf_counter()
            for items in writes[start : start + 10]:
                dynamodb.transact_write_items(TransactItems=items)
            spent["floor"] += time.perf_counter() - started
            started = time.perf_counter()
            answer = intake({"Records": records[start : start + 10]}, context)
            spent["qualified"] += time.perf_counter() - started
            assert answer == {"batchItemFailures": []}, answer
    floor, qualified = len(writes) / spent["floor"], len(records) / spent["qualified"]
    return {"qualified": qualified, "floor": floor}


def report_throughput(figures: dict[str, float]) -> None:
    ratio = figures["qualified"] / figures["floor"]
    print(f"\nqualify throughput ({THROUGHPUT_LEADS} new leads through the intake consumer, in process, batches of 10)")
    print(
        f"  {ratio:.2f}x the storage floor (the same transaction per lead, written bare)   "
        f"({figures['qualified']:.0f} leads/s against {figures['floor']:.0f}/s on this moto server)"
    )


def report(cold: dict[str, float], counts: dict[str, Counter[str]], units: float) -> None:
    ratio = cold["capture"] / cold["bare"]
    print("capture cold start (import + first invocation, median)")
    print(
        f"  {ratio:.2f}x the bare boto3 handler   (goal <= {GOALS['cold_start_ratio']}x;"
        f" capture {cold['capture'] * 1000:.0f} ms, bare {cold['bare'] * 1000:.0f} ms on this machine)"
    )
    posts = LEADS + REPEATS
    print(f"\nAWS requests per inquiry, by API ({LEADS} new people, then {REPEATS} of them again)")
    _print_counts("capture, per post", counts["capture"], posts, f"goal {GOALS['requests_per_capture']}")
    _print_counts("intake, per new lead", counts["intake-new"], LEADS, f"goal <= {GOALS['writes_per_new_lead']} writes")
    _print_counts("intake, per repeat inquiry", counts["intake-repeat"], REPEATS, "")
    print(f"  DynamoDB write units per new lead: {units:.1f} (by DynamoDB's pricing rules, from the items' sizes)")
    print("\nRatios compare runs made here, now, against the same moto server; absolute times are context only.")


def _print_counts(title: str, counted: Counter[str], per: int, goal: str) -> None:
    writes = sum(n for api, n in counted.items() if api.split(".")[1] in _WRITE_APIS)
    print(f"  {title}: {sum(counted.values()) / per:.2f} AWS requests, {writes / per:.2f} DynamoDB writes  {goal}")
    for api, n in sorted(counted.items()):
        print(f"      {api:34} {n / per:.2f}")


def write_units_per_new_lead(config: Any, definition: Any) -> float:
    """Write capacity units a new lead costs on DynamoDB: its transaction (2 per KB per item) and the outbox clear.

    The counter and report items an update adds to are counted at their key's size, one unit
    each: DynamoDB charges an update by the whole item, so a report item that holds many values
    costs more (see the README's report row).
    """
    from leadflow.aws.leads_table import OutboxItem, change_transaction
    from leadflow.local.seed import synthetic_message
    from leadflow.qualify.changes import plan_inquiry
    from leadflow.report.figures import new_figures

    now, total, leads = datetime.now(UTC), 0, 50
    for n in range(leads):
        change = plan_inquiry(None, synthetic_message(config, BENCH_IDS, n, now), config.qualify, now)
        change.figures = new_figures(None, change.profile, change.timeline)  # type: ignore[arg-type]
        written = change_transaction("t", change, None, OutboxItem.of(change))
        for entry in written.items:
            item = (entry.get("Put") or {}).get("Item") or entry["Update"]["Key"]
            total += 2 * -(-_item_bytes(item) // 1024)
        profile = written.profile_item
        total += -(-_item_bytes({k: v for k, v in profile.items() if k != "outbox"}) // 1024)  # REMOVE outbox
    return total / leads


def _item_bytes(value: Any) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (approximately, for nested maps)."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("S", "N", "B", "BOOL", "NULL"):
            return len(str(next(iter(value.values()))).encode())
        return sum(len(k.encode()) + _item_bytes(v) + 1 for k, v in value.items())
    if isinstance(value, list):
        return sum(_item_bytes(v) + 1 for v in value) + 3
    return len(str(value).encode())


def _rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def stored_throughput(definition: Any, config: Any) -> dict[str, Any]:
    """Intake's leads/s on a table holding STORED leads against a fresh one, batch by batch, alternating."""
    import gc

    import boto3

    from leadflow.local.seed import load_into_moto

    session = boto3.Session(region_name="us-east-1")
    base = definition.table("leads")
    fresh, stored = (dataclasses.replace(base, name=f"{base.name}-{kind}") for kind in ("fresh", "stored"))
    for table in (fresh, stored):
        create_table(session.client("dynamodb"), table)
    gc.collect()
    before = _rss_bytes()
    started = time.perf_counter()
    print(f"\nseeding {STORED:,} leads into {stored.name} (in process)...", flush=True)
    items = load_into_moto(config, BENCH_IDS, stored.name, STORED)
    seeded_s = time.perf_counter() - started
    gc.collect()
    per_lead = (_rss_bytes() - before) / STORED
    handlers = {}
    from leadflow import wiring

    for table in (fresh, stored):  # one intake handler per table, each bound to its own services
        os.environ["LEADS_TABLE"] = table.name
        wiring.forget_cached()
        name = f"bench_intake_{table.name.rsplit('-', 1)[1]}"
        handlers[table.name] = load_handler(definition.function("intake"), name)
        bound_table, bound_services = wiring.leads_table(), wiring.lead_services()
        module: Any = sys.modules[name]
        module.leads_table = lambda bound=bound_table: bound
        module.lead_services = lambda bound=bound_services: bound
    context = LambdaContext("bench", 512, 30, "bench")
    now = datetime.now(UTC)
    from leadflow.local.seed import synthetic_message

    spent = {fresh.name: 0.0, stored.name: 0.0}
    batches, number = 20, STORED + 1_000_000  # new people, never seen by either table
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(batches):
            for table in (fresh, stored):
                records = []
                for _ in range(10):
                    message = synthetic_message(config, BENCH_IDS, number, now)
                    number += 1
                    records.append(_record(message))
                started = time.perf_counter()
                answer = handlers[table.name]({"Records": records}, context)
                spent[table.name] += time.perf_counter() - started
                assert answer == {"batchItemFailures": []}, answer
    leads = batches * 10
    listing = {}  # the first page of `leads list` (an index Query per shard), median of 5
    from leadflow.aws.leads_table import LeadsTable

    for table in (fresh, stored):
        leads_table = LeadsTable(table.name, session.client("dynamodb"))
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            assert len(leads_table.list_leads(20)) == 20
            runs.append(time.perf_counter() - started)
        listing[table.name] = statistics.median(runs)
    return {
        "table": stored.name,
        "list_fresh_s": listing[fresh.name],
        "list_stored_s": listing[stored.name],
        "fresh": leads / spent[fresh.name],
        "stored": leads / spent[stored.name],
        "memory_per_lead": per_lead,
        "items": items,
        "seed_s": seeded_s,
    }


def _record(message: dict[str, Any]) -> dict[str, Any]:
    return {
        "messageId": message["inquiry_id"],
        "receiptHandle": message["inquiry_id"],
        "body": json.dumps(message),
        "attributes": {"MessageGroupId": message["lead_id"], "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench.fifo",
        "awsRegion": "us-east-1",
    }


def burst_drain() -> dict[str, float]:
    """BURST inquiries (two a person) at concurrency 20 to `leadflow local`: from the last 2xx to the last lead."""
    import signal
    from concurrent.futures import ThreadPoolExecutor

    import boto3
    import requests

    from leadflow.aws.leads_table import LeadsTable

    scratch = Path(tempfile.mkdtemp(prefix="leadflow-bench-burst-"))
    process, api_port, moto_port, log = start_local(scratch)
    try:
        people = BURST // 2
        posts = [f"burst{n % people}@company{n % 97}.example" for n in range(BURST)]
        api = f"http://127.0.0.1:{api_port}/leads"
        statuses: Counter[int] = Counter()

        def post(email: str) -> None:
            answer = requests.post(api, json={"email": email, "job_title": "Head of Logistics"}, timeout=60)
            statuses[answer.status_code] += 1

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=20) as pool:
            list(pool.map(post, posts))
        last_2xx = time.monotonic()
        endpoint = f"http://127.0.0.1:{moto_port}"
        client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
        store = LeadsTable("leadflow-demo-leads", client)
        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        url = sqs.get_queue_url(QueueName="leadflow-demo-intake.fifo")["QueueUrl"]
        while True:
            depth = sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            )["Attributes"]
            if store.count() >= people and not any(int(v) for v in depth.values()):
                break
            if time.monotonic() - last_2xx > 600:
                raise SystemExit("the burst did not drain within 10 minutes")
            time.sleep(0.25)
        stored = time.monotonic()
        process.send_signal(signal.SIGINT)
        stopping = time.monotonic()
        process.wait(timeout=60)
        return {
            "posts": float(BURST),
            "people": float(people),
            "accepted": float(sum(n for status, n in statuses.items() if 200 <= status < 300)),
            "post_s": last_2xx - started,
            "drain_s": stored - last_2xx,
            "stop_s": time.monotonic() - stopping,
        }
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


def start_local(scratch: Path, seed: int = 0) -> tuple[subprocess.Popen[str], int, int, Any]:
    """`leadflow local` for the demo client in a subprocess, on free ports, data in scratch (`seed` leads); started."""
    api_port, moto_port = _free_port(), _free_port()
    clients = scratch / "clients"
    clients.mkdir()
    (clients / "demo.toml").write_text(
        (REPO_ROOT / "clients" / "demo.toml").read_text().replace(":3000", f":{api_port}")
    )
    leadflow = str(Path(sys.executable).with_name("leadflow"))
    if seed:
        print(f"\nseeding {seed:,} leads into a local stack's state (leadflow seed)...", flush=True)
        subprocess.run([leadflow, "seed", "--leads", str(seed), "--clients-dir", str(clients), "--state-dir",
                        str(scratch / "state")], check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)  # fmt: skip
    log = (scratch / "local.log").open("w")
    process = subprocess.Popen(
        [leadflow, "local", "--api-port", str(api_port), "--moto-port", str(moto_port), "--clients-dir", str(clients),
         "--state-dir", str(scratch / "state")],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"}, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while "Ctrl-C stops." not in (scratch / "local.log").read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"leadflow local did not start: {(scratch / 'local.log').read_text()}")
        time.sleep(0.2)
    return process, api_port, moto_port, log


def stop_local(process: subprocess.Popen[str], log: Any, scratch: Path) -> None:
    """Stop a `start_local` stack and remove its data."""
    process.terminate()
    process.wait(timeout=60)
    log.close()
    shutil.rmtree(scratch, ignore_errors=True)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def report_scale(figures: dict[str, Any]) -> None:
    ratio = figures["stored"] / figures["fresh"]
    print(f"\nintake with {STORED:,} leads stored ({figures['items']:,.0f} items, seeded in {figures['seed_s']:.0f} s)")
    print(
        f"  {ratio:.2f}x the throughput on a fresh table   (goal >= {GOALS['stored_throughput_ratio']};"
        f" {figures['stored']:.0f} leads/s against {figures['fresh']:.0f}/s)"
    )
    print(f"  resident memory per stored lead: {figures['memory_per_lead'] / 1024:.1f} KiB")
    print(
        f"  leads list, first page: {figures['list_stored_s'] / figures['list_fresh_s']:.2f}x the time on the fresh"
        f" table ({figures['list_stored_s'] * 1000:.0f} ms against {figures['list_fresh_s'] * 1000:.0f} ms)"
    )


def report_burst(figures: dict[str, float]) -> None:
    print(f"\nburst: {figures['posts']:.0f} inquiries ({figures['people']:.0f} people), concurrency 20, leadflow local")
    print(
        f"  {figures['accepted']:.0f} answered 2xx in {figures['post_s']:.1f} s; the last lead stored"
        f" {figures['drain_s']:.1f} s after the last 2xx (goal <= {GOALS['burst_drain_s']} s);"
        f" Ctrl-C stopped it in {figures['stop_s']:.1f} s"
    )


# The in-process phase counts requests; the handlers' logs and metrics would only drown the figures.
_QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}
_WRITE_APIS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}

if __name__ == "__main__":
    main()

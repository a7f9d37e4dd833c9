"""`make bench`, nurture's figures: the sweep's reads per due step, and the function time per step sent.

- The sweep's items read per due step with NURTURE_STORED leads in nurture (100,000), NURTURE_DUE
  of them (1,000) due at the tick (goal <= 1.1): the due index is a Query of what is due, never
  of the rest.
- The function time to send NURTURE_SENDS due steps (50,000 by default, the issue's figure): the
  unchanged `nurture_sweep` handler at one tick, claiming, sending and recording SWEEP_BATCH (50)
  steps at a time (BATCHES_IN_FLIGHT at once at this rate), each batch's emails in one SES
  SendBulkEmail (see `send_time` for the queue it hands a larger load to). The figure is the
  handlers' time per email sent (counted in SES), with the pacer off (see below), and its ratio
  to the floor measured in the same run: one bare SES SendEmail and one bare conditional PutItem
  per step, the least a sender that makes one SES request per email and records what it sent
  must do. The issue's goal is 50,000 steps in under 2 minutes of function time (Mautic: about
  40 minutes per run, mautic#5423), 2.4 ms per step.
- The processor time behind it, split: the handlers run in a process of their own, so that
  process's processor time is their own work (planning, rendering, signing, building the MIME,
  botocore's requests), and what the bench's process spends meanwhile is moto's server
  answering them (on AWS: SES's and DynamoDB's own time, which the handler only waits for).
  Each beside the floor's. On moto the function time is mostly moto's answering (here also
  writing each bulk entry's MIME, which SES does on AWS); the own work is the part that stays on
  AWS, where the handler also waits for DynamoDB and SES once per request, the batches in flight
  overlapping their waits.
- The requests the handlers made to AWS, by operation, per batch of 50 steps: on AWS the function
  time is the own work above plus one wait for each of them, the batches in flight overlapping them.

The client is the demo's, its send rate raised to the highest a client file allows (500/s), and
the pacer is off: the bench measures the work, not the client's rate (at 500/s, 50,000 emails
take 100 s of wall time however little work each is). Its leads are in Berlin, the tick a
Tuesday at 10:00 there. Leads are made by the same rules as an inquiry (`plan_inquiry`) and the
nurture keeper, and written straight into moto's table in this process, as the seeding of
`make bench` does. moto is served as `leadflow local` serves it, keeping connections between
requests (`leadflow.local.moto_server`), as AWS's endpoints do.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

NURTURE_STORED = int(os.environ.get("LEADFLOW_BENCH_NURTURE_STORED", "100000"))
NURTURE_DUE = int(os.environ.get("LEADFLOW_BENCH_NURTURE_DUE", "1000"))
NURTURE_SENDS = int(os.environ.get("LEADFLOW_BENCH_NURTURE_SENDS", "50000"))
SWEEP_TIMEOUT_S = 900  # Lambda's longest: the sweep's run then holds all NURTURE_SENDS (see send_time)
TICK = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Berlin: inside the demo's send window
GOALS = {"sweep_reads_per_due_step": 1.1, "send_function_s": 120.0}
FIRST_NUMBER = 7_000_000  # synthetic people no other figure of the bench uses


def nurture_items(config: Any, table_name: str, count: int, due: int, first: int) -> Iterator[dict[str, Any]]:
    """The items of `count` leads in nurture, `due` of them with their first step due at TICK, the rest a week on."""
    from leadflow.aws.leads_table import change_transaction
    from leadflow.bench import BENCH_IDS
    from leadflow.local.seed import synthetic_message
    from leadflow.nurture.sequences import nurture_keeper
    from leadflow.qualify.changes import plan_inquiry

    keep = nurture_keeper(config)
    assert keep is not None, "the bench's client needs a nurture sequence"
    for n in range(count):
        entered = TICK - timedelta(minutes=30) if n < due else TICK + timedelta(days=7)
        message = synthetic_message(config, BENCH_IDS, first + n, entered)
        message["received_at"] = entered.isoformat(timespec="milliseconds")
        message["fields"] = {"job_title": "Student", "inquiry_type": "contact"}  # scored into nurture
        message["email"] = message["email"].replace("@", ".nurture@")
        change = plan_inquiry(None, message, config.qualify, entered)
        assert change.profile["stage"] == "nurture", change.profile["stage"]
        change.events.clear()
        change.handoffs.clear()
        keep(change)
        items = change_transaction(table_name, change, None, []).items
        yield from (entry["Put"]["Item"] for entry in items if "Put" in entry)


def nurture_table(definition: Any, config: Any, suffix: str, count: int, due: int, first: int) -> Any:
    """A fresh leads table holding `count` nurture leads, `due` due at TICK: a LeadsTable over it."""
    import dataclasses

    import boto3

    from leadflow.aws.leads_table import LeadsTable
    from leadflow.local.resources import create_table
    from leadflow.local.seed import load_items_into_moto

    spec = dataclasses.replace(definition.table("leads"), name=f"{definition.table('leads').name}-{suffix}")
    client = boto3.Session(region_name="us-east-1").client("dynamodb")
    create_table(client, spec)
    load_items_into_moto(spec.name, nurture_items(config, spec.name, count, due, first))
    return LeadsTable(spec.name, client)


def sweep_reads(definition: Any, config: Any) -> dict[str, float]:
    """Items the sweep's due Query reads at TICK, with NURTURE_STORED leads in nurture and NURTURE_DUE due."""
    from leadflow.lead.profile import utc_stamp

    print(f"\nnurture: {NURTURE_STORED:,} leads in nurture, {NURTURE_DUE:,} due...", flush=True)
    store = nurture_table(definition, config, "nurture-reads", NURTURE_STORED, NURTURE_DUE, FIRST_NUMBER)
    before = store.items_read
    due = list(store.nurture_due_lead_ids(utc_stamp(TICK)))
    return {"due": float(len(due)), "read": float(store.items_read - before), "stored": float(NURTURE_STORED)}


def send_time(definition: Any, config: Any, resources: Any, snapshot: Path) -> dict[str, float]:
    """Handler seconds to send NURTURE_SENDS due steps, and the bare floor's per step.

    The handlers run in a process of their own, as a Lambda does, against moto's server in this
    one: that process's processor time is the handlers' own work alone, and this process's, over
    the same span, what moto spent answering them. (In one process they would share one
    interpreter lock, and each would be charged for waiting on the other.)

    The sweep sends them itself, SWEEP_BATCH at a time, as it does whatever fits in its run at its share of
    the rate; beyond that it hands them to the nurture queue, whose consumers send them with the
    same `send_due_steps`, ten at a time. Here the sweep is given Lambda's longest run
    (SWEEP_TIMEOUT_S: 148,000 steps at 500/s), so all of them go through `send_due_steps` in one
    run: the hand-off to the queue is not what is timed, because moto's FIFO queue checks every
    message it holds on each send, receive and delete, so its cost would grow with the square of
    the queue and measure moto. The pacer is off: its waits are the client's rate, not work.
    """
    from moto.ses.models import ses_backends

    fast = config.model_copy(update={"nurture": config.nurture.model_copy(update={"send_rate_per_second": 500})})
    snapshot.write_text(_snapshot(fast))
    print(f"nurture: {NURTURE_SENDS:,} due steps, sent by the sweep...", flush=True)
    store = nurture_table(definition, fast, "nurture-sends", NURTURE_SENDS, NURTURE_SENDS, FIRST_NUMBER + 10_000_000)
    ses = ses_backends["123456789012"]["us-east-1"]
    emails_before = len(ses.sent_messages)  # messages, not recipients (moto counts a raw email's To twice)
    environment = {**os.environ, "LEADS_TABLE": store.table_name, "LEADFLOW_CLIENT_CONFIG": str(snapshot),
                   "AWS_LAMBDA_FUNCTION_NAME": "bench-nurture"}  # its clients made as in a Lambda  # fmt: skip
    sends, moto_s = _in_own_process(f"handlers_send({resources.queue_urls['nurture']!r})", environment)
    sent = len(ses.sent_messages) - emails_before
    assert sent == NURTURE_SENDS, f"{sent} emails for {NURTURE_SENDS} due steps"
    floor, floor_moto_s = _in_own_process(f"handlers_floor({min(NURTURE_SENDS, 2_000)})", environment)
    return {"steps": float(NURTURE_SENDS), "sent": float(sent), "moto_cpu_s": moto_s, **sends, **floor,
            "floor_moto_cpu_per_step_s": floor_moto_s / floor["floor_sends"]}  # fmt: skip


def _in_own_process(call: str, environment: dict[str, str]) -> tuple[dict[str, float], float]:
    """Run `leadflow.bench_nurture.<call>` in a new process: the figures it printed, and moto's processor seconds.

    This process only waits for it, so what it spends meanwhile is its moto server's answering.
    """
    import json
    import subprocess
    import sys

    moto_before = time.process_time()
    last = ""
    with subprocess.Popen(
        [sys.executable, "-c", f"import leadflow.bench_nurture as bench; bench.{call}"],
        env=environment, stdout=subprocess.PIPE, text=True,
    ) as child:  # fmt: skip
        assert child.stdout is not None
        for line in child.stdout:  # its progress as it comes; the last line is its figures
            if last:
                print(last, end="", flush=True)
            last = line
    moto_s = time.process_time() - moto_before
    if child.returncode != 0:
        raise RuntimeError(f"{call} failed with exit code {child.returncode}: its traceback is above")
    figures: dict[str, float] = json.loads(last)
    return figures, moto_s


def handlers_send(queue_url: str) -> None:
    """In a process of its own: the sweep at TICK, then the nurture queue's consumer until it is empty.

    Prints the figures as one JSON line: seconds of wall and processor time spent in the handlers
    (their imports and this loop's receiving and deleting not counted), and the requests they made
    to AWS by operation (on AWS, each is a wait that moto's answering here does not stand for).
    """
    import json
    from collections import Counter

    import boto3

    from leadflow import settings
    from leadflow.definition import SENDER_MEMORY_MB, build_definition
    from leadflow.local.workers import LambdaContext, load_handler
    from leadflow.nurture import send as nurture_send

    requests: Counter[str] = Counter()
    boto3.setup_default_session()  # the handlers' clients are made from it, on first use: each request counted
    counting = threading.Lock()  # a sweep's batches in flight send from threads of their own

    def count(event_name: str, **kwargs: Any) -> None:  # each request sent, botocore's own retries too: a wait on AWS
        with counting:
            requests[event_name.split(".")[2]] += 1  # "before-send.<service>.<operation>"

    boto3.DEFAULT_SESSION.events.register("before-send", count)
    config = settings.client_config()
    definition = build_definition(config)
    nurture_send.Pacer.wait = lambda pacer, count=1: None  # type: ignore[method-assign,assignment]
    sent = _count_sent(nurture_send)  # before the handlers import it
    sweep = load_handler(definition.function("nurture_sweep"), "bench_nurture_sweep")
    send = load_handler(definition.function("nurture_send"), "bench_nurture_send")
    sqs = boto3.Session().client("sqs")  # this loop's own receiving and deleting: not the handlers' requests
    event = {"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": TICK.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/bench"], "detail": {}}  # fmt: skip
    begun = time.perf_counter()
    with _Progress(lambda: f"  {sent[0]:,} of {NURTURE_SENDS:,} steps sent, {time.perf_counter() - begun:.0f} s"):
        started, cpu = time.perf_counter(), time.process_time()
        done = sweep(event, LambdaContext("nurture_sweep", SENDER_MEMORY_MB, SWEEP_TIMEOUT_S, "bench"))
        sweep_s, cpu_s = time.perf_counter() - started, time.process_time() - cpu
        consumer_s = 0.0
        while True:
            answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"])
            messages = answer.get("Messages", [])
            if not messages:
                break
            records = [_record(message, queue_url) for message in messages]
            started, cpu = time.perf_counter(), time.process_time()
            result = send({"Records": records}, LambdaContext("nurture_send", SENDER_MEMORY_MB, 60, "bench"))
            consumer_s, cpu_s = consumer_s + time.perf_counter() - started, cpu_s + time.process_time() - cpu
            assert result == {"batchItemFailures": []}, result
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])  # fmt: skip
    figures = {"fanned_out": done["fanned_out"], "sweep_s": sweep_s, "consumer_s": consumer_s, "cpu_s": cpu_s,
               **{f"requests.{name}": float(count) for name, count in requests.items()}}  # fmt: skip
    print(json.dumps(figures), flush=True)


def _count_sent(module: Any) -> list[int]:
    """Count the steps `module.send_due_steps` sends from now on: a one-item list the count is kept in."""
    sent = [0]
    original, counting = module.send_due_steps, threading.Lock()  # batches in flight count from their threads

    def counted(*args: Any, **kwargs: Any) -> Any:
        done = original(*args, **kwargs)
        with counting:
            sent[0] += sum(outcome == "sent" for outcome in done.outcomes.values())
        return done

    module.send_due_steps = counted
    return sent


class _Progress:
    """Prints `line()` every PROGRESS_S seconds from a thread of its own while the `with` block runs."""

    PROGRESS_S = 30.0

    def __init__(self, line: Any):
        import threading

        self.line, self.stopped = line, threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-progress", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(self.PROGRESS_S):
            print(self.line(), flush=True)

    def __enter__(self) -> _Progress:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()


def handlers_floor(count: int) -> None:
    """In a process of its own: the floor (`_floor`) over `count` steps, printed as one JSON line."""
    import json

    from leadflow import settings

    wall, cpu = _floor(os.environ["LEADS_TABLE"], count, settings.client_config().notify.from_address)
    print(json.dumps({"floor_per_step_s": wall, "floor_cpu_per_step_s": cpu, "floor_sends": count}), flush=True)


def _floor(table_name: str, count: int, sender: str) -> tuple[float, float]:
    """Seconds per step, wall and processor, of the least a sender that records what it sent does.

    One SendEmail and one conditional PutItem per step, one at a time.
    """
    from leadflow.aws.client import new_client

    ses = new_client("sesv2")  # as the handlers' clients are made
    dynamodb = new_client("dynamodb")
    raw = f"From: {sender}\r\nTo: lead@demo.example\r\nSubject: bench\r\n\r\nbody\r\n".encode()
    started, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        ses.send_email(FromEmailAddress=sender, Destination={"ToAddresses": ["lead@demo.example"]},
                       Content={"Raw": {"Data": raw}})  # fmt: skip
        dynamodb.put_item(TableName=table_name, Item={"pk": {"S": f"FLOOR#{n}"}, "sk": {"S": "SENT"}},
                          ConditionExpression="attribute_not_exists(pk)")  # fmt: skip
    return (time.perf_counter() - started) / count, (time.process_time() - cpu) / count


def _snapshot(config: Any) -> str:
    from leadflow.config import config_snapshot

    return config_snapshot(config)


def _record(message: dict[str, Any], url: str) -> dict[str, Any]:
    """An SQS message as Lambda's poller hands it to the function."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {**message.get("Attributes", {}), "ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}",
        "awsRegion": "us-east-1",
    }


def report(reads: dict[str, float], sends: dict[str, float]) -> None:
    per_due = reads["read"] / max(reads["due"], 1)
    print(f"\nnurture ({reads['stored']:,.0f} leads in nurture)")
    print(f"  sweep: {reads['read']:.0f} due-index items read for {reads['due']:.0f} due steps:"
          f" {per_due:.2f} per due step   (goal <= {GOALS['sweep_reads_per_due_step']})")  # fmt: skip
    function_s = sends["sweep_s"] + sends["consumer_s"]
    sent = max(sends["sent"], 1)
    per_step, floor = function_s / sent, sends["floor_per_step_s"]
    print(f"  {sends['sent']:,.0f} due steps sent ({sends['fanned_out']:,.0f} through the nurture queue):"
          f" {function_s:.1f} s of function time (sweep {sends['sweep_s']:.1f} s,"
          f" consumer {sends['consumer_s']:.1f} s; the pacer off)")  # fmt: skip
    print(f"    {per_step * 1000:.1f} ms of function time per step on moto: {per_step / floor:.2f}x the floor"
          f" ({floor * 1000:.1f} ms per step: one bare SendEmail and one conditional PutItem)")  # fmt: skip
    own, moto = sends["cpu_s"] / sent, sends["moto_cpu_s"] / sent
    floor_own, floor_moto = sends["floor_cpu_per_step_s"], sends["floor_moto_cpu_per_step_s"]
    print(f"    processor time per step: the handlers' own work {own * 1000:.2f} ms"
          f" ({own / floor_own:.2f}x the floor's {floor_own * 1000:.2f} ms), moto answering them"
          f" {moto * 1000:.2f} ms (the floor's: {floor_moto * 1000:.2f} ms)")  # fmt: skip
    goal_per_step = GOALS["send_function_s"] / 50_000
    measured = "for these 50,000" if sends["sent"] == 50_000 else "at this run's cost per step, for 50,000"
    print(f"    goal: 50,000 steps in < {GOALS['send_function_s']:.0f} s of function time,"
          f" {goal_per_step * 1000:.1f} ms per step. The handlers' own work {measured}: {own * 50_000:.0f} s,"
          f" {'within' if own <= goal_per_step else 'over'} the goal. On AWS they wait for SES and DynamoDB"
          " besides, once per request below (batches in flight overlapping them), which moto's answering here"
          " does not stand for")  # fmt: skip
    made = {name.removeprefix("requests."): count for name, count in sends.items() if name.startswith("requests.")}
    per_batch = ", ".join(
        f"{name} {count * 50 / sent:.2f}" for name, count in sorted(made.items(), key=lambda i: -i[1])
    )
    print(f"    requests to AWS per 50 steps sent, one batch: {per_batch}")

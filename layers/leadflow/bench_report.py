"""`make bench`, the report's figures: what a 90-day funnel reads at 10,000 and 100,000 leads, and its answer time.

- items read: the funnel by each dimension over the last 90 days, on a table of 10,000 seeded
  leads and on one of 100,000 (the same synthetic leads, spread over 180 days). The report
  reads its dimension's day-and-shard items, so the ratio stays near 1 (goal <= 1.05);
- answer time: GET /reports/funnel over HTTP on `leadflow local` holding 100,000 leads, as a
  manager signed in with a Cognito ID token, against GET /me (the cheapest signed-in answer)
  on the same stack in the same run.
"""

from __future__ import annotations

import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from leadflow.report.figures import DIMENSIONS

GOALS = {"report_items_ratio": 1.05}
REPORT_DAYS = 90
SMALL = 10_000
RUNS = 5  # answers timed per figure (the median is printed)
PASSWORD = "Bench-report-1"  # noqa: S105 - a throwaway user of a throwaway local stack


def report_span() -> tuple[str, str]:
    last = datetime.now(UTC).date()
    return (last - timedelta(days=REPORT_DAYS - 1)).isoformat(), last.isoformat()


def report_reads(definition: Any, config: Any, stored_table: str, stored: int) -> dict[str, Any]:
    """Items read by the 90-day funnel, by dimension, on a table of SMALL leads and on `stored_table` (`stored`)."""
    import boto3

    from leadflow.aws.leads_table import LeadsTable
    from leadflow.bench import BENCH_IDS
    from leadflow.local.resources import create_table
    from leadflow.local.seed import load_into_moto
    from leadflow.report.funnel import funnel

    session = boto3.Session(region_name="us-east-1")
    small = dataclasses.replace(definition.table("leads"), name=f"{definition.table('leads').name}-report-small")
    create_table(session.client("dynamodb"), small)
    print(f"\nseeding {SMALL:,} leads into {small.name} (in process)...", flush=True)
    load_into_moto(config, BENCH_IDS, small.name, SMALL)
    first, last = report_span()
    figures: dict[str, Any] = {"stored": stored}
    for label, name in (("small", small.name), ("large", stored_table)):
        table = LeadsTable(name, session.client("dynamodb"))
        figures[label] = {
            dimension: funnel(table.report_items(dimension, first, last), dimension, first, last).items_read
            for dimension in DIMENSIONS
        }
        captured = funnel(table.report_items("source", first, last), "source", first, last).total.get("captured")
        figures[f"{label}_captured"] = captured
    return figures


def answer_time_local(leads: int) -> dict[str, float]:
    """Median seconds of GET /reports/funnel (90 days) and GET /me on `leadflow local` holding `leads` leads."""
    import requests

    from leadflow.bench import start_local, stop_local

    scratch = Path(tempfile.mkdtemp(prefix="leadflow-bench-report-"))
    leadflow = str(Path(sys.executable).with_name("leadflow"))
    process, api_port, moto_port, log = start_local(scratch, seed=leads)
    try:
        local = ["--local", "--endpoint", f"http://127.0.0.1:{moto_port}", "--clients-dir", str(scratch / "clients")]
        email = "bench.manager@demo.example"
        add = [leadflow, "users", "add", email, "--group", "manager", "--password", PASSWORD, *local]
        added = subprocess.run(add, capture_output=True, text=True, timeout=120)
        if added.returncode:
            raise SystemExit(f"could not add the bench's manager: {added.stderr}")
        signed = subprocess.run([leadflow, "token", email, "--password", PASSWORD, *local], capture_output=True,
                                text=True, timeout=120)  # fmt: skip
        if signed.returncode:
            raise SystemExit(f"could not sign the bench's manager in: {signed.stderr}")
        headers = {"Authorization": signed.stdout.strip()}
        first, last = report_span()
        api = f"http://127.0.0.1:{api_port}"
        times: dict[str, list[float]] = {"funnel": [], "csv": [], "me": []}
        for _ in range(RUNS):
            asked = (("funnel", "/reports/funnel", "application/json"), ("csv", "/reports/funnel", "text/csv"),
                     ("me", "/me", "application/json"))  # fmt: skip
            for name, path, accept in asked:
                started = time.perf_counter()
                answer = requests.get(f"{api}{path}", headers={**headers, "Accept": accept}, timeout=120,
                                      params={"from": first, "to": last} if path != "/me" else None)  # fmt: skip
                times[name].append(time.perf_counter() - started)
                if answer.status_code != 200:
                    raise SystemExit(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
        from leadflow.aws.leads_table import LeadsTable

        bare = LeadsTable("leadflow-demo-leads", _dynamodb(moto_port))  # the same Query, bare, on the same moto
        for _ in range(RUNS):
            started = time.perf_counter()
            bare.report_items("source", first, last)
            times.setdefault("floor", []).append(time.perf_counter() - started)
        captured = requests.get(f"{api}/reports/funnel", headers=headers, timeout=120,
                                params={"from": first, "to": last}).json()["total"]["stages"]["captured"]  # fmt: skip
        return {**{name: statistics.median(runs) for name, runs in times.items()}, "captured": captured}
    finally:
        stop_local(process, log, scratch)


def _dynamodb(port: int) -> Any:
    import boto3

    return boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - moto takes any
    )


def report(reads: dict[str, Any], local: dict[str, float]) -> None:
    small, large = reads["small"], reads["large"]
    print(f"\nreport: a {REPORT_DAYS}-day funnel, items read at {SMALL:,} and at {reads['stored']:,} leads"
          f" ({reads['small_captured']:,} and {reads['large_captured']:,} of them captured in those days)")  # fmt: skip
    for dimension in DIMENSIONS:
        ratio = large[dimension] / max(small[dimension], 1)
        print(f"  by {dimension:13} {small[dimension]:6,} and {large[dimension]:6,} items: {ratio:.3f}x"
              f"   (goal <= {GOALS['report_items_ratio']})")  # fmt: skip
    print(
        f"  GET /reports/funnel on leadflow local with {reads['stored']:,} leads:"
        f" JSON {local['funnel'] * 1000:.0f} ms,"
        f" CSV {local['csv'] * 1000:.0f} ms, medians of {RUNS} ({local['captured']:,} leads captured in the days)"
    )
    print(
        f"    {local['funnel'] / local['floor']:.2f}x the bare Query of the same items on the same moto"
        f" ({local['floor'] * 1000:.0f} ms); GET /me, the cheapest signed-in answer: {local['me'] * 1000:.0f} ms"
    )

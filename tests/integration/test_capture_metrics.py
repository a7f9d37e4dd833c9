"""What the capture handler reports to CloudWatch (EMF on stdout) carries the deployment it comes from."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leadflow.observability import metric_dimensions
from tests.integration.conftest import Stack
from tests.support import load_event


def emf_records(printed: str) -> list[dict[str, Any]]:
    return [record for line in printed.splitlines() if line.startswith("{") and "_aws" in (record := json.loads(line))]


def test_capture_unavailable_is_reported_with_the_dimensions_its_alarm_reads(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gone = stack.resources.queue_urls["intake"].replace("intake.fifo", "deleted.fifo")
    monkeypatch.setenv("INTAKE_QUEUE_URL", gone)
    capsys.readouterr()

    assert stack.handler("capture")(load_event("capture-json-post.json"), lambda_context)["statusCode"] == 503

    [record] = [r for r in emf_records(capsys.readouterr().out) if "CaptureUnavailable" in r]
    [directive] = record["_aws"]["CloudWatchMetrics"]
    [dimension_names] = directive["Dimensions"]
    reported = {name: record[name] for name in dimension_names}
    environment = stack.definition.function("capture").environment
    # The dimensions infra/constructs/monitoring.py puts on the capture-unavailable alarm.
    assert reported == metric_dimensions({k: v for k, v in environment.items() if isinstance(v, str)})
    assert reported == {"client": "demo", "stage": "prod", "service": "leadflow"}
    assert [metric["Name"] for metric in directive["Metrics"]] == ["CaptureUnavailable"]


def test_intake_reports_what_qualification_decided_as_the_dashboard_graphs_it(
    stack: Stack, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.test_intake_handler import captured_record

    asked = [{"email": "vp@alpha.example", "inquiry_type": "demo_request"},
             {"email": "asker@gmail.com", "inquiry_type": "contact"},
             {"email": "someone@mailinator.com", "inquiry_type": "contact"}]  # fmt: skip
    records = [captured_record(stack, body, n=n) for n, body in enumerate(asked)]
    capsys.readouterr()

    assert stack.handler("intake")({"Records": records}, lambda_context) == {"batchItemFailures": []}

    [record] = emf_records(capsys.readouterr().out)
    assert (record["QualifiedSalesReady"], record["QualifiedNurture"], record["QualifiedJunk"]) == ([1.0], [1.0], [1.0])
    assert record["client"] == "demo"

"""The operations dashboard: one per client that keeps it, graphing what an operator watches, none when switched off."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.constructs.dashboard import (
    ANSWERS_TITLE,
    API_PERCENTILES_TITLE,
    DEAD_LETTERS_TITLE,
    DEADLINE_TITLE,
    ERRORS_TITLE,
    FUNCTION_P95_TITLE,
    LEADS_TITLE,
    OLDEST_TITLE,
)
from infra.template_surface import resources_of_type
from leadflow.definition import StackDefinition

pytestmark = pytest.mark.infra


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    """The one dashboard's body, its CloudFormation tokens (Refs, the region) written as placeholders."""
    [dashboard] = resources_of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    text = "".join(part if isinstance(part, str) else "TOKEN" for part in body["Fn::Join"][1])
    return {"name": dashboard["Properties"]["DashboardName"], **json.loads(text)}


def metrics_of(widget: dict[str, Any]) -> list[list[Any]]:
    return widget["properties"]["metrics"]


def test_the_dashboard_graphs_leads_deadlines_queues_dead_letters_errors_duration_and_the_api(
    synthesized, demo_definition: StackDefinition
) -> None:
    body = dashboard_body(synthesized.templates["Leads-demo"])
    widgets = {widget["properties"]["title"]: metrics_of(widget) for widget in body["widgets"]}

    assert body["name"] == "leadflow-demo"
    leads = [metric[1] for metric in widgets[LEADS_TITLE]]
    assert leads == ["InquiryCaptured", "QualifiedSalesReady", "QualifiedNurture", "QualifiedJunk",
                     "LeadAssigned", "LeadQueued"]  # fmt: skip
    assert all(metric[0] == "leadflow" and "client" in metric and "demo" in metric
               for metric in widgets[LEADS_TITLE])  # fmt: skip
    deadline = widgets[DEADLINE_TITLE]
    assert [metric[1] for metric in deadline] == ["SlaReminded", "SlaBreached", "SlaReassigned", "SlaEscalated"]
    assert len(widgets[OLDEST_TITLE]) == len(demo_definition.queues)
    assert {metric[-1]["label"] for metric in widgets[DEAD_LETTERS_TITLE]} == {
        spec.key for spec in demo_definition.queues if spec.dead_letter_name
    }
    assert {metric[-1]["label"] for metric in widgets[ERRORS_TITLE]} == {f.key for f in demo_definition.functions}
    assert len(widgets[FUNCTION_P95_TITLE]) == len(demo_definition.functions)
    assert [m[-1]["label"] for m in widgets[API_PERCENTILES_TITLE]] == ["median", "95th percentile"]
    assert [m[-1]["label"] for m in widgets[ANSWERS_TITLE]] == ["4xx", "5xx"]


def test_a_client_that_switches_the_dashboard_off_deploys_none(synthesized) -> None:
    assert resources_of_type(synthesized.templates["Leads-acme-eu"], "AWS::CloudWatch::Dashboard") == {}

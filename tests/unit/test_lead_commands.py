"""`leadflow leads list` and `leads show` print what people typed as text, and explain a hand-raise."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from leadflow.cli import lead_commands

NAMED_LIKE_MARKUP = {
    "lead_id": "ld_markup",
    "email": "ada@example.com",
    "first_name": "[/bold]",
    "last_name": ":thumbs_up:",
    "company": "[red]x",
    "job_title": "CTO\x1b[31m",
    "stage": "sales_ready",
    "inquiry_count": 1,
    "created_at": "2026-11-23T09:00:00.000+00:00",
    "score": {
        "fit": 25.0,
        "engagement": 0.0,
        "total": 25.0,
        "reasons": [
            {"kind": "fit", "rule": "[bold]Company email", "points": 25.0, "disqualify": False},
            {"kind": "hand_raise", "rule": "asked for: demo_request", "points": 0.0, "disqualify": False},
        ],
    },
}
INQUIRY = {
    "type": "inquiry",
    "at": "2026-11-23T09:00:00.000+00:00",
    "inquiry_id": "iq_1",
    "channel": "form",
    "fields": {"inquiry_type": "demo_request", "utm_source": "[link=https://evil.example]x"},
    "ignored_fields": ["submit", "_wpnonce"],
}


class FakeStack:
    """What the commands read from a stack, without one."""

    def __init__(self, profile: dict[str, Any]) -> None:
        lead = SimpleNamespace(profile=profile, timeline=[INQUIRY], inquiries=[INQUIRY])
        self.store = SimpleNamespace(list_leads=lambda limit: [profile], get_lead=lambda lead_id: lead)

    def lead_id(self, id_or_email: str) -> str:
        return id_or_email

    def call(self, action: Callable[[], Any], doing: str) -> Any:
        return action()


@pytest.fixture
def leads(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    monkeypatch.setattr(lead_commands, "open_stack", lambda *args: FakeStack(NAMED_LIKE_MARKUP))
    monkeypatch.setattr(lead_commands.console, "width", 200)

    def run(*args: str) -> str:
        result = CliRunner().invoke(lead_commands.leads_app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    return run


@pytest.mark.parametrize("command", [("list",), ("show", "ld_markup")])
def test_stored_text_that_looks_like_markup_is_printed_as_typed(leads: Callable[..., str], command: tuple) -> None:
    output = leads(*command)
    assert "[/bold]" in output
    assert "[red]x" in output
    assert ":thumbs_up:" in output


def test_stored_control_characters_never_reach_the_terminal(leads: Callable[..., str]) -> None:
    output = leads("show", "ld_markup")
    assert "\x1b" not in output
    assert "CTO\\u001b[31m" in output


def test_show_explains_a_hand_raise_with_the_points_that_add_up(leads: Callable[..., str]) -> None:
    output = leads("show", "ld_markup")
    [line] = [line for line in output.splitlines() if "asked for: demo_request" in line]
    assert "hand-raise" in line
    assert "sales-ready whatever the score" in line
    assert "fit +25.0 + engagement 0.0 = total 25.0" in output


def test_show_lists_the_fields_an_inquiry_did_not_store(leads: Callable[..., str]) -> None:
    assert "not stored (not leadflow fields, not mapped): submit, _wpnonce" in leads("show", "ld_markup")

"""Ops commands on qualification, run against the local stack: why a lead scored, restore junk, rescore.

The stack is shared by the whole session, so every lead has a unique email, and the changed
lead definitions the rescore tests write add a rule that only their own lead matches.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import RunningStack
from tests.support import CLIENTS

pytestmark = pytest.mark.e2e

RESCORE_REASON = "rescored with the current lead definition"


def unique(local_part: str, domain: str) -> str:
    return f"{local_part}.{uuid.uuid4().hex[:8]}@{domain}"


def post(stack: RunningStack, **body: str) -> None:
    assert requests.post(f"{stack.api}/leads", json=body, timeout=10).status_code == 202


def line_with(text: str, output: str) -> str:
    return next(line for line in output.splitlines() if text in line)


def demo_clients_with(tmp_path: Path, rule: str) -> Path:
    """A clients folder holding clients/demo.toml plus one more [qualify] rule (TOML)."""
    (tmp_path / "demo.toml").write_text((CLIENTS / "demo.toml").read_text() + "\n" + rule)
    return tmp_path


def company_rule(section: str, name: str, company: str, points: int, disqualify: bool = False) -> str:
    lines = [f"[[qualify.{section}]]", f'name = "{name}"', 'field = "company"', f'equals = "{company}"']
    lines += [f"points = {points}", f"disqualify = {str(disqualify).lower()}"]
    return "\n".join(lines) + "\n"


def target_account(company: str) -> str:
    return company_rule("fit", "Target account", company, 40)


def nurtured_company_lead(stack: RunningStack) -> tuple[str, str, dict[str, Any]]:
    """A lead at a company email, nurtured with 25 points (65 would make it sales-ready)."""
    email, company = unique("pat", "northwind-logistics.com"), f"Northwind {uuid.uuid4().hex[:8]}"
    post(stack, email=email, company=company)
    lead = stack.lead(email)
    assert (lead["stage"], lead["score"]["total"]) == ("nurture", 25)
    return email, company, lead


def test_leads_show_lists_every_reason_and_they_sum_to_the_total(local_stack: RunningStack) -> None:
    email = unique("sam", "gmail.com")
    post(local_stack, email=email, job_title="Marketing student", page_url="https://www.example.com/pricing")
    local_stack.lead(email)
    shown = local_stack.cli("leads", "show", email)
    assert shown.returncode == 0, shown.stderr
    assert "-10.0" in line_with("Free email address", shown.stdout)
    assert "-40.0" in line_with("Student", shown.stdout)
    assert "+10.0" in line_with("page https://www.example.com/pricing", shown.stdout)
    assert "fit -50.0 + engagement +10.0 = total -40.0" in shown.stdout


def test_leads_show_marks_the_reason_that_made_a_lead_junk(local_stack: RunningStack) -> None:
    email = unique("someone", "mailinator.com")
    post(local_stack, email=email)
    local_stack.lead(email)
    shown = local_stack.cli("leads", "show", email)
    assert shown.returncode == 0, shown.stderr
    assert "disqualifies: junk" in line_with("disposable email address", shown.stdout)


def test_restore_moves_a_disposable_address_lead_from_junk_to_nurture_printing_both_stages(
    local_stack: RunningStack,
) -> None:
    email = unique("someone", "mailinator.com")
    post(local_stack, email=email)
    assert local_stack.lead(email)["stage"] == "junk"
    restored = local_stack.cli("leads", "restore", email)
    assert restored.returncode == 0, restored.stderr
    assert "junk -> nurture" in restored.stdout
    assert "= total 0.0" in restored.stdout
    lead = local_stack.lead(email)
    assert (lead["stage"], lead["restored"]) == ("nurture", True)
    moves = [(e["from"], e["to"], e["reason"]) for e in lead["timeline"] if e["type"] == "stage_changed"]
    assert moves[-1] == ("junk", "nurture", "restored by ops")


def test_restore_of_a_lead_that_is_not_junk_exits_1_and_changes_nothing(local_stack: RunningStack) -> None:
    email, _, before = nurtured_company_lead(local_stack)
    refused = local_stack.cli("leads", "restore", email)
    assert refused.returncode == 1
    assert "is nurture, not junk: only junk leads are restored" in refused.stderr
    after = local_stack.lead(email)
    assert (after["updated_at"], after.get("restored")) == (before["updated_at"], None)


def test_restore_of_an_unknown_lead_exits_1_saying_how_to_find_leads(local_stack: RunningStack) -> None:
    missing = local_stack.cli("leads", "restore", unique("nobody", "northwind-logistics.com"))
    assert missing.returncode == 1
    assert "No lead" in missing.stderr
    assert "leadflow leads list --local" in missing.stderr


def test_rescore_dry_run_reports_the_stage_change_and_writes_nothing(local_stack: RunningStack, tmp_path: Path) -> None:
    email, company, before = nurtured_company_lead(local_stack)
    clients = demo_clients_with(tmp_path, target_account(company))
    planned = local_stack.cli("rescore", "--clients-dir", str(clients), "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert "Dry run, nothing written" in planned.stdout
    assert "1 would change stage:\n  nurture -> sales_ready: 1\n" in planned.stdout
    after = local_stack.lead(email)
    assert (after["updated_at"], after["stage"], after["score"]) == (before["updated_at"], "nurture", before["score"])


def test_rescore_with_a_changed_definition_moves_the_lead_and_reports_the_move(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    email, company, _ = nurtured_company_lead(local_stack)
    clients = demo_clients_with(tmp_path, target_account(company))
    done = local_stack.cli("rescore", "--clients-dir", str(clients))
    assert done.returncode == 0, done.stderr
    assert "1 changed stage:\n  nurture -> sales_ready: 1\n" in done.stdout
    lead = local_stack.lead(email)
    assert (lead["stage"], lead["score"]["total"]) == ("sales_ready", 65)
    assert "Target account" in {reason["rule"] for reason in lead["score"]["reasons"]}
    moves = [(e["from"], e["to"], e["reason"]) for e in lead["timeline"] if e["type"] == "stage_changed"]
    assert moves[-1] == ("nurture", "sales_ready", RESCORE_REASON)


def test_rescore_gives_a_sales_ready_lead_its_new_score_but_keeps_its_stage(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    email, company = unique("dana", "northwind-logistics.com"), f"Rival {uuid.uuid4().hex[:8]}"
    post(local_stack, email=email, company=company, inquiry_type="demo_request")
    assert local_stack.lead(email)["stage"] == "sales_ready"
    competitor = company_rule("negative", "Competitor", company, -30, disqualify=True)
    done = local_stack.cli("rescore", "--clients-dir", str(demo_clients_with(tmp_path, competitor)))
    assert done.returncode == 0, done.stderr
    lead = local_stack.lead(email)
    assert (lead["stage"], lead["score"]["total"]) == ("sales_ready", -5)
    assert "Competitor" in {reason["rule"] for reason in lead["score"]["reasons"]}


def test_a_lead_named_like_markup_lists_and_shows_as_typed_with_its_hand_raise(
    local_stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the CLI's table on one line per lead
    email = unique("markup", "northwind-logistics.com")
    post(local_stack, email=email, first_name="[/bold]", company="[red]x", inquiry_type="demo_request")
    local_stack.lead(email)
    listed = local_stack.cli("leads", "list")
    assert listed.returncode == 0, listed.stderr
    assert "[/bold]" in line_with(email, listed.stdout)
    assert "[red]x" in line_with(email, listed.stdout)
    shown = local_stack.cli("leads", "show", email)
    assert shown.returncode == 0, shown.stderr
    assert "[/bold]" in line_with("first_name", shown.stdout)
    assert "[red]x" in line_with("company", shown.stdout)
    assert "sales-ready whatever the score" in line_with("asked for: demo_request", shown.stdout)

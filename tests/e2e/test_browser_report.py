"""The report page in Chromium, at a desktop's width and a phone's: charts drawn inline, nothing loaded from outside.

A lead is captured with a campaign of its own, routed, and won through the rep API on the
stack of its own; the funnel by campaign is then opened as a signed-in ops user would. Screenshots
are saved as test artefacts beside the other browser tests'.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS, RunningStack, start_local_stack, stop_local_stack
from tests.e2e.test_route_local import add_rep, at_work_now

pytestmark = pytest.mark.browser
PASSWORD = "Correct-horse-1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own: the sales rep added here would take the sales-ready leads other tests expect to wait."""
    running = start_local_stack(tmp_path_factory.mktemp("report"))
    yield running
    stop_local_stack(running)


def ops_with_a_sales_rep(stack: RunningStack) -> str:
    """A new ops user's ID token, and a new sales rep at work now (to take the next sales-ready lead)."""
    ops = f"ops.{uuid.uuid4().hex[:6]}@demo.example"
    assert stack.cli("users", "add", ops, "--group", "ops", "--password", PASSWORD).returncode == 0
    add_rep(stack, f"sally.{uuid.uuid4().hex[:6]}@demo.example", "Sally Sales", *at_work_now(), team="sales")
    return stack.cli("token", ops, "--password", PASSWORD).stdout.strip()


def won_lead(stack: RunningStack, id_token: str, campaign: str) -> None:
    """A demo request of `campaign`, routed to a sales rep and won through the API (as ops)."""
    email = f"buyer.{campaign}@kessel-logistik.example"
    answer = requests.post(f"{stack.api}/leads", timeout=10, json={
        "email": email, "first_name": "Mira", "job_title": "CEO", "inquiry_type": "demo_request",
        "utm_source": "newsletter", "utm_medium": "email", "utm_campaign": campaign,
    })  # fmt: skip
    assert answer.status_code == 202, answer.text
    lead_id = stack.routed(email)["lead_id"]
    steps = [{"action": a} for a in ("accept", "contacted", "meeting", "opportunity")]
    for body in [*steps, {"action": "won", "amount": "12500", "currency": "EUR"}]:
        done = requests.post(f"{stack.api}/leads/{lead_id}/follow-up", json=body, timeout=20,
                             headers={"Authorization": id_token})  # fmt: skip
        assert done.status_code == 200, done.text


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_report_page_draws_its_charts_inline_and_fits_the_screen(
    stack: RunningStack, device: str, request: pytest.FixtureRequest
) -> None:
    page = request.getfixturevalue(device)
    id_token = ops_with_a_sales_rep(stack)
    campaign = f"winter-{uuid.uuid4().hex[:6]}"
    won_lead(stack, id_token, campaign)
    asked: list[str] = []
    page.on("request", lambda sent: asked.append(sent.url))
    page.set_extra_http_headers({"Authorization": id_token})
    today = datetime.now(UTC).date().isoformat()

    answer = page.goto(f"{stack.api}/reports/funnel?from={today}&to={today}&group_by=campaign")

    assert answer is not None
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert page.locator("svg").count() >= 2  # the funnel, and revenue
    assert page.locator("script").count() == 0
    assert page.locator("tr", has_text=campaign).locator("td").nth(9).inner_text() == "1"  # won
    assert "12,500.00 EUR" in (page.locator("svg", has_text=campaign).text_content() or "")
    assert [url for url in asked if not url.startswith(f"{stack.api}/reports/funnel")] == []
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0  # wide tables scroll inside their box; the page itself never does
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"report-{device}.png"), full_page=True)


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_weekly_email_shows_the_funnel_without_svg_or_anything_loaded_and_fits_a_phone(
    stack: RunningStack, device: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    page = request.getfixturevalue(device)
    won_lead(stack, ops_with_a_sales_rep(stack), f"weekly-{uuid.uuid4().hex[:6]}")
    email = tmp_path / "weekly.html"
    today = datetime.now(UTC).date().isoformat()
    shown = stack.cli("report", "weekly", "--week-ending", today, "--html", str(email))
    assert shown.returncode == 0, shown.stderr
    asked: list[str] = []
    page.on("request", lambda sent: asked.append(sent.url))

    page.goto(email.as_uri())

    assert page.locator("svg, script, style, img").count() == 0  # what mail clients drop or block
    bars = page.locator("td[height='16']")  # the funnel's bars: table cells, each as wide as its stage
    assert bars.count() >= 5
    assert "newsletter" in page.locator("h2:has-text('By source') + table").inner_text()
    assert asked == [email.as_uri()]
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"weekly-email-{device}.png"), full_page=True)

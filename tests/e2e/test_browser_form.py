"""The pasted form in a real browser: Debian's Chromium, headless, driven by Playwright.

The page is opened at http://localhost:PORT/ while the form posts to http://127.0.0.1:PORT,
so every JavaScript post is a cross-origin one, with its CORS preflight, as on a real website.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, RunningStack

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def demo_url(stack: RunningStack, query: str = "") -> str:
    return stack.api.replace("127.0.0.1", "localhost") + "/" + query


def fill(page: Any, email: str) -> None:
    page.fill("#lf-email", email)
    page.fill("#lf-first_name", "Ada")
    page.fill("#lf-company", "Analytical Engines")


def send_demo_form(stack: RunningStack, page: Any, email: str, query: str = "") -> None:
    """Open the demo page, fill the form, send it, and wait for the thank-you page."""
    page.goto(demo_url(stack, query))
    fill(page, email)
    page.click("button[type=submit]")
    page.wait_for_url("**/thank-you")


def test_js_submit_lands_on_thank_you_with_one_lead_carrying_utm(local_stack: RunningStack, page: Any) -> None:
    email = f"ada.{uuid.uuid4().hex[:8]}@engines.example"
    send_demo_form(local_stack, page, email, "?utm_source=newsletter&utm_medium=email&utm_campaign=launch")
    lead = local_stack.lead(email)
    assert lead["first_touch"]["utm_source"] == "newsletter"
    assert lead["first_touch"]["utm_campaign"] == "launch"
    assert "utm_source=newsletter" in lead["first_touch"]["page_url"]
    [inquiry] = [e for e in lead["timeline"] if e["type"] == "inquiry"]
    assert inquiry["channel"] == "json"


def test_without_javascript_the_form_posts_and_follows_the_303(local_stack: RunningStack, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    email = f"grace.{uuid.uuid4().hex[:8]}@navy.example"
    send_demo_form(local_stack, page, email)
    context.close()
    [inquiry] = [e for e in local_stack.lead(email)["timeline"] if e["type"] == "inquiry"]
    assert inquiry["channel"] == "form"


def test_invalid_email_is_shown_beside_the_field(local_stack: RunningStack, page: Any) -> None:
    page.goto(demo_url(local_stack))
    fill(page, "ada@localhost")  # the browser accepts it; leadflow wants a domain with a dot
    page.click("button[type=submit]")
    error = page.locator("#lf-email + .leadflow-error")
    error.wait_for()
    assert "needs a domain with a dot after the @" in error.inner_text()
    assert page.get_attribute("#lf-email", "aria-invalid") == "true"
    assert page.is_enabled("button[type=submit]")


def test_double_click_makes_one_inquiry(local_stack: RunningStack, page: Any) -> None:
    email = f"double.{uuid.uuid4().hex[:8]}@clicks.example"
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.method) if r.url.endswith("/leads") and r.method == "POST" else None)
    page.goto(demo_url(local_stack))
    fill(page, email)
    page.dblclick("button[type=submit]")
    page.wait_for_url("**/thank-you")
    assert posts == ["POST"]
    assert local_stack.lead(email)["inquiry_count"] == 1


def test_503_after_the_inquiry_was_stored_is_retried_with_the_same_key_and_makes_one_inquiry(
    local_stack: RunningStack, page: Any
) -> None:
    email = f"retry.{uuid.uuid4().hex[:8]}@flaky.example"
    origin = demo_url(local_stack).rstrip("/")
    keys: list[str] = []

    def first_answer_lost(route: Any) -> None:
        request = route.request
        if request.method != "POST":
            route.continue_()
            return
        keys.append(request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the inquiry reaches leadflow and is stored...
            route.fulfill(  # ...but the visitor's browser is told 503, as a gateway might
                status=503,
                headers={"Access-Control-Allow-Origin": origin, "Retry-After": "0", "Content-Type": "application/json"},
                body='{"errors": [{"field": "service", "message": "retry"}]}',
            )
        else:
            route.continue_()

    page.route("**/leads", first_answer_lost)
    send_demo_form(local_stack, page, email)
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert local_stack.settled_lead(email, inquiries=1)["inquiry_count"] == 1


def test_network_failure_is_retried(local_stack: RunningStack, page: Any) -> None:
    email = f"offline.{uuid.uuid4().hex[:8]}@tunnel.example"
    attempts: list[str] = []

    def drop_first(route: Any) -> None:
        if route.request.method == "POST":
            attempts.append(route.request.method)
            if len(attempts) == 1:
                route.abort("internetdisconnected")
                return
        route.continue_()

    page.route("**/leads", drop_first)
    send_demo_form(local_stack, page, email)
    assert len(attempts) == 2
    assert local_stack.lead(email)["inquiry_count"] == 1


def test_demo_page_screenshot_is_saved(local_stack: RunningStack, page: Any) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "demo-page.png"
    page.set_viewport_size({"width": 900, "height": 1100})
    page.goto(demo_url(local_stack))
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.locator("form[data-leadflow]").count() == 1

"""The local API's outbox in Chromium: the owner's email about a routed lead, listed and opened.

Screenshots of the list and of the email are saved as test artefacts beside the other browser tests'.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from leadflow.local.outbox import OutboxEmail, read_outbox
from tests.e2e.conftest import ARTIFACTS, RunningStack
from tests.e2e.test_route_local import add_rep, at_work_now

pytestmark = pytest.mark.browser


def email_about(stack: RunningStack, first_name: str, timeout_s: float = 30) -> OutboxEmail:
    """The owner's email about the lead, once the notify function has sent it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for email in read_outbox(stack.api):
            if first_name in email.subject:
                return email
        time.sleep(0.3)
    raise AssertionError(f"no email about {first_name} within {timeout_s} s")


def test_the_outbox_lists_the_owners_email_and_opens_it_with_its_headers_and_both_bodies(
    local_stack: RunningStack, desktop: Any
) -> None:
    add_rep(local_stack, f"otto.{uuid.uuid4().hex[:6]}@demo.example", "Otto Outbox", *at_work_now())
    first_name = f"Mira{uuid.uuid4().hex[:6]}"
    answer = requests.post(f"{local_stack.api}/leads", timeout=10, json={
        "email": f"{first_name.lower()}@kessel-logistik.example", "first_name": first_name,
        "company": "Kessel Logistik", "phone": "+49 40 3999 1200", "inquiry_type": "demo_request",
    })  # fmt: skip
    assert answer.status_code == 202
    email = email_about(local_stack, first_name)

    desktop.goto(f"{local_stack.api}/outbox")
    row = desktop.locator("tr", has_text=first_name)
    assert row.count() == 1
    assert email.to[0] in row.inner_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desktop.screenshot(path=str(ARTIFACTS / "outbox-list.png"), full_page=True)

    row.locator("a").click()
    desktop.wait_for_load_state()
    assert desktop.locator("h1").inner_text() == email.subject
    assert desktop.locator("tr", has=desktop.locator("th", has_text="Message-ID")).locator("td").inner_text() == (
        email.header("Message-ID")
    )
    frame = desktop.locator("iframe")
    assert frame.get_attribute("sandbox") == ""  # the email's HTML runs nothing
    body = desktop.frame_locator("iframe[sandbox]")
    assert body.locator("a", has_text="Accept").count() == 1  # the HTML body, rendered
    assert "Accept: http" in desktop.locator("pre").inner_text()  # the text body
    desktop.screenshot(path=str(ARTIFACTS / "outbox-email.png"), full_page=True)

"""A nurture email to a lead in Chromium: the guide an inquiry promised, opened from the local outbox,
then its unsubscribe link followed on a phone and its button pressed.

Screenshots are saved as test artefacts: `nurture-email.png` (the outbox page of the email),
`unsubscribe-phone.png` (the page its link opens) and `unsubscribed-phone.png` (after the button).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from leadflow.local.outbox import OutboxEmail, read_outbox
from tests.e2e.conftest import ARTIFACTS, RunningStack

pytestmark = pytest.mark.browser


def guide_for(stack: RunningStack, address: str, timeout_s: float = 30) -> OutboxEmail:
    """The acknowledgement the demo client promises a guide_download inquiry, once sent."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for email in read_outbox(stack.api, to=address):
            if email.subject.startswith("Your guide"):
                return email
        time.sleep(0.3)
    raise AssertionError(f"no guide sent to {address} within {timeout_s} s")


def test_a_promised_guide_is_rendered_with_signed_links_and_unsubscribes_from_a_phone(
    local_stack: RunningStack, desktop: Any, phone: Any
) -> None:
    first_name = f"Greta{uuid.uuid4().hex[:6]}"
    address = f"{first_name.lower()}@gmail.com"
    answer = requests.post(f"{local_stack.api}/leads", timeout=10, json={
        "email": address, "first_name": first_name, "inquiry_type": "guide_download",
    })  # fmt: skip
    assert answer.status_code == 202
    email = guide_for(local_stack, address)

    desktop.goto(f"{local_stack.api}/outbox?to={address}")
    desktop.locator("tr", has_text=first_name).locator("a").click()
    desktop.wait_for_load_state()
    assert desktop.locator("h1").inner_text() == email.subject == f"Your guide, {first_name}"
    post_header = desktop.locator("tr", has=desktop.locator("th", has_text="List-Unsubscribe-Post")).locator("td")
    assert post_header.inner_text() == "List-Unsubscribe=One-Click"
    body = desktop.frame_locator("iframe[sandbox]")
    download = body.locator("a", has_text="download it").get_attribute("href") or ""
    assert download.startswith(f"{local_stack.api}/c/")  # through the click endpoint, never straight to the file
    unsubscribe = body.locator("a", has_text="Unsubscribe").get_attribute("href") or ""
    assert unsubscribe.startswith(f"{local_stack.api}/u/")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desktop.screenshot(path=str(ARTIFACTS / "nurture-email.png"), full_page=True)

    phone.goto(unsubscribe)
    assert phone.locator("h1").inner_text() == "Unsubscribe from these emails?"
    phone.screenshot(path=str(ARTIFACTS / "unsubscribe-phone.png"), full_page=True)
    with phone.expect_navigation():  # the form's POST, no cookie, no login
        phone.locator("button", has_text="Unsubscribe").tap()
    assert phone.locator("h1").inner_text() == "You are unsubscribed"
    phone.screenshot(path=str(ARTIFACTS / "unsubscribed-phone.png"), full_page=True)
    lead = local_stack.lead(address)
    assert lead["nurture"]["suppressed"]["reason"] == "unsubscribed"

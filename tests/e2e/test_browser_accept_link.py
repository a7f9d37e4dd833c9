"""The owner's one-tap Accept link, from the email the local stack sent, in Chromium at phone size."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS, RunningStack
from tests.e2e.test_route_local import add_rep, at_work_now
from tests.support import sent_emails

pytestmark = pytest.mark.browser


def accept_link(stack: RunningStack, first_name: str, timeout_s: float = 30) -> str:
    """The Accept link of the owner's email about the lead, once the notify function has sent it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for email in sent_emails(stack.aws):
            if first_name in str(email["Subject"]):
                text = email.get_body(preferencelist=("plain",)).get_content()
                [link] = [line.removeprefix("Accept: ") for line in text.splitlines() if line.startswith("Accept: ")]
                return str(link)
        time.sleep(0.3)
    raise AssertionError(f"no email about {first_name} within {timeout_s} s")


def test_the_accept_link_shows_the_lead_accepts_on_a_tap_and_is_refused_after(
    local_stack: RunningStack, phone: Any
) -> None:
    add_rep(local_stack, f"pia.{uuid.uuid4().hex[:6]}@demo.example", "Pia Phone", *at_work_now())
    first_name = f"Jona{uuid.uuid4().hex[:6]}"
    email = f"{first_name.lower()}@kessel-logistik.example"
    answer = requests.post(f"{local_stack.api}/leads", timeout=10, json={
        "email": email, "first_name": first_name, "company": "Kessel Logistik", "phone": "+49 40 3999 1200",
        "inquiry_type": "demo_request", "message": "Wir möchten eine Demo <b>bitte</b>",
    })  # fmt: skip
    assert answer.status_code == 202
    local_stack.routed(email)
    link = accept_link(local_stack, first_name)

    phone.goto(link)
    assert phone.locator("h1").inner_text() == "A lead for you"
    assert "Kessel Logistik" in phone.content()
    assert phone.locator("dd", has_text="Wir möchten eine Demo <b>bitte</b>").count() == 1  # shown as typed
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "accept-link-phone.png"), full_page=True)
    assert local_stack.lead(email)["stage"] == "assigned"  # opening the link did nothing yet

    phone.click("button.accept")
    phone.wait_for_load_state()
    assert phone.locator("h1").inner_text() == "Accepted: the lead is yours"
    phone.screenshot(path=str(ARTIFACTS / "accept-link-accepted-phone.png"), full_page=True)
    assert local_stack.lead(email)["stage"] == "accepted"

    phone.goto(link)
    assert phone.locator("h1").inner_text() == "Already answered"
    token = link.rsplit("/", 1)[1].split("?")[0]
    altered = link.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    phone.goto(altered)
    assert phone.locator("h1").inner_text() == "This link is not valid"

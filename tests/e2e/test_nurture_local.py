"""Issue 9's walk-through: nurture through `leadflow local`, its schedules on a clock 1,200 times as fast.

The stack starts its schedules' clock at the next Wednesday 12:00 UTC (`--clock-start`), so a
simulated day lasts 72 seconds. Inquiries are posted at the real time, as a website would; the
nurture sweep then runs every 5 simulated minutes and sends what is due at the simulated time.
Each lead's send times are read from its timeline (`nurture_sent` entries carry the simulated
moment the step went out); the emails themselves are read from the local outbox. That nothing
more reaches a stopped lead is judged against a control lead on the same schedule, once the
control's next email is out, never against a timer.

Every lead is posted once, when the stack starts, so the scenarios run side by side in one
simulated day and a half: about 100 seconds for the module.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from leadflow.local.outbox import OutboxEmail, read_outbox
from tests.e2e.conftest import LEADFLOW, RunningStack, start_local_stack, stop_local_stack
from tests.support import CLIENTS, ROOT

pytestmark = pytest.mark.e2e

SPEED = 1200  # simulated seconds per real second: a simulated day is 72 s
SIMULATED_DAY_S = 86400 / SPEED
WINDOW = (9, 17)  # the test client's send window, 09:00-17:00 on weekdays, in each lead's own zone
STEP_GAP = timedelta(days=0.25)  # each sequence's second step comes this long after its first

NURTURE = """
[nurture]
default_timezone = "Europe/Berlin"
send_window = { hours = "09:00-17:00", weekdays = ["mon", "tue", "wed", "thu", "fri"] }
frequency_cap = { most = 2, days = 1 }
send_rate_per_second = 30
sweep_every_minutes = 5
unsubscribe_mail_domain = "unsubscribe.demo.example"

[[nurture.sequences]]
name = "welcome"
stages = ["nurture"]

[[nurture.sequences.steps]]
after_days = 0
subject = "Welcome, step 1"
html = '<p>Start here: <a href="{{ link("https://demo.example/start") }}">the guide</a></p>'
text = 'Start here: {{ link("https://demo.example/start") }}'

[[nurture.sequences.steps]]
after_days = 0.25
subject = "Welcome, step 2"
html = '<p>A case study: <a href="{{ link("https://demo.example/case") }}">read it</a></p>'
text = 'A case study: {{ link("https://demo.example/case") }}'

[[nurture.sequences]]
name = "digest"
stages = ["nurture"]
when = [{ field = "inquiry_type", equals = "newsletter" }]

[[nurture.sequences.steps]]
after_days = 0
subject = "Digest, step 1"
html = "<p>This month's digest.</p>"
text = "This month's digest."

[[nurture.sequences.steps]]
after_days = 0.25
subject = "Digest, step 2"
html = "<p>Next month's digest.</p>"
text = "Next month's digest."

[nurture.acknowledgements.guide_download]
subject = "Your guide"
html = '<p>Here it is: <a href="{{ link("https://demo.example/guide.pdf") }}">the guide</a></p>'
text = 'Here it is: {{ link("https://demo.example/guide.pdf") }}'
"""

# Countries by phone, each with the zone leadflow gives it: the acknowledgement's lead is the one for whom
# the real time of the test is nearest 3 a.m.
PHONES = {
    "Asia/Tokyo": "+81 3 3201 3331",
    "Europe/Berlin": "+49 30 901820",
    "America/New_York": "+1 212 736 3100",
    "Australia/Sydney": "+61 2 9250 7111",
    "Asia/Kolkata": "+91 22 2202 4848",
    "America/Sao_Paulo": "+55 11 3311 3000",
    "Asia/Dubai": "+971 4 330 0000",
    "Pacific/Auckland": "+64 9 379 2020",
}


def client_file() -> str:
    """The demo client, with clicks worth 20 points and the nurture above in place of its own."""
    demo = (CLIENTS / "demo.toml").read_text()
    head = demo[: demo.index("\n[nurture]")]
    return head.replace("repeat_inquiry = 15", "repeat_inquiry = 15\nemail_click = 20") + NURTURE


def next_wednesday_noon(now: datetime) -> datetime:
    days = (2 - now.weekday()) % 7 or 7
    return (now + timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)


@dataclass
class Scenario:
    stack: RunningStack
    clients: Path
    emails: dict[str, str]  # scenario name -> the lead's address
    ack_zone: str
    ack_posted: datetime  # when the acknowledgement's inquiry was answered, real time

    def lead(self, name: str) -> dict[str, Any]:
        return self.stack.lead(self.emails[name])

    def outbox(self, name: str) -> list[OutboxEmail]:
        return read_outbox(self.stack.api, to=self.emails[name])

    def sends(self, name: str) -> list[datetime]:
        """When each nurture step of the lead went out, simulated time, oldest first."""
        timeline = self.lead(name)["timeline"]
        return sorted(datetime.fromisoformat(e["at"]) for e in timeline if e["type"] == "nurture_sent")

    def wait_for_sends(self, name: str, count: int, timeout_s: float) -> list[datetime]:
        deadline = time.monotonic() + timeout_s
        while len(sent := self.sends(name)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: {len(sent)} of {count} nurture emails within {timeout_s:.0f} s")
            time.sleep(1)
        return sent


def post(stack: RunningStack, **body: str) -> None:
    answer = requests.post(f"{stack.api}/leads", json=body, timeout=10)
    assert answer.status_code == 202, answer.text


def nearest_to_3am(now: datetime) -> str:
    def distance(zone: str) -> float:
        local = now.astimezone(ZoneInfo(zone))
        hours = local.hour + local.minute / 60
        return min(abs(hours - 3), 24 - abs(hours - 3))

    return min(PHONES, key=distance)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    scratch = tmp_path_factory.mktemp("nurture")
    clock_start = next_wednesday_noon(datetime.now(UTC))
    stack = start_local_stack(
        scratch, "--clock", f"{SPEED}x", "--clock-start", clock_start.isoformat(), client_file=client_file()
    )
    try:
        tag = uuid.uuid4().hex[:6]
        names = ("tokyo", "new_york", "capped", "unsub", "bounced", "twin", "mailed")
        emails = {name: f"{name}.{tag}@gmail.com" for name in names}
        emails["clicker"] = f"clicker.{tag}@northwind-logistics.com"  # a company address: 25 points, nurture
        ack_zone = nearest_to_3am(datetime.now(UTC))
        emails["ack"] = f"ack.{tag}@gmail.com"
        post(stack, email=emails["tokyo"], phone=PHONES["Asia/Tokyo"])
        post(stack, email=emails["new_york"], phone=PHONES["America/New_York"])
        post(stack, email=emails["capped"], phone=PHONES["Europe/Berlin"], inquiry_type="newsletter")
        post(stack, email=emails["unsub"], phone=PHONES["Europe/Berlin"], inquiry_type="newsletter")
        post(stack, email=emails["bounced"], phone=PHONES["Europe/Berlin"])
        post(stack, email=emails["twin"], phone=PHONES["Europe/Berlin"])  # the bounced and mailed leads' control
        post(stack, email=emails["mailed"], phone=PHONES["Europe/Berlin"])
        post(stack, email=emails["clicker"], phone=PHONES["Europe/Berlin"])
        post(stack, email=emails["ack"], phone=PHONES[ack_zone], inquiry_type="guide_download")
        ack_posted = datetime.now(UTC)
        assert stack.clients is not None
        yield Scenario(stack, stack.clients, emails, ack_zone, ack_posted)
    finally:
        stop_local_stack(stack)


def in_window(moment: datetime, zone: str) -> bool:
    local = moment.astimezone(ZoneInfo(zone))
    return local.weekday() < 5 and WINDOW[0] <= local.hour < WINDOW[1]


@pytest.fixture(scope="module")
def stopped(scenario: Scenario) -> dict[str, int]:
    """Unsubscribe one lead by the one-click POST, bounce another by `leadflow local bounce` and unsubscribe a third
    by email (`leadflow local unsubscribe-by-email`), once each has its first emails and before the next (none has
    finished): the emails each had by then."""
    scenario.wait_for_sends("unsub", 2, timeout_s=30)  # both sequences' first steps
    scenario.wait_for_sends("bounced", 1, timeout_s=30)
    scenario.wait_for_sends("mailed", 1, timeout_s=30)
    stopped = {}
    for name in ("unsub", "bounced", "mailed"):
        lead = scenario.lead(name)
        assert lead.get("nurture_next_at"), f"{name} has no next email to stop"
        stopped[name] = len(scenario.outbox(name))
    [first, *_] = scenario.outbox("unsub")
    link = first.header("List-Unsubscribe") or ""
    web = next(part.strip(" <>") for part in link.split(",") if part.strip().startswith("<http"))  # locally http
    answer = requests.post(web, data="List-Unsubscribe=One-Click", timeout=10,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    bounced = subprocess.run(
        [LEADFLOW, "local", "bounce", scenario.emails["bounced"], "--clients-dir", str(scenario.clients),
         "--moto-port", scenario.stack.aws.rsplit(":", 1)[1]],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert bounced.returncode == 0, bounced.stderr
    mailed = subprocess.run(
        [LEADFLOW, "local", "unsubscribe-by-email", scenario.emails["mailed"], "--clients-dir", str(scenario.clients),
         "--moto-port", scenario.stack.aws.rsplit(":", 1)[1], "--api-port", scenario.stack.api.rsplit(":", 1)[1]],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert mailed.returncode == 0, mailed.stderr
    return stopped


def suppressed(scenario: Scenario, name: str) -> dict[str, Any]:
    """The lead once suppressed (the bounce reaches it through EventBridge and a queue)."""
    deadline = time.monotonic() + 30
    while not (lead := scenario.lead(name)).get("nurture", {}).get("suppressed"):
        assert time.monotonic() < deadline, f"{name} was not suppressed within 30 s"
        time.sleep(0.5)
    return lead


def test_a_one_click_unsubscribe_ends_every_sequence_and_nothing_more_is_sent(
    scenario: Scenario, stopped: dict[str, int]
) -> None:
    lead = suppressed(scenario, "unsub")
    assert lead["nurture"]["suppressed"]["reason"] == "unsubscribed"
    assert {name: s["ended"] for name, s in lead["nurture"]["sequences"].items()} == {
        "welcome": "unsubscribed", "digest": "unsubscribed"
    }  # fmt: skip
    assert not lead.get("nurture_next_at")
    # The capped lead entered the same two sequences at the same moment: once its second steps are out,
    # the unsubscribed lead's would have been too.
    scenario.wait_for_sends("capped", 4, timeout_s=30 + 1.5 * SIMULATED_DAY_S)
    assert len(scenario.outbox("unsub")) == stopped["unsub"]


def test_leadflow_local_bounce_suppresses_the_address_and_ends_its_sequence(
    scenario: Scenario, stopped: dict[str, int]
) -> None:
    lead = suppressed(scenario, "bounced")
    assert lead["nurture"]["suppressed"]["reason"] == "bounced"
    assert lead["nurture"]["sequences"]["welcome"]["ended"] == "bounced"
    assert not lead.get("nurture_next_at")
    scenario.wait_for_sends("twin", 2, timeout_s=30 + 1.2 * SIMULATED_DAY_S)  # its control's second step is out
    assert len(scenario.outbox("bounced")) == stopped["bounced"]


def test_an_email_to_the_list_unsubscribe_mailto_suppresses_the_address_and_ends_its_sequence(
    scenario: Scenario, stopped: dict[str, int]
) -> None:
    lead = suppressed(scenario, "mailed")  # mail → SES's receipt rule → topic → ses-events queue → function
    assert lead["nurture"]["suppressed"]["reason"] == "unsubscribed"
    assert lead["nurture"]["sequences"]["welcome"]["ended"] == "unsubscribed"
    assert not lead.get("nurture_next_at")
    scenario.wait_for_sends("twin", 2, timeout_s=30 + 1.2 * SIMULATED_DAY_S)  # its control's second step is out
    assert len(scenario.outbox("mailed")) == stopped["mailed"]


def test_an_inquiry_that_promises_a_guide_is_answered_within_a_minute_in_the_leads_night(scenario: Scenario) -> None:
    deadline = time.monotonic() + 60
    while not (acks := [e for e in scenario.outbox("ack") if e.subject == "Your guide"]):
        assert time.monotonic() < deadline, "no acknowledgement in the outbox within 60 s"
        time.sleep(0.5)
    [ack] = acks
    assert ack.sent_at is not None
    assert ack.sent_at - scenario.ack_posted.replace(microsecond=0) <= timedelta(seconds=60)  # Date: whole seconds
    [acknowledged] = [e for e in scenario.lead("ack")["timeline"] if e["type"] == "acknowledged"]
    at = datetime.fromisoformat(acknowledged["at"])
    local = at.astimezone(ZoneInfo(scenario.ack_zone))
    assert not in_window(at, scenario.ack_zone), f"{local:%a %H:%M} in {scenario.ack_zone} is inside the window"
    assert ack.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"


def click(link: str) -> requests.Response:
    return requests.get(link, allow_redirects=False, timeout=10)


def test_clicks_raise_the_score_and_past_the_threshold_hand_the_lead_to_routing_once(scenario: Scenario) -> None:
    scenario.wait_for_sends("clicker", 1, timeout_s=30)
    [email] = [e for e in scenario.outbox("clicker") if e.subject == "Welcome, step 1"]
    link = next(word for word in (email.text or "").split() if "/c/" in word)
    answer = click(link)
    assert (answer.status_code, answer.headers["Location"]) == (302, "https://demo.example/start")
    deadline = time.monotonic() + 30
    while (lead := scenario.lead("clicker"))["score"]["engagement"] < 20:
        assert time.monotonic() < deadline, "the click raised no score within 30 s"
        time.sleep(0.5)
    assert (lead["stage"], lead["marketing_qualified"]) == ("nurture", True)  # 25 + 20: past 30, short of 60
    click(link)
    routed = scenario.stack.routed(scenario.emails["clicker"])
    assert routed["stage"] != "nurture"
    click(link)  # a third click on a lead already routed
    deadline = time.monotonic() + 30
    while (lead := scenario.lead("clicker"))["score"]["engagement"] < 60:
        assert time.monotonic() < deadline, "the third click was not scored within 30 s"
        time.sleep(0.5)
    assert [e["type"] for e in lead["timeline"]].count("routed") == 1
    assert lead["nurture"]["sequences"]["welcome"].get("ended")


def test_tokyo_and_new_york_get_each_step_inside_their_own_window_the_second_after_its_delay(
    scenario: Scenario,
) -> None:
    for name, zone in (("new_york", "America/New_York"), ("tokyo", "Asia/Tokyo")):
        sent = scenario.wait_for_sends(name, 2, timeout_s=30 + 1.2 * SIMULATED_DAY_S)
        assert all(in_window(moment, zone) for moment in sent), f"{name}: {sent} not all inside 09-17 in {zone}"
        assert sent[1] - sent[0] >= STEP_GAP
        assert sorted(e.subject for e in scenario.outbox(name)) == ["Welcome, step 1", "Welcome, step 2"]
    # The same sequence, at different moments: each lead's own morning.
    assert scenario.sends("tokyo")[0] != scenario.sends("new_york")[0]


def test_the_frequency_cap_holds_across_two_sequences_and_holds_steps_back_without_skipping_them(
    scenario: Scenario,
) -> None:
    sent = scenario.wait_for_sends("capped", 4, timeout_s=30 + 1.5 * SIMULATED_DAY_S)
    for moment in sent:
        assert sum(moment - timedelta(days=1) < other <= moment for other in sent) <= 2
    subjects = sorted(e.subject for e in scenario.outbox("capped"))
    assert subjects == ["Digest, step 1", "Digest, step 2", "Welcome, step 1", "Welcome, step 2"]


def test_the_outbox_cli_lists_a_leads_nurture_emails(scenario: Scenario) -> None:
    port = scenario.stack.api.rsplit(":", 1)[1]
    shown = subprocess.run(
        [LEADFLOW, "outbox", "--clients-dir", str(scenario.clients), "--api-port", port,
         "--to", scenario.emails["tokyo"]],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "Welcome, step 1" in shown.stdout
    assert "Digest" not in shown.stdout  # Tokyo's emails only: the capped lead's digest is not listed

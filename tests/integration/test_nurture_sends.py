"""Nurture emails, sent by the sweep and the nurture queue's consumer, unchanged, against moto.

A lead's steps go out on time inside its send window, once each, with the one-click
unsubscribe headers; an inquiry's promised acknowledgement goes out at any hour; a suppressed
address gets nothing; two sweeps at once send each step once.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from leadflow import settings, wiring
from leadflow.config import SendWindowSettings, config_snapshot
from leadflow.lead.profile import utc_stamp
from leadflow.nurture.suppression import suppress_lead
from leadflow.nurture.templates import Outgoing
from leadflow.wiring import lead_services
from tests.integration.conftest import Stack
from tests.integration.test_intake_handler import captured_record
from tests.support import coming_tuesday, load_event, sent_emails

# The demo's window: 09:00-17:00 on weekdays, Europe/Berlin unless the lead's country or phone says otherwise.
# The sweeps run on the coming Tuesday (never today): the leads are captured now, and their first step is due at
# once, so a tick must come after the real moment they were captured.
TUESDAY = coming_tuesday()


def berlin(days: int, clock: str) -> datetime:
    """`days` after the coming Tuesday at `clock` (HH:MM) in Berlin, as a moment in UTC."""
    local = datetime.combine(TUESDAY + timedelta(days=days), time.fromisoformat(clock), ZoneInfo("Europe/Berlin"))
    return local.astimezone(UTC)


def tick(days: int, clock: str) -> str:
    """That moment as the scheduler's tick names it."""
    return berlin(days, clock).strftime("%Y-%m-%dT%H:%M:%SZ")


TUESDAY_10_BERLIN = tick(0, "10:00")
TUESDAY_03_BERLIN = tick(0, "03:00")


def nurture_lead(stack: Stack, lambda_context: Any, email: str, n: int = 0, **fields: Any) -> str:
    """A lead stored by intake in nurture (a free address asking a question): its id."""
    record = captured_record(stack, {"email": email, "inquiry_type": "contact", **fields}, n=n)
    answer = stack.handler("intake")({"Records": [record]}, lambda_context)
    assert answer == {"batchItemFailures": []}
    lead_id: str = json.loads(record["body"])["lead_id"]
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert profile["stage"] == "nurture"
    return lead_id


def sweep(stack: Stack, lambda_context: Any, at: str) -> dict[str, int]:
    event = load_event("nurture_sweep-scheduled.json")
    event["time"] = at
    answer: dict[str, int] = stack.handler("nurture_sweep")(event, lambda_context)
    return answer


def send_due_step(lead_id: str, services: Any, config: Any, mail: Any, links: Any, now: datetime) -> str:
    """One lead's due step through `send_due_steps`, as the nurture queue's consumer sends one alone: its outcome,
    or the error its send failed with (given back), raised."""
    from leadflow.nurture.send import send_due_steps

    done = send_due_steps([lead_id], services, config, mail, links, now)
    if lead_id in done.failures:
        raise done.failures[lead_id]
    return done.outcomes[lead_id]


def emails_to(moto_endpoint: str, address: str) -> list[Any]:
    return [m for m in sent_emails(moto_endpoint) if m["To"] == address]


class OneByOne:
    """A mail port for tests: its `send_email` stands for SES, and a bulk send is one `send_email` per email."""

    def send_email(self, to: str, *args: Any) -> str:
        raise NotImplementedError

    def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
        answers: list[str | Exception] = []
        for email in emails:
            try:
                answers.append(self.send_email(email.to, email.rendered, email.headers, email.tags))
            except Exception as exc:
                answers.append(exc)
        return answers


def test_the_first_step_goes_out_in_the_window_once_and_the_second_after_its_delay(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    lead_id = nurture_lead(stack, lambda_context, "ada.nurture@gmail.com", first_name="Ada")
    assert sweep(stack, lambda_context, TUESDAY_10_BERLIN)["sent"] == 1
    assert sweep(stack, lambda_context, tick(0, "10:05"))["due"] == 0  # sent: not due again
    [first] = emails_to(moto_endpoint, "ada.nurture@gmail.com")
    assert first["Subject"] == "Thanks for your interest, Ada"

    assert sweep(stack, lambda_context, tick(2, "10:00"))["sent"] == 0  # 2 days later: step 2 waits 3
    assert sweep(stack, lambda_context, tick(3, "10:05"))["sent"] == 1
    subjects = [m["Subject"] for m in emails_to(moto_endpoint, "ada.nurture@gmail.com")]
    assert subjects == ["Thanks for your interest, Ada", "A case study for you"]
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert "nurture_next_at" not in profile


def test_a_step_due_at_night_waits_for_the_window_and_is_not_skipped(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    lead_id = nurture_lead(stack, lambda_context, "night.owl@gmail.com")
    assert sweep(stack, lambda_context, TUESDAY_03_BERLIN)["sent"] == 0
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert profile["nurture_next_at"] == utc_stamp(berlin(0, "09:00"))
    assert sweep(stack, lambda_context, tick(0, "09:00"))["sent"] == 1
    assert len(emails_to(moto_endpoint, "night.owl@gmail.com")) == 1


def test_a_nurture_email_carries_one_click_unsubscribe_headers_and_signed_links(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    nurture_lead(stack, lambda_context, "headers@gmail.com")
    sweep(stack, lambda_context, TUESDAY_10_BERLIN)
    [email] = emails_to(moto_endpoint, "headers@gmail.com")
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = (part.strip(" <>") for part in email["List-Unsubscribe"].split(","))
    assert "/u/" in https
    assert https.startswith("http")
    assert mailto.startswith("mailto:unsubscribe-demo@unsubscribe.demo.example?subject=unsubscribe%20")
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "/c/" in text
    assert "https://demo.example/start" not in text


def test_a_name_with_cr_lf_written_into_the_table_adds_no_header(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    lead_id = nurture_lead(stack, lambda_context, "crlf@gmail.com")
    stack.session.client("dynamodb").update_item(
        TableName=stack.definition.table("leads").name,
        Key={"pk": {"S": f"LEAD#{lead_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET first_name = :name",
        ExpressionAttributeValues={":name": {"S": "Ada\r\nBcc: x@example.com"}},
    )
    sweep(stack, lambda_context, TUESDAY_10_BERLIN)
    [email] = emails_to(moto_endpoint, "crlf@gmail.com")
    assert email["Bcc"] is None
    assert email["Subject"] == "Thanks for your interest, Ada Bcc: x@example.com"


def test_a_suppressed_address_gets_no_step(stack: Stack, lambda_context: Any, moto_endpoint: str) -> None:
    lead_id = nurture_lead(stack, lambda_context, "gone@gmail.com")
    suppress_lead(lead_id, "unsubscribed", lead_services(), berlin(0, "09:00"))
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert "nurture_next_at" not in profile
    assert sweep(stack, lambda_context, TUESDAY_10_BERLIN)["due"] == 0
    assert emails_to(moto_endpoint, "gone@gmail.com") == []


def write_email(stack: Stack, lead_id: str, email: str) -> None:
    """Store `email` as the lead's address, straight into the table (as an older version of capture might have)."""
    stack.session.client("dynamodb").update_item(
        TableName=stack.definition.table("leads").name,
        Key={"pk": {"S": f"LEAD#{lead_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET email = :email",
        ExpressionAttributeValues={":email": {"S": email}},
    )


def test_an_address_ses_can_never_take_is_suppressed_not_retried_at_every_sweep(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    lead_id = nurture_lead(stack, lambda_context, "unicode.local@gmail.com")
    write_email(stack, lead_id, "josé.nurture@gmail.com")  # SES takes only ASCII before the @
    done = sweep(stack, lambda_context, TUESDAY_10_BERLIN)
    assert (done["sent"], done["failed"], done["not_sent"]) == (0, 0, 1)
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert profile["nurture"]["suppressed"]["reason"] == "undeliverable"
    assert "nurture_next_at" not in profile  # out of the due index: no sweep reads it again
    assert sweep(stack, lambda_context, tick(0, "10:05"))["due"] == 0
    assert stack.store().count("undeliverable") == 1
    assert emails_to(moto_endpoint, "josé.nurture@gmail.com") == []


def test_two_sweeps_at_once_send_each_due_step_once(stack: Stack, lambda_context: Any, moto_endpoint: str) -> None:
    addresses = [f"race{n}@gmail.com" for n in range(6)]
    for n, address in enumerate(addresses):
        nurture_lead(stack, lambda_context, address, n=n)
    answers: list[dict[str, int]] = []
    sweeps = [threading.Thread(target=lambda: answers.append(sweep(stack, lambda_context, TUESDAY_10_BERLIN)))
              for _ in range(2)]  # fmt: skip
    for thread in sweeps:
        thread.start()
    for thread in sweeps:
        thread.join()
    assert sum(answer["sent"] for answer in answers) == len(addresses)
    assert sorted(m["To"] for m in sent_emails(moto_endpoint)) == sorted(addresses)


def test_an_inquiry_that_promises_a_guide_is_acknowledged_outside_the_send_window(
    stack: Stack, lambda_context: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    window = SendWindowSettings(hours="00:00-00:01", weekdays=["sun"])  # open one minute a week: never now
    closed = stack.config.model_copy(
        update={"nurture": stack.config.nurture.model_copy(update={"send_window": window})}
    )
    snapshot = tmp_path / "closed.json"
    snapshot.write_text(config_snapshot(closed))
    monkeypatch.setenv("LEADFLOW_CLIENT_CONFIG", str(snapshot))
    settings.forget_cached()
    wiring.forget_cached()
    record = captured_record(stack, {"email": "guide@gmail.com", "inquiry_type": "guide_download", "first_name": "Lin"})
    stack.handler("intake")({"Records": [record]}, lambda_context)
    [handed] = stack.queue_messages("nurture")
    message = json.loads(handed["Body"])
    assert (message["kind"], message["inquiry_type"]) == ("acknowledge", "guide_download")
    batch = load_event("nurture_send-sqs-batch.json")
    ack = copy.deepcopy(batch["Records"][0])
    ack["body"] = handed["Body"]
    ack["attributes"]["MessageGroupId"] = message["lead_id"]
    assert stack.handler("nurture_send")({"Records": [ack]}, lambda_context) == {"batchItemFailures": []}
    assert stack.handler("nurture_send")({"Records": [ack]}, lambda_context) == {"batchItemFailures": []}  # again
    [email] = emails_to(moto_endpoint, "guide@gmail.com")
    assert email["Subject"] == "Your guide, Lin"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_an_acknowledgement_to_an_address_ses_can_never_take_suppresses_it_and_is_not_redelivered(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    record = captured_record(stack, {"email": "ack.unicode@gmail.com", "inquiry_type": "guide_download"})
    stack.handler("intake")({"Records": [record]}, lambda_context)
    [handed] = stack.queue_messages("nurture")
    message = json.loads(handed["Body"])
    write_email(stack, message["lead_id"], "zoë.guide@gmail.com")
    ack = copy.deepcopy(load_event("nurture_send-sqs-batch.json")["Records"][0])
    ack["body"] = handed["Body"]
    ack["attributes"]["MessageGroupId"] = message["lead_id"]
    assert stack.handler("nurture_send")({"Records": [ack]}, lambda_context) == {"batchItemFailures": []}
    profile = stack.store().get_profile(message["lead_id"])
    assert profile is not None
    assert profile["nurture"]["suppressed"]["reason"] == "undeliverable"
    assert emails_to(moto_endpoint, "zoë.guide@gmail.com") == []


def test_the_sample_nurture_send_batch_is_handled(stack: Stack, lambda_context: Any) -> None:
    answer = stack.handler("nurture_send")(load_event("nurture_send-sqs-batch.json"), lambda_context)
    assert answer == {"batchItemFailures": []}  # its lead is not stored here: nothing to send, nothing failed


def refused_at_nine(stack: Stack, lead_id: str, mail: Any) -> dict[str, Any]:
    """Send the lead's due step at Tuesday 09:00 UTC through `mail`, which refuses it: the lead as stored after."""
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks
    from leadflow.settings import client_config, link_key

    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    with pytest.raises(RuntimeError):
        send_due_step(lead_id, lead_services(), client_config(), mail, links, now)
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    return dict(profile)


def test_a_step_ses_keeps_refusing_stays_due_and_goes_out_at_the_next_sweep(
    stack: Stack, lambda_context: Any, moto_endpoint: str
) -> None:
    class Refusing(OneByOne):
        def send_email(self, *args: Any) -> str:
            raise RuntimeError("TooManyRequestsException, after every retry")

    lead_id = nurture_lead(stack, lambda_context, "throttled@gmail.com")
    profile = refused_at_nine(stack, lead_id, Refusing())
    assert "sending" not in profile["nurture"]  # the claim was given back
    assert profile["nurture_next_at"] <= utc_stamp(berlin(0, "10:00"))  # due at once, not after the claim ran out
    assert sweep(stack, lambda_context, TUESDAY_10_BERLIN)["sent"] == 1
    assert len(emails_to(moto_endpoint, "throttled@gmail.com")) == 1


def test_a_claim_outlasts_the_sending_however_fast_the_ticks_come(stack: Stack, lambda_context: Any) -> None:
    """On `leadflow local --clock 1200x`, 40 minutes of ticks pass in 2 seconds: a step still being sent
    at the first tick is not sent again by a sweep at the later one, because the claim is held on the wall clock."""
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks
    from leadflow.settings import client_config, link_key

    lead_id = nurture_lead(stack, lambda_context, "slow.send@gmail.com")
    first, later = berlin(0, "10:00"), berlin(0, "10:40")
    sent: list[str] = []
    outcomes: list[str] = []

    class Slow(OneByOne):
        def send_email(self, to: str, *args: Any) -> str:
            sent.append(to)
            if len(sent) == 1:  # the second sweep runs while the first is still sending
                links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", later)
                outcomes.append(send_due_step(lead_id, lead_services(), client_config(), self, links, later))
            return "message-id"

    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", first)
    assert send_due_step(lead_id, lead_services(), client_config(), Slow(), links, first) == "sent"
    assert outcomes == ["claimed_elsewhere"]
    assert sent == ["slow.send@gmail.com"]


def test_a_batchs_emails_go_to_the_mailer_together_and_each_is_recorded(stack: Stack, lambda_context: Any) -> None:
    """One bulk send for the batch (SES's SendBulkEmail: one request's cost serves many emails)."""
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks, send_due_steps
    from leadflow.settings import client_config, link_key

    lead_ids = [nurture_lead(stack, lambda_context, f"together.{n}@gmail.com", n=n) for n in range(4)]
    bulk_sends: list[list[str]] = []

    class Bulk(OneByOne):
        def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
            bulk_sends.append([email.to for email in emails])
            return [f"message-{n}" for n in range(len(emails))]

    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    done = send_due_steps(lead_ids, lead_services(), client_config(), Bulk(), links, now)
    assert done.failures == {}
    assert done.outcomes == dict.fromkeys(lead_ids, "sent")
    assert bulk_sends == [[f"together.{n}@gmail.com" for n in range(4)]]
    for lead_id in lead_ids:
        profile = stack.store().get_profile(lead_id)
        assert profile is not None
        assert profile["nurture"]["sequences"]["welcome"]["steps_sent"] == 1


def test_a_batch_goes_to_the_mailer_a_seconds_worth_of_the_send_rate_at_a_time(
    stack: Stack, lambda_context: Any
) -> None:
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import Pacer, SignedLinks, send_due_steps
    from leadflow.settings import client_config, link_key

    lead_ids = [nurture_lead(stack, lambda_context, f"paced.{n}@gmail.com", n=n) for n in range(3)]
    bulk_sends: list[int] = []
    waited: list[float] = []

    class Bulk(OneByOne):
        def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
            bulk_sends.append(len(emails))
            return ["message-id"] * len(emails)

    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    pacer = Pacer(2, clock=lambda: 0.0, sleep=waited.append)  # two a second; its clock stands still
    done = send_due_steps(lead_ids, lead_services(), client_config(), Bulk(), links, now, pacer=pacer)
    assert done.outcomes == dict.fromkeys(lead_ids, "sent")
    assert bulk_sends == [2, 1]
    assert waited == [1.0]  # the second send waited for the two before it


def test_a_sweeps_batches_in_flight_together_send_each_step_once_and_record_it(
    stack: Stack, lambda_context: Any, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.links import LinkSigner
    from leadflow.nurture import send as nurture_send
    from leadflow.nurture.send import SignedLinks, send_due_steps, sweep_nurture
    from leadflow.settings import client_config, link_key

    monkeypatch.setattr(nurture_send, "SWEEP_BATCH", 2)  # six leads: three batches, all in flight at once
    lead_ids = [nurture_lead(stack, lambda_context, f"overlap.{n}@gmail.com", n=n) for n in range(6)]
    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    mailer, config = wiring.mailer(), client_config()
    done = sweep_nurture(lead_ids, lambda batch: send_due_steps(batch, lead_services(), config, mailer, links, now),
                         lambda ids: None, inline_most=6, in_flight=3)  # fmt: skip
    assert (done["sent"], done["failed"]) == (6, 0)
    for n, lead_id in enumerate(lead_ids):
        assert len(emails_to(moto_endpoint, f"overlap.{n}@gmail.com")) == 1
        profile = stack.store().get_profile(lead_id)
        assert profile is not None
        assert profile["nurture"]["sequences"]["welcome"]["steps_sent"] == 1


def test_a_claim_that_cannot_be_given_back_holds_back_no_record_of_the_batchs_sent_emails(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.links import LinkSigner
    from leadflow.nurture import send as nurture_send
    from leadflow.nurture.send import SignedLinks, send_due_steps
    from leadflow.settings import client_config, link_key

    sent_id, refused_id = (nurture_lead(stack, lambda_context, f"{name}@gmail.com", n=n)
                           for n, name in enumerate(("delivered", "refused")))  # fmt: skip

    class RefusingOne(OneByOne):
        def send_email(self, to: str, *args: Any) -> str:
            if to.startswith("refused"):
                raise RuntimeError("TooManyRequestsException, after every retry")
            return "message-id"

    def give_back_fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(nurture_send, "apply_change", give_back_fails)  # only the give-back applies one lead alone
    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    done = send_due_steps([sent_id, refused_id], lead_services(), client_config(), RefusingOne(), links, now)
    assert done.outcomes == {sent_id: "sent"}
    assert list(done.failures) == [refused_id]
    recorded = stack.store().get_profile(sent_id)
    assert recorded is not None
    assert recorded["nurture"]["sequences"]["welcome"]["steps_sent"] == 1  # recorded, so never sent again


def records_fail(monkeypatch: pytest.MonkeyPatch, together: str, alone_too: bool) -> None:
    """The batch's records (the second `apply_changes`, after the claims) fail together: before writing anything
    (`together="before"`) or after writing them (`"after"`, as when an answer is lost); then alone, if `alone_too`."""
    from leadflow.nurture import send as nurture_send

    real_together, real_alone = nurture_send.apply_changes, nurture_send.apply_change
    calls = []

    def second_fails(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2 and together == "before":
            raise RuntimeError("DynamoDB unavailable")
        written = real_together(*args, **kwargs)
        if len(calls) == 2:
            raise RuntimeError("the answer was lost")
        return written

    def fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("DynamoDB unavailable")

    monkeypatch.setattr(nurture_send, "apply_changes", second_fails)
    monkeypatch.setattr(nurture_send, "apply_change", fails if alone_too else real_alone)


def send_two(stack: Stack, lambda_context: Any, prefix: str, fail: Callable[[], None]) -> tuple[list[str], Any]:
    """Two nurture leads stored, then `fail` set up, then their due steps sent together."""
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks, send_due_steps
    from leadflow.settings import client_config, link_key

    lead_ids = [nurture_lead(stack, lambda_context, f"{prefix}.{n}@gmail.com", n=n) for n in range(2)]
    fail()
    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", None, now)
    return lead_ids, send_due_steps(lead_ids, lead_services(), client_config(), wiring.mailer(), links, now)


def steps_sent(stack: Stack, lead_id: str) -> int:
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    return int(profile["nurture"]["sequences"]["welcome"].get("steps_sent", 0))


@pytest.mark.parametrize("together", ["before", "after"])
def test_sent_steps_whose_records_fail_together_are_recorded_one_by_one_and_counted_once(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, together: str
) -> None:
    fail = partial(records_fail, monkeypatch, together, alone_too=False)
    lead_ids, done = send_two(stack, lambda_context, f"alone.{together}", fail)
    assert (done.outcomes, done.unrecorded) == (dict.fromkeys(lead_ids, "sent"), {})
    assert [steps_sent(stack, lead_id) for lead_id in lead_ids] == [1, 1]
    assert stack.store().count("nurture_sent") == 2


def test_a_sent_step_whose_record_cannot_be_written_is_sent_not_failed_and_logged_as_unrecorded(
    stack: Stack, lambda_context: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fail = partial(records_fail, monkeypatch, "before", alone_too=True)
    with caplog.at_level("ERROR"):
        lead_ids, done = send_two(stack, lambda_context, "unrecorded", fail)
    assert (done.outcomes, list(done.unrecorded), done.failures) == (dict.fromkeys(lead_ids, "sent"), lead_ids, {})
    logged = [r for r in caplog.records if r.getMessage().startswith("nurture step sent but not recorded")]
    assert [r.lead_id for r in logged] == lead_ids  # type: ignore[attr-defined]
    assert [steps_sent(stack, lead_id) for lead_id in lead_ids] == [0, 0]
    assert stack.store().count("nurture_sent") == 0


def test_a_send_of_unknown_outcome_keeps_its_claim_so_the_step_is_not_sent_again_before_it_runs_out(
    stack: Stack, lambda_context: Any
) -> None:
    from leadflow.links import LinkSigner
    from leadflow.nurture.send import SignedLinks, send_due_steps
    from leadflow.route.notice import OutcomeUnknown
    from leadflow.settings import client_config, link_key

    lead_id = nurture_lead(stack, lambda_context, "unknown.outcome@gmail.com")

    class NoAnswer(OneByOne):
        def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
            return [OutcomeUnknown("SES's answer could not be read")] * len(emails)

    now = berlin(0, "10:00")
    links = SignedLinks(LinkSigner(link_key()), "https://leads.example", "leads@demo.example", now)
    done = send_due_steps([lead_id], lead_services(), client_config(), NoAnswer(), links, now)
    assert isinstance(done.failures[lead_id], OutcomeUnknown)
    profile = stack.store().get_profile(lead_id)
    assert profile is not None
    assert profile["nurture"]["sending"]["step"] == 0  # the claim stands: it may have gone out
    assert profile["nurture"]["sequences"]["welcome"].get("steps_sent", 0) == 0  # nor is it counted as sent


def test_a_failed_send_gives_back_only_its_own_claim_not_a_later_sweeps(stack: Stack, lambda_context: Any) -> None:
    lead_id = nurture_lead(stack, lambda_context, "lease.ran.out@gmail.com")
    theirs = "2099-01-01T00:00:00.000+00:00"

    class SlowThenRefused(OneByOne):
        def send_email(self, *args: Any) -> str:
            # This send took so long that its claim ran out, and another sweep claimed the step since.
            stack.session.client("dynamodb").update_item(
                TableName=stack.definition.table("leads").name,
                Key={"pk": {"S": f"LEAD#{lead_id}"}, "sk": {"S": "PROFILE"}},
                UpdateExpression="SET nurture.sending.#until = :theirs ADD version :one",
                ExpressionAttributeNames={"#until": "until"},
                ExpressionAttributeValues={":theirs": {"S": theirs}, ":one": {"N": "1"}},
            )
            raise RuntimeError("TooManyRequestsException, after every retry")

    profile = refused_at_nine(stack, lead_id, SlowThenRefused())
    assert profile["nurture"]["sending"]["until"] == theirs  # the other sweep's claim stands


def test_the_sweep_starts_no_dynamodb_retry_in_the_last_seconds_before_its_timeout(
    stack: Stack, lambda_context: Any
) -> None:
    sweep(stack, lambda_context, TUESDAY_10_BERLIN)
    give_up_at = wiring.leads_table().give_up_at
    assert give_up_at is not None  # the batches in flight when its budget runs out stop retrying by then
    assert lambda_context.deadline - 2.5 < give_up_at <= lambda_context.deadline - 2.0

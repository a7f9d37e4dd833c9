"""Nurture emails in bulk (leadflow.aws.mailer.Mailer.send_bulk): SES v2 SendBulkEmail, as few requests as SES takes.

The SES client here is a recording stand-in shaped like boto3's: these tests are about the
requests the mailer makes and how it reads each entry's answer. What the local SES makes of
those requests is tested against moto (tests/integration/test_local_bulk_email.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from leadflow.aws.mailer import BULK_ENTRY_MOST, BULK_MOST, BULK_TEMPLATE, BulkEntryRefused, Mailer
from leadflow.aws.retry import ATTEMPTS
from leadflow.nurture.send import error_code
from leadflow.nurture.templates import Outgoing, Rendered
from leadflow.route.notice import OutcomeUnknown, Undeliverable

ONE_CLICK = {
    "List-Unsubscribe": "<https://leads.example/u/t0k3n>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


class RecordingSes:
    """boto3's sesv2 client as far as send_bulk_email: each request kept, each entry answered by `answer`."""

    def __init__(self, answer: Callable[[str, int], str] = lambda to, attempt: "SUCCESS",
                 refuse: Callable[[list[str]], Exception | None] = lambda addresses: None):  # fmt: skip
        self.requests: list[dict[str, Any]] = []
        self.answer, self.refuse = answer, refuse
        self.attempts: dict[str, int] = {}
        self.raw_sends: list[dict[str, Any]] = []
        self.short_by = 0  # answer this many results fewer than entries, as a broken answer would

    def send_email(self, **request: Any) -> dict[str, Any]:
        self.raw_sends.append(request)
        return {"MessageId": f"raw-{request['Destination']['ToAddresses'][0]}"}

    def send_bulk_email(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        addresses = [entry["Destination"]["ToAddresses"][0] for entry in request["BulkEmailEntries"]]
        if (error := self.refuse(addresses)) is not None:
            raise error
        results = []
        for to in addresses:
            self.attempts[to] = self.attempts.get(to, 0) + 1
            status = self.answer(to, self.attempts[to])
            results.append({"Status": status, "MessageId": f"id-{to}"} if status == "SUCCESS" else {"Status": status})
        return {"BulkEmailEntryResults": results[: len(results) - self.short_by]}


def outgoing(to: str, html: str = "<p>Hello &amp; welcome</p>", subject: str = "Your guide") -> Outgoing:
    return Outgoing(
        to, Rendered(subject, html, "Hello & welcome"), dict(ONE_CLICK), {"lead_id": "ld_1", "kind": "nurture"}
    )


def mailer(ses: RecordingSes) -> Mailer:
    return Mailer("leads@demo.example", "Demo leads", "leadflow-demo", client=ses)


def addresses(request: dict[str, Any]) -> list[str]:
    return [entry["Destination"]["ToAddresses"][0] for entry in request["BulkEmailEntries"]]


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "refused"}}, "SendBulkEmail")


def test_emails_go_out_fifty_to_a_request_and_each_gets_its_message_id() -> None:
    ses = RecordingSes()
    emails = [outgoing(f"lead{n}@gmail.com") for n in range(2 * BULK_MOST + 20)]
    assert mailer(ses).send_bulk(emails) == [f"id-lead{n}@gmail.com" for n in range(len(emails))]
    assert [len(request["BulkEmailEntries"]) for request in ses.requests] == [BULK_MOST, BULK_MOST, 20]


def test_each_entry_carries_its_own_rendered_email_headers_and_tags_in_an_inline_template() -> None:
    ses = RecordingSes()
    mailer(ses).send_bulk([outgoing("ada@gmail.com", html="<p>{{not a placeholder}} &lt;b&gt;</p>", subject="Grüße")])
    [request] = ses.requests
    assert request["DefaultContent"] == {"Template": {"TemplateContent": BULK_TEMPLATE, "TemplateData": "{}"}}
    assert request["ConfigurationSetName"] == "leadflow-demo"
    assert request["FromEmailAddress"] == "Demo leads <leads@demo.example>"
    [entry] = request["BulkEmailEntries"]
    data = json.loads(entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"])
    assert data == {"subject": "Grüße", "html": "<p>{{not a placeholder}} &lt;b&gt;</p>", "text": "Hello & welcome"}
    assert entry["ReplacementHeaders"] == [{"Name": name, "Value": value} for name, value in ONE_CLICK.items()]
    assert entry["ReplacementTags"] == [{"Name": "lead_id", "Value": "ld_1"}, {"Name": "kind", "Value": "nurture"}]


def test_requests_are_kept_under_ses_size_limit_by_splitting_large_emails_apart() -> None:
    ses = RecordingSes()
    large = "<p>" + "x" * 250_000 + "</p>"  # under SES's 262,144 characters for one entry's values
    mailer(ses).send_bulk([outgoing(f"lead{n}@gmail.com", html=large) for n in range(5)])
    assert [len(request["BulkEmailEntries"]) for request in ses.requests] == [3, 2]
    assert all(len(json.dumps(request["BulkEmailEntries"])) < 1_000_000 for request in ses.requests)


def test_an_email_too_large_for_a_bulk_entry_goes_out_alone_as_a_raw_email() -> None:
    ses = RecordingSes()
    huge = "<p>" + "x" * BULK_ENTRY_MOST + "</p>"
    answers = mailer(ses).send_bulk([outgoing("ada@gmail.com", html=huge), outgoing("grace@gmail.com")])
    assert answers == ["raw-ada@gmail.com", "id-grace@gmail.com"]
    assert [addresses(request) for request in ses.requests] == [["grace@gmail.com"]]
    [raw] = ses.raw_sends
    assert raw["Destination"] == {"ToAddresses": ["ada@gmail.com"]}
    assert b"List-Unsubscribe: <https://leads.example/u/t0k3n>" in raw["Content"]["Raw"]["Data"]


def test_an_entry_ses_throttles_is_sent_again_alone_until_it_goes_out() -> None:
    ses = RecordingSes(
        answer=lambda to, attempt: "ACCOUNT_THROTTLED" if to == "busy@gmail.com" and attempt < 3 else "SUCCESS"
    )
    answers = mailer(ses).send_bulk([outgoing("ada@gmail.com"), outgoing("busy@gmail.com")])
    assert answers == ["id-ada@gmail.com", "id-busy@gmail.com"]
    assert [addresses(request) for request in ses.requests] == [["ada@gmail.com", "busy@gmail.com"],
                                                                ["busy@gmail.com"], ["busy@gmail.com"]]  # fmt: skip


def test_an_entry_ses_keeps_throttling_is_returned_refused_after_the_retries_not_raised() -> None:
    ses = RecordingSes(answer=lambda to, attempt: "TRANSIENT_FAILURE" if to == "busy@gmail.com" else "SUCCESS")
    ok, refused = mailer(ses).send_bulk([outgoing("ada@gmail.com"), outgoing("busy@gmail.com")])
    assert ok == "id-ada@gmail.com"
    assert isinstance(refused, BulkEntryRefused)
    assert refused.status == "TRANSIENT_FAILURE"
    assert ses.attempts["busy@gmail.com"] == ATTEMPTS


def test_a_rejected_entry_is_refused_with_its_status_at_once_and_logs_as_its_code() -> None:
    ses = RecordingSes(answer=lambda to, attempt: "MESSAGE_REJECTED" if to == "spam@gmail.com" else "SUCCESS")
    ok, refused = mailer(ses).send_bulk([outgoing("ada@gmail.com"), outgoing("spam@gmail.com")])
    assert ok == "id-ada@gmail.com"
    assert isinstance(refused, BulkEntryRefused)
    assert error_code(refused) == "MESSAGE_REJECTED"
    assert "spam@gmail.com" not in str(refused)  # its text goes into log lines
    assert len(ses.requests) == 1


def test_a_request_refused_whole_for_one_entry_is_split_until_only_that_entry_is_refused() -> None:
    ses = RecordingSes(refuse=lambda sent: client_error("BadRequestException") if "bad@gmail.com" in sent else None)
    emails = [outgoing(f"lead{n}@gmail.com") for n in range(7)] + [outgoing("bad@gmail.com")]
    answers = mailer(ses).send_bulk(emails)
    assert answers[:7] == [f"id-lead{n}@gmail.com" for n in range(7)]
    assert error_code(answers[7]) == "BadRequestException"  # type: ignore[arg-type]
    assert ["bad@gmail.com"] in [addresses(request) for request in ses.requests]
    assert len(ses.requests) == 1 + 2 * 3  # halves: one poisoned request per level, three levels for eight


def test_a_request_refused_whole_for_what_every_entry_holds_is_split_only_as_far_as_one_entry_needs() -> None:
    ses = RecordingSes(refuse=lambda sent: client_error("MessageRejected"))  # an unverified sender, say
    answers = mailer(ses).send_bulk([outgoing(f"lead{n}@gmail.com") for n in range(BULK_MOST)])
    assert {error_code(answer) for answer in answers} == {"MessageRejected"}  # type: ignore[arg-type]
    assert len(ses.requests) <= 1 + 2 * BULK_MOST.bit_length()  # not 2 x 50 - 1: a few halvings, then it stops


def test_an_email_ses_gave_no_answer_for_is_of_unknown_outcome_and_the_others_keep_theirs() -> None:
    ses = RecordingSes()
    ses.short_by = 1
    answers = mailer(ses).send_bulk([outgoing(f"lead{n}@gmail.com") for n in range(3)])
    assert answers[:2] == ["id-lead0@gmail.com", "id-lead1@gmail.com"]
    assert isinstance(answers[2], OutcomeUnknown)  # neither sent nor refused: its claim is left to run out


def test_a_request_refused_for_the_account_is_not_split_and_every_email_gets_the_error() -> None:
    ses = RecordingSes(refuse=lambda sent: client_error("AccountSuspendedException"))
    answers = mailer(ses).send_bulk([outgoing(f"lead{n}@gmail.com") for n in range(4)])
    assert [error_code(answer) for answer in answers] == ["AccountSuspendedException"] * 4  # type: ignore[arg-type]
    assert len(ses.requests) == 1


def test_a_throttled_request_is_retried_whole() -> None:
    refusals = iter([client_error("TooManyRequestsException")])
    ses = RecordingSes(refuse=lambda sent: next(refusals, None))
    assert mailer(ses).send_bulk([outgoing("ada@gmail.com")]) == ["id-ada@gmail.com"]
    assert len(ses.requests) == 2


@pytest.mark.parametrize(
    ("email", "refusal"),
    [
        (outgoing("ädä@gmail.com"), Undeliverable),
        (outgoing("no-at-sign"), Undeliverable),
        (outgoing("ada@gmail.com", subject="Hi\r\nBcc: x@example.com"), ValueError),
        (Outgoing("ada@gmail.com", Rendered("Hi", "", ""), {"List-Unsubscribe": "<https://x>\r\nBcc: x@x.example"}, {}),
         ValueError),
        (Outgoing("ada@gmail.com", Rendered("Hi", "", ""), {"List-Unsubscribe": "<https://x/ü>"}, {}), ValueError),
        (Outgoing("ada@gmail.com", Rendered("Hi", "", ""), {"Subject": "another"}, {}), ValueError),
    ],
    ids=["non-ascii-name", "no-at", "subject-line-break", "header-line-break", "header-not-ascii", "header-of-ses"],
)  # fmt: skip
def test_an_email_ses_could_never_take_is_refused_before_any_request_and_holds_back_no_other(
    email: Outgoing, refusal: type[Exception]
) -> None:
    ses = RecordingSes()
    refused, ok = mailer(ses).send_bulk([email, outgoing("grace@gmail.com")])
    assert isinstance(refused, refusal)
    assert ok == "id-grace@gmail.com"
    assert [addresses(request) for request in ses.requests] == [["grace@gmail.com"]]


def test_an_internationalised_domain_is_sent_in_its_ascii_form() -> None:
    ses = RecordingSes()
    mailer(ses).send_bulk([outgoing("ada@straße.de")])
    assert addresses(ses.requests[0]) == ["ada@xn--strae-oqa.de"]

"""Data access for SES (v2): the one place that sends email.

An owner's notice or an acknowledgement goes out as a raw MIME message (text and HTML
alternatives, quoted-printable UTF-8) through the stack's configuration set, so that SES's bounce
and complaint events reach the stack; nurture's emails go out in bulk (see below).

The message is written here, not by Python's email package, for two reasons:
- **List-Unsubscribe stays readable.** The email package's SMTP policy turns any ASCII header value
  with a run longer than a line (a signed link) into RFC 2047 encoded-words, which mail clients do
  not read in List-Unsubscribe: Gmail would show no unsubscribe button. Here an ASCII value is
  written as it is, folded only at its spaces, and unfolds to itself.
- **Speed.** Building one email took 2.8 ms with the email package, more than the whole of a
  nurture step's budget (leadflow.bench_nurture); here it takes a tenth of a millisecond.

A value with CR or LF is refused (`ValueError`): nothing a lead typed can add a header. Values
that are not plain ASCII (a subject with an umlaut, a sender's display name) are still encoded
by the email package's SMTP policy.

Nurture emails go out in bulk instead (`send_bulk`): up to BULK_MOST in one SES v2 SendBulkEmail,
whose inline template only substitutes each email's own rendered subject, HTML and text (SES
escapes nothing it substitutes, and an inline template is substitution only: what leadflow
rendered and escaped is what is sent). Each email's List-Unsubscribe is its own header
(`ReplacementHeaders`), its tags its own. One request instead of one per email divides botocore's
processor time per email (building, signing and parsing a request: about a millisecond) by up
to fifty: the nurture bench's figure. (The local stack's SES writes each bulk entry's MIME with
this module's writer: leadflow.local.moto_sesv2.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import json
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from typing import Any

from leadflow.aws.client import LazyClient
from leadflow.aws.retry import aws_error_code, is_retryable, with_backoff
from leadflow.nurture.templates import Outgoing, Rendered
from leadflow.route.notice import Email, OutcomeUnknown, Undeliverable

FOLD_AT = 78  # RFC 5322's recommended line length; a header is folded at its spaces beyond it
MAX_LINE = 998  # RFC 5322's limit on a line
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # any control character but the tab
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322's field name: printable ASCII, no space or colon
BULK_MOST = 50  # SES's most entries in one SendBulkEmail
BULK_BYTES = 900_000  # a request's emails, as JSON, kept under SES's 1 MB per request
BULK_ENTRY_MOST = 262_144  # SES's most characters of one entry's values (ReplacementTemplateData)
SPLITS_MOST = 2 * BULK_MOST.bit_length()  # requests spent finding the one entry a request was refused for
BULK_TEMPLATE = {"Subject": "{{subject}}", "Html": "{{html}}", "Text": "{{text}}"}  # each email's own, substituted
# The default values are none: every entry has its own. Sent all the same, as "{}": SES's bulk sends have
# refused a request without default template data ("The template data is invalid", boto3#1795, SES v1).
HEADER_VALUE_MOST = 995  # SES's longest header value (MessageHeaderValue), printable ASCII
RETRIED_STATUSES = frozenset({"ACCOUNT_THROTTLED", "TRANSIENT_FAILURE"})  # an entry's "try again soon"
WRITTEN_HERE = frozenset(
    name.lower()
    for name in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
                 "Content-Transfer-Encoding")
)  # fmt: skip


_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A file sent with an email: a name of letters, digits, dots, dashes and underscores, and its bytes."""

    filename: str
    content_type: str  # like text/csv; charset=utf-8
    data: bytes

    def __post_init__(self) -> None:
        if not _FILE_NAME.fullmatch(self.filename):
            raise ValueError(f"{self.filename!r}: an attachment's name is letters, digits, '.', '-' and '_'")
        if _CONTROL.search(self.content_type) or '"' in self.content_type:
            raise ValueError(f"{self.content_type!r} is not a content type")

    def part(self, boundary: str) -> bytes:
        encoded = base64.encodebytes(self.data).replace(b"\n", b"\r\n")  # lines of 76 characters
        return (
            f"--{boundary}\r\nContent-Type: {self.content_type}\r\nContent-Transfer-Encoding: base64\r\n"
            f'Content-Disposition: attachment; filename="{self.filename}"\r\n\r\n'
        ).encode("ascii") + encoded


class Mailer(LazyClient):
    service = "sesv2"

    def __init__(
        self,
        from_address: str,
        from_name: str,
        configuration_set: str | None = None,
        client: Any = None,
        on_retry: Callable[[Exception], None] | None = None,
    ):
        super().__init__(client)
        self.sender = Address(display_name=from_name, addr_spec=from_address)
        sender = EmailMessage(policy=SMTP)
        sender["From"] = self.sender
        self._from_line = SMTP.fold_binary("From", sender["From"])  # the display name may need encoding: once
        self.configuration_set = configuration_set
        self.on_retry = on_retry

    def mime(
        self, email: Email, headers: Mapping[str, str] | None = None, attachments: Sequence[Attachment] = ()
    ) -> bytes:
        """The raw message: the headers, then the text and the HTML as multipart/alternative.

        `headers` adds headers of the caller's (List-Unsubscribe); it cannot replace one the mailer
        writes, nor name one twice. A value with a control character is refused (`ValueError`).
        With `attachments` (the weekly report's CSV), the alternatives and the files go in one
        multipart/mixed, the files base64-encoded.
        """
        extra = dict(headers or {})
        names = [name.lower() for name in extra]
        if clash := sorted((set(names) & WRITTEN_HERE) | {name for name in names if names.count(name) > 1}):
            raise ValueError(f"headers {', '.join(clash)}: the mailer writes these itself, or they are named twice")
        boundary = f"=_leadflow_{secrets.token_hex(12)}"  # "=_" cannot occur in a quoted-printable body
        alternatives = f'multipart/alternative; boundary="{boundary}"'
        mixed = f"=_leadflow_{secrets.token_hex(12)}"
        fields = [
            ("To", mailable(email.to)),
            ("Subject", email.subject),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", make_msgid(domain=self.sender.domain)),
            *extra.items(),
            ("MIME-Version", "1.0"),
            ("Content-Type", f'multipart/mixed; boundary="{mixed}"' if attachments else alternatives),
        ]
        parts = [  # the CRLF before a boundary belongs to the boundary: each body's own last line end is kept
            f'--{boundary}\r\nContent-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode("ascii")
            + quoted_printable(body)
            + b"\r\n"
            for subtype, body in (("plain", email.text), ("html", email.html))
        ]
        body = [*parts, f"--{boundary}--\r\n".encode("ascii")]
        if attachments:
            body = [f"--{mixed}\r\n".encode("ascii"), header_line("Content-Type", alternatives), b"\r\n", *body]
            body += [attachment.part(mixed) for attachment in attachments]
            body.append(f"--{mixed}--\r\n".encode("ascii"))
        return b"".join([self._from_line, *(header_line(name, value) for name, value in fields), b"\r\n", *body])

    def send(
        self,
        email: Email,
        headers: Mapping[str, str] | None = None,
        tags: Mapping[str, str] | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> str:
        """Send one email; SES's message id. Throttling is retried with backoff.

        `tags` come back in SES's events for this email (a bounce names the lead it was sent to).
        """
        addressed = dataclasses.replace(email, to=mailable(email.to))  # mime() finds it mailable as it is
        request: dict[str, Any] = {
            "FromEmailAddress": str(self.sender),
            "Destination": {"ToAddresses": [addressed.to]},
            "Content": {"Raw": {"Data": self.mime(addressed, headers, attachments)}},
        }
        if tags:
            request["EmailTags"] = [{"Name": name, "Value": value} for name, value in tags.items()]
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        answer = with_backoff(lambda: self.client.send_email(**request), on_retry=self.on_retry)
        return str(answer.get("MessageId", ""))

    def send_email(self, to: str, rendered: Rendered, headers: dict[str, str], tags: dict[str, str]) -> str:
        """A nurture email (leadflow.nurture.send.MailPort): rendered, with its own headers and tags."""
        return self.send(Email(to, rendered.subject, rendered.text, rendered.html), headers, tags)

    def send_bulk(self, emails: Sequence[Outgoing]) -> list[str | Exception]:
        """Send them in as few SendBulkEmail requests as SES takes; for each, SES's message id or why it was not sent.

        An email SES can never take is refused before any request (`Undeliverable`, or
        `ValueError` for a header); one too large for a bulk entry goes out alone, as a raw email.
        Entries SES answers with a "try again soon" status, and whole requests it throttles, are
        retried with backoff; whatever it still refuses is returned as `BulkEntryRefused` (or the
        request's error), and an email SES gave no answer for as `OutcomeUnknown`. Nothing is
        raised once a request is made, so one email holds back no other and no email SES took is
        reported refused. A request SES refuses as a whole for what one entry holds is split in
        halves and sent again (SPLITS_MOST requests at most), so that entry alone is refused.
        """
        results: dict[int, str | Exception] = {}
        entries: dict[int, dict[str, Any]] = {}
        for index, email in enumerate(emails):
            try:
                entries[index] = bulk_entry(email)
            except TooLargeForBulk:
                results[index] = self._send_alone(email)
            except ValueError as exc:  # Undeliverable too
                results[index] = exc
        pending = list(entries)

        def send_pending() -> None:
            retry: list[BulkEntryRefused] = []
            pending_now = list(pending)
            pending.clear()
            for group in _bulk_groups(pending_now, entries):
                for index, answer in self._send_group(group, entries, [SPLITS_MOST]).items():
                    results[index] = answer
                    if isinstance(answer, BulkEntryRefused) and answer.status in RETRIED_STATUSES:
                        pending.append(index)
                        retry.append(answer)
            if retry:
                raise retry[0]  # "try again soon": with_backoff sends what is pending again

        with contextlib.suppress(BulkEntryRefused):  # still refused after every retry: in `results`
            with_backoff(send_pending, on_retry=self.on_retry)
        return [results[index] for index in range(len(emails))]

    def _send_alone(self, email: Outgoing) -> str | Exception:
        try:
            return self.send_email(email.to, email.rendered, email.headers, email.tags)
        except Exception as exc:  # as a bulk entry's refusal: returned, not raised
            return exc

    def _send_group(
        self, group: list[int], entries: dict[int, dict[str, Any]], splits: list[int]
    ) -> dict[int, str | Exception]:
        """One SendBulkEmail of these entries (throttling retried): each entry's message id or refusal.

        `splits` is the one-item budget of requests the halving of refused requests may still spend.
        """
        request: dict[str, Any] = {
            "FromEmailAddress": str(self.sender),
            "DefaultContent": {"Template": {"TemplateContent": BULK_TEMPLATE, "TemplateData": "{}"}},
            "BulkEmailEntries": [entries[index] for index in group],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        try:
            answer = with_backoff(lambda: self.client.send_bulk_email(**request), on_retry=self.on_retry)
        except Exception as exc:
            if len(group) > 1 and splits[0] >= 2 and not is_retryable(exc) and _refused_request(exc):
                splits[0] -= 2
                half = len(group) // 2
                return {**self._send_group(group[:half], entries, splits),
                        **self._send_group(group[half:], entries, splits)}  # fmt: skip
            return dict.fromkeys(group, exc)
        results = answer.get("BulkEmailEntryResults") or []
        done: dict[int, str | Exception] = {}
        for position, index in enumerate(group):  # SES answers each entry in the order sent
            result = results[position] if position < len(results) else {}
            status = result.get("Status")
            if status == "SUCCESS" and result.get("MessageId"):
                done[index] = str(result["MessageId"])
            elif status and status != "SUCCESS":
                done[index] = BulkEntryRefused(str(status))
            else:
                done[index] = OutcomeUnknown("SES gave no readable answer for this email")
        return done


class TooLargeForBulk(ValueError):
    """An email whose values are longer than one bulk entry takes (BULK_ENTRY_MOST): it goes out alone."""


class BulkEntryRefused(Exception):
    """SES refused one email of a SendBulkEmail: its status (MESSAGE_REJECTED, ACCOUNT_THROTTLED, ...).

    Shaped like botocore's ClientError where leadflow reads one (`error_code`, `is_retryable`):
    the status is its code. SES's own message is not kept: it may name the address.
    """

    def __init__(self, status: str):
        super().__init__(f"SES refused the email: {status}")
        self.status = status
        code = "TooManyRequestsException" if status in RETRIED_STATUSES else status
        self.response = {"Error": {"Code": code}}


def bulk_entry(email: Outgoing) -> dict[str, Any]:
    """The email as one entry of a SendBulkEmail: its address, its rendered parts, its headers and tags.

    Refused before sending (`ValueError`) if no retry could send it: an address SES cannot take
    (`Undeliverable`), a header SES cannot carry, a subject with a line break.
    """
    header_line("Subject", email.rendered.subject)  # the same refusals as a raw email's subject
    for name, value in email.headers.items():
        header_line(name, value)  # the same refusals as a raw email's
        if name.lower() in WRITTEN_HERE:
            raise ValueError(f"the {name} header is written by SES itself")
        if not (value.isascii() and value.isprintable() and len(value) <= HEADER_VALUE_MOST):
            raise ValueError(f"the {name} header: SES takes printable ASCII of at most {HEADER_VALUE_MOST} characters")
    to = mailable(email.to)
    data = json.dumps(
        {"subject": email.rendered.subject, "html": email.rendered.html, "text": email.rendered.text},
        ensure_ascii=False,
    )
    if len(data) > BULK_ENTRY_MOST:
        raise TooLargeForBulk(f"the email's values are {len(data)} characters, more than a bulk entry takes")
    entry: dict[str, Any] = {
        "Destination": {"ToAddresses": [to]},
        "ReplacementEmailContent": {"ReplacementTemplate": {"ReplacementTemplateData": data}},
    }
    if email.headers:
        entry["ReplacementHeaders"] = [{"Name": name, "Value": value} for name, value in email.headers.items()]
    if email.tags:
        entry["ReplacementTags"] = [{"Name": name, "Value": value} for name, value in email.tags.items()]
    return entry


def _bulk_groups(indexes: list[int], entries: dict[int, dict[str, Any]]) -> list[list[int]]:
    """The entries in requests of at most BULK_MOST, and of at most BULK_BYTES (an entry larger goes alone)."""
    groups: list[list[int]] = [[]]
    size = 0
    for index in indexes:
        data = entries[index]["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
        entry_size = len(json.dumps(data))  # as the request carries it: quoted again
        if groups[-1] and (len(groups[-1]) == BULK_MOST or size + entry_size > BULK_BYTES):
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += entry_size
    return [group for group in groups if group]


def _refused_request(error: Exception) -> bool:
    """SES refused the request as a whole for what it holds (400), not for the account or the service."""
    return aws_error_code(error) in {"BadRequestException", "MessageRejected"}


def header_line(name: str, value: str) -> bytes:
    """`Name: value` and its CRLF, folded at spaces past FOLD_AT; a control character in it is refused.

    A printable ASCII value is written as it is: unfolding (removing each CRLF) gives it back
    exactly, and a word too long for any line is refused rather than encoded (a mail client
    reads no encoded-word in List-Unsubscribe). Any other value is encoded by the email
    package's SMTP policy (RFC 2047).
    """
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a header name: printable ASCII, without a space or a colon")
    if control := _CONTROL.search(value):
        what = "a line break" if control.group() in "\r\n" else f"the control character {control.group()!r}"
        raise ValueError(f"the {name} header cannot hold {what}: it could start another header")
    if not (value.isascii() and value.isprintable()):
        return SMTP.fold_binary(name, SMTP.header_factory(name, value))
    words = value.split(" ")
    lines = [f"{name}: {words[0]}"]
    for word in words[1:]:
        if word and len(lines[-1]) + 1 + len(word) > FOLD_AT:
            lines.append(f" {word}")
        else:
            lines[-1] += f" {word}"
    if max(len(line) for line in lines) > MAX_LINE:
        raise ValueError(f"the {name} header holds a word longer than a line can carry ({MAX_LINE} characters)")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def quoted_printable(text: str) -> bytes:
    """The body as UTF-8 quoted-printable, CRLF line ends, ending with one."""
    body = text.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    return binascii.b2a_qp(body.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def mailable(address: str) -> str:
    """The address as SES and mail servers take it: an internationalised domain in its ASCII form (IDNA 2008).

    IDNA 2008, as email-validator writes it: Python's own `idna` codec is IDNA 2003, which makes
    `straße.de` into `strasse.de`, someone else's domain. An address SES can never take is
    refused (`Undeliverable`): SES sends only to a part before the @ in plain ASCII (it has no
    SMTPUTF8), and a domain must have an ASCII form. Sending it anyway would fail at SES every time.
    """
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise Undeliverable("an address needs a name before the @ and a domain after it")
    if not local.isascii():
        raise Undeliverable("SES sends only to addresses whose name before the @ is plain ASCII")
    if domain.isascii():
        return address
    from email_validator import EmailNotValidError, validate_email

    try:
        ascii_email = validate_email(address, check_deliverability=False).ascii_email
    except EmailNotValidError as exc:
        raise Undeliverable("the address's domain has no ASCII form (IDNA 2008)") from exc
    return ascii_email or address

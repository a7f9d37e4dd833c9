"""The raw message the mailer writes (leadflow.aws.mailer): read back by the email package as written.

Every check reads the bytes SES would be handed, not a parser's decoded view alone: the
List-Unsubscribe header a mail client reads is the raw one.
"""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.aws.mailer import Mailer, header_line, mailable
from leadflow.route.notice import Email, Undeliverable

UNSUBSCRIBE = (
    "<https://abc123xyz.execute-api.eu-central-1.amazonaws.com/u/eyJlIjoxODExMDIxNzg1LCJsIjoibGRfMDEyMzQ1Njc4OWFiY2Rl"
    "ZjAxMjM0NTY3ODkiLCJwIjoidW5zdWJzY3JpYmUiLCJzIjoiIiwidiI6MX0.Lqlopkb09sL8AnSnKlJu55nzRIjeglg5TKr64GjORZk>, "
    "<mailto:leads@demo.example?subject=unsubscribe%20eyJlIjoxODExMDIxNzg1LCJsIjoibGRfMDEyMzQ1Njc4OWFiY2RlZjAxMj"
    "M0NTY3ODkiLCJwIjoidW5zdWJzY3JpYmUiLCJzIjoiIiwidiI6MX0.Lqlopkb09sL8AnSnKlJu55nzRIjeglg5TKr64GjORZk>"
)
ONE_CLICK = {"List-Unsubscribe": UNSUBSCRIBE, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def mime(to: str = "ada@gmail.com", subject: str = "Your guide", text: str = "Hello", html: str = "<p>Hello</p>",
         headers: dict[str, str] | None = None) -> bytes:  # fmt: skip
    return Mailer("leads@demo.example", "Demo leads", client=object()).mime(Email(to, subject, text, html), headers)


def raw_headers(raw: bytes) -> dict[str, str]:
    """The message's headers as a mail client reads them off the wire: unfolded, not decoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    unfolded = re.sub(r"\r\n(?=[ \t])", "", head)
    return dict(line.split(": ", 1) for line in unfolded.split("\r\n"))


def read(raw: bytes) -> Any:
    return message_from_bytes(raw, policy=policy.default)


def test_list_unsubscribe_is_on_the_wire_as_written_not_encoded() -> None:
    raw = mime(headers=ONE_CLICK)
    assert raw_headers(raw)["List-Unsubscribe"] == UNSUBSCRIBE  # no =?utf-8?q?...?= a mail client cannot read
    assert raw_headers(raw)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_long_header_is_folded_at_its_spaces_into_lines_of_at_most_998() -> None:
    raw = mime(headers=ONE_CLICK)
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert max(len(line) for line in head) <= 998
    assert all(line.strip() for line in head)  # no line of whitespace only
    assert b"List-Unsubscribe: <https://" in raw


@pytest.mark.parametrize("name", ["Subject", "List-Unsubscribe"])
@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r"])
def test_a_header_value_with_a_line_break_is_refused(name: str, line_break: str) -> None:
    with pytest.raises(ValueError, match=f"the {name} header cannot hold a line break"):
        header_line(name, f"Ada{line_break}Bcc: x@example.com")


@pytest.mark.parametrize("control", ["\x00", "\x0b", "\x0c", "\x1c", "\x1f", "\x7f"])
def test_a_header_value_with_any_other_control_character_is_refused(control: str) -> None:
    with pytest.raises(ValueError, match="cannot hold the control character"):
        header_line("Subject", f"Ada{control}Bcc: x@example.com")


@pytest.mark.parametrize("name", ["To", "content-type", "Bcc: x", "X Y", ""])
def test_a_callers_header_cannot_replace_the_mailers_or_be_no_name(name: str) -> None:
    with pytest.raises(ValueError, match=r"the mailer writes these itself|is not a header name"):
        mime(headers={name: "x@example.com"})


def test_a_header_word_longer_than_a_line_is_refused_not_encoded() -> None:
    with pytest.raises(ValueError, match="longer than a line"):
        header_line("List-Unsubscribe", f"<https://leads.example/u/{'x' * 1000}>")


def test_a_subject_with_an_umlaut_is_encoded_and_reads_back() -> None:
    raw = mime(subject="Ihr Leitfaden, Jürgen")
    assert raw.isascii()
    assert read(raw)["Subject"] == "Ihr Leitfaden, Jürgen"


def test_an_internationalised_domain_is_addressed_in_its_ascii_form() -> None:
    assert mailable("ada@bücher.de") == "ada@xn--bcher-kva.de"
    assert mailable("ada@straße.de") == "ada@xn--strae-oqa.de"  # IDNA 2008: not strasse.de, another domain
    assert raw_headers(mime(to="ada@bücher.de"))["To"] == "ada@xn--bcher-kva.de"
    assert mailable("ada@gmail.com") == "ada@gmail.com"


@pytest.mark.parametrize(
    "address", ["josé@gmail.com", "用户@例子.中国", "no-at-sign", "@gmail.com", "ada@", "ada@bad..domäin"]
)
def test_an_address_ses_can_never_take_is_refused_before_sending_without_naming_it(address: str) -> None:
    with pytest.raises(Undeliverable) as refused:
        mailable(address)
    assert address not in str(refused.value)  # the reason goes into log lines: no address in it


def test_a_body_holding_the_boundarys_text_stays_one_part() -> None:
    raw = mime(text="--=_leadflow_0\r\n--=_leadflow_0--\r\nFrom the end", html="<p>--=_leadflow_</p>")
    parts = list(read(raw).iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content() == "--=_leadflow_0\r\n--=_leadflow_0--\r\nFrom the end\r\n"


printable = st.characters(blacklist_categories=("Cs", "Cc"))  # control characters are refused (tested above)


@settings(max_examples=200, deadline=None)
@given(
    subject=st.text(printable, max_size=300),
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
    html=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400),
)
def test_any_subject_and_bodies_read_back_as_written(subject: str, text: str, html: str) -> None:
    raw = mime(subject=subject, text=text, html=html, headers=ONE_CLICK)
    message = read(raw)
    assert raw.isascii()
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert " ".join(message["Subject"].split()) == " ".join(subject.split())  # folding may respace whitespace runs
    plain, rich = (part.get_content() for part in message.iter_parts())
    for got, sent in ((plain, text), (rich, html)):
        lines = sent.replace("\r\n", "\n").replace("\r", "\n")
        assert got == (lines if lines.endswith("\n") else lines + "\n").replace("\n", "\r\n")
    assert sorted(message.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", *ONE_CLICK, "MIME-Version", "Content-Type"]
    )


def test_an_attachment_goes_with_the_alternatives_in_a_mixed_message_and_reads_back_byte_for_byte() -> None:
    from leadflow.aws.mailer import Attachment

    data = "source,captured\r\ngoogle,4\r\n'=cmd,1\r\nZürich,2\r\n".encode() * 40  # longer than a base64 line
    raw = Mailer("leads@demo.example", "Demo").mime(
        Email("ada@gmail.com", "Weekly", "Text", "<p>Html</p>"),
        attachments=[Attachment("funnel-2026-11-16-2026-11-22.csv", "text/csv; charset=utf-8", data)],
    )

    message = message_from_bytes(raw, policy=policy.default)
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(preferencelist=("html",)).get_content().strip() == "<p>Html</p>"  # type: ignore[union-attr]
    [attached] = list(message.iter_attachments())
    assert attached.get_filename() == "funnel-2026-11-16-2026-11-22.csv"
    assert attached.get_payload(decode=True) == data
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


@pytest.mark.parametrize("name", ['a".csv', "../etc/passwd", "report\r\nBcc: x@y.example.csv", "", "rapport é.csv"])
def test_an_attachment_name_that_could_break_out_of_its_header_or_folder_is_refused(name: str) -> None:
    from leadflow.aws.mailer import Attachment

    with pytest.raises(ValueError, match="an attachment's name"):
        Attachment(name, "text/csv", b"x")

"""The local outbox: what SES (moto's server) was asked to send, read back as a person reads it.

Emails go out through `leadflow.aws.mailer.Mailer`, as the stack's functions send them, to the
moto server this test process runs; the outbox reads them from moto's SES where it lives, for
the local API's /outbox pages and its /outbox.json, which `leadflow outbox` reads over HTTP.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import typer
from typer.testing import CliRunner

from leadflow.aws.mailer import Mailer
from leadflow.cli.outbox_command import outbox
from leadflow.cli.stack_access import console
from leadflow.local.api import LocalApi
from leadflow.local.outbox import OutboxUnavailable, outbox_in_process, read_outbox
from leadflow.local.runtime import _pages
from leadflow.route.notice import Email
from tests.integration.conftest import Stack, free_port
from tests.support import CLIENTS

UNSUBSCRIBE = {
    "List-Unsubscribe": "<http://127.0.0.1:3000/u/token-1>, <mailto:unsubscribe@demo.example?subject=token-1>",
    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
}


def mailer(stack: Stack) -> Mailer:
    """The stack's sender, through its configuration set, as the notify and nurture functions send."""
    spec = stack.definition.email("email")
    return Mailer(
        spec.from_address,
        spec.from_name,
        stack.resources.email_configuration_sets["email"],
        client=stack.session.client("sesv2"),
    )


def send(stack: Stack, to: str, subject: str, text: str = "Hello Ada\n", html: str = "<p>Hello Ada</p>") -> str:
    return mailer(stack).send(Email(to=to, subject=subject, text=text, html=html), UNSUBSCRIBE)


def test_an_email_sent_through_the_mailer_is_in_the_outbox_with_its_headers_and_both_bodies(stack: Stack) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message_id = send(stack, "ada@demo.example", "Ihre Anfrage: Grüße", "Hallo Ada,\nbis bald.\n", "<p>Hallo</p>")

    [email] = outbox_in_process()

    assert email.message_id == message_id
    assert email.to == ("ada@demo.example",)
    assert email.subject == "Ihre Anfrage: Grüße"  # decoded from its encoded word
    assert email.source == str(mailer(stack).sender)
    assert email.header("list-unsubscribe") == UNSUBSCRIBE["List-Unsubscribe"]
    assert email.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert [name for name, _ in email.headers][:5] == ["From", "To", "Subject", "Date", "Message-ID"]
    assert (email.text, email.html) == ("Hallo Ada,\nbis bald.\n", "<p>Hallo</p>\n")
    assert email.sent_at is not None
    assert before <= email.sent_at <= datetime.now(UTC) + timedelta(seconds=1)


def test_the_outbox_lists_the_newest_email_first_and_filters_by_recipient(stack: Stack) -> None:
    first = send(stack, "ada@demo.example", "First")
    second = send(stack, "bo@demo.example", "Second")
    third = send(stack, "ada@demo.example", "Third")

    assert [e.message_id for e in outbox_in_process()] == [third, second, first]
    assert [e.message_id for e in outbox_in_process(to="ADA@demo.example")] == [third, first]
    assert outbox_in_process(to="nobody@demo.example") == []


def test_the_newest_few_are_listed_without_reading_the_older_ones(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leadflow.local import outbox

    first = send(stack, "ada@demo.example", "First")
    second = send(stack, "bo@demo.example", "Second")
    third = send(stack, "ada@demo.example", "Third")
    parsed: list[str] = []
    from_raw = outbox._from_raw
    monkeypatch.setattr(outbox, "_from_raw", lambda stored: parsed.append(stored["id"]) or from_raw(stored))

    assert [e.message_id for e in outbox_in_process(most=2)] == [third, second]
    assert parsed == [third, second]  # the first one never parsed
    assert [e.message_id for e in outbox_in_process(to="ada@demo.example", most=2)] == [third, first]


def test_one_email_is_found_by_the_id_ses_answered_with(stack: Stack) -> None:
    send(stack, "ada@demo.example", "First")
    second = send(stack, "bo@demo.example", "Second")

    assert [(e.message_id, e.subject) for e in outbox_in_process(message_id=second)] == [(second, "Second")]
    assert outbox_in_process(message_id="no-such-id") == []


def send_simple(stack: Stack, to: str, subject: str, body: dict[str, dict[str, str]]) -> str:
    """An SES v2 Simple send, which leadflow does not make: moto keeps its sender, recipients, subject and one body."""
    content = {"Simple": {"Subject": {"Data": subject}, "Body": body}}
    sender = stack.definition.email("email").from_address
    answer = stack.session.client("sesv2").send_email(
        FromEmailAddress=sender, Destination={"ToAddresses": [to]}, Content=content
    )
    return str(answer["MessageId"])


def test_simple_emails_are_in_the_outbox_with_the_body_moto_kept(stack: Stack) -> None:
    both = send_simple(stack, "ada@demo.example", "Both", {"Text": {"Data": "Hi"}, "Html": {"Data": "<p>Hi</p>"}})
    text_only = send_simple(stack, "bo@demo.example", "Text only", {"Text": {"Data": "Just text"}})

    emails = {e.message_id: e for e in outbox_in_process()}

    assert (emails[both].to, emails[both].subject, emails[both].sent_at) == (("ada@demo.example",), "Both", None)
    assert (emails[both].text, emails[both].html) == (None, "<p>Hi</p>")  # moto keeps the HTML one of the two
    assert (emails[text_only].text, emails[text_only].html) == ("Just text", None)
    assert emails[text_only].header("Subject") == "Text only"


def test_raw_and_simple_emails_are_listed_together_in_the_order_they_were_sent_newest_first(stack: Stack) -> None:
    first = send(stack, "ada@demo.example", "Raw, first")
    second = send_simple(stack, "bo@demo.example", "Simple, second", {"Text": {"Data": "Hi"}})
    third = send(stack, "ada@demo.example", "Raw, third")

    assert [e.message_id for e in outbox_in_process()] == [third, second, first]


# --- the local API's /outbox.json, and `read_outbox` over HTTP -----------------------------------------


@pytest.fixture
def local_pages(stack: Stack) -> Iterator[str]:
    """The local API serving only its local pages (no route), in the process of the test's moto, as `leadflow local`."""
    port = free_port()
    api = LocalApi("127.0.0.1", port, {}, _pages(stack.config, f"http://127.0.0.1:{port}/"))
    serving = threading.Thread(target=api.serve_forever, daemon=True)
    serving.start()
    yield api.url
    api.shutdown()


def test_the_outbox_json_serves_every_email_newest_first_with_its_headers_and_bodies(
    stack: Stack, local_pages: str
) -> None:
    older = send(stack, "bo@demo.example", "Older")
    newer = send(stack, "ada@demo.example", "Ihre Anfrage: Grüße", "Hallo Ada\n", "<p>Hallo</p>")

    answer = requests.get(f"{local_pages}/outbox.json", timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    [first, second] = answer.json()
    assert (first["message_id"], second["message_id"]) == (newer, older)
    assert set(first) == {"message_id", "sent_at", "source", "to", "subject", "headers", "text", "html"}
    assert (first["to"], first["subject"], first["text"], first["html"]) == (
        ["ada@demo.example"], "Ihre Anfrage: Grüße", "Hallo Ada\n", "<p>Hallo</p>\n"
    )  # fmt: skip
    assert ["List-Unsubscribe", UNSUBSCRIBE["List-Unsubscribe"]] in first["headers"]
    assert datetime.fromisoformat(first["sent_at"]).tzinfo is not None
    only_bo = requests.get(f"{local_pages}/outbox.json", params={"to": "BO@demo.example"}, timeout=10).json()
    assert [email["message_id"] for email in only_bo] == [older]


def test_read_outbox_over_http_gives_the_emails_the_process_running_moto_holds(stack: Stack, local_pages: str) -> None:
    send(stack, "ada@demo.example", "[bold]Raw", text="Line one\n", html="<p>one</p>")
    send_simple(stack, "bo@demo.example", "Simple", {"Text": {"Data": "Just text"}})
    send(stack, "ada@demo.example", "Raw again")

    assert read_outbox(local_pages) == outbox_in_process()  # every field, the order included
    assert read_outbox(local_pages, to="bo@demo.example") == outbox_in_process(to="bo@demo.example")
    assert read_outbox(local_pages, to="nobody@demo.example") == []
    assert read_outbox(local_pages, most=1) == outbox_in_process(most=1)


def test_an_address_where_nothing_answers_makes_the_outbox_unavailable() -> None:
    with pytest.raises(OutboxUnavailable):
        read_outbox(f"http://127.0.0.1:{free_port()}", timeout_s=2)


def test_an_address_where_moto_and_not_the_local_api_answers_makes_the_outbox_unavailable(moto_endpoint: str) -> None:
    with pytest.raises(OutboxUnavailable):
        read_outbox(moto_endpoint, timeout_s=5)


# --- `leadflow outbox` -----------------------------------------------------------------------------


def run_outbox(api_port: int, *args: str) -> tuple[int, str, str]:
    """`leadflow outbox ...` as registered in the `leadflow` app: exit code, stdout, stderr."""
    app = typer.Typer()
    app.callback()(lambda: None)  # a group, so the command is called by name as in `leadflow`
    app.command("outbox")(outbox)
    result = CliRunner().invoke(app, ["outbox", "--clients-dir", str(CLIENTS), "--api-port", str(api_port), *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console, "width", 250)  # a table's row on one line


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@pytest.mark.usefixtures("wide_console")
def test_the_outbox_command_lists_emails_with_rich_markup_in_a_subject_printed_as_typed(
    stack: Stack, local_pages: str
) -> None:
    send(stack, "bo@demo.example", "Plain subject")
    send(stack, "ada@demo.example", "[bold]Offer[/bold] for [red]you")

    code, out, _ = run_outbox(port_of(local_pages))

    assert code == 0
    [newest] = [line for line in out.splitlines() if "ada@demo.example" in line]
    assert "[bold]Offer[/bold] for [red]you" in newest
    assert "<http://127.0.0.1:3000/u/token-1>" in newest
    assert "(one-click)" in newest
    assert out.index("ada@demo.example") < out.index("bo@demo.example")  # newest first

    code, out, _ = run_outbox(port_of(local_pages), "--to", "bo@demo.example")
    assert "Plain subject" in out
    assert "Offer" not in out


@pytest.mark.usefixtures("wide_console")
def test_the_outbox_command_shows_one_email_whole_its_headers_then_its_text(stack: Stack, local_pages: str) -> None:
    send(stack, "ada@demo.example", "[bold]Offer", text="Line one [red]\nLine two\n")
    send(stack, "bo@demo.example", "Newer")

    code, out, _ = run_outbox(port_of(local_pages), "--show", "2")

    assert code == 0
    lines = out.splitlines()
    assert "Subject: [bold]Offer" in lines
    assert f"List-Unsubscribe: {UNSUBSCRIBE['List-Unsubscribe']}" in lines
    blank = lines.index("")
    assert lines.index("Subject: [bold]Offer") < blank
    assert lines[blank + 1 : blank + 3] == ["Line one [red]", "Line two"]


@pytest.mark.usefixtures("wide_console")
def test_the_outbox_command_lists_the_newest_and_says_when_there_are_more(stack: Stack, local_pages: str) -> None:
    for n in range(3):
        send(stack, "ada@demo.example", f"Email {n}")

    code, out, _ = run_outbox(port_of(local_pages), "--last", "2")

    assert code == 0
    assert ("Email 2" in out, "Email 1" in out, "Email 0" in out) == (True, True, False)
    assert "the 2 newest email(s) shown, --last N shows more" in out
    code, out, _ = run_outbox(port_of(local_pages), "--last", "3")
    assert "3 email(s), newest first" in out


def test_the_outbox_command_asks_for_the_local_stack_when_none_runs() -> None:
    port = free_port()

    code, _, err = run_outbox(port)

    assert code == 1
    assert "not running" in err
    assert "start it with make run" in err
    assert f"leadflow local --api-port {port}" in err  # how to start it where the command looked


def test_showing_an_email_past_the_end_of_the_outbox_is_refused(stack: Stack, local_pages: str) -> None:
    send(stack, "ada@demo.example", "Only one")

    code, _, err = run_outbox(port_of(local_pages), "--show", "2")

    assert code == 1
    assert "no email 2" in err


# --- the local API's /outbox pages -------------------------------------------------------------------


class PageParts(HTMLParser):
    """What a browser would build from a page: its elements with their attributes, and the text of each <pre>."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.preformatted: list[str] = []
        self._in_pre = False
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "pre":
            self._in_pre = True
            self.preformatted.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._in_pre:
            self.preformatted[-1] += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]


HOSTILE_SUBJECT = "<script>alert(1)</script>"
HOSTILE_HTML = '<p>Hi <b>Ada</b></p><script>alert(2)</script><img src=x onerror="alert(3)">'


def test_the_outbox_page_lists_each_email_with_its_subject_escaped_and_a_link_to_it(
    stack: Stack, local_pages: str
) -> None:
    message_id = send(stack, "ada@demo.example", HOSTILE_SUBJECT)

    answer = requests.get(f"{local_pages}/outbox", timeout=10)

    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.text
    parts = PageParts(answer.text)
    assert parts.tags("script") == []
    [link] = [a["href"] for a in parts.tags("a") if a["href"] and a["href"].startswith("/outbox/email?")]
    assert parse_qs(urlsplit(link).query) == {"id": [message_id]}
    assert "<h1>No such email</h1>" not in requests.get(f"{local_pages}{link}", timeout=10).text


def test_the_outbox_page_lists_the_newest_and_says_how_to_list_more(
    stack: Stack, local_pages: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("leadflow.local.runtime.OUTBOX_PAGE_MOST", 2)
    for n in range(3):
        send(stack, "ada@demo.example", f"Email {n}")

    page = requests.get(f"{local_pages}/outbox", timeout=10).text

    assert ("Email 2" in page, "Email 1" in page, "Email 0" in page) == (True, True, False)
    assert "The 2 newest are shown" in page
    assert "leadflow outbox --last N</code> lists more" in page


def test_an_emails_page_escapes_every_header_and_runs_its_html_body_only_in_a_sandbox(
    stack: Stack, local_pages: str
) -> None:
    message_id = send(stack, "ada@demo.example", HOSTILE_SUBJECT, text="Hi Ada <b>\n", html=HOSTILE_HTML)

    answer = requests.get(f"{local_pages}/outbox/email", params={"id": message_id}, timeout=10)

    assert answer.status_code == 200
    parts = PageParts(answer.text)
    assert parts.tags("script") == []  # the email's elements are not the page's
    assert parts.tags("img") == []
    [frame] = parts.tags("iframe")
    assert frame["sandbox"] in (None, "")  # present, allowing nothing: no script, no form, no navigation
    assert frame["srcdoc"] == HOSTILE_HTML + "\n"  # the whole HTML body, shown as a browser shows it
    assert parts.preformatted == ["Hi Ada <b>\n"]
    assert "<th>List-Unsubscribe<td>&lt;http://127.0.0.1:3000/u/token-1&gt;" in answer.text
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in answer.text


def test_the_page_of_an_email_the_outbox_does_not_hold_says_so(local_pages: str) -> None:
    answer = requests.get(f"{local_pages}/outbox/email", params={"id": "<b>nope</b>"}, timeout=10)

    assert "<h1>No such email</h1>" in answer.text
    assert "&lt;b&gt;nope&lt;/b&gt;" in answer.text

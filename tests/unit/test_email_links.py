"""The unsubscribe and click links of nurture emails: what they take, where they go, what they refuse."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from leadflow.links import LinkSigner
from leadflow.nurture.email_links import (
    CLICK_DAYS,
    UNSUBSCRIBE_DAYS,
    LinkAnswer,
    click_url,
    follow_click,
    unsubscribe_page,
    unsubscribe_url,
)

SIGNER = LinkSigner(b"k" * 32)
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(days=3)  # when the person opens the email
LEAD = "ld_abcdefghijklmnopqrstuvwx"
BASE = "https://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/v1"
GUIDE = "https://demo.example/start?utm_source=nurture"


def token_of(link: str, kind: str) -> str:
    prefix = f"{BASE}/{kind}/"
    assert link.startswith(prefix)
    return link.removeprefix(prefix)


def unsubscribe_token(signer: LinkSigner = SIGNER) -> str:
    return token_of(unsubscribe_url(signer, BASE, LEAD, NOW), "u")


def click_token(url: str = GUIDE, sequence: str = "", step: int | None = None) -> str:
    return token_of(click_url(SIGNER, BASE, LEAD, url, NOW, sequence, step), "c")


def with_payload(token: str, change: dict[str, object]) -> str:
    """The token with its payload changed and its MAC kept: what someone without the key can make."""
    payload, mac = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(change)
    raw = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + mac


class Unsubscriber:
    def __init__(self) -> None:
        self.leads: list[str] = []

    def __call__(self, lead_id: str) -> None:
        self.leads.append(lead_id)


def open_unsubscribe(method: str, token: str, now: datetime = LATER) -> tuple[LinkAnswer, list[str]]:
    unsubscriber = Unsubscriber()
    answer = unsubscribe_page(method, token, now, signer=SIGNER, unsubscribe=unsubscriber)
    return answer, unsubscriber.leads


BAD_UNSUBSCRIBE_TOKENS = {
    "malformed": "not-a-token",
    "signed with another key": unsubscribe_token(LinkSigner(b"x" * 32)),
    "another lead put in": with_payload(unsubscribe_token(), {"l": "ld_someoneelse000000000000"}),
    "expiry pushed back": with_payload(unsubscribe_token(), {"e": 4102444800}),
    "a click link": click_token(),
}


def test_opening_the_unsubscribe_link_asks_with_a_button_and_unsubscribes_nobody() -> None:
    answer, unsubscribed = open_unsubscribe("GET", unsubscribe_token())
    assert answer.status == 200
    assert '<form method="post">' in answer.html
    assert ">Unsubscribe</button>" in answer.html
    assert unsubscribed == []  # mail scanners follow every link


def test_a_one_click_post_unsubscribes_the_links_lead() -> None:
    answer, unsubscribed = open_unsubscribe("POST", unsubscribe_token())
    assert (answer.status, answer.outcome) == (200, "unsubscribed")
    assert "You are unsubscribed" in answer.html
    assert unsubscribed == [LEAD]


def test_the_pages_button_posts_the_one_click_body() -> None:
    answer, _ = open_unsubscribe("GET", unsubscribe_token())
    assert '<input type="hidden" name="List-Unsubscribe" value="One-Click">' in answer.html


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("why", list(BAD_UNSUBSCRIBE_TOKENS))
def test_a_bad_unsubscribe_link_is_404_and_unsubscribes_nobody(why: str, method: str) -> None:
    answer, unsubscribed = open_unsubscribe(method, BAD_UNSUBSCRIBE_TOKENS[why])
    assert (answer.status, answer.outcome) == (404, "refused")
    assert "This link is not valid" in answer.html
    assert "latest email" in answer.html  # what to do instead
    assert unsubscribed == []


def test_the_unsubscribe_link_works_for_half_a_year_then_is_404() -> None:
    token = unsubscribe_token()
    last_second = NOW + timedelta(days=UNSUBSCRIBE_DAYS) - timedelta(seconds=1)
    assert open_unsubscribe("POST", token, now=last_second)[1] == [LEAD]
    answer, unsubscribed = open_unsubscribe("POST", token, now=NOW + timedelta(days=UNSUBSCRIBE_DAYS))
    assert (answer.status, unsubscribed) == (404, [])


def test_a_click_redirects_to_exactly_the_signed_url_and_keeps_the_token_out_of_the_referer() -> None:
    answer = follow_click(click_token(), LATER, "request-1", signer=SIGNER)
    assert answer.status == 302
    assert answer.headers["Location"] == GUIDE
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"


def test_a_click_hands_back_the_engagement_to_record_on_its_lead() -> None:
    answer = follow_click(click_token(sequence="welcome", step=2), LATER, "request-1", signer=SIGNER)
    message = answer.engagement_message
    assert message is not None
    assert (message["kind"], message["lead_id"], message["sequence"], message["step"]) == (
        "engagement", LEAD, "welcome", 2,
    )  # fmt: skip
    assert message["engagement"] == {"kind": "email_click", "at": "2026-11-26T09:30:00.000+00:00", "detail": GUIDE}


def test_the_same_request_is_one_engagement_and_another_request_another() -> None:
    token = click_token()
    ids = [follow_click(token, LATER, request, signer=SIGNER).engagement_message for request in ("r1", "r1", "r2")]
    first, retried, another = (message["engagement_id"] for message in ids if message)
    assert first == retried
    assert first != another


BAD_CLICK_TOKENS = {
    "malformed": "not-a-token",
    "signed with another key": token_of(click_url(LinkSigner(b"x" * 32), BASE, LEAD, GUIDE, NOW), "c"),
    "url changed": with_payload(click_token(), {"x": {"url": "https://evil.example/"}}),
    "expired": click_token(),  # opened below after CLICK_DAYS
    "an unsubscribe link": unsubscribe_token(),
    "signed for no url": SIGNER.sign("click", LEAD, "", NOW + timedelta(days=1)),
    "signed for a script url": SIGNER.sign("click", LEAD, "", NOW + timedelta(days=1), {"url": "javascript:alert(1)"}),
}


@pytest.mark.parametrize("why", list(BAD_CLICK_TOKENS))
def test_a_bad_click_link_is_400_with_no_redirect_and_nothing_recorded(why: str) -> None:
    now = NOW + timedelta(days=CLICK_DAYS) if why == "expired" else LATER
    answer = follow_click(BAD_CLICK_TOKENS[why], now, "request-1", signer=SIGNER)
    assert (answer.status, answer.outcome) == (400, "refused")
    assert "Location" not in answer.headers
    assert answer.engagement_message is None


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "ftp://demo.example/file",
        "/start",
        "//evil.example/start",
        "https://",
        "https://demo.example/a b",
        "https://demo.example/\r\nSet-Cookie: x=1",
        "https://demo.example/\tstart",
        "https:\\\\evil.example",
    ],
)
def test_a_link_to_anything_but_an_absolute_web_url_is_refused_when_the_email_is_made(url: str) -> None:
    with pytest.raises(ValueError, match="link in an email"):
        click_url(SIGNER, BASE, LEAD, url, NOW)


def test_a_url_with_letters_beyond_ascii_is_signed_percent_encoded_and_redirected_as_signed() -> None:
    answer = follow_click(click_token("https://demo.example/über"), LATER, "request-1", signer=SIGNER)
    assert answer.headers["Location"] == "https://demo.example/%C3%BCber"


def test_no_page_names_the_lead() -> None:
    pages = [
        open_unsubscribe("GET", unsubscribe_token())[0],
        open_unsubscribe("POST", unsubscribe_token())[0],
        open_unsubscribe("GET", "not-a-token")[0],
        follow_click("not-a-token", LATER, "request-1", signer=SIGNER),
    ]
    assert all(LEAD not in page.html for page in pages)

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadflow.links import LinkClaims, LinkRefused, LinkSigner

KEY = b"k" * 32
SIGNER = LinkSigner(KEY)
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
EXPIRES = NOW + timedelta(days=2)
LEAD = "ld_" + "abcdefghijklmnopqrstuvwx"
REP = "rep_1a2b3c4d"


def respond_link(lead_id: str = LEAD) -> str:
    return SIGNER.sign("respond", lead_id, REP, EXPIRES)


def refusal(token: str, purpose: str = "respond", now: datetime = NOW) -> str:
    with pytest.raises(LinkRefused) as refused:
        SIGNER.verify(token, purpose, now)
    return refused.value.reason


def test_a_signed_link_verifies_to_the_claims_it_was_signed_with() -> None:
    assert SIGNER.verify(respond_link(), "respond", NOW) == LinkClaims(
        purpose="respond", lead_id=LEAD, subject=REP, expires_at=EXPIRES, extra={}
    )


def test_a_link_is_valid_one_second_before_it_expires_and_refused_at_its_expiry() -> None:
    assert SIGNER.verify(respond_link(), "respond", EXPIRES - timedelta(seconds=1)).lead_id == LEAD
    assert refusal(respond_link(), now=EXPIRES) == "expired"


def test_every_single_character_change_deletion_or_insertion_is_refused() -> None:
    # Three payload lengths in a row: every way base64 can end (with 0, 2 or 4 spare bits).
    tokens = [respond_link(LEAD + "y" * extra_chars) for extra_chars in range(3)]
    assert {len(token.split(".")[0]) % 4 for token in tokens} == {0, 2, 3}
    alphabet = string.ascii_letters + string.digits + "-_." + "=+/ %é\n"
    for token in tokens:
        altered = {token[:i] + token[i + 1 :] for i in range(len(token))}
        altered |= {token[:i] + c + token[i:] for i in range(len(token) + 1) for c in alphabet}
        altered |= {token[:i] + c + token[i + 1 :] for i in range(len(token)) for c in alphabet}
        altered.discard(token)  # inserting a character next to its twin can give the token back
        for candidate in altered:
            with pytest.raises(LinkRefused):
                SIGNER.verify(candidate, "respond", NOW)


def test_a_link_signed_with_another_key_is_forged() -> None:
    other = LinkSigner(b"j" * 32).sign("respond", LEAD, REP, EXPIRES)
    assert refusal(other) == "forged"


def test_a_respond_link_used_to_unsubscribe_is_the_wrong_purpose() -> None:
    assert refusal(respond_link(), purpose="unsubscribe") == "wrong_purpose"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("", id="empty"),
        pytest.param("abcdef", id="no dot"),
        pytest.param("abc.def.ghi", id="two dots"),
        pytest.param("<script>.alert(1)", id="garbage"),
        pytest.param("a" * 1500 + "." + "b" * 1500, id="huge"),
    ],
)
def test_what_is_not_a_token_is_malformed(token: str) -> None:
    assert refusal(token) == "malformed"


def test_a_link_fits_a_url_path_segment() -> None:
    token = SIGNER.sign("click", LEAD, "", EXPIRES, {"url": "https://example.com/a b?c=d&e=é#f"})
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", token)


def test_a_key_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        LinkSigner(b"k" * 31)


def test_the_key_never_shows_in_a_repr() -> None:
    assert "kkkk" not in repr(SIGNER)


def test_extra_values_with_slashes_question_marks_and_accents_survive_a_round_trip() -> None:
    extra = {"url": "https://example.com/pricing?plan=pro&ref=mail#top", "note": "Zoë/ßüñ 漢字 ✓?"}
    token = SIGNER.sign("click", LEAD, "", EXPIRES, extra)
    assert SIGNER.verify(token, "click", NOW).extra == extra


@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=20),
        st.text(st.characters(exclude_categories=["Cs"]), max_size=60),
        max_size=4,
    )
)
def test_any_extra_text_survives_a_round_trip(extra: dict[str, str]) -> None:
    token = SIGNER.sign("click", LEAD, "", EXPIRES, extra)
    assert SIGNER.verify(token, "click", NOW).extra == extra


def test_a_naive_datetime_is_refused_when_signing_and_verifying() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SIGNER.sign("respond", LEAD, REP, EXPIRES.replace(tzinfo=None))
    with pytest.raises(ValueError, match="timezone-aware"):
        SIGNER.verify(respond_link(), "respond", NOW.replace(tzinfo=None))


def test_extra_too_long_for_a_link_is_refused_when_signing() -> None:
    with pytest.raises(ValueError, match="shorten what goes in extra"):
        SIGNER.sign("click", LEAD, "", EXPIRES, {"url": "https://example.com/" + "a" * 2000})


def test_a_payload_signed_with_the_key_but_not_in_the_link_shape_is_malformed() -> None:
    # A MAC that verifies proves who wrote the payload, not that this version can read it.
    payload = b'{"e":1900000000,"l":"ld_a","p":"respond","s":"","v":2}'
    mac = hmac.new(KEY, b"leadflow-link/v1\n" + payload, hashlib.sha256).digest()
    token = _encode(payload) + "." + _encode(mac)
    assert refusal(token) == "malformed"


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

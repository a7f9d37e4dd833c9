"""One person, one lead: the one normalised form of an address, and the addresses capture refuses.

Intake verifies addresses with email-validator; these tests hold capture's offline check and
normalisation (which must not pay email-validator's import at cold start) to its answers.
"""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email

from leadflow.capture.inquiry import email_problem, normalize_email

ADDRESSES = [
    "ada@example.com",
    "Ada.Lovelace+leads@Example.COM",
    "ada@bücher.de",
    "ada@xn--bcher-kva.de",
    "Ada@BÜCHER.DE",
    "ada@bu\u0308cher.de",  # the domain in NFD
    "jose\u0301@example.com",  # the local part in NFD
    "ada@ｂüｃｈｅｒ.de",  # full-width letters
    "ada@bücher。de",  # an ideographic full stop
    "jürgen@straße.de",
    "x@xn--strae-oqa.de",
    "用户@例子.广告",
    "o'brien@example.ie",
]


@pytest.mark.parametrize(
    "spelling",
    [
        "ada@bücher.de",
        "ada@xn--bcher-kva.de",
        "ADA@XN--BCHER-KVA.DE",
        "Ada@Bücher.de",
        "ada@bu\u0308cher.de",
        " ada@bücher.de ",
    ],
)
def test_every_spelling_of_an_address_normalises_to_one_form(spelling: str) -> None:
    assert normalize_email(spelling) == "ada@bücher.de"


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_normal_form_is_email_validators_normalized_form_lower_cased(address: str) -> None:
    checked = validate_email(address, check_deliverability=False)
    assert normalize_email(address) == checked.normalized.lower()


@pytest.mark.parametrize("address", ADDRESSES)
def test_an_address_email_validator_accepts_has_no_problem(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    "address",
    [
        "ada\u200b@example.com",  # zero-width space
        "ada@example.com\u200b",
        "\u200dada@example.com",  # zero-width joiner
        "ada@exa\u202emple.com",  # right-to-left override
        "ada\u2066@example.com",  # left-to-right isolate
        "ada\u200e@example.com",  # left-to-right mark
        "ada\ufeff@example.com",  # byte order mark
        "ada\u00ad@example.com",  # soft hyphen
        "ada\x00@example.com",
        "ada\x1b@example.com",
        "ada\x85@example.com",
        "ada\u00a0@example.com",  # no-break space
        "ada\u2028@example.com",  # line separator
        "\u0301ada@example.com",  # a combining mark with nothing to combine with
        "ada@\u0301example.com",
        "ada\ue000@example.com",  # private use
    ],
)
def test_an_address_email_validator_calls_unsafe_is_refused_saying_what_to_do(address: str) -> None:
    with pytest.raises(EmailNotValidError):
        validate_email(address, check_deliverability=False)
    assert "type the address again without it" in str(email_problem(address))


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("ada", "is not an email address"),
        ("ada@", "is not an email address"),
        ("ada example@example.com", "holds a space"),
        ("a..b@example.com", "two dots in a row"),
        ("ada@example", "needs a domain with a dot"),
        ("ada@example..com", "empty part in its domain"),
        ("ada@-example.com", "starts or ends with a hyphen"),
        ("ada@xn--a.de", "characters a domain cannot hold"),
        ("ada@exa_mple.com", "characters a domain cannot hold"),
        ("ada@127.0.0.1", "ends in a number"),
        ("a(b)@example.com", "before the @"),
        ("a@b@example.com", "before the @"),
        ("x" * 65 + "@example.com", "more than 64 bytes before the @"),
        ("ada@" + "a" * 64 + ".com", "longer than 63 characters"),
    ],
)
def test_an_address_mail_servers_refuse_is_refused_naming_the_problem(address: str, problem: str) -> None:
    assert problem in str(email_problem(address))


@pytest.mark.parametrize("text", ["", "@", "no-at-sign", "a@xn--", "a@xn--zz-", "a@b@c", "\ud800@x.de", "a@\x00"])
def test_normalize_email_gives_a_string_for_any_text(text: str) -> None:
    assert isinstance(normalize_email(text), str)

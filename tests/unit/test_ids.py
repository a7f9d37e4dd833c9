from __future__ import annotations

import base64
import hashlib

import pytest

from leadflow.lead.ids import LeadIds, new_inquiry_id, new_lead_id_key

KEY = b"k" * 32
DEMO = LeadIds("demo", KEY)


def test_one_person_is_one_lead_id_per_client() -> None:
    assert DEMO.lead_id("ada@example.com") == LeadIds("demo", KEY).lead_id("ada@example.com")
    assert DEMO.lead_id("ada@example.com") != LeadIds("acme", KEY).lead_id("ada@example.com")


def test_another_stack_key_gives_another_lead_id_for_the_same_person() -> None:
    assert DEMO.lead_id("ada@example.com") != LeadIds("demo", b"j" * 32).lead_id("ada@example.com")


def test_a_lead_id_is_not_the_plain_hash_anyone_could_compute_from_the_email() -> None:
    # What ids were before they were keyed: the same encoding, without the key.
    digest = hashlib.sha256("\x1f".join(("lead", "demo", "ada@example.com")).encode()).digest()
    unkeyed = "ld_" + base64.b32encode(digest).decode().lower().rstrip("=")[:24]
    assert DEMO.lead_id("ada@example.com") != unkeyed
    assert len(DEMO.lead_id("ada@example.com")) == len(unkeyed)


def test_a_key_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        LeadIds("demo", b"short")


def test_the_key_never_shows_in_a_repr() -> None:
    assert "kkkk" not in repr(DEMO)


def test_a_new_key_is_long_enough_and_new_each_time() -> None:
    first, second = new_lead_id_key(), new_lead_id_key()
    assert first != second
    LeadIds("demo", first.encode())


def test_same_idempotency_key_for_the_same_lead_is_same_inquiry() -> None:
    assert DEMO.inquiry_id_for_key("ld_a", "key-12345678") == DEMO.inquiry_id_for_key("ld_a", "key-12345678")
    assert DEMO.inquiry_id_for_key("ld_a", "key-12345678") != DEMO.inquiry_id_for_key("ld_a", "key-12345679")


def test_same_idempotency_key_for_another_lead_is_another_inquiry() -> None:
    assert DEMO.inquiry_id_for_key("ld_a", "key-12345678") != DEMO.inquiry_id_for_key("ld_b", "key-12345678")


def test_generated_inquiry_ids_sort_by_time() -> None:
    earlier, later = new_inquiry_id(1_700_000_000_000), new_inquiry_id(1_700_000_000_001)
    assert earlier < later
    assert len(earlier) == len(later) == 29

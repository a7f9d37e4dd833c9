from __future__ import annotations

from leadflow.lead.ids import inquiry_id_for_key, lead_id_for, new_inquiry_id


def test_one_person_is_one_lead_id_per_client() -> None:
    assert lead_id_for("demo", "ada@example.com") == lead_id_for("demo", "ada@example.com")
    assert lead_id_for("demo", "ada@example.com") != lead_id_for("acme", "ada@example.com")


def test_same_idempotency_key_for_the_same_lead_is_same_inquiry() -> None:
    assert inquiry_id_for_key("demo", "ld_a", "key-12345678") == inquiry_id_for_key("demo", "ld_a", "key-12345678")
    assert inquiry_id_for_key("demo", "ld_a", "key-12345678") != inquiry_id_for_key("demo", "ld_a", "key-12345679")


def test_same_idempotency_key_for_another_lead_is_another_inquiry() -> None:
    assert inquiry_id_for_key("demo", "ld_a", "key-12345678") != inquiry_id_for_key("demo", "ld_b", "key-12345678")


def test_generated_inquiry_ids_sort_by_time() -> None:
    earlier, later = new_inquiry_id(1_700_000_000_000), new_inquiry_id(1_700_000_000_001)
    assert earlier < later
    assert len(earlier) == len(later) == 29

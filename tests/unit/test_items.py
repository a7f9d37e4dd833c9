"""leadflow.aws.items converts as boto3's TypeSerializer and TypeDeserializer do, value for value."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum, IntEnum
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import assume, given
from hypothesis import strategies as st

from leadflow.aws.items import item_of, plain_of

plain_values = st.recursive(
    st.none()
    | st.booleans()
    | st.text()
    | st.integers(min_value=-(10**37), max_value=10**37)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def boto3_item_of(values: dict[str, Any]) -> dict[str, Any]:
    """What item_of was before: floats through their repr as Decimals, then boto3's TypeSerializer."""

    def decimals(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(repr(value))
        if isinstance(value, dict):
            return {k: decimals(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [decimals(v) for v in value]
        return value

    return {k: TypeSerializer().serialize(decimals(v)) for k, v in values.items() if v is not None}


def boto3_plain_of(item: dict[str, Any]) -> dict[str, Any]:
    def numbers(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: numbers(v) for k, v in value.items()}
        if isinstance(value, list):
            return [numbers(v) for v in value]
        return value

    return {k: numbers(TypeDeserializer().deserialize(v)) for k, v in item.items()}


def outcome(convert: Any, values: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "typed", convert(values)
    except (ArithmeticError, TypeError) as exc:  # a number out of DynamoDB's range, or not one at all
        return "refused", type(exc)


@given(st.dictionaries(st.text(min_size=1, max_size=8), plain_values, max_size=6))
def test_an_item_is_typed_as_boto3_types_it_or_refused_as_boto3_refuses_it(values: dict[str, Any]) -> None:
    assert outcome(item_of, values) == outcome(boto3_item_of, values)


@given(st.dictionaries(st.text(min_size=1, max_size=8), plain_values, max_size=6))
def test_an_item_read_back_is_what_boto3_makes_of_it(values: dict[str, Any]) -> None:
    kind, typed = outcome(boto3_item_of, values)
    assume(kind == "typed")
    assert plain_of(typed) == boto3_plain_of(typed)


def test_kinds_the_profile_never_holds_go_through_boto3() -> None:
    typed = item_of({"tags": {"a", "b"}, "blob": b"\x00\x01", "amount": Decimal("1.50")})
    assert sorted(typed["tags"]["SS"]) == ["a", "b"]
    assert (typed["blob"], typed["amount"]) == ({"B": b"\x00\x01"}, {"N": "1.50"})
    assert plain_of(typed)["tags"] == {"a", "b"}


def test_kinds_derived_from_the_plain_ones_are_typed_as_their_values() -> None:
    class Stage(str, Enum):  # noqa: UP042 - not StrEnum: its str() is "Stage.NURTURE", the value is "nurture"
        NURTURE = "nurture"

    class Rank(IntEnum):
        FIRST = 1

    class Score(float):
        pass

    assert item_of({"stage": Stage.NURTURE, "rank": Rank.FIRST, "score": Score(0.5)}) == {
        "stage": {"S": "nurture"},
        "rank": {"N": "1"},
        "score": {"N": "0.5"},
    }


def test_a_number_dynamodb_cannot_hold_is_refused() -> None:
    with pytest.raises(ArithmeticError):
        item_of({"n": 10**40 + 1})


def test_a_large_whole_number_read_back_is_written_again_as_it_was_stored() -> None:
    stored = item_of({"n": 3.4028234663852886e38})  # a float's largest 32-bit value: stored as 3.4028234663852886E+38
    read_back = plain_of(stored)
    assert read_back["n"] == 340282346638528860000000000000000000000  # whole: an int of 39 digits
    assert item_of(read_back) == stored

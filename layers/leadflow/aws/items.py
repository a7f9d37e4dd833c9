"""DynamoDB's typed attribute values to plain Python and back, for every store in `leadflow.aws`.

The types a lead's items hold (strings, numbers, booleans, None, maps and lists of them) are
converted here directly; anything else (sets, bytes) goes through boto3's TypeSerializer and
TypeDeserializer, whose results these match value for value (a test holds them to it). boto3's
walk every value through a chain of type checks: for a nurture step, which writes two profiles
and reads one, that was a tenth of the handler's processor time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def item_of(values: dict[str, Any]) -> dict[str, Any]:
    """A plain dict as a DynamoDB item; attributes that are None are left out."""
    return {k: _typed(v) for k, v in values.items() if v is not None}


def _typed(value: Any) -> dict[str, Any]:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind is int or kind is float:  # floats through their shortest repr, as DynamoDB numbers are decimal
        return {"N": _number(Decimal(repr(value)) if kind is float else value)}
    if kind is dict:
        return {"M": {k: _typed(v) for k, v in value.items()}}
    if kind is list or kind is tuple:
        return {"L": [_typed(v) for v in value]}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):  # kinds derived from the plain ones (a StrEnum's member) as the plain ones
        return {"S": str.__str__(value)}
    if isinstance(value, int):  # bool has no kinds derived from it
        return {"N": _number(int(value))}
    if isinstance(value, float):
        return {"N": _number(Decimal(repr(float(value))))}
    if isinstance(value, dict):
        return {"M": {k: _typed(v) for k, v in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_typed(v) for v in value]}
    from boto3.dynamodb.types import TypeSerializer

    serialized: dict[str, Any] = TypeSerializer().serialize(value)
    return serialized


def _number(value: int | Decimal) -> str:
    from boto3.dynamodb.types import DYNAMODB_CONTEXT

    if type(value) is int and not -(10**38) < value < 10**38:
        value = _without_trailing_zeros(value)
    number = str(DYNAMODB_CONTEXT.create_decimal(value))  # refuses what DynamoDB cannot hold, as boto3 does
    if number in ("Infinity", "-Infinity", "NaN", "sNaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _without_trailing_zeros(value: int) -> Decimal:
    """A whole number of more than 38 digits, exactly, with its trailing zeros as an exponent: 3.4028234663852886E+38.

    DynamoDB holds 38 significant digits. A large float stored as 3.4028234663852886E+38 is whole, so
    `plain_of` reads it back as an int of 39 digits; written again digit by digit, it would be refused
    (decimal.Rounded), and every later write of its item with it.
    """
    sign, digits, _ = Decimal(value).as_tuple()  # an int's exponent is 0
    exponent = 0
    while len(digits) > 1 and digits[-1] == 0:
        digits, exponent = digits[:-1], exponent + 1
    return Decimal((sign, digits, exponent))


def plain_of(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item as a plain dict: numbers as int when whole, else float."""
    return {k: _plain(v) for k, v in item.items()}


def _plain(value: dict[str, Any]) -> Any:
    [(kind, inner)] = value.items()
    if kind == "S":
        return inner
    if kind == "N":
        number = Decimal(inner)
        return int(number) if number == number.to_integral_value() else float(number)
    if kind == "M":
        return {k: _plain(v) for k, v in inner.items()}
    if kind == "L":
        return [_plain(v) for v in inner]
    if kind == "BOOL":
        return inner
    if kind == "NULL":
        return None
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer().deserialize(value)

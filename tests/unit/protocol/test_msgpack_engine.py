"""The one msgpack schema engine (cove.protocol.codec.schema) on its own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import msgpack
import pytest

from cove.protocol.codec.schema import (
    Bool,
    Bytes,
    FieldError,
    Int,
    ListOf,
    Nested,
    ReadLimits,
    Record,
    Str,
    pack,
    read,
)
from cove.protocol.errors import DecodeError, UsageError


@dataclass(frozen=True, slots=True)
class Item(Record):
    key: Annotated[bytes, Bytes(2, 4)]
    n: Annotated[int, Int(0, 9)]


@dataclass(frozen=True, slots=True)
class Box(Record):
    name: Annotated[str, Str(1, 5, pattern="[a-z]+")]
    flag: Annotated[bool, Bool()]
    items: Annotated[tuple[Item, ...], ListOf(Nested(Item), 3)]
    kind: Annotated[str | None, Str(1, 8, choices=("a", "b"))] = None


LIMITS = ReadLimits(max_len=1000, max_map=8, max_array=8, max_depth=4)
BOX = Box("abc", True, (Item(b"xy", 1), Item(b"zzz", 9)))


def test_map_order_and_absent_optional_field() -> None:
    assert list(BOX.to_map()) == ["name", "flag", "items"]
    assert BOX.to_map()["items"] == [{"key": b"xy", "n": 1}, {"key": b"zzz", "n": 9}]
    with_kind = Box("abc", True, (), kind="b")
    assert list(with_kind.to_map()) == ["name", "flag", "items", "kind"]
    data = pack(with_kind.to_map(), "Box")
    assert data == msgpack.packb(
        {"name": "abc", "flag": True, "items": [], "kind": "b"}, use_bin_type=True
    )
    obj, end = read(data, LIMITS, "Box")
    assert end == len(data) and Box.from_map(obj) == with_kind


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "ABC"}, "Box.name: not of the allowed form"),
        ({"name": ""}, "Box.name: 0 characters, not 1..5"),
        ({"flag": 1}, "Box.flag: expected a boolean"),
        ({"kind": "c"}, "Box.kind: not one of a, b"),
        ({"kind": None}, "Box.kind: expected a string"),
        ({"items": [{"key": b"x", "n": 1}]}, "Box.items[0]: Item.key: 1 bytes, not 2..4"),
        ({"items": [{"key": b"xy", "n": True}]}, "Box.items[0]: Item.n: expected an integer"),
        ({"items": [{"key": b"xy", "n": 10}]}, "Box.items[0]: Item.n: 10 not in 0..9"),
        ({"items": [{"key": b"xy"}]}, "Box.items[0]: Item: missing field 'n'"),
        ({"items": [[]]}, "Box.items[0]: Item: expected a map"),
        ({"items": [{}] * 4}, "Box.items: 4 items, not 0..3"),
        ({"items": {}}, "Box.items: expected an array"),
        ({"extra": 1, "more": 2}, "Box: unknown field 'extra', 'more'"),
    ],
)
def test_field_refusals_name_the_path(change: dict[str, object], message: str) -> None:
    obj = {**BOX.to_map(), **change}
    with pytest.raises(FieldError) as info:
        Box.from_map(obj)
    assert str(info.value) == message


def test_check_fields_on_construction() -> None:
    BOX.check_fields()
    with pytest.raises(UsageError) as info:
        Box("abc", True, (Item(b"x", 1),)).check_fields()
    assert str(info.value) == "Box.items[0]: Item.key: 1 bytes, not 2..4"
    with pytest.raises(UsageError) as info:
        Box("abc", True, [Item(b"xy", 1)]).check_fields()  # type: ignore[arg-type]
    assert str(info.value) == "Box.items: expected a tuple"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x81\xa1a\xc7\x01\x01x", "not valid msgpack: ValueError (T)"),  # ext type
        (b"\x81\xc4\x01k\x01", "not valid msgpack: ValueError (T)"),  # bin key
        (b"\x82\xa1a\x01\xa1a\x02", "not valid msgpack: ValueError (T)"),  # duplicate key
        (b"\xc1", "not valid msgpack: FormatError (T)"),
        (b"\x92\x01", "not valid msgpack: OutOfData (T)"),
        (b"\x01\x02", "not valid msgpack: ExtraData (T, offset 1)"),
        (b"\x91" * 5 + b"\x90", "nested too deeply (T)"),
        (b"\xdc\x00\x09" + b"\x01" * 9, "not valid msgpack: ValueError (T)"),  # 9 > max_array
        (bytes(1001), "1001 bytes over the limit 1000 (T)"),
        ("text", "expected bytes (T)"),
    ],
)
def test_reader_refusals(data: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as info:
        read(data, LIMITS, "T")
    assert str(info.value) == message


def test_reader_depth_limit_and_trailing() -> None:
    assert read(b"\x91" * 4 + b"\x90", LIMITS, "T") == ([[[[[]]]]], 5)
    no_depth = ReadLimits(1000, 8, 8, max_depth=None)
    assert read(b"\x91" * 6 + b"\x90", no_depth, "T")[0] == [[[[[[[]]]]]]]
    assert read(b"\x01\x00\x00", LIMITS, "T", trailing=True) == (1, 1)

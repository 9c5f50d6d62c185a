"""App-record decoding never fails in an unplanned way (hypothesis).

A malicious group member chooses the plaintext of their application messages,
so :func:`cove.protocol.app.decode` must either return a record or raise
:class:`~cove.protocol.errors.DecodeError` — never anything else — for:

* arbitrary bytes, raw and zero-padded to a valid record length;
* arbitrary msgpack values (nested maps and arrays, huge and negative ints,
  floats, bytes, strings, nil, ext types) padded like a record, including
  maps with version 1 and a known record type so the field checks run;
* structure-aware mutations of valid records: at the byte level (flip,
  overwrite, truncate, insert, delete a range, break the padding) and at the
  map level (drop, add or retype a field, retype an attachment field), the
  result re-padded so the deeper checks are reached.

Whatever decodes re-encodes to a record that decodes to itself. Valid records
drawn by hypothesis round-trip and encode to a padding bucket.

``max_examples`` is 10,000 per fuzz test under ``CI=true`` and 300 otherwise
(a tenth of that for the round trip of valid records).
"""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cove.protocol.app import RECORD_CLASSES, AttachmentRef, decode, padded_size
from cove.protocol.app.codec import Blob, Flag, ListOf, Spec, Struct, Text, UInt
from cove.protocol.app.limits import limit
from cove.protocol.errors import DecodeError
from tests.support.ci import IN_CI

pytestmark = pytest.mark.property

MAX_EXAMPLES = 10_000 if IN_CI else 300
PROPERTY_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)


def check(data: bytes) -> None:
    """Decode or DecodeError; anything accepted round-trips."""
    try:
        record = decode(data)
    except DecodeError:
        return
    assert decode(record.encode()) == record


def pad(packed: bytes) -> bytes:
    size = padded_size(len(packed))
    return packed + bytes(max(0, size - len(packed)))


def pack(obj: object) -> bytes:
    out: bytes = msgpack.packb(obj, use_bin_type=True)
    return out


# -- strategies for valid records ------------------------------------------------


def strategy_for(spec: Spec) -> st.SearchStrategy[Any]:
    if isinstance(spec, Blob):
        lim = limit(spec.row)
        return st.binary(min_size=lim.minimum, max_size=lim.maximum)
    if isinstance(spec, UInt):
        lim = limit(spec.row)
        return st.integers(lim.minimum, lim.maximum)
    if isinstance(spec, Flag):
        return st.booleans()
    if isinstance(spec, Text):
        lim = limit(spec.row)
        if spec.kind == "media_type":
            return st.sampled_from(["image/png", "application/pdf", "text/plain", "a/b"])
        base = st.text(min_size=lim.minimum, max_size=min(lim.maximum, 40))
        return base.filter(lambda s: spec.problem(s) is None)
    if isinstance(spec, ListOf):
        return st.lists(struct_strategy(spec.item), max_size=3).map(tuple)
    raise AssertionError(spec)


def struct_strategy(cls: type[Struct]) -> st.SearchStrategy[Any]:
    fields = {}
    for f in cls.fields():
        s = strategy_for(f.spec)
        fields[f.name] = st.none() | s if f.optional else s
    return st.builds(cls, **fields)


RECORDS = st.one_of(*(struct_strategy(cls) for cls in RECORD_CLASSES.values()))


# -- strategies for hostile input ------------------------------------------------

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.binary(max_size=40),
    st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=4)),
)
KEYS = st.sampled_from(
    [
        *("v", "t", "id", "sent_at", "thread", "body", "title", "attachments", "target"),
        *("emoji", "remove", "reason", "name", "description", "reply_to", "key", "size", "x", ""),
    ]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=8,
)


def near_valid_maps() -> st.SearchStrategy[dict[str, Any]]:
    """Version 1, a known (or nearby) type, usually a good id and time, then a
    mix of real and odd fields, so that the per-field checks run."""
    return st.builds(
        lambda t, id_, sent_at, rest: {"v": 1, "t": t, "id": id_, "sent_at": sent_at, **rest},
        st.integers(0, 9),
        st.binary(min_size=16, max_size=16) | SCALARS,
        st.integers(0, 2**40) | SCALARS,
        st.dictionaries(KEYS, VALUES, max_size=5),
    )


# -- the tests -------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(st.binary(max_size=1200))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)
    check(pad(data))


@PROPERTY_SETTINGS
@given(VALUES | near_valid_maps())
def test_arbitrary_msgpack_values(value: object) -> None:
    packed = pack(value)
    check(pad(packed))
    check(packed)


def mutate_bytes(data: bytes, draw: Any) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "pad"]))
        i = draw(st.integers(0, max(0, len(buf) - 1)))
        if op == "flip" and buf:
            buf[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and buf:
            buf[i] = draw(st.integers(0, 255))
        elif op == "truncate":
            del buf[i:]
        elif op == "insert":
            buf[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            del buf[i : i + draw(st.integers(1, 16))]
        elif op == "pad":
            buf += draw(st.sampled_from([b"\x00", b"\x01", bytes(128), b"\xc0"]))
    return bytes(buf)


def _has_attachment(m: dict[str, Any]) -> bool:
    atts = m.get("attachments")
    return isinstance(atts, list) and bool(atts) and isinstance(atts[0], dict)


def mutate_map(m: dict[str, Any], draw: Any) -> dict[str, Any]:
    m = dict(m)
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["drop", "add", "retype", "attachment"]))
        if op == "drop" and m:
            del m[draw(st.sampled_from(sorted(m)))]
        elif op == "add":
            m[draw(KEYS)] = draw(VALUES)
        elif op == "retype" and m:
            m[draw(st.sampled_from(sorted(m)))] = draw(VALUES)
        elif op == "attachment" and _has_attachment(m):
            att = dict(m["attachments"][0])
            att[draw(st.sampled_from([*sorted(att), "extra"]))] = draw(VALUES)
            m["attachments"] = [att, *m["attachments"][1:]]
    return m


@PROPERTY_SETTINGS
@given(RECORDS, st.data())
def test_mutated_records(record: Any, data: st.DataObject) -> None:
    encoded = record.encode()
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(encoded)
    as_map = unpacker.unpack()
    packed = encoded[: unpacker.tell()]
    if data.draw(st.booleans()):
        check(mutate_bytes(encoded, data.draw))
        check(pad(mutate_bytes(packed, data.draw)))  # padding redone: the parser runs
    else:
        check(pad(pack(mutate_map(as_map, data.draw))))


@settings(PROPERTY_SETTINGS, max_examples=MAX_EXAMPLES // 10)
@given(RECORDS)
def test_valid_records_round_trip(record: Any) -> None:
    encoded = record.encode()
    assert len(encoded) == padded_size(len(encoded))
    assert decode(encoded) == record
    assert type(record).decode(encoded) == record


@settings(max_examples=50, deadline=None)
@given(struct_strategy(AttachmentRef))
def test_attachment_strategy_builds_valid_refs(ref: AttachmentRef) -> None:
    # guards the strategies above: they must produce valid structs, not errors
    assert isinstance(ref, AttachmentRef)

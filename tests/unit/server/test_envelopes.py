"""Envelope codec: round trips, canonical bytes, and strict refusal of anything else."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.protocol.errors import DecodeError
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.codes import DESCRIPTIONS, ErrorCode
from cove.protocol.wire.limits import limit
from cove.protocol.wire.schema import Bool, Bytes, Int, ListOf, Nested, Spec, Str, WireVersionError


def strategy_for(spec: Spec) -> st.SearchStrategy[object]:
    if isinstance(spec, Bytes):
        return st.binary(min_size=spec.min_len, max_size=max(spec.min_len, min(spec.max_len, 64)))
    if isinstance(spec, Str):
        if spec.choices:
            return st.sampled_from(spec.choices)
        if spec.pattern:
            return st.from_regex(spec.pattern, fullmatch=True)
        return st.text(min_size=spec.min_len, max_size=min(spec.max_len, 30)).filter(
            lambda s: len(s) >= spec.min_len
        )
    if isinstance(spec, Int):
        return st.integers(spec.min, spec.max)
    if isinstance(spec, Bool):
        return st.booleans()
    if isinstance(spec, Nested):
        return envelopes_of(spec.cls)
    if isinstance(spec, ListOf):
        return st.lists(strategy_for(spec.item), min_size=spec.min_items,
                        max_size=min(spec.max_items, 3)).map(tuple)  # fmt: skip
    raise AssertionError(spec)


def envelopes_of(cls: type[E.Envelope]) -> st.SearchStrategy[E.Envelope]:
    kwargs = {}
    for name, spec, optional in cls.schema():
        s = strategy_for(spec)
        kwargs[name] = st.one_of(st.none(), s) if optional else s
    return st.builds(cls, **kwargs)


any_envelope = st.sampled_from(E.ALL_ENVELOPES).flatmap(envelopes_of)


@settings(max_examples=300)
@given(any_envelope)
def test_round_trip_and_canonical_bytes(env: E.Envelope) -> None:
    data = env.encode()
    again = type(env).decode(data)
    assert again == env
    assert again.encode() == data


@settings(max_examples=300)
@given(st.sampled_from(E.ALL_ENVELOPES), st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_decode_error(cls: type[E.Envelope], data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        cls.decode(data)


def _pack(obj: object) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


GOOD = {"v": 1, "group_id": b"g" * 16}


@pytest.mark.parametrize(
    "obj",
    [
        {"group_id": b"g" * 16},  # no version
        {**GOOD, "extra": 1},  # unknown field
        {"v": 1},  # missing field
        {"v": 1, "group_id": "g" * 16},  # str for bin
        {"v": 1, "group_id": b"g" * 15},  # too short
        {"v": 1, "group_id": b"g" * 33},  # too long
        {"v": 1, "group_id": None},  # nil for a required field
        [1, b"g" * 16],  # not a map
    ],
)
def test_strictness(obj: object) -> None:
    with pytest.raises(DecodeError):
        E.CreateGroupRequest.decode(_pack(obj))


def test_bool_is_not_int_and_int_is_not_bool() -> None:
    with pytest.raises(DecodeError):
        E.InboxAck.decode(_pack({"v": 1, "up_to": True}))
    with pytest.raises(DecodeError):
        E.Ok.decode(_pack({"v": 1, "ok": 1}))
    with pytest.raises(DecodeError):
        E.InboxAck.decode(_pack({"v": 1, "up_to": 1.0}))


def test_optional_fields_are_omitted_not_nil() -> None:
    assert b"position" not in E.PostMessageRequest(idempotency_key=b"k" * 16, message=b"m").encode()
    with pytest.raises(DecodeError):
        E.RetentionRequest.decode(_pack({"v": 1, "max_age_seconds": None}))


def test_wire_version_and_hostile_msgpack() -> None:
    with pytest.raises(WireVersionError):
        E.Ok.decode(_pack({"v": 2, "ok": True}))
    hostile = [
        b"\x91" * 100_000 + b"\xc0",  # deep nesting
        b"\xdd\xff\xff\xff\xff",  # array of 2^32-1 declared
        b"\xc6\xff\xff\xff\xff" + b"x",  # bin of 4 GiB declared
        b"\xd4\x01\x00",  # ext type
        b"\x82\xa1v\x01\xa1v\x01",  # duplicate key
        b"\x81\x01\x01",  # integer key
        b"\x81\xa1v\xc3",  # v = true
        b"\xa3\xff\xfe\xfd",  # invalid UTF-8
        _pack({"v": 1, "ok": True}) + b"\x00",  # trailing bytes
        b"\x81" + b"\xa1v" + b"\x01" * 0,  # truncated
        b"\x81\xa1v\x91\x91\x91\x91\x91\x91\x91\x91\x91\x91\xc0",  # nested too deep (10)
    ]
    for data in hostile:
        with pytest.raises(DecodeError):
            E.Ok.decode(data)
    with pytest.raises(DecodeError):
        E.Ok.decode(b"\x00" * (E.Ok.MAX_BYTES + 1))


def test_every_error_code_has_a_status_and_a_description() -> None:
    for code in ErrorCode:
        assert 400 <= code.status < 600
        assert DESCRIPTIONS[code]
    assert ErrorCode.INTERNAL.status == 500
    assert all(c.status < 500 for c in ErrorCode if c is not ErrorCode.INTERNAL)


def test_a_post_carrying_a_large_commit_and_welcome_decodes_up_to_request_body() -> None:
    # a 2,000-member Add commit with its Welcome is above the 512 KiB envelope default
    big = E.PostMessageRequest(
        idempotency_key=b"k" * 16, message=b"m" * (1 << 20), position=0,
        welcome=b"w" * (3 << 20), welcome_devices=(b"d" * 16,),
    )  # fmt: skip
    assert limit("request_body") == E.PostMessageRequest.MAX_BYTES
    assert E.PostMessageRequest.decode(big.encode()) == big
    with pytest.raises(DecodeError, match="over the limit"):
        E.PostMessageRequest.decode(b"\x00" * (limit("request_body") + 1))

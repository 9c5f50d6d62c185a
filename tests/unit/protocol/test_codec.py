"""TLS codec (RFC 9420 §2.1): varints, vectors, optionals, bounds."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cove.protocol.codec import VARINT_MAX, Reader, Writer, decode_all, encode_varint
from cove.protocol.errors import DecodeError


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (63, "3f"),
        (64, "4040"),
        (16383, "7fff"),
        (16384, "80004000"),
        (VARINT_MAX, "bfffffff"),
    ],
)
def test_varint_boundaries(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert decode_all(bytes.fromhex(encoded), Reader.varint) == value


@pytest.mark.parametrize("bad", ["4000", "403f", "80000000", "80003fff", "c0", "ffffffff"])
def test_varint_refuses_non_minimal_and_0b11(bad: str) -> None:
    with pytest.raises(DecodeError):
        decode_all(bytes.fromhex(bad), Reader.varint)


def test_varint_too_large_to_encode() -> None:
    with pytest.raises(ValueError, match="too large"):
        encode_varint(VARINT_MAX + 1)


def test_truncations_raise_decode_error_with_offset() -> None:
    w = Writer()
    w.uint16(7)
    w.opaque(b"hello")
    data = w.getvalue()
    for cut in range(len(data)):
        r = Reader(data[:cut], type_name="Thing")
        with pytest.raises(DecodeError) as e:
            r.uint16()
            r.opaque()
        assert e.value.type_name == "Thing"
        assert e.value.offset >= 0


def test_optional_presence_octet() -> None:
    assert decode_all(b"\x00", lambda r: r.optional(Reader.uint8)) is None
    assert decode_all(b"\x01\x05", lambda r: r.optional(Reader.uint8)) == 5
    with pytest.raises(DecodeError):
        decode_all(b"\x02\x05", lambda r: r.optional(Reader.uint8))


def test_vector_items_must_fill_the_length_exactly() -> None:
    # Length 3 holding uint16 items: the second item runs past the vector's end.
    with pytest.raises(DecodeError):
        decode_all(b"\x03\x00\x01\x00\x02", lambda r: r.vector(Reader.uint16))


def test_length_over_caller_limit() -> None:
    with pytest.raises(DecodeError, match="limit"):
        decode_all(b"\x05hello", lambda r: r.opaque(max_len=4))


def test_trailing_bytes_refused() -> None:
    with pytest.raises(DecodeError, match="trailing"):
        decode_all(b"\x01\x02", Reader.uint8)


def test_huge_declared_length_does_not_allocate() -> None:
    with pytest.raises(DecodeError):
        decode_all(encode_varint(VARINT_MAX) + b"x", Reader.opaque)


@given(st.integers(0, VARINT_MAX))
def test_varint_roundtrip(v: int) -> None:
    assert decode_all(encode_varint(v), Reader.varint) == v


@given(
    st.lists(st.binary(max_size=300), max_size=20), st.one_of(st.none(), st.integers(0, 2**64 - 1))
)
def test_vector_optional_roundtrip(items: list[bytes], opt: int | None) -> None:
    w = Writer()
    w.vector(items, Writer.opaque)
    w.optional(opt, Writer.uint64)
    data = w.getvalue()

    def read(r: Reader) -> tuple[list[bytes], int | None]:
        return r.vector(Reader.opaque), r.optional(Reader.uint64)

    assert decode_all(data, read) == (items, opt)


@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_decode_error(data: bytes) -> None:
    def read(r: Reader) -> object:
        return r.vector(lambda q: (q.opaque(), q.optional(Reader.uint32), q.boolean()))

    with contextlib.suppress(DecodeError):
        decode_all(data, read)

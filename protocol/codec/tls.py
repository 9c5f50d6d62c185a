"""The TLS presentation language as RFC 9420 uses it (§2.1).

Fixed-width big-endian integers, the MLS variable-length integer of §2.1.2
(the QUIC varint without its 8-byte form; a non-minimal encoding is refused),
``opaque<V>`` byte strings and vectors whose length prefix counts bytes, and
``optional<T>`` with a presence octet of 0 or 1.

Decoding is bounded: a :class:`Reader` never reads past the end of its input,
every length prefix is checked against both the bytes that remain and a
caller-given maximum before anything is allocated, and nesting depth is bounded
by the (non-recursive) MLS structs themselves. Any malformed input raises
:class:`~cove.protocol.errors.DecodeError`; no ``IndexError`` or
``struct.error`` escapes.

Structs implement :class:`Struct`: ``encode(w)`` writes the struct,
``decode(r)`` reads it, and ``to_bytes()``/``from_bytes()`` wrap the two for a
whole byte string (``from_bytes`` refuses trailing bytes).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, TypeVar

from ..errors import DecodeError

T = TypeVar("T")
S = TypeVar("S", bound="Struct")

#: Largest value the MLS varint can carry (30 bits).
VARINT_MAX = (1 << 30) - 1

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


def encode_varint(value: int) -> bytes:
    """Shortest MLS varint for ``value`` (§2.1.2)."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    if value < 0x40:
        return bytes((value,))
    if value < 0x4000:
        return _U16.pack(0x4000 | value)
    if value <= VARINT_MAX:
        return _U32.pack(0x80000000 | value)
    raise ValueError("varint too large for MLS (max 2^30-1)")


class Reader:
    """A bounded cursor over bytes. Every read checks what remains."""

    __slots__ = ("_data", "_end", "_pos", "type_name")

    def __init__(self, data: bytes, *, type_name: str = "") -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        self._data = data
        self._pos = 0
        self._end = len(data)
        self.type_name = type_name

    # -- errors -------------------------------------------------------------

    def error(self, message: str) -> DecodeError:
        return DecodeError(message, type_name=self.type_name, offset=self._pos)

    # -- positions ----------------------------------------------------------

    @property
    def position(self) -> int:
        return self._pos

    def taken_since(self, start: int) -> bytes:
        """The bytes read from position ``start`` up to here (a decoder keeps the exact
        encoding of what it just read, e.g. to verify a signature over it)."""
        return self._data[start : self._pos]

    def seek(self, position: int) -> None:
        """Go back to a position already read (to re-read a part with a slower, more
        precise decoder); never forward or past the end."""
        if not 0 <= position <= self._pos:
            raise ValueError("seek only back to a position already read")
        self._pos = position

    def remaining(self) -> int:
        return self._end - self._pos

    def at_end(self) -> bool:
        return self._pos >= self._end

    def expect_end(self) -> None:
        if self._pos != self._end:
            raise self.error(f"{self._end - self._pos} trailing bytes")

    # -- primitives ---------------------------------------------------------

    def fixed(self, n: int) -> bytes:
        """Exactly ``n`` raw bytes (a fixed-size ``opaque[n]``)."""
        pos = self._pos
        end = pos + n
        if n < 0 or end > self._end:
            raise self.error(f"need {n} bytes, {self._end - pos} left")
        self._pos = end
        return self._data[pos:end]

    def uint8(self) -> int:
        pos = self._pos
        if pos >= self._end:
            raise self.error("truncated uint8")
        self._pos = pos + 1
        return self._data[pos]

    def uint16(self) -> int:
        pos = self._pos
        if pos + 2 > self._end:
            raise self.error("truncated uint16")
        self._pos = pos + 2
        return int(_U16.unpack_from(self._data, pos)[0])

    def uint32(self) -> int:
        pos = self._pos
        if pos + 4 > self._end:
            raise self.error("truncated uint32")
        self._pos = pos + 4
        return int(_U32.unpack_from(self._data, pos)[0])

    def uint64(self) -> int:
        pos = self._pos
        if pos + 8 > self._end:
            raise self.error("truncated uint64")
        self._pos = pos + 8
        return int(_U64.unpack_from(self._data, pos)[0])

    def varint(self) -> int:
        """An MLS variable-length integer; non-minimal forms are refused."""
        pos = self._pos
        if pos >= self._end:
            raise self.error("truncated varint")
        first = self._data[pos]
        prefix = first >> 6
        if prefix == 0:
            self._pos = pos + 1
            return first
        if prefix == 1:
            if pos + 2 > self._end:
                raise self.error("truncated varint")
            value = ((first & 0x3F) << 8) | self._data[pos + 1]
            if value < 0x40:
                raise self.error("non-minimal varint")
            self._pos = pos + 2
            return value
        if prefix == 2:
            if pos + 4 > self._end:
                raise self.error("truncated varint")
            value = int(_U32.unpack_from(self._data, pos)[0]) & 0x3FFFFFFF
            if value < 0x4000:
                raise self.error("non-minimal varint")
            self._pos = pos + 4
            return value
        raise self.error("invalid varint prefix 0b11")

    def opaque(self, max_len: int = VARINT_MAX) -> bytes:
        """``opaque data<V>``: a varint length, then that many bytes."""
        n = self.varint()
        if n > max_len:
            raise self.error(f"length {n} over the limit {max_len}")
        return self.fixed(n)

    def boolean(self) -> bool:
        b = self.uint8()
        if b > 1:
            raise self.error("boolean must be 0 or 1")
        return b == 1

    def optional(self, item: Callable[[Reader], T]) -> T | None:
        """``optional<T>``: a presence octet (0 or 1), then ``T`` if present."""
        present = self.uint8()
        if present == 0:
            return None
        if present != 1:
            raise self.error("optional presence octet must be 0 or 1")
        return item(self)

    def vector(self, item: Callable[[Reader], T], max_len: int = VARINT_MAX) -> list[T]:
        """``T items<V>``: a varint byte length, then items filling exactly that many bytes."""
        n = self.varint()
        if n > max_len:
            raise self.error(f"vector length {n} over the limit {max_len}")
        end = self._pos + n
        if end > self._end:
            raise self.error(f"vector of {n} bytes, {self._end - self._pos} left")
        saved_end = self._end
        self._end = end
        try:
            out: list[T] = []
            while self._pos < end:
                out.append(item(self))
        finally:
            self._end = saved_end
        if self._pos != end:  # pragma: no cover - items cannot overrun the narrowed end
            raise self.error("vector items overran their length")
        return out


class Writer:
    """Accumulates an encoding."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def getvalue(self) -> bytes:
        return bytes(self._buf)

    def fixed(self, data: bytes) -> None:
        self._buf += data

    def uint8(self, v: int) -> None:
        if not 0 <= v <= 0xFF:
            raise ValueError("uint8 out of range")
        self._buf.append(v)

    def uint16(self, v: int) -> None:
        self._buf += _U16.pack(v)

    def uint32(self, v: int) -> None:
        self._buf += _U32.pack(v)

    def uint64(self, v: int) -> None:
        self._buf += _U64.pack(v)

    def varint(self, v: int) -> None:
        self._buf += encode_varint(v)

    def opaque(self, data: bytes | bytearray) -> None:
        self._buf += encode_varint(len(data))
        self._buf += data

    def boolean(self, v: bool) -> None:
        self._buf.append(1 if v else 0)

    def optional(self, value: T | None, item: Callable[[Writer, T], None]) -> None:
        if value is None:
            self._buf.append(0)
        else:
            self._buf.append(1)
            item(self, value)

    def vector(self, items: Iterable[T], item: Callable[[Writer, T], None]) -> None:
        """Write ``items`` as a vector: the byte length as a varint, then the items."""
        inner = Writer()
        for v in items:
            item(inner, v)
        self.opaque(inner._buf)

    def struct(self, value: Struct) -> None:
        value.encode(self)


class Struct:
    """Mixin for RFC 9420 structs: subclasses define ``encode`` and ``decode``."""

    __slots__ = ()
    type_name: ClassVar[str] = ""

    def encode(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def decode(cls: type[S], r: Reader) -> S:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls: type[S], data: bytes) -> S:
        r = Reader(data, type_name=cls.type_name or cls.__name__)
        value = cls.decode(r)
        r.expect_end()
        return value


def write_structs(w: Writer, items: Sequence[Struct]) -> None:
    """Write a vector of structs."""
    inner = Writer()
    for v in items:
        v.encode(inner)
    w.opaque(inner.getvalue())


def read_structs(r: Reader, cls: type[S], max_len: int = VARINT_MAX) -> list[S]:
    """Read a vector of structs of one class."""
    return r.vector(cls.decode, max_len)


def write_opaque_item(w: Writer, data: bytes) -> None:
    """Item writer for a vector of ``opaque<V>``."""
    w.opaque(data)


def read_opaque_item(r: Reader) -> bytes:
    """Item reader for a vector of ``opaque<V>``."""
    return r.opaque()


def decode_all(data: bytes, read: Callable[[Reader], T], type_name: str = "") -> T:
    """Run ``read`` over all of ``data``, refusing trailing bytes."""
    r = Reader(data, type_name=type_name)
    value = read(r)
    r.expect_end()
    return value


__all__ = [
    "VARINT_MAX",
    "Reader",
    "Struct",
    "Writer",
    "decode_all",
    "encode_varint",
    "read_opaque_item",
    "read_structs",
    "write_opaque_item",
    "write_structs",
]

"""Wire envelopes: the wire-version framing on the one msgpack schema engine.

The field specs (:class:`Bytes`, :class:`Str`, :class:`Int`, :class:`Bool`,
:class:`Nested`, :class:`ListOf`), the record machinery and the strict reader
live in :mod:`cove.protocol.codec.schema`; they are re-exported here under the
names the envelopes (and anyone needing typed msgpack) have always used.

An envelope is a frozen dataclass whose fields are annotated with a spec::

    group_id: Annotated[bytes, Bytes(16, 32)]
    seq: Annotated[int, Int(0, SEQ_MAX)]
    welcome: Annotated[bytes | None, Bytes(0, WELCOME)] = None

On the wire it is one msgpack map with string keys: ``"v"`` (the wire version)
first, then the fields in declaration order; a field whose value is ``None`` is
left out. Decoding is strict and bounded (the engine's reader with at most
``MAX_BYTES`` of input, 1024 entries per map or array, nesting depth 8):
unknown keys are refused, types are exact, every value is checked against its
spec.

Anything wrong raises :class:`~cove.protocol.errors.DecodeError` (or its
subclass :class:`WireVersionError`); no other exception escapes ``decode``.
"""

from __future__ import annotations

from typing import ClassVar, Final, Self

from ..codec.schema import (
    Bool,
    Bytes,
    Field,
    FieldError,
    Int,
    ListOf,
    Nested,
    ReadLimits,
    Record,
    Spec,
    Str,
    pack,
    read,
)
from ..errors import DecodeError
from .version import WIRE_VERSION

#: Bounds for msgpack itself; the specs are tighter.
_MAX_CONTAINER: Final = 1024
_MAX_DEPTH: Final = 8


class WireVersionError(DecodeError):
    """The envelope carries a wire version this code does not speak."""


def unpack(data: bytes, max_len: int, type_name: str) -> object:
    """Bounded, strict msgpack decoding of one whole value; raises only ``DecodeError``."""
    if type(data) is not bytes:
        raise DecodeError("expected bytes", type_name=type_name)
    limits = ReadLimits(
        max_len, min(max_len, _MAX_CONTAINER), min(max_len, _MAX_CONTAINER), _MAX_DEPTH
    )
    return read(data, limits, type_name)[0]


class Envelope(Record):
    """Base of the frozen dataclasses exchanged with the relay."""

    __slots__ = ()
    #: Largest encoding accepted by :meth:`decode`.
    MAX_BYTES: ClassVar[int] = 512 * 1024

    def encode(self) -> bytes:
        """The envelope as msgpack bytes: ``{"v": WIRE_VERSION, <fields>}``."""
        body: dict[str, object] = {"v": WIRE_VERSION}
        body.update(self.to_map())
        return pack(body, type(self).__name__)

    @classmethod
    def decode(cls, data: bytes) -> Self:
        """Decode and check; raises :class:`DecodeError` on anything wrong."""
        name = cls.__name__
        obj = unpack(data, cls.MAX_BYTES, name)
        if type(obj) is not dict:
            raise DecodeError(f"{name}: expected a map", type_name=name)
        if "v" not in obj:
            raise DecodeError("missing wire version", type_name=name)
        version = obj.pop("v")
        if type(version) is not int or version != WIRE_VERSION:
            raise WireVersionError(f"wire version {version!r}", type_name=name)
        try:
            return cls.from_map(obj)
        except FieldError as exc:
            raise DecodeError(str(exc), type_name=name) from None


__all__ = [
    "Bool",
    "Bytes",
    "Envelope",
    "Field",
    "Int",
    "ListOf",
    "Nested",
    "Spec",
    "Str",
    "WireVersionError",
    "unpack",
]

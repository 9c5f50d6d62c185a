"""Extensions (RFC 9420 §13, §17.3).

An :class:`Extension` is a type code and opaque bytes. The payload structs of
the extensions Cove understands (``ratchet_tree``, ``required_capabilities``,
``external_pub``, ``external_senders``, ``application_id``) live next to the
structs they describe and are parsed on demand from ``extension_data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

from ..codec import Reader, Struct, Writer, read_structs
from ..errors import ValidationError


class ExtensionType(IntEnum):
    """IANA registry of MLS extension types (§17.3)."""

    APPLICATION_ID = 0x0001
    RATCHET_TREE = 0x0002
    REQUIRED_CAPABILITIES = 0x0003
    EXTERNAL_PUB = 0x0004
    EXTERNAL_SENDERS = 0x0005


@dataclass(frozen=True, slots=True)
class Extension(Struct):
    """``struct { ExtensionType extension_type; opaque extension_data<V>; } Extension``"""

    extension_type: int
    extension_data: bytes

    def encode(self, w: Writer) -> None:
        w.uint16(self.extension_type)
        w.opaque(self.extension_data)

    @classmethod
    def decode(cls, r: Reader) -> Extension:
        return cls(r.uint16(), r.opaque())


def read_extensions(r: Reader) -> tuple[Extension, ...]:
    """A vector of extensions; duplicate types are a decode-level error (§13)."""
    exts = read_structs(r, Extension)
    seen: set[int] = set()
    for e in exts:
        if e.extension_type in seen:
            raise r.error(f"duplicate extension type {e.extension_type}")
        seen.add(e.extension_type)
    return tuple(exts)


def write_extensions(w: Writer, exts: Sequence[Extension]) -> None:
    inner = Writer()
    for e in exts:
        e.encode(inner)
    w.opaque(inner.getvalue())


def find_extension(exts: Sequence[Extension], extension_type: int) -> Extension | None:
    for e in exts:
        if e.extension_type == extension_type:
            return e
    return None


def check_unique_extensions(exts: Sequence[Extension]) -> None:
    """Rule V-EXT-001: an extension type appears at most once in a list (§13)."""
    types = [e.extension_type for e in exts]
    if len(types) != len(set(types)):
        raise ValidationError("V-EXT-001", "an extension type appears more than once")

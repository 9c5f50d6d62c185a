"""Extensions (RFC 9420 §13, §17.3).

An :class:`Extension` is a type code and opaque bytes. The payload structs of
the extensions Cove understands are parsed on demand from ``extension_data``:
``required_capabilities``, ``external_pub``, ``external_senders`` and
``application_id`` here, ``ratchet_tree`` in :mod:`.nodes` next to the nodes it
lists.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

from ..codec import Reader, Struct, Writer, decode_all, read_structs
from ..errors import DecodeError, ValidationError
from .credentials import Credential


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


# -- vectors of uint16 codes ---------------------------------------------------


def _write_uint16_item(w: Writer, value: int) -> None:
    w.uint16(value)


def _read_uint16_item(r: Reader) -> int:
    return r.uint16()


def write_uint16_list(w: Writer, values: Sequence[int]) -> None:
    """A vector of ``uint16`` codes (``ExtensionType extension_types<V>`` and the like)."""
    w.vector(values, _write_uint16_item)


def read_uint16_list(r: Reader) -> tuple[int, ...]:
    """A vector of ``uint16`` codes, kept as plain ints so unknown values round-trip."""
    start = r.position
    try:
        data = r.opaque()
    except DecodeError:
        data = b"\x00"  # an odd length: read again below for the precise error
    if len(data) % 2 == 0:  # the whole vector in one unpack (every leaf has five)
        return _uint16s(len(data) // 2).unpack(data)
    r.seek(start)
    return tuple(r.vector(_read_uint16_item))  # refuses it with the offset


@lru_cache(maxsize=64)
def _uint16s(count: int) -> struct.Struct:
    return struct.Struct(f">{count}H")


# -- extension payloads ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequiredCapabilities(Struct):
    """Payload of ``required_capabilities`` (§11.1)::

    struct {
        ExtensionType extension_types<V>;
        ProposalType proposal_types<V>;
        CredentialType credential_types<V>;
    } RequiredCapabilities;
    """

    extension_types: tuple[int, ...] = ()
    proposal_types: tuple[int, ...] = ()
    credential_types: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        write_uint16_list(w, self.extension_types)
        write_uint16_list(w, self.proposal_types)
        write_uint16_list(w, self.credential_types)

    @classmethod
    def decode(cls, r: Reader) -> RequiredCapabilities:
        return cls(read_uint16_list(r), read_uint16_list(r), read_uint16_list(r))


@dataclass(frozen=True, slots=True)
class ExternalPub(Struct):
    """Payload of ``external_pub`` (§12.4.3.2): ``struct { HPKEPublicKey external_pub; }``"""

    external_pub: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.external_pub)

    @classmethod
    def decode(cls, r: Reader) -> ExternalPub:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class ExternalSender(Struct):
    """One entry of ``external_senders`` (§12.1.8.1)::

    struct {
      SignaturePublicKey signature_key;
      Credential credential;
    } ExternalSender;

    ExternalSender external_senders<V>;
    """

    signature_key: bytes
    credential: Credential

    def encode(self, w: Writer) -> None:
        w.opaque(self.signature_key)
        self.credential.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> ExternalSender:
        return cls(r.opaque(), Credential.decode(r))


def encode_external_senders(senders: Sequence[ExternalSender]) -> bytes:
    """``extension_data`` of an ``external_senders`` extension."""
    w = Writer()
    w.vector(senders, Writer.struct)
    return w.getvalue()


def decode_external_senders(data: bytes) -> tuple[ExternalSender, ...]:
    """Parse the ``extension_data`` of an ``external_senders`` extension."""
    return tuple(decode_all(data, lambda r: r.vector(ExternalSender.decode), "ExternalSender"))


def encode_application_id(application_id: bytes) -> bytes:
    """``extension_data`` of an ``application_id`` extension (``opaque application_id<V>``)."""
    w = Writer()
    w.opaque(application_id)
    return w.getvalue()


def decode_application_id(data: bytes) -> bytes:
    return decode_all(data, Reader.opaque, "application_id")


__all__ = [
    "Extension",
    "ExtensionType",
    "ExternalPub",
    "ExternalSender",
    "RequiredCapabilities",
    "check_unique_extensions",
    "decode_application_id",
    "decode_external_senders",
    "encode_application_id",
    "encode_external_senders",
    "find_extension",
    "read_extensions",
    "read_uint16_list",
    "write_extensions",
    "write_uint16_list",
]

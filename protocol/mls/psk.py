"""Pre-shared key identifiers (RFC 9420 §8.4).

A :class:`PreSharedKeyID` names an ``external`` PSK (by an application-chosen
id) or a ``resumption`` PSK (by group id and epoch), plus a fresh nonce.
:func:`psk_label` gives the ``PSKLabel`` bytes used when folding PSKs into the
key schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from ..codec import Reader, Struct, Writer


class PSKType(IntEnum):
    """``enum { reserved(0), external(1), resumption(2), (255) } PSKType``"""

    EXTERNAL = 1
    RESUMPTION = 2


class ResumptionPSKUsage(IntEnum):
    """``enum { reserved(0), application(1), reinit(2), branch(3), (255) }``"""

    APPLICATION = 1
    REINIT = 2
    BRANCH = 3


@dataclass(frozen=True, slots=True)
class ExternalPSK:
    """The ``external`` arm: ``opaque psk_id<V>``."""

    psk_id: bytes

    psk_type: ClassVar[PSKType] = PSKType.EXTERNAL


@dataclass(frozen=True, slots=True)
class ResumptionPSK:
    """The ``resumption`` arm.

    ``usage`` is kept as a plain ``int``: the value does not change how the
    struct parses, so checking it (reserved 0, unknown values) is validation.
    """

    usage: int
    psk_group_id: bytes
    psk_epoch: int

    psk_type: ClassVar[PSKType] = PSKType.RESUMPTION


@dataclass(frozen=True, slots=True)
class PreSharedKeyID(Struct):
    """::

    struct {
      PSKType psktype;
      select (PreSharedKeyID.psktype) {
        case external:
          opaque psk_id<V>;
        case resumption:
          ResumptionPSKUsage usage;
          opaque psk_group_id<V>;
          uint64 psk_epoch;
      };
      opaque psk_nonce<V>;
    } PreSharedKeyID;
    """

    psk: ExternalPSK | ResumptionPSK
    psk_nonce: bytes

    @classmethod
    def external(cls, psk_id: bytes, psk_nonce: bytes) -> PreSharedKeyID:
        return cls(ExternalPSK(psk_id), psk_nonce)

    @classmethod
    def resumption(
        cls, usage: int, psk_group_id: bytes, psk_epoch: int, psk_nonce: bytes
    ) -> PreSharedKeyID:
        return cls(ResumptionPSK(usage, psk_group_id, psk_epoch), psk_nonce)

    @property
    def psk_type(self) -> PSKType:
        return self.psk.psk_type

    def encode(self, w: Writer) -> None:
        psk = self.psk
        if isinstance(psk, ExternalPSK):
            w.uint8(PSKType.EXTERNAL)
            w.opaque(psk.psk_id)
        else:
            w.uint8(PSKType.RESUMPTION)
            w.uint8(psk.usage)
            w.opaque(psk.psk_group_id)
            w.uint64(psk.psk_epoch)
        w.opaque(self.psk_nonce)

    @classmethod
    def decode(cls, r: Reader) -> PreSharedKeyID:
        psk_type = r.uint8()
        psk: ExternalPSK | ResumptionPSK
        if psk_type == PSKType.EXTERNAL:
            psk = ExternalPSK(r.opaque())
        elif psk_type == PSKType.RESUMPTION:
            psk = ResumptionPSK(r.uint8(), r.opaque(), r.uint64())
        else:
            raise r.error(f"unknown PSK type {psk_type}")
        return cls(psk, r.opaque())


def psk_label(psk_id: PreSharedKeyID, index: int, count: int) -> bytes:
    """The ``PSKLabel`` bytes for the ``index``-th of ``count`` PSKs (§8.4)::

    struct {
        PreSharedKeyID id;
        uint16 index;
        uint16 count;
    } PSKLabel;
    """
    w = Writer()
    psk_id.encode(w)
    w.uint16(index)
    w.uint16(count)
    return w.getvalue()


__all__ = [
    "ExternalPSK",
    "PSKType",
    "PreSharedKeyID",
    "ResumptionPSK",
    "ResumptionPSKUsage",
    "psk_label",
]

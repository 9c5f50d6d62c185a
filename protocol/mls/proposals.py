"""Proposals (RFC 9420 §12.1) and proposal references (§12.4, §5.2).

Each proposal body is its own struct (:class:`Add`, :class:`Update`, ...);
:class:`Proposal` is the tagged union that puts the ``proposal_type`` in front.
A body is not length-delimited, so a proposal of an unknown type cannot be
skipped: decoding it raises :class:`~cove.protocol.errors.DecodeError`.

A ``ProposalRef`` is ``RefHash(PROPOSAL_REF_LABEL, authenticated_content)``
over the encoded AuthenticatedContent that carried the proposal (§5.2); in a
:class:`ProposalOrRef` it is the ``bytes`` arm.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, TypeAlias

from ..codec import Reader, Struct, Writer
from .extensions import Extension, read_extensions, write_extensions
from .key_package import KeyPackage
from .leaf_node import LeafNode
from .psk import PreSharedKeyID

#: RefHash label of a ProposalRef (§5.2).
PROPOSAL_REF_LABEL = b"MLS 1.0 Proposal Reference"

#: ``HashReference ProposalRef`` (``opaque<V>``).
ProposalRef: TypeAlias = bytes


class ProposalType(IntEnum):
    """IANA "MLS Proposal Types" registry (§17.4): the decodable ones."""

    ADD = 0x0001
    UPDATE = 0x0002
    REMOVE = 0x0003
    PSK = 0x0004
    REINIT = 0x0005
    EXTERNAL_INIT = 0x0006
    GROUP_CONTEXT_EXTENSIONS = 0x0007


@dataclass(frozen=True, slots=True)
class Add(Struct):
    """``struct { KeyPackage key_package; } Add;``"""

    key_package: KeyPackage
    proposal_type: ClassVar[ProposalType] = ProposalType.ADD

    def encode(self, w: Writer) -> None:
        self.key_package.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Add:
        return cls(KeyPackage.decode(r))


@dataclass(frozen=True, slots=True)
class Update(Struct):
    """``struct { LeafNode leaf_node; } Update;``"""

    leaf_node: LeafNode
    proposal_type: ClassVar[ProposalType] = ProposalType.UPDATE

    def encode(self, w: Writer) -> None:
        self.leaf_node.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Update:
        return cls(LeafNode.decode(r))


@dataclass(frozen=True, slots=True)
class Remove(Struct):
    """``struct { uint32 removed; } Remove;`` (a leaf index)"""

    removed: int
    proposal_type: ClassVar[ProposalType] = ProposalType.REMOVE

    def encode(self, w: Writer) -> None:
        w.uint32(self.removed)

    @classmethod
    def decode(cls, r: Reader) -> Remove:
        return cls(r.uint32())


@dataclass(frozen=True, slots=True)
class PreSharedKey(Struct):
    """``struct { PreSharedKeyID psk; } PreSharedKey;``"""

    psk: PreSharedKeyID
    proposal_type: ClassVar[ProposalType] = ProposalType.PSK

    def encode(self, w: Writer) -> None:
        self.psk.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> PreSharedKey:
        return cls(PreSharedKeyID.decode(r))


@dataclass(frozen=True, slots=True)
class ReInit(Struct):
    """::

        struct {
            opaque group_id<V>;
            ProtocolVersion version;
            CipherSuite cipher_suite;
            Extension extensions<V>;
        } ReInit;

    ``version`` may name a future protocol version, so it is kept as decoded.
    """

    group_id: bytes
    version: int
    cipher_suite: int
    extensions: tuple[Extension, ...] = ()
    proposal_type: ClassVar[ProposalType] = ProposalType.REINIT

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id)
        w.uint16(self.version)
        w.uint16(self.cipher_suite)
        write_extensions(w, self.extensions)

    @classmethod
    def decode(cls, r: Reader) -> ReInit:
        return cls(r.opaque(), r.uint16(), r.uint16(), read_extensions(r))


@dataclass(frozen=True, slots=True)
class ExternalInit(Struct):
    """``struct { opaque kem_output<V>; } ExternalInit;``"""

    kem_output: bytes
    proposal_type: ClassVar[ProposalType] = ProposalType.EXTERNAL_INIT

    def encode(self, w: Writer) -> None:
        w.opaque(self.kem_output)

    @classmethod
    def decode(cls, r: Reader) -> ExternalInit:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class GroupContextExtensions(Struct):
    """``struct { Extension extensions<V>; } GroupContextExtensions;``"""

    extensions: tuple[Extension, ...] = ()
    proposal_type: ClassVar[ProposalType] = ProposalType.GROUP_CONTEXT_EXTENSIONS

    def encode(self, w: Writer) -> None:
        write_extensions(w, self.extensions)

    @classmethod
    def decode(cls, r: Reader) -> GroupContextExtensions:
        return cls(read_extensions(r))


ProposalBody: TypeAlias = (
    Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions
)

_BODY_DECODERS: dict[int, type[ProposalBody]] = {
    ProposalType.ADD: Add,
    ProposalType.UPDATE: Update,
    ProposalType.REMOVE: Remove,
    ProposalType.PSK: PreSharedKey,
    ProposalType.REINIT: ReInit,
    ProposalType.EXTERNAL_INIT: ExternalInit,
    ProposalType.GROUP_CONTEXT_EXTENSIONS: GroupContextExtensions,
}


@dataclass(frozen=True, slots=True)
class Proposal(Struct):
    """::

        struct {
            ProposalType proposal_type;
            select (Proposal.proposal_type) {
                case add:                      Add;
                case update:                   Update;
                case remove:                   Remove;
                case psk:                      PreSharedKey;
                case reinit:                   ReInit;
                case external_init:            ExternalInit;
                case group_context_extensions: GroupContextExtensions;
            };
        } Proposal;

    ``body`` is one of the seven body structs; ``proposal_type`` follows from it.
    """

    body: ProposalBody

    @property
    def proposal_type(self) -> ProposalType:
        return self.body.proposal_type

    def encode(self, w: Writer) -> None:
        w.uint16(self.body.proposal_type)
        self.body.encode(w)

    @classmethod
    def decode(cls, r: Reader) -> Proposal:
        proposal_type = r.uint16()
        body_cls = _BODY_DECODERS.get(proposal_type)
        if body_cls is None:
            raise r.error(f"unknown proposal type {proposal_type}")
        return cls(body_cls.decode(r))


class ProposalOrRefType(IntEnum):
    """``enum { reserved(0), proposal(1), reference(2), (255) } ProposalOrRefType``"""

    PROPOSAL = 1
    REFERENCE = 2


@dataclass(frozen=True, slots=True)
class ProposalOrRef(Struct):
    """::

        struct {
          ProposalOrRefType type;
          select (ProposalOrRef.type) {
            case proposal:  Proposal proposal;
            case reference: ProposalRef reference;
          };
        } ProposalOrRef;

    ``value`` is a :class:`Proposal` (inline) or the ``bytes`` of a ProposalRef.
    """

    value: Proposal | ProposalRef

    @property
    def type(self) -> ProposalOrRefType:
        if isinstance(self.value, Proposal):
            return ProposalOrRefType.PROPOSAL
        return ProposalOrRefType.REFERENCE

    @property
    def proposal(self) -> Proposal | None:
        return self.value if isinstance(self.value, Proposal) else None

    @property
    def reference(self) -> ProposalRef | None:
        return self.value if isinstance(self.value, bytes) else None

    def encode(self, w: Writer) -> None:
        value = self.value
        if isinstance(value, Proposal):
            w.uint8(ProposalOrRefType.PROPOSAL)
            value.encode(w)
        else:
            w.uint8(ProposalOrRefType.REFERENCE)
            w.opaque(value)

    @classmethod
    def decode(cls, r: Reader) -> ProposalOrRef:
        kind = r.uint8()
        if kind == ProposalOrRefType.PROPOSAL:
            return cls(Proposal.decode(r))
        if kind == ProposalOrRefType.REFERENCE:
            return cls(r.opaque())
        raise r.error(f"unknown ProposalOrRef type {kind}")


__all__ = [
    "PROPOSAL_REF_LABEL",
    "Add",
    "ExternalInit",
    "GroupContextExtensions",
    "PreSharedKey",
    "Proposal",
    "ProposalBody",
    "ProposalOrRef",
    "ProposalOrRefType",
    "ProposalRef",
    "ProposalType",
    "ReInit",
    "Remove",
    "Update",
]

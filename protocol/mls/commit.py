"""Commits and UpdatePaths (RFC 9420 §12.4, §7.6)."""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Struct, Writer
from .leaf_node import LeafNode
from .proposals import ProposalOrRef


@dataclass(frozen=True, slots=True)
class HPKECiphertext(Struct):
    """``struct { opaque kem_output<V>; opaque ciphertext<V>; } HPKECiphertext;``"""

    kem_output: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.kem_output)
        w.opaque(self.ciphertext)

    @classmethod
    def decode(cls, r: Reader) -> HPKECiphertext:
        return cls(r.opaque(), r.opaque())


@dataclass(frozen=True, slots=True)
class UpdatePathNode(Struct):
    """::

    struct {
        HPKEPublicKey encryption_key;
        HPKECiphertext encrypted_path_secret<V>;
    } UpdatePathNode;
    """

    encryption_key: bytes
    encrypted_path_secret: tuple[HPKECiphertext, ...] = ()

    def encode(self, w: Writer) -> None:
        w.opaque(self.encryption_key)
        w.vector(self.encrypted_path_secret, Writer.struct)

    @classmethod
    def decode(cls, r: Reader) -> UpdatePathNode:
        return cls(r.opaque(), tuple(r.vector(HPKECiphertext.decode)))


@dataclass(frozen=True, slots=True)
class UpdatePath(Struct):
    """``struct { LeafNode leaf_node; UpdatePathNode nodes<V>; } UpdatePath;``"""

    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...] = ()

    def encode(self, w: Writer) -> None:
        self.leaf_node.encode(w)
        w.vector(self.nodes, Writer.struct)

    @classmethod
    def decode(cls, r: Reader) -> UpdatePath:
        return cls(LeafNode.decode(r), tuple(r.vector(UpdatePathNode.decode)))


@dataclass(frozen=True, slots=True)
class Commit(Struct):
    """``struct { ProposalOrRef proposals<V>; optional<UpdatePath> path; } Commit;``"""

    proposals: tuple[ProposalOrRef, ...] = ()
    path: UpdatePath | None = None

    def encode(self, w: Writer) -> None:
        w.vector(self.proposals, Writer.struct)
        w.optional(self.path, Writer.struct)

    @classmethod
    def decode(cls, r: Reader) -> Commit:
        return cls(tuple(r.vector(ProposalOrRef.decode)), r.optional(UpdatePath.decode))


__all__ = ["Commit", "HPKECiphertext", "UpdatePath", "UpdatePathNode"]

"""Leaf nodes of the ratchet tree (RFC 9420 §7.2).

A :class:`LeafNode` carries a member's HPKE encryption key, signature key,
credential and capabilities. Its signature covers the ``LeafNodeTBS`` bytes,
which :meth:`LeafNode.tbs` produces: for leaves created in an Update or a
Commit these bind the group id and the leaf index, for KeyPackage leaves they
do not.

Lists of protocol versions, cipher suites, extension types, proposal types
and credential types in :class:`Capabilities` are kept as plain ``int`` values
so that unknown (e.g. GREASE) values round-trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from ..codec import Reader, Struct, Writer
from ..errors import UsageError
from .credentials import Credential
from .extensions import (
    Extension,
    read_extensions,
    read_uint16_list,
    write_extensions,
    write_uint16_list,
)
from .group_context import MLS10


class ProtocolVersion(IntEnum):
    """``enum { reserved(0), mls10(1), (65535) } ProtocolVersion`` (§6)."""

    MLS10 = MLS10


class LeafNodeSource(IntEnum):
    """``enum { reserved(0), key_package(1), update(2), commit(3), (255) }``"""

    KEY_PACKAGE = 1
    UPDATE = 2
    COMMIT = 3


@dataclass(frozen=True, slots=True)
class Capabilities(Struct):
    """::

    struct {
        ProtocolVersion versions<V>;
        CipherSuite cipher_suites<V>;
        ExtensionType extensions<V>;
        ProposalType proposals<V>;
        CredentialType credentials<V>;
    } Capabilities;
    """

    versions: tuple[int, ...] = (MLS10,)
    cipher_suites: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()
    proposals: tuple[int, ...] = ()
    credentials: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        write_uint16_list(w, self.versions)
        write_uint16_list(w, self.cipher_suites)
        write_uint16_list(w, self.extensions)
        write_uint16_list(w, self.proposals)
        write_uint16_list(w, self.credentials)

    @classmethod
    def decode(cls, r: Reader) -> Capabilities:
        return cls(
            versions=read_uint16_list(r),
            cipher_suites=read_uint16_list(r),
            extensions=read_uint16_list(r),
            proposals=read_uint16_list(r),
            credentials=read_uint16_list(r),
        )


@dataclass(frozen=True, slots=True)
class Lifetime(Struct):
    """``struct { uint64 not_before; uint64 not_after; } Lifetime;`` (seconds since the epoch)"""

    not_before: int
    not_after: int

    def encode(self, w: Writer) -> None:
        w.uint64(self.not_before)
        w.uint64(self.not_after)

    @classmethod
    def decode(cls, r: Reader) -> Lifetime:
        return cls(r.uint64(), r.uint64())


@dataclass(frozen=True, slots=True)
class LeafNode(Struct):
    """::

        struct {
            HPKEPublicKey encryption_key;
            SignaturePublicKey signature_key;
            Credential credential;
            Capabilities capabilities;

            LeafNodeSource leaf_node_source;
            select (LeafNode.leaf_node_source) {
                case key_package: Lifetime lifetime;
                case update:      struct{};
                case commit:      opaque parent_hash<V>;
            };

            Extension extensions<V>;
            /* SignWithLabel(., "LeafNodeTBS", LeafNodeTBS) */
            opaque signature<V>;
        } LeafNode;

    ``lifetime`` is set exactly when the source is ``key_package`` and
    ``parent_hash`` exactly when it is ``commit``.
    """

    encryption_key: bytes
    signature_key: bytes
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: LeafNodeSource
    lifetime: Lifetime | None = None
    parent_hash: bytes | None = None
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    #: the encoded content (every field but the signature), kept once computed: a
    #: leaf is immutable and is encoded again for every GroupInfo, tree hash and Welcome
    _content: bytes | None = field(default=None, init=False, repr=False, compare=False)
    #: the whole encoding (content and signature), kept the same way
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        source = self.leaf_node_source
        if source not in (
            LeafNodeSource.KEY_PACKAGE,
            LeafNodeSource.UPDATE,
            LeafNodeSource.COMMIT,
        ):
            raise UsageError(f"unknown leaf node source {source}")
        if (self.lifetime is not None) != (source == LeafNodeSource.KEY_PACKAGE):
            raise UsageError("a lifetime is present exactly for key_package leaves")
        if (self.parent_hash is not None) != (source == LeafNodeSource.COMMIT):
            raise UsageError("a parent_hash is present exactly for commit leaves")

    def _encode_content(self, w: Writer) -> None:
        """Everything up to and including ``extensions`` (shared with LeafNodeTBS)."""
        content = self._content
        if content is None:
            inner = Writer()
            self._write_content(inner)
            content = inner.getvalue()
            object.__setattr__(self, "_content", content)
        w.fixed(content)

    def _write_content(self, w: Writer) -> None:
        w.opaque(self.encryption_key)
        w.opaque(self.signature_key)
        self.credential.encode(w)
        self.capabilities.encode(w)
        w.uint8(self.leaf_node_source)
        if self.lifetime is not None:
            self.lifetime.encode(w)
        elif self.parent_hash is not None:
            w.opaque(self.parent_hash)
        write_extensions(w, self.extensions)

    def encode(self, w: Writer) -> None:
        w.fixed(self.to_bytes())

    def to_bytes(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            w = Writer()
            self._encode_content(w)
            w.opaque(self.signature)
            encoded = w.getvalue()
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @classmethod
    def decode(cls, r: Reader) -> LeafNode:
        start = r.position
        encryption_key = r.opaque()
        signature_key = r.opaque()
        credential = Credential.decode(r)
        capabilities = Capabilities.decode(r)
        source = r.uint8()
        lifetime: Lifetime | None = None
        parent_hash: bytes | None = None
        if source == LeafNodeSource.KEY_PACKAGE:
            lifetime = Lifetime.decode(r)
        elif source == LeafNodeSource.COMMIT:
            parent_hash = r.opaque()
        elif source != LeafNodeSource.UPDATE:
            raise r.error(f"unknown leaf node source {source}")
        extensions = read_extensions(r)
        content = r.taken_since(start)
        leaf = cls(
            encryption_key=encryption_key,
            signature_key=signature_key,
            credential=credential,
            capabilities=capabilities,
            leaf_node_source=LeafNodeSource(source),
            lifetime=lifetime,
            parent_hash=parent_hash,
            extensions=extensions,
            signature=r.opaque(),
        )
        # The codec accepts only the one encoding of a value (minimal varints, 0/1
        # presence octets), so the bytes read are the leaf's encoding: kept, not redone.
        object.__setattr__(leaf, "_content", content)
        object.__setattr__(leaf, "_encoded", r.taken_since(start))
        return leaf

    def tbs(self, group_id: bytes | None = None, leaf_index: int | None = None) -> bytes:
        """The ``LeafNodeTBS`` bytes this leaf's signature covers (§7.2)::

            struct {
                ... every LeafNode field up to and including extensions ...
                select (LeafNodeTBS.leaf_node_source) {
                    case key_package: struct{};
                    case update:      opaque group_id<V>; uint32 leaf_index;
                    case commit:      opaque group_id<V>; uint32 leaf_index;
                };
            } LeafNodeTBS;

        ``group_id`` and ``leaf_index`` are required for ``update`` and
        ``commit`` leaves and must be omitted for ``key_package`` leaves.
        """
        w = Writer()
        self._encode_content(w)
        if self.leaf_node_source == LeafNodeSource.KEY_PACKAGE:
            if group_id is not None or leaf_index is not None:
                raise UsageError("a key_package leaf is signed without group_id/leaf_index")
            return w.getvalue()
        if group_id is None or leaf_index is None:
            raise UsageError("an update/commit leaf is signed with group_id and leaf_index")
        w.opaque(group_id)
        w.uint32(leaf_index)
        return w.getvalue()


__all__ = [
    "Capabilities",
    "LeafNode",
    "LeafNodeSource",
    "Lifetime",
    "ProtocolVersion",
]

"""KeyPackages (RFC 9420 §10).

A KeyPackage is signed by its leaf's signature key over the ``KeyPackageTBS``
bytes, which :meth:`KeyPackage.tbs` produces. Its reference (``KeyPackageRef``,
§5.2) is ``RefHash(KEY_PACKAGE_REF_LABEL, key_package.to_bytes())``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..codec import Reader, Struct, Writer
from .extensions import Extension, read_extensions, write_extensions
from .leaf_node import LeafNode

#: RefHash label of a KeyPackageRef (§5.2).
KEY_PACKAGE_REF_LABEL = b"MLS 1.0 KeyPackage Reference"


@dataclass(frozen=True, slots=True)
class KeyPackage(Struct):
    """::

        struct {
            ProtocolVersion version;
            CipherSuite cipher_suite;
            HPKEPublicKey init_key;
            LeafNode leaf_node;
            Extension extensions<V>;
            /* SignWithLabel(., "KeyPackageTBS", KeyPackageTBS) */
            opaque signature<V>;
        } KeyPackage;

    ``version`` and ``cipher_suite`` are kept as decoded; checking that they
    match the group is validation (§10.1), not decoding.
    """

    version: int
    cipher_suite: int
    init_key: bytes
    leaf_node: LeafNode
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""

    def _encode_content(self, w: Writer) -> None:
        w.uint16(self.version)
        w.uint16(self.cipher_suite)
        w.opaque(self.init_key)
        self.leaf_node.encode(w)
        write_extensions(w, self.extensions)

    def encode(self, w: Writer) -> None:
        self._encode_content(w)
        w.opaque(self.signature)

    @classmethod
    def decode(cls, r: Reader) -> KeyPackage:
        return cls(
            version=r.uint16(),
            cipher_suite=r.uint16(),
            init_key=r.opaque(),
            leaf_node=LeafNode.decode(r),
            extensions=read_extensions(r),
            signature=r.opaque(),
        )

    def tbs(self) -> bytes:
        """The ``KeyPackageTBS`` bytes: every field but ``signature``."""
        w = Writer()
        self._encode_content(w)
        return w.getvalue()


__all__ = ["KEY_PACKAGE_REF_LABEL", "KeyPackage"]

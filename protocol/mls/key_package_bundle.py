"""A KeyPackage with its private keys (RFC 9420 §10).

A member publishes KeyPackages so that others can add it while it is offline.
Each bundle holds three private keys: the HPKE ``init_key`` (opens the
Welcome), the leaf's HPKE ``encryption_key`` and the signature key. Bundles
are secret: their ``repr`` is redacted, and :meth:`KeyPackageBundle.to_bytes`
is for the caller's encrypted store only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..codec import Reader, Writer
from ..crypto import RandomProvider, Suite, suite_for
from ..crypto.labels import sign_with_label
from ..errors import ValidationError
from .credentials import Credential
from .extensions import Extension
from .framing import MLSMessage
from .group_context import MLS10
from .joining import key_package_ref
from .key_package import KeyPackage
from .leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from .ratchet_tree import LEAF_NODE_TBS_LABEL
from .validation import KEY_PACKAGE_LABEL

#: Default KeyPackage lifetime: 90 days, starting an hour early for clock skew.
DEFAULT_LIFETIME = 90 * 24 * 3600
CLOCK_SKEW = 3600

_BUNDLE_VERSION = 1


def default_capabilities(suite_id: int) -> Capabilities:
    return Capabilities(
        versions=(MLS10,),
        cipher_suites=(suite_id,),
        extensions=(),
        proposals=(),
        credentials=(1,),
    )


def sign_leaf_node(
    suite: Suite,
    leaf: LeafNode,
    signature_private: bytes,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
) -> LeafNode:
    """Return ``leaf`` with its signature over LeafNodeTBS (§7.2)."""
    sig = sign_with_label(
        suite, signature_private, LEAF_NODE_TBS_LABEL, leaf.tbs(group_id, leaf_index)
    )
    return replace(leaf, signature=sig)


@dataclass(frozen=True, slots=True, repr=False)
class KeyPackageBundle:
    key_package: KeyPackage
    init_private: bytes
    encryption_private: bytes
    signature_private: bytes

    def __repr__(self) -> str:
        return f"KeyPackageBundle(suite={self.key_package.cipher_suite}, <private keys redacted>)"

    @property
    def suite(self) -> Suite:
        return suite_for(self.key_package.cipher_suite)

    @classmethod
    def create(
        cls,
        suite_id: int,
        credential: Credential,
        rng: RandomProvider,
        *,
        now: int,
        signature_private: bytes | None = None,
        lifetime: int = DEFAULT_LIFETIME,
        capabilities: Capabilities | None = None,
        leaf_extensions: tuple[Extension, ...] = (),
        extensions: tuple[Extension, ...] = (),
    ) -> KeyPackageBundle:
        """A fresh KeyPackage valid from ``now - 1h`` for ``lifetime`` seconds.

        ``signature_private`` reuses a member's existing signature key (one per
        device); without it a new key pair is generated.
        """
        suite = suite_for(suite_id)
        if signature_private is None:
            signature_private, signature_public = suite.generate_signature_key_pair(rng)
        else:
            signature_public = suite.signature_public_key(signature_private)
        init_private, init_public = suite.generate_kem_key_pair(rng)
        enc_private, enc_public = suite.generate_kem_key_pair(rng)
        leaf = sign_leaf_node(
            suite,
            LeafNode(
                encryption_key=enc_public,
                signature_key=signature_public,
                credential=credential,
                capabilities=capabilities or default_capabilities(suite_id),
                leaf_node_source=LeafNodeSource.KEY_PACKAGE,
                lifetime=Lifetime(max(0, now - CLOCK_SKEW), now + lifetime),
                extensions=leaf_extensions,
            ),
            signature_private,
        )
        unsigned = KeyPackage(MLS10, suite_id, init_public, leaf, extensions)
        kp = KeyPackage(
            MLS10,
            suite_id,
            init_public,
            leaf,
            extensions,
            sign_with_label(suite, signature_private, KEY_PACKAGE_LABEL, unsigned.tbs()),
        )
        return cls(kp, init_private, enc_private, signature_private)

    @classmethod
    def from_private_keys(
        cls,
        key_package: KeyPackage,
        init_private: bytes,
        encryption_private: bytes,
        signature_private: bytes,
    ) -> KeyPackageBundle:
        """A bundle from given keys; refuses keys that do not match the KeyPackage."""
        suite = suite_for(key_package.cipher_suite)
        if suite.kem_public_key(init_private) != key_package.init_key:
            raise ValidationError("V-KP-010", "init private key does not match the KeyPackage")
        if suite.kem_public_key(encryption_private) != key_package.leaf_node.encryption_key:
            raise ValidationError("V-KP-010", "encryption private key does not match the leaf")
        if suite.signature_public_key(signature_private) != key_package.leaf_node.signature_key:
            raise ValidationError("V-KP-010", "signature private key does not match the leaf")
        return cls(key_package, init_private, encryption_private, signature_private)

    def ref(self) -> bytes:
        """The KeyPackageRef (§5.2) that Welcomes use to address this package."""
        return key_package_ref(self.suite, self.key_package)

    def key_package_bytes(self) -> bytes:
        """The KeyPackage as an MLSMessage, as it is published."""
        return MLSMessage(self.key_package).to_bytes()

    # -- storage (secret: the caller encrypts it) ---------------------------------

    def to_bytes(self) -> bytes:
        w = Writer()
        w.uint8(_BUNDLE_VERSION)
        self.key_package.encode(w)
        w.opaque(self.init_private)
        w.opaque(self.encryption_private)
        w.opaque(self.signature_private)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyPackageBundle:
        r = Reader(data, type_name="KeyPackageBundle")
        if r.uint8() != _BUNDLE_VERSION:
            raise r.error("unknown KeyPackageBundle version")
        kp = KeyPackage.decode(r)
        keys = (r.opaque(), r.opaque(), r.opaque())
        r.expect_end()
        suite_for(kp.cipher_suite)  # refuses unsupported suites
        return cls(kp, *keys)

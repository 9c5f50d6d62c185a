"""Validation of leaf nodes and KeyPackages (RFC 9420 §7.3, §10.1) and the
credential-validator hook (§5.3.1).

Every check raises :class:`~cove.protocol.errors.ValidationError` with a rule
id (listed in ``docs/protocol/validation.md``) or, for a bad signature,
:class:`~cove.protocol.errors.CryptoError`. Which credentials are trusted is
the application's decision: it passes a :class:`CredentialValidator`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..crypto import Suite
from ..crypto.labels import verify_with_label
from ..errors import ValidationError
from .credentials import Credential, CredentialType
from .extensions import (
    Extension,
    ExtensionType,
    RequiredCapabilities,
    find_extension,
)
from .group_context import MLS10
from .key_package import KeyPackage
from .leaf_node import LeafNode, LeafNodeSource
from .ratchet_tree import LEAF_NODE_TBS_LABEL

KEY_PACKAGE_LABEL = b"KeyPackageTBS"

#: Clock skew allowed at both ends of a KeyPackage lifetime (seconds): a KeyPackage
#: whose lifetime starts at its creation second is accepted by a clock a little behind.
LIFETIME_SKEW = 300
#: The longest lifetime a KeyPackage may claim (§7.2): 366 days. Cove's own are 90 days.
MAX_LIFETIME = 366 * 24 * 3600

#: Extension types that need not appear in a leaf's capabilities (§7.2: the
#: types of the initial registry).
DEFAULT_EXTENSION_TYPES = frozenset(int(t) for t in ExtensionType)
#: Proposal types every implementation supports (§7.2, the initial registry).
DEFAULT_PROPOSAL_TYPES = frozenset(range(1, 8))


class CredentialValidator(Protocol):
    """The application's authentication service (§5.3.1).

    ``validate`` raises :class:`ValidationError` when ``credential`` must not
    be accepted with ``signature_key``.
    """

    def validate(self, credential: Credential, signature_key: bytes) -> None: ...


def check_same_participant(
    validator: CredentialValidator, old: Credential, new: Credential, rule: str
) -> None:
    """A leaf that replaces another (an Update, a committer's new leaf, a joiner
    removing its earlier leaf) presents the same participant (§5.3.1, §12.1.2,
    §12.4.3.2). The validator decides if it has ``same_participant(old, new)``;
    otherwise the credentials must be equal."""
    match = getattr(validator, "same_participant", None)
    same = bool(match(old, new)) if callable(match) else old == new
    if not same:
        raise ValidationError(rule, "the new leaf presents another participant than the old")


class BasicCredentialValidator:
    """Accepts any basic credential with a non-empty identity of at most 255 bytes.

    Cove's client binds the identity to a pinned identity key on top of this.
    """

    def validate(self, credential: Credential, signature_key: bytes) -> None:
        if credential.credential_type != CredentialType.BASIC:
            raise ValidationError("V-CRED-001", "only basic credentials are accepted")
        if not 0 < len(credential.identity) <= 255:
            raise ValidationError("V-CRED-002", "a basic identity is 1 to 255 bytes")


class MemberIndex:
    """What leaf validation needs to know about the current members.

    Built once per epoch (O(n)) and then updated with each commit's changes
    (O(changes) plus a dictionary copy), so validating a leaf is O(1) and a
    batched Add stays linear.
    """

    __slots__ = ("_capabilities", "_credential_types", "encryption_keys", "signature_keys")

    def __init__(self, members: Iterable[tuple[int, LeafNode]] = ()) -> None:
        leaves = list(members)
        self.encryption_keys: dict[bytes, int] = {leaf.encryption_key: i for i, leaf in leaves}
        self.signature_keys: dict[bytes, int] = {leaf.signature_key: i for i, leaf in leaves}
        self._credential_types = Counter(leaf.credential.credential_type for _, leaf in leaves)
        self._capabilities = Counter(leaf.capabilities.credentials for _, leaf in leaves)

    def copy(self) -> MemberIndex:
        other = MemberIndex()
        other.encryption_keys = dict(self.encryption_keys)
        other.signature_keys = dict(self.signature_keys)
        other._credential_types = Counter(self._credential_types)
        other._capabilities = Counter(self._capabilities)
        return other

    def add(self, index: int, leaf: LeafNode) -> None:
        self.encryption_keys[leaf.encryption_key] = index
        self.signature_keys[leaf.signature_key] = index
        self._credential_types[leaf.credential.credential_type] += 1
        self._capabilities[leaf.capabilities.credentials] += 1

    def remove(self, index: int, leaf: LeafNode) -> None:
        if self.encryption_keys.get(leaf.encryption_key) == index:
            del self.encryption_keys[leaf.encryption_key]
        if self.signature_keys.get(leaf.signature_key) == index:
            del self.signature_keys[leaf.signature_key]
        self._credential_types -= Counter({leaf.credential.credential_type: 1})
        self._capabilities -= Counter({leaf.capabilities.credentials: 1})

    @property
    def credential_types(self) -> set[int]:
        return set(self._credential_types)

    @property
    def supported_by_all(self) -> set[int] | None:
        # Members usually share one capabilities list: intersect the distinct ones.
        if not self._capabilities:
            return None
        return set.intersection(*(set(c) for c in self._capabilities))


def required_capabilities(extensions: Sequence[Extension]) -> RequiredCapabilities | None:
    ext = find_extension(extensions, ExtensionType.REQUIRED_CAPABILITIES)
    return RequiredCapabilities.from_bytes(ext.extension_data) if ext else None


def check_supports_required(leaf: LeafNode, required: RequiredCapabilities | None) -> None:
    """Rule V-LEAF-006: the leaf supports the group's required capabilities (§11.1)."""
    if required is None:
        return
    caps = leaf.capabilities
    missing = (
        [
            t
            for t in required.extension_types
            if t not in caps.extensions and t not in DEFAULT_EXTENSION_TYPES
        ]
        + [
            t
            for t in required.proposal_types
            if t not in caps.proposals and t not in DEFAULT_PROPOSAL_TYPES
        ]
        + [t for t in required.credential_types if t not in caps.credentials]
    )
    if missing:
        raise ValidationError("V-LEAF-006", f"leaf lacks required capabilities {missing}")


def validate_leaf_node(
    suite: Suite,
    leaf: LeafNode,
    *,
    expected_source: LeafNodeSource,
    credential_validator: CredentialValidator,
    group_id: bytes | None = None,
    leaf_index: int | None = None,
    group_extensions: Sequence[Extension] = (),
    members: MemberIndex | None = None,
    now: int | None = None,
) -> None:
    """Validate a leaf node about to enter a group's tree (§7.3).

    ``members`` indexes the leaves of the tree; the leaf at ``leaf_index`` (the
    one being replaced, for an update or commit) may keep its own keys.
    ``now`` (seconds since the epoch) enables the lifetime checks of a
    KeyPackage leaf (V-LEAF-005 with ``LIFETIME_SKEW`` either side, V-LEAF-011
    at most ``MAX_LIFETIME``); ``None`` skips them.
    """
    if leaf.leaf_node_source != expected_source:
        raise ValidationError(
            "V-LEAF-001", f"leaf_node_source is {leaf.leaf_node_source}, not {expected_source}"
        )
    credential_validator.validate(leaf.credential, leaf.signature_key)
    caps = leaf.capabilities
    if MLS10 not in caps.versions:
        raise ValidationError("V-LEAF-002", "leaf does not support mls10")
    if suite.suite_id not in caps.cipher_suites:
        raise ValidationError("V-LEAF-002", "leaf does not support the group's cipher suite")
    if leaf.credential.credential_type not in caps.credentials:
        raise ValidationError("V-LEAF-003", "leaf's credential type is not in its capabilities")
    for ext in leaf.extensions:
        if ext.extension_type not in caps.extensions and (
            ext.extension_type not in DEFAULT_EXTENSION_TYPES
        ):
            raise ValidationError(
                "V-LEAF-004", f"extension {ext.extension_type} not in the leaf's capabilities"
            )
    if expected_source == LeafNodeSource.KEY_PACKAGE:
        tbs = leaf.tbs()
        lifetime = leaf.lifetime
        if now is not None and lifetime is not None:
            # Both need a clock: a member that checks lifetimes at all checks both.
            # (Other implementations' KeyPackages in the IETF vectors claim far
            # longer lifetimes: without ``now`` neither check runs.)
            if lifetime.not_after - lifetime.not_before > MAX_LIFETIME:
                raise ValidationError(
                    "V-LEAF-011", f"KeyPackage lifetime longer than {MAX_LIFETIME // 86400} days"
                )
            if not lifetime.not_before - LIFETIME_SKEW <= now <= lifetime.not_after + LIFETIME_SKEW:
                raise ValidationError("V-LEAF-005", "leaf lifetime does not cover now")
    else:
        tbs = leaf.tbs(group_id, leaf_index)
    check_supports_required(leaf, required_capabilities(group_extensions))
    if members is not None:
        if members.encryption_keys.get(leaf.encryption_key, leaf_index) != leaf_index:
            raise ValidationError("V-LEAF-007", "encryption key already used in the group")
        if members.signature_keys.get(leaf.signature_key, leaf_index) != leaf_index:
            raise ValidationError("V-LEAF-008", "signature key already used in the group")
        supported = members.supported_by_all
        if supported is not None and leaf.credential.credential_type not in supported:
            raise ValidationError("V-LEAF-009", "a member does not support this credential type")
        if not members.credential_types <= set(caps.credentials):
            raise ValidationError("V-LEAF-009", "leaf does not support a member's credential type")
    verify_with_label(suite, leaf.signature_key, LEAF_NODE_TBS_LABEL, tbs, leaf.signature)


def verify_key_package_signature(suite: Suite, kp: KeyPackage) -> None:
    verify_with_label(suite, kp.leaf_node.signature_key, KEY_PACKAGE_LABEL, kp.tbs(), kp.signature)


def validate_key_package(
    suite: Suite,
    kp: KeyPackage,
    *,
    credential_validator: CredentialValidator,
    group_extensions: Sequence[Extension] = (),
    members: MemberIndex | None = None,
    now: int | None = None,
) -> None:
    """Validate a KeyPackage for an Add (§10.1, §12.1.1)."""
    if kp.version != MLS10:
        raise ValidationError("V-KP-001", "KeyPackage protocol version is not mls10")
    if kp.cipher_suite != suite.suite_id:
        raise ValidationError("V-KP-002", "KeyPackage cipher suite differs from the group's")
    if kp.init_key == kp.leaf_node.encryption_key:
        raise ValidationError("V-KP-003", "init_key equals the leaf's encryption key")
    verify_key_package_signature(suite, kp)
    validate_leaf_node(
        suite,
        kp.leaf_node,
        expected_source=LeafNodeSource.KEY_PACKAGE,
        credential_validator=credential_validator,
        group_extensions=group_extensions,
        members=members,
        now=now,
    )

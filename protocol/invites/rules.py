"""Group rules: the salted hash members agree on, signed acceptances, the post rule.

The rules text travels encrypted (the ``Rules`` app record, the link preview, a
newcomer's history bundle); the join settings extension holds only its version
and a salted hash, so every member (and every newcomer) can check the text they
are shown::

    rules_hash = SHA-256( V("cove rules v1") || V(group_id) || uint32(version)
                          || V(salt) || V(UTF-8 text) )

The 16-byte random salt keeps a guessable text from being confirmed by anyone
who sees the GroupContext. A member accepts a version by signing, with her
**identity key** (Ed25519; the same key in every device's credential)::

    RulesAcceptanceTBS = V("cove rules acceptance v1") || V(group_id) || V(identity_key)
                         || uint32(version) || V(rules_hash)

``V(x)`` is the MLS ``opaque<V>`` encoding (varint length, then the bytes).
The identity key, not a device key, signs, because an acceptance also travels in
a join request before the requester has any leaf, and moderators list who
accepted which version by person.

Post rule (receivers apply it to every post; senders before sending): when the
group has rules, a member's post counts only if her latest valid acceptance
(earlier in log order) is of the current version and hash; after a change she
re-accepts before her next post. :func:`check_may_post` is that pure function.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from ..codec import Writer
from ..errors import CryptoError
from .errors import InviteRefused
from .fields import U32_MAX, check_bytes, check_text, check_uint
from .link import INVITE_SUITE

RULES_HASH_LABEL: Final = b"cove rules v1"
ACCEPTANCE_LABEL: Final = b"cove rules acceptance v1"
RULES_SALT_LEN: Final = 16
MAX_RULES_BYTES: Final = 16384


def rules_hash(group_id: bytes, version: int, salt: bytes, text: str) -> bytes:
    check_uint("rules version", version, U32_MAX, 1)
    check_bytes("rules salt", salt, RULES_SALT_LEN)
    check_text("rules text", text, MAX_RULES_BYTES, "text")
    w = Writer()
    w.opaque(RULES_HASH_LABEL)
    w.opaque(group_id)
    w.uint32(version)
    w.opaque(salt)
    w.opaque(text.encode("utf-8"))
    return hashlib.sha256(w.getvalue()).digest()


def check_rules_text(
    current: tuple[int, bytes] | None, group_id: bytes, version: int, salt: bytes, text: str
) -> None:
    """The text shown is the group's current rules (``invite.rules.text_mismatch``)."""
    if current is None or current != (version, rules_hash(group_id, version, salt, text)):
        raise InviteRefused("invite.rules.text_mismatch")


def acceptance_tbs(group_id: bytes, identity_key: bytes, version: int, hash_: bytes) -> bytes:
    w = Writer()
    w.opaque(ACCEPTANCE_LABEL)
    w.opaque(group_id)
    w.opaque(identity_key)
    w.uint32(version)
    w.opaque(hash_)
    return w.getvalue()


def sign_acceptance(identity_private: bytes, group_id: bytes, version: int, hash_: bytes) -> bytes:
    identity_key = INVITE_SUITE.signature_public_key(identity_private)
    return INVITE_SUITE.sign(
        identity_private, acceptance_tbs(group_id, identity_key, version, hash_)
    )


def verify_acceptance(
    identity_key: bytes, group_id: bytes, version: int, hash_: bytes, signature: bytes
) -> None:
    """``invite.rules.bad_acceptance`` unless the identity key signed this acceptance."""
    try:
        INVITE_SUITE.verify(
            identity_key, acceptance_tbs(group_id, identity_key, version, hash_), signature
        )
    except CryptoError:
        raise InviteRefused("invite.rules.bad_acceptance") from None


def check_may_post(current: tuple[int, bytes] | None, accepted: tuple[int, bytes] | None) -> None:
    """A member may post when the group has no rules, or her accepted
    ``(version, hash)`` is the current one (``invite.rules.not_accepted``)."""
    if current is not None and accepted != current:
        raise InviteRefused("invite.rules.not_accepted")


@dataclass(slots=True)
class RulesLedger:
    """Who accepted which rules version, in log order (what moderators see).

    Feed it every acceptance in log order with :meth:`record` (it verifies the
    signature against the sender's identity key); ask :meth:`may_post`.
    """

    group_id: bytes
    accepted: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)

    def record(self, identity_key: bytes, version: int, hash_: bytes, signature: bytes) -> None:
        verify_acceptance(identity_key, self.group_id, version, hash_, signature)
        prior = self.accepted.get(identity_key)
        if prior is None or version >= prior[0]:
            self.accepted[identity_key] = (version, hash_)

    def may_post(self, current: tuple[int, bytes] | None, identity_key: bytes) -> None:
        check_may_post(current, self.accepted.get(identity_key))

    def version_of(self, identity_key: bytes) -> int | None:
        entry = self.accepted.get(identity_key)
        return None if entry is None else entry[0]

    def by_version(self) -> Mapping[int, frozenset[bytes]]:
        out: dict[int, set[bytes]] = {}
        for key, (version, _) in self.accepted.items():
            out.setdefault(version, set()).add(key)
        return {v: frozenset(keys) for v, keys in sorted(out.items())}


__all__ = [
    "ACCEPTANCE_LABEL",
    "MAX_RULES_BYTES",
    "RULES_HASH_LABEL",
    "RULES_SALT_LEN",
    "RulesLedger",
    "acceptance_tbs",
    "check_may_post",
    "check_rules_text",
    "rules_hash",
    "sign_acceptance",
    "verify_acceptance",
]

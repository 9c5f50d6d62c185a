"""Open links: the external commit's link proof, the rule every member checks,
and the GroupInfo sealed to the link.

A person with an open link fetches the sealed GroupInfo, opens it with the key
pair derived from the link (:mod:`.link`), and joins with an external commit
(RFC 9420 §12.4.3.2) whose ``authenticated_data`` is a :class:`LinkJoinProof`::

    struct {
        opaque label<V> = "cove link join v1";
        opaque link_id<V>;             /* 10 */
        uint32 rules_version;          /* 0 if the group has no rules */
        opaque rules_hash<V>;          /* 0 or 32 */
        opaque acceptance<V>;          /* 0 or 64: rules acceptance by the identity key */
        opaque link_signature<V>;      /* 64 */
    } LinkJoinProof;

    LinkJoinTBS = V("cove link join v1") || V(group_id) || uint64(epoch) || V(link_id)
                  || V(joiner_signature_key) || V(joiner_identity_key)
                  || uint32(rules_version) || V(rules_hash)
    link_signature = Ed25519(link signing key, LinkJoinTBS)

``epoch`` is the epoch the commit is built on (its FramedContent's epoch);
``joiner_signature_key`` is the new leaf's signature key and
``joiner_identity_key`` the identity key of its Cove credential. The
authenticated data is signed by the joiner's leaf and enters the confirmed
transcript, so all members judge the same bytes; the link's verify key sits in
the join settings, so every member can check the signature and no member needs
the link itself. Because the proof names the epoch and the joiner's keys, it
cannot be lifted into another commit.

:func:`check_external_join` is the pure rule (inputs every member holds) the
policy engine calls for every external commit; the commit right after an
accepted link join must count it (:func:`.join_settings.check_join_settings_change`),
which is what keeps a link to exactly its ``max_uses`` joiners.

The sealed GroupInfo (the relay keeps the latest per open link; every member
who commits re-seals it for each open link of the settings)::

    header = 0x01 || link_id[10] || uint64(epoch)
    sealed = header || enc[32] || HPKE.Seal(groupinfo_key, info = "cove link groupinfo v1",
                                            aad = header, V(group_info) || V(ratchet_tree))
"""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Final

from ..codec import Reader, Writer
from ..crypto import RandomProvider
from ..errors import CryptoError, DecodeError, UsageError, ValidationError
from ..identity import CoveIdentity
from ..mls.commit import Commit
from ..mls.framing import FramedContent, SenderType
from ..mls.proposals import ExternalInit, Remove
from .errors import InviteRefused
from .fields import U32_MAX, U64_MAX, check_bytes, check_uint, read_key
from .join_settings import JoinSettings, LinkMode
from .link import INVITE_SUITE, LinkKeys
from .rules import sign_acceptance, verify_acceptance

LINK_JOIN_LABEL: Final = b"cove link join v1"
GROUPINFO_LABEL: Final = b"cove link groupinfo v1"
MAX_SEALED_GROUPINFO: Final = 1 << 22  # 4 MiB: a GroupInfo with a large ratchet tree
_TYPE: Final = "LinkJoinProof"


@dataclass(frozen=True, slots=True)
class LinkJoinProof:
    link_id: bytes
    rules_version: int
    rules_hash: bytes
    acceptance: bytes
    link_signature: bytes

    def __post_init__(self) -> None:
        check_bytes("LinkJoinProof.link_id", self.link_id, 10)
        check_uint("LinkJoinProof.rules_version", self.rules_version, U32_MAX)
        if self.rules_version:
            check_bytes("LinkJoinProof.rules_hash", self.rules_hash, 32)
            check_bytes("LinkJoinProof.acceptance", self.acceptance, 64)
        elif self.rules_hash or self.acceptance:
            raise UsageError("LinkJoinProof: an acceptance without rules")
        check_bytes("LinkJoinProof.link_signature", self.link_signature, 64)

    def to_bytes(self) -> bytes:
        w = Writer()
        w.opaque(LINK_JOIN_LABEL)
        w.opaque(self.link_id)
        w.uint32(self.rules_version)
        w.opaque(self.rules_hash)
        w.opaque(self.acceptance)
        w.opaque(self.link_signature)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> LinkJoinProof:
        r = Reader(data, type_name=_TYPE)
        if r.opaque(len(LINK_JOIN_LABEL)) != LINK_JOIN_LABEL:
            raise r.error("not a Cove link proof")
        link_id = read_key(r, "link id", 10)
        version = r.uint32()
        hash_ = r.opaque(32)
        acceptance = r.opaque(64)
        signature = read_key(r, "link signature", 64)
        r.expect_end()
        try:
            return cls(link_id, version, hash_, acceptance, signature)
        except UsageError as exc:
            raise DecodeError(str(exc), type_name=_TYPE) from None


def link_join_tbs(
    group_id: bytes,
    epoch: int,
    link_id: bytes,
    joiner_signature_key: bytes,
    joiner_identity_key: bytes,
    rules_version: int,
    rules_hash: bytes,
) -> bytes:
    check_uint("epoch", epoch, U64_MAX)
    w = Writer()
    w.opaque(LINK_JOIN_LABEL)
    w.opaque(group_id)
    w.uint64(epoch)
    w.opaque(link_id)
    w.opaque(joiner_signature_key)
    w.opaque(joiner_identity_key)
    w.uint32(rules_version)
    w.opaque(rules_hash)
    return w.getvalue()


def make_link_join_proof(
    keys: LinkKeys,
    *,
    group_id: bytes,
    epoch: int,
    joiner_signature_key: bytes,
    identity_private: bytes,
    rules: tuple[int, bytes] | None,
) -> bytes:
    """The ``authenticated_data`` of the joiner's external commit.

    ``rules`` is the ``(version, hash)`` of the group's rules in the GroupInfo's
    join settings (the joiner read the text in the preview and checked the hash)."""
    identity_key = INVITE_SUITE.signature_public_key(identity_private)
    version, hash_ = rules if rules is not None else (0, b"")
    acceptance = sign_acceptance(identity_private, group_id, version, hash_) if rules else b""
    signature = INVITE_SUITE.sign(
        keys.signing_private,
        link_join_tbs(
            group_id, epoch, keys.link_id, joiner_signature_key, identity_key, version, hash_
        ),
    )
    return LinkJoinProof(keys.link_id, version, hash_, acceptance, signature).to_bytes()


@dataclass(frozen=True, slots=True)
class ExternalJoin:
    """An external commit as the rule sees it (the policy engine fills it in).

    ``removed_identity_keys``: the identity keys of the leaves its Remove
    proposals remove; ``other_proposals``: how many proposals it carries besides
    its one ExternalInit and those Removes (PreSharedKey, anything else)."""

    group_id: bytes
    epoch: int
    joiner_signature_key: bytes
    joiner_identity_key: bytes
    authenticated_data: bytes
    removed_identity_keys: tuple[bytes, ...] = ()
    other_proposals: int = 0


def external_join_of(
    content: FramedContent, identity_at: Callable[[int], bytes | None]
) -> ExternalJoin:
    """The :class:`ExternalJoin` of an external commit's framed content.

    ``identity_at(leaf)`` gives the identity key of a current member's leaf (the
    policy's roster), ``None`` for a blank leaf. Raises :class:`InviteRefused`
    (``invite.open.extra_proposals``) for a commit that is not an external commit
    with an UpdatePath and a Cove credential."""
    commit = content.content
    if content.sender.sender_type != SenderType.NEW_MEMBER_COMMIT or not isinstance(commit, Commit):
        raise InviteRefused("invite.open.extra_proposals", "not an external commit")
    if commit.path is None:
        raise InviteRefused("invite.open.extra_proposals", "an external commit needs a path")
    leaf = commit.path.leaf_node
    try:
        identity_key = CoveIdentity.from_credential(leaf.credential).identity_key
    except ValidationError:
        raise InviteRefused("invite.open.extra_proposals", "not a Cove credential") from None
    removed: list[bytes] = []
    others = 0
    inits = 0
    for item in commit.proposals:
        body = item.proposal.body if item.proposal is not None else None
        if isinstance(body, ExternalInit):
            inits += 1
        elif isinstance(body, Remove):
            key = identity_at(body.removed)
            if key is None:
                raise InviteRefused("invite.open.removes_other", "a Remove of a blank leaf")
            removed.append(key)
        else:  # by reference, or any other proposal type
            others += 1
    return ExternalJoin(
        group_id=content.group_id,
        epoch=content.epoch,
        joiner_signature_key=leaf.signature_key,
        joiner_identity_key=identity_key,
        authenticated_data=content.authenticated_data,
        removed_identity_keys=tuple(removed),
        other_proposals=others + abs(inits - 1),
    )


def check_external_join(
    settings: JoinSettings | None,
    join: ExternalJoin,
    *,
    members: Container[bytes],
    banned: Container[bytes],
    pending_link_join: bytes | None,
) -> bytes:
    """The link id the external commit used, or :class:`InviteRefused`.

    ``settings``: the join settings before the commit; ``members``: identity
    keys in the group before it; ``banned``: banned identity keys (the policy);
    ``pending_link_join``: as in :func:`.join_settings.check_join_settings_change`.
    Checks, in order: open links on (``invite.open.disabled``); only ExternalInit
    plus at most one Remove (``invite.open.extra_proposals``) of the joiner's own
    old leaf (``invite.open.removes_other``); not banned (``invite.open.banned``);
    not already in the group unless replacing her own leaf
    (``invite.open.already_member``); a link proof that decodes
    (``invite.open.no_proof``, ``invite.open.malformed_proof``) and names an open
    link of the settings (``invite.open.unknown_link``,
    ``invite.open.approval_link``); the previous link join counted
    (``invite.open.not_counted``); uses left (``invite.open.used_up``); the
    current rules accepted (``invite.open.rules_not_accepted``); the link
    signature (``invite.open.bad_proof``).
    """
    if settings is None or not settings.open_links:
        raise InviteRefused("invite.open.disabled")
    if join.other_proposals or len(join.removed_identity_keys) > 1:
        raise InviteRefused("invite.open.extra_proposals")
    if any(k != join.joiner_identity_key for k in join.removed_identity_keys):
        raise InviteRefused("invite.open.removes_other")
    if join.joiner_identity_key in banned:
        raise InviteRefused("invite.open.banned")
    if join.joiner_identity_key in members and not join.removed_identity_keys:
        raise InviteRefused("invite.open.already_member")
    if not join.authenticated_data:
        raise InviteRefused("invite.open.no_proof")
    try:
        proof = LinkJoinProof.from_bytes(join.authenticated_data)
    except DecodeError as exc:
        raise InviteRefused("invite.open.malformed_proof", str(exc)) from None
    entry = settings.link(proof.link_id)
    if entry is None:
        raise InviteRefused("invite.open.unknown_link")
    if entry.mode != LinkMode.OPEN:
        raise InviteRefused("invite.open.approval_link")
    if pending_link_join is not None:
        raise InviteRefused("invite.open.not_counted")
    if entry.used >= entry.max_uses:
        raise InviteRefused("invite.open.used_up")
    current = settings.rules
    if current is not None:
        if (proof.rules_version, proof.rules_hash) != current:
            raise InviteRefused("invite.open.rules_not_accepted", "not the current version")
        try:
            verify_acceptance(
                join.joiner_identity_key,
                join.group_id,
                proof.rules_version,
                proof.rules_hash,
                proof.acceptance,
            )
        except InviteRefused:
            raise InviteRefused("invite.open.rules_not_accepted", "bad signature") from None
    tbs = link_join_tbs(
        join.group_id,
        join.epoch,
        proof.link_id,
        join.joiner_signature_key,
        join.joiner_identity_key,
        proof.rules_version,
        proof.rules_hash,
    )
    try:
        INVITE_SUITE.verify(entry.verify_key, tbs, proof.link_signature)
    except CryptoError:
        raise InviteRefused("invite.open.bad_proof") from None
    return proof.link_id


# -- the sealed GroupInfo ---------------------------------------------------------------


def seal_group_info(
    link_id: bytes,
    groupinfo_key: bytes,
    epoch: int,
    group_info: bytes,
    ratchet_tree: bytes,
    rng: RandomProvider,
) -> bytes:
    """Seal the GroupInfo (MLSMessage bytes, with ``external_pub``) and the ratchet
    tree of ``epoch`` to an open link's ``groupinfo_key`` (from the settings)."""
    check_bytes("link id", link_id, 10)
    check_uint("epoch", epoch, U64_MAX)
    w = Writer()
    w.opaque(group_info)
    w.opaque(ratchet_tree)
    header = b"\x01" + link_id + epoch.to_bytes(8, "big")
    enc, ct = INVITE_SUITE.hpke_seal(groupinfo_key, GROUPINFO_LABEL, header, w.getvalue(), rng)
    sealed = header + enc + ct
    if len(sealed) > MAX_SEALED_GROUPINFO:
        raise UsageError("GroupInfo too large to seal")
    return sealed


def sealed_group_info_epoch(sealed: bytes) -> tuple[bytes, int]:
    """``(link_id, epoch)`` of a sealed GroupInfo's clear header (the relay keeps
    the newest epoch per link and refuses an older one)."""
    if (
        type(sealed) is not bytes
        or not 19 + 32 + 16 <= len(sealed) <= MAX_SEALED_GROUPINFO
        or sealed[0] != 1
    ):
        raise InviteRefused("invite.open.malformed_proof", "not a sealed GroupInfo")
    return sealed[1:11], int.from_bytes(sealed[11:19], "big")


def open_group_info(sealed: bytes, keys: LinkKeys) -> tuple[int, bytes, bytes]:
    """``(epoch, group_info, ratchet_tree)`` for the joiner. The joiner then checks,
    as for any GroupInfo, its signature and tree (``Group.join_external``), and
    that its group id is the preview's."""
    link_id, epoch = sealed_group_info_epoch(sealed)
    if link_id != keys.link_id:
        raise InviteRefused("invite.preview.wrong_link", "a GroupInfo sealed for another link")
    header, enc, ct = sealed[:19], sealed[19:51], sealed[51:]
    try:
        inner = INVITE_SUITE.hpke_open(keys.groupinfo_private, enc, GROUPINFO_LABEL, header, ct)
    except CryptoError:
        raise InviteRefused("invite.preview.undecryptable", "the GroupInfo does not open") from None
    try:
        r = Reader(inner, type_name="SealedGroupInfo")
        group_info = r.opaque(MAX_SEALED_GROUPINFO)
        tree = r.opaque(MAX_SEALED_GROUPINFO)
        r.expect_end()
    except DecodeError as exc:
        raise InviteRefused("invite.preview.malformed", str(exc)) from None
    return epoch, group_info, tree


__all__ = [
    "LINK_JOIN_LABEL",
    "ExternalJoin",
    "LinkJoinProof",
    "check_external_join",
    "external_join_of",
    "link_join_tbs",
    "make_link_join_proof",
    "open_group_info",
    "seal_group_info",
    "sealed_group_info_epoch",
]

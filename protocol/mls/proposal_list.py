"""Validating and applying the proposal list of a Commit (RFC 9420 §12.2, §12.3).

::

    [(Proposal, Sender, ref?)]  --validate_proposal_list-->  rules V-PROP-*
              |
              +--apply_proposals--> tree copy: GroupContextExtensions, Updates,
                                    Removes, then Adds (leftmost blank leaves)

The same code runs for the committer (on what it is about to send) and for
every receiver (on what it got), so both sides agree on the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..crypto import Suite
from ..errors import ValidationError
from .extensions import Extension
from .framing import Sender, SenderType
from .key_package import KeyPackage
from .leaf_node import LeafNode, LeafNodeSource
from .proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    Proposal,
    ProposalType,
    ReInit,
    Remove,
    Update,
)
from .psk import PreSharedKeyID, ResumptionPSK, ResumptionPSKUsage
from .ratchet_tree import RatchetTree
from .tree_math import LeafIndex
from .validation import (
    CredentialValidator,
    MemberIndex,
    check_supports_required,
    required_capabilities,
    validate_key_package,
    validate_leaf_node,
)

#: Proposal types that force the Commit to carry an UpdatePath (§12.4).
PATH_REQUIRED_TYPES = frozenset(
    {
        ProposalType.UPDATE,
        ProposalType.REMOVE,
        ProposalType.EXTERNAL_INIT,
        ProposalType.GROUP_CONTEXT_EXTENSIONS,
    }
)


@dataclass(frozen=True, slots=True)
class ProposalInfo:
    """A proposal in a Commit, with who proposed it and its ProposalRef (None if inline)."""

    proposal: Proposal
    sender: Sender
    ref: bytes | None = None


@dataclass(slots=True)
class AppliedProposals:
    tree: RatchetTree
    extensions: tuple[Extension, ...]
    added: list[tuple[LeafIndex, KeyPackage]] = field(default_factory=list)
    removed: list[tuple[LeafIndex, LeafNode]] = field(default_factory=list)
    updated: list[tuple[LeafIndex, LeafNode]] = field(default_factory=list)
    psks: list[PreSharedKeyID] = field(default_factory=list)
    external_init: ExternalInit | None = None
    reinit: ReInit | None = None


def path_required(proposals: Sequence[ProposalInfo]) -> bool:
    return not proposals or any(p.proposal.proposal_type in PATH_REQUIRED_TYPES for p in proposals)


def _fail(rule: str, message: str) -> ValidationError:
    return ValidationError(rule, message)


def validate_proposal_list(
    suite: Suite,
    proposals: Sequence[ProposalInfo],
    *,
    committer: Sender,
    tree: RatchetTree,
    group_id: bytes,
    extensions: Sequence[Extension],
    credential_validator: CredentialValidator,
    now: int | None,
    members: MemberIndex | None = None,
) -> None:
    """The checks of §12.2 on the whole list, against the tree before the Commit.

    ``members`` indexes ``tree``'s leaves (built here if not given)."""
    external = committer.sender_type == SenderType.NEW_MEMBER_COMMIT
    committer_leaf = committer.index if committer.sender_type == SenderType.MEMBER else None
    touched: set[int] = set()
    signature_keys: set[bytes] = set()
    psk_ids: set[bytes] = set()
    counts: dict[int, int] = {}
    if members is None:
        members = MemberIndex(tree.leaves())
    for info in proposals:
        p, body = info.proposal, info.proposal.body
        counts[p.proposal_type] = counts.get(p.proposal_type, 0) + 1
        if info.sender.sender_type not in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT):
            raise _fail("V-PROP-001", "proposals from external senders are not accepted")
        if external and info.ref is not None:
            raise _fail("V-PROP-002", "an external commit cannot refer to proposals")
        if isinstance(body, Add):
            kp = body.key_package
            validate_key_package(
                suite,
                kp,
                credential_validator=credential_validator,
                group_extensions=extensions,
                members=members,
                now=now,
            )
            key = kp.leaf_node.signature_key
            if key in signature_keys or key in members.signature_keys:
                raise _fail("V-PROP-003", "an Add for a client already in the group")
            signature_keys.add(key)
        elif isinstance(body, Update):
            sender_leaf = info.sender.index
            if info.sender.sender_type != SenderType.MEMBER or sender_leaf is None:
                raise _fail("V-PROP-004", "an Update must come from a member")
            if sender_leaf == committer_leaf:
                raise _fail("V-PROP-005", "the committer cannot commit its own Update")
            if sender_leaf in touched:
                raise _fail("V-PROP-006", "two Update/Remove proposals for one leaf")
            touched.add(sender_leaf)
            validate_leaf_node(
                suite,
                body.leaf_node,
                expected_source=LeafNodeSource.UPDATE,
                credential_validator=credential_validator,
                group_id=group_id,
                leaf_index=sender_leaf,
                group_extensions=extensions,
                members=members,
            )
        elif isinstance(body, Remove):
            if body.removed >= tree.n_leaves or tree.leaf(LeafIndex(body.removed)) is None:
                raise _fail("V-PROP-007", "a Remove for a blank or absent leaf")
            if body.removed == committer_leaf:
                raise _fail("V-PROP-008", "the committer cannot remove itself")
            if body.removed in touched:
                raise _fail("V-PROP-006", "two Update/Remove proposals for one leaf")
            touched.add(body.removed)
        elif isinstance(body, PreSharedKey):
            psk = body.psk
            if len(psk.psk_nonce) != suite.hash_length:
                raise _fail("V-PROP-009", "psk_nonce must be KDF.Nh bytes")
            if isinstance(psk.psk, ResumptionPSK) and psk.psk.usage != (
                ResumptionPSKUsage.APPLICATION
            ):
                raise _fail("V-PROP-010", "only application resumption PSKs in a Commit")
            ident = PreSharedKeyID(psk.psk, b"").to_bytes()  # the id without its nonce
            if ident in psk_ids:
                raise _fail("V-PROP-011", "the same PSK is proposed twice")
            psk_ids.add(ident)
        elif isinstance(body, GroupContextExtensions):
            required = required_capabilities(body.extensions)
            for _, leaf in tree.leaves():
                check_supports_required(leaf, required)
                for ext in body.extensions:
                    if ext.extension_type not in leaf.capabilities.extensions and (
                        ext.extension_type > 5
                    ):
                        raise _fail("V-PROP-012", "a member does not support a new extension")
        elif isinstance(body, ExternalInit) and not external:
            raise _fail("V-PROP-013", "ExternalInit outside an external commit")
        elif isinstance(body, ReInit) and len(proposals) != 1:
            raise _fail("V-PROP-014", "ReInit must be the only proposal")
    if counts.get(ProposalType.GROUP_CONTEXT_EXTENSIONS, 0) > 1:
        raise _fail("V-PROP-015", "more than one GroupContextExtensions proposal")
    if external:
        if counts.get(ProposalType.EXTERNAL_INIT, 0) != 1:
            raise _fail("V-PROP-016", "an external commit needs exactly one ExternalInit")
        allowed = {ProposalType.EXTERNAL_INIT, ProposalType.REMOVE, ProposalType.PSK}
        if any(p.proposal.proposal_type not in allowed for p in proposals):
            raise _fail("V-PROP-017", "an external commit may only carry ExternalInit/Remove/PSK")
        if counts.get(ProposalType.REMOVE, 0) > 1:
            raise _fail("V-PROP-017", "an external commit removes at most one leaf")


def apply_proposals(
    proposals: Sequence[ProposalInfo],
    tree: RatchetTree,
    extensions: tuple[Extension, ...],
) -> AppliedProposals:
    """Apply a validated list to a copy of ``tree`` in the order of §12.3."""
    out = AppliedProposals(tree=tree.copy(), extensions=extensions)
    by_type: Mapping[type, list[ProposalInfo]] = {
        t: [p for p in proposals if isinstance(p.proposal.body, t)]
        for t in (GroupContextExtensions, Update, Remove, Add, PreSharedKey, ExternalInit, ReInit)
    }
    for info in by_type[GroupContextExtensions]:
        body = info.proposal.body
        assert isinstance(body, GroupContextExtensions)
        out.extensions = tuple(body.extensions)
    for info in by_type[Update]:
        body = info.proposal.body
        assert isinstance(body, Update) and info.sender.index is not None
        leaf = LeafIndex(info.sender.index)
        out.tree.update_leaf(leaf, body.leaf_node)
        out.updated.append((leaf, body.leaf_node))
    for info in by_type[Remove]:
        body = info.proposal.body
        assert isinstance(body, Remove)
        leaf = LeafIndex(body.removed)
        old = out.tree.leaf(leaf)
        assert old is not None
        out.removed.append((leaf, old))
        out.tree.remove_leaf(leaf)
    for info in by_type[Add]:
        body = info.proposal.body
        assert isinstance(body, Add)
        out.added.append((out.tree.add_leaf(body.key_package.leaf_node), body.key_package))
    for info in by_type[PreSharedKey]:
        body = info.proposal.body
        assert isinstance(body, PreSharedKey)
        out.psks.append(body.psk)
    for info in by_type[ExternalInit]:
        body = info.proposal.body
        assert isinstance(body, ExternalInit)
        out.external_init = body
    for info in by_type[ReInit]:
        body = info.proposal.body
        assert isinstance(body, ReInit)
        out.reinit = body
    return out

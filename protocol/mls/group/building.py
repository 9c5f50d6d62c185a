"""Commits we build (RFC 9420 §12.4): proposal selection, UpdatePath, new epoch,
Welcome and GroupInfo. The result becomes the group's pending commit."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from ...errors import CryptoError, UsageError, ValidationError
from .. import tree_math as tm
from ..commit import Commit
from ..extensions import Extension, ExtensionType, ExternalPub
from ..framing import FramedContent, MLSMessage, Sender, SenderType, WireFormat
from ..group_context import GroupContext
from ..joining import encrypt_group_info, encrypt_group_secrets, sign_group_info
from ..key_package import KeyPackage
from ..key_schedule import EpochSecrets, epoch_secrets
from ..message_protection import protect_public, sign_content
from ..proposal_list import (
    AppliedProposals,
    ProposalInfo,
    apply_proposals,
    validate_proposal_list,
)
from ..proposals import Add, GroupContextExtensions, Proposal, ProposalOrRef, Remove
from ..transcript import confirmation_tag, confirmed_transcript_hash, interim_transcript_hash
from ..tree_math import LeafIndex, NodeIndex
from ..treekem import create_update_path
from ..welcome import GroupInfo, GroupSecrets, PathSecret, Welcome
from . import policy_hook
from .epoch import Epoch, Pending, epoch_from_secrets, index_after
from .results import AppliedCommit, CommitOutput, leaf_or_fail, member_at, member_of

if TYPE_CHECKING:
    from .group import Group


def key_package(kp: KeyPackage | bytes) -> KeyPackage:
    if isinstance(kp, KeyPackage):
        return kp
    body = MLSMessage.from_bytes(kp).body
    if not isinstance(body, KeyPackage):
        raise UsageError("not a KeyPackage message")
    return body


def commit(
    g: Group,
    proposals: Sequence[Proposal],
    *,
    now: int | None,
    authenticated_data: bytes,
    include_pending: bool,
) -> CommitOutput:
    """Validate and build a member's commit; it becomes ``g``'s pending commit."""
    ep = g._epoch
    me = Sender.member(g._my_leaf)
    # The commit right after a link join counts it, whatever else it does.
    joined = g._pending_link_join
    counted = policy_hook.link_count(ep.context.extensions, proposals, joined)
    counts = joined is not None and counted != list(proposals)
    infos: list[ProposalInfo] = []
    left_out: list[tuple[bytes, str]] = []
    if include_pending:
        for ref, info in ep.proposals.items():
            reason = _why_left_out(g, info, now)
            if reason is None and counts and isinstance(info.proposal.body, GroupContextExtensions):
                reason = "this commit counts the link join in its own settings change"
            if reason is None:
                infos.append(replace(info, ref=ref))
            else:
                left_out.append((ref, reason))
    proposals = counted
    infos.extend(ProposalInfo(p, me, None) for p in proposals)
    if now is None and any(isinstance(p.body, Add) for p in proposals):
        raise UsageError("now is required: this commit adds members (KeyPackage lifetimes)")
    validate_proposal_list(
        g._suite,
        infos,
        committer=me,
        tree=ep.tree,
        group_id=ep.context.group_id,
        extensions=ep.context.extensions,
        credential_validator=g._validator,
        now=now,
        members=ep.member_index(),
    )
    policy_hook.check_own_commit(
        ep.tree, ep.context.extensions, infos, me, pending_link_join=joined
    )
    applied = apply_proposals(infos, ep.tree, ep.context.extensions)
    commit_refs = tuple(
        ProposalOrRef(info.ref if info.ref is not None else info.proposal) for info in infos
    )
    out = create_commit(
        g,
        applied,
        commit_refs,
        me,
        g._my_leaf,
        ep.secrets.init_secret,
        authenticated_data,
        g._signature_private,
    )
    out.left_out = tuple(left_out)
    return out


def _why_left_out(g: Group, info: ProposalInfo, now: int | None) -> str | None:
    """Why a stored proposal cannot go into our commit (None: it goes in). It must be
    valid on its own, not be our own Update, and not remove us."""
    body = info.proposal.body
    if isinstance(body, Remove) and body.removed == g._my_leaf:
        return "it removes us (another member must commit it)"
    if isinstance(body, Add) and now is None:
        # Left out rather than refused: a member's stray Add must not block commits.
        return "an Add needs now= to check the KeyPackage lifetime"
    ep = g._epoch
    try:
        validate_proposal_list(
            g._suite,
            [info],
            committer=Sender.member(g._my_leaf),
            tree=ep.tree,
            group_id=ep.context.group_id,
            extensions=ep.context.extensions,
            credential_validator=g._validator,
            now=now,
            members=ep.member_index(),
        )
        policy_hook.check_own_commit(
            ep.tree, ep.context.extensions, [info], Sender.member(g._my_leaf)
        )
    except (ValidationError, CryptoError) as e:
        return str(e)
    return None


def create_commit(
    g: Group,
    applied: AppliedProposals,
    commit_refs: tuple[ProposalOrRef, ...],
    sender: Sender,
    my_leaf: LeafIndex,
    init_secret: bytes,
    authenticated_data: bytes,
    signature_private: bytes,
) -> CommitOutput:
    suite, ep = g._suite, g._epoch
    old = ep.context
    new_epoch = old.epoch + 1
    excluded = {leaf for leaf, _ in applied.added}
    tree = applied.tree
    my_node = tree.leaf(my_leaf)
    assert my_node is not None

    def provisional(tree_hash: bytes) -> GroupContext:
        return GroupContext(
            old.cipher_suite,
            old.group_id,
            new_epoch,
            tree_hash,
            old.confirmed_transcript_hash,
            applied.extensions,
        )

    path = create_update_path(
        tree,
        my_leaf,
        leaf_template=my_node,
        group_id=old.group_id,
        signature_private=signature_private,
        excluded=excluded,
        group_context_for=provisional,
        rng=g._rng,
    )
    tree = path.tree
    body = Commit(commit_refs, path.update_path)
    wf = (
        WireFormat.PUBLIC_MESSAGE
        if sender.sender_type == SenderType.NEW_MEMBER_COMMIT
        else g._config.handshake_wire_format
    )
    content = FramedContent(old.group_id, old.epoch, sender, authenticated_data, body)
    # The signature does not cover the confirmation tag: sign with a placeholder.
    placeholder = sign_content(suite, wf, content, signature_private, old, b"")
    confirmed = confirmed_transcript_hash(
        suite, ep.interim_transcript_hash, placeholder.confirmed_transcript_hash_input()
    )
    context = GroupContext(
        old.cipher_suite,
        old.group_id,
        new_epoch,
        tree.tree_hash(),
        confirmed,
        applied.extensions,
    )
    psk = g._psk_secret(applied.psks)
    s = epoch_secrets(suite, init_secret, path.commit_secret, psk, context.to_bytes())
    tag = confirmation_tag(suite, s.confirmation_key, confirmed)
    signed = replace(placeholder, auth=replace(placeholder.auth, confirmation_tag=tag))
    interim = interim_transcript_hash(suite, confirmed, tag)
    next_epoch = epoch_from_secrets(
        suite, context, tree, path.private_keys, s, g._config, interim, tag
    )
    members = index_after(ep.member_index(), ep.tree, applied)
    if sender.sender_type == SenderType.MEMBER:
        members.remove(my_leaf, my_node)
    members.add(my_leaf, leaf_or_fail(tree, my_leaf))
    next_epoch.members = members
    welcome = None
    if applied.added:
        info = group_info(g, next_epoch, my_leaf, signature_private)
        welcome = _welcome(g, applied, info, s, path.path_secrets, my_leaf)
    if sender.sender_type == SenderType.NEW_MEMBER_COMMIT:
        commit_bytes = MLSMessage(protect_public(suite, signed, None, None)).to_bytes()
    else:
        commit_bytes = g._protect(signed)
    summary = AppliedCommit(
        epoch=new_epoch,
        committer=member_at(tree, my_leaf),
        added=tuple(member_at(tree, leaf) for leaf, _ in applied.added),
        removed=tuple(member_of(leaf, node) for leaf, node in applied.removed),
        updated=tuple(member_of(leaf, node) for leaf, node in applied.updated),
    )
    g._pending = Pending(next_epoch, my_leaf, signature_private, summary, applied.reinit)
    g._bump()
    return CommitOutput(
        commit=commit_bytes,
        welcome=MLSMessage(welcome).to_bytes() if welcome else None,
        epoch=new_epoch,
        make_group_info=lambda: MLSMessage(
            group_info(g, next_epoch, my_leaf, signature_private)
        ).to_bytes(),
    )


def group_info(g: Group, ep: Epoch, signer: LeafIndex, signature_private: bytes) -> GroupInfo:
    suite = g._suite
    exts = [
        Extension(
            ExtensionType.EXTERNAL_PUB,
            ExternalPub(suite.derive_key_pair(ep.secrets.external_secret)[1]).to_bytes(),
        )
    ]
    if g._config.ratchet_tree_extension:
        exts.insert(0, Extension(ExtensionType.RATCHET_TREE, ep.tree.to_bytes()))
    info = GroupInfo(ep.context, tuple(exts), ep.confirmation_tag, signer)
    return sign_group_info(suite, info, signature_private)


def _welcome(
    g: Group,
    applied: AppliedProposals,
    info: GroupInfo,
    s: EpochSecrets,
    path_secrets: Mapping[NodeIndex, bytes],
    my_leaf: LeafIndex,
) -> Welcome:
    suite = g._suite
    encrypted_info = encrypt_group_info(suite, s.welcome_secret, info)
    entries = []
    for leaf, kp in applied.added:
        lca = tm.common_ancestor(tm.leaf_to_node(my_leaf), tm.leaf_to_node(leaf))
        secret = path_secrets.get(lca)
        gs = GroupSecrets(
            s.joiner_secret,
            PathSecret(secret) if secret is not None else None,
            tuple(applied.psks),
        )
        entries.append(encrypt_group_secrets(suite, kp, encrypted_info, gs, g._rng))
    return Welcome(suite.suite_id, tuple(entries), encrypted_info)

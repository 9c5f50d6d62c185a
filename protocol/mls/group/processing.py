"""Messages we receive (RFC 9420 §6, §12.4.2): application data, proposals, commits.

Everything here runs inside :meth:`Group._atomic`: it may consume secret-tree keys
as it goes, and they are given back if anything raises. The group's own fields
change only in the last step (storing a proposal, moving to the new epoch).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ...errors import StateError, UsageError, ValidationError
from ..commit import Commit
from ..framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    MLSMessage,
    PrivateMessage,
    PublicMessage,
    SenderType,
)
from ..group_context import GroupContext
from ..joining import external_init_receiver
from ..key_schedule import epoch_secrets
from ..leaf_node import LeafNodeSource
from ..message_protection import unprotect_private_with_sender_data, unprotect_public
from ..proposal_list import ProposalInfo, apply_proposals, path_required, validate_proposal_list
from ..transcript import confirmed_transcript_hash, interim_transcript_hash, verify_confirmation_tag
from ..tree_math import LeafIndex
from ..treekem import apply_update_path
from ..validation import check_same_participant, validate_leaf_node
from . import policy_hook
from .epoch import epoch_from_secrets, index_after
from .results import (
    ApplicationMessage,
    AppliedCommit,
    ProcessedMessage,
    leaf_or_fail,
    member_at,
    member_of,
)

if TYPE_CHECKING:
    from .group import Group


def process(g: Group, message: bytes | MLSMessage, now: int | None) -> ProcessedMessage:
    msg = MLSMessage.from_bytes(message) if isinstance(message, bytes) else message
    body = msg.body
    if not isinstance(body, PublicMessage | PrivateMessage):
        raise UsageError("only PublicMessage and PrivateMessage are processed by a group")
    group_id = body.content.group_id if isinstance(body, PublicMessage) else body.group_id
    epoch = body.content.epoch if isinstance(body, PublicMessage) else body.epoch
    if group_id != g.group_id:
        raise StateError("message for another group")
    if epoch != g.epoch:
        if isinstance(body, PrivateMessage) and body.content_type == ContentType.APPLICATION:
            return _process_past_application(g, body)
        raise StateError(f"message of epoch {epoch}, we are in epoch {g.epoch}")
    if g._reinit is not None:
        # §11.2: after a ReInit commit nothing more is sent in this group's new epoch.
        raise StateError("this group was re-initialized (ReInit): nothing is accepted after it")
    ep = g._epoch

    def signature_key_for(content: FramedContent) -> bytes:
        return _signature_key_for(g, content)

    generation: int | None = None
    if isinstance(body, PublicMessage):
        auth = unprotect_public(
            g._suite, body, ep.context, ep.secrets.membership_key, signature_key_for
        )
    else:
        auth, sender_data = unprotect_private_with_sender_data(
            g._suite,
            body,
            ep.secret_tree,
            ep.secrets.sender_data_secret,
            ep.context,
            signature_key_for,
        )
        generation = sender_data.generation
    content = auth.content
    if content.content_type == ContentType.APPLICATION:
        assert isinstance(content.content, bytes)
        assert content.sender.index is not None
        return ApplicationMessage(
            content.content,
            member_at(ep.tree, content.sender.index),
            content.authenticated_data,
            g.epoch,
            generation,
        )
    if content.content_type == ContentType.PROPOSAL:
        if content.sender.sender_type != SenderType.MEMBER:
            raise ValidationError("V-GROUP-002", "only members' proposals are accepted")
        return g._store_proposal(auth)
    return _process_commit(g, auth, now)


def _signature_key_for(g: Group, content: FramedContent) -> bytes:
    sender = content.sender
    if sender.sender_type == SenderType.MEMBER:
        assert sender.index is not None
        return member_at(g._epoch.tree, sender.index).signature_key
    if sender.sender_type == SenderType.NEW_MEMBER_COMMIT:
        body = content.content
        if not isinstance(body, Commit) or body.path is None:
            raise ValidationError("V-GROUP-003", "an external commit needs a path")
        return body.path.leaf_node.signature_key
    raise ValidationError("V-GROUP-002", "external senders are not accepted")


def _process_past_application(g: Group, body: PrivateMessage) -> ApplicationMessage:
    past = next((p for p in g._past if p.context.epoch == body.epoch), None)
    if past is None:
        raise StateError(f"the secrets of epoch {body.epoch} are no longer kept")
    tree = past.tree

    def key_for(content: FramedContent) -> bytes:
        assert content.sender.index is not None
        return member_at(tree, content.sender.index).signature_key

    auth, sender_data = unprotect_private_with_sender_data(
        g._suite, body, past.secret_tree, past.sender_data_secret, past.context, key_for
    )
    data = auth.content.content
    assert isinstance(data, bytes) and auth.content.sender.index is not None
    policy_hook.check_late_application(
        g._epoch.context.extensions, tree, g._epoch.tree, auth.content.sender.index
    )
    return ApplicationMessage(
        data,
        member_at(tree, auth.content.sender.index),
        auth.content.authenticated_data,
        body.epoch,
        sender_data.generation,
    )


def _process_commit(g: Group, auth: AuthenticatedContent, now: int | None) -> AppliedCommit:
    suite, ep = g._suite, g._epoch
    content = auth.content
    commit = content.content
    assert isinstance(commit, Commit)
    sender = content.sender
    external = sender.sender_type == SenderType.NEW_MEMBER_COMMIT
    if sender.sender_type == SenderType.MEMBER and sender.index == g._my_leaf:
        raise StateError("our own commit: use apply_pending_commit()")
    if auth.auth.confirmation_tag is None:  # pragma: no cover - decoding guarantees it
        raise ValidationError("V-COMMIT-001", "commit without confirmation tag")
    infos: list[ProposalInfo] = []
    for item in commit.proposals:
        if item.reference is not None:
            info = ep.proposals.get(item.reference)
            if info is None:
                raise ValidationError("V-COMMIT-002", "commit refers to an unknown proposal")
            infos.append(info)
        else:
            assert item.proposal is not None
            infos.append(ProposalInfo(item.proposal, sender, None))
    validate_proposal_list(
        suite,
        infos,
        committer=sender,
        tree=ep.tree,
        group_id=ep.context.group_id,
        extensions=ep.context.extensions,
        credential_validator=g._validator,
        now=now,
        members=ep.member_index(),
        external_leaf=commit.path.leaf_node if external and commit.path else None,
    )
    if path_required(infos) and commit.path is None:
        raise ValidationError("V-COMMIT-003", "this commit needs an UpdatePath")
    policy_hook.check_commit(
        ep.tree,
        ep.context.extensions,
        infos,
        sender,
        commit.path,
        content=content,
        pending_link_join=g._pending_link_join,
    )
    applied = apply_proposals(infos, ep.tree, ep.context.extensions)
    tree = applied.tree
    removed_me = any(leaf == g._my_leaf for leaf, _ in applied.removed)
    if external:
        if commit.path is None:
            raise ValidationError("V-GROUP-003", "an external commit needs a path")
        # The joiner's leaf goes to the leftmost free place as a placeholder that the
        # UpdatePath then replaces, exactly as the joiner built it (§12.4.3.2).
        committer_leaf = tree.add_leaf(replace(commit.path.leaf_node, encryption_key=b""))
    else:
        assert sender.index is not None
        committer_leaf = LeafIndex(sender.index)
    if removed_me:
        summary = AppliedCommit(
            epoch=ep.context.epoch + 1,
            committer=member_of(
                committer_leaf,
                commit.path.leaf_node if commit.path else leaf_or_fail(ep.tree, committer_leaf),
            ),
            added=tuple(member_at(tree, leaf) for leaf, _ in applied.added),
            removed=tuple(member_of(leaf, node) for leaf, node in applied.removed),
            updated=tuple(member_of(leaf, node) for leaf, node in applied.updated),
            removed_me=True,
        )
        g._active = False
        g._pending = None
        g._bump()
        return summary
    old = ep.context
    new_epoch = old.epoch + 1

    def provisional(tree_hash: bytes) -> GroupContext:
        return GroupContext(
            old.cipher_suite,
            old.group_id,
            new_epoch,
            tree_hash,
            old.confirmed_transcript_hash,
            applied.extensions,
        )

    keys = ep.keys
    members = index_after(ep.member_index(), ep.tree, applied)
    if commit.path is not None:
        if not external:
            check_same_participant(
                g._validator,
                leaf_or_fail(tree, committer_leaf).credential,
                commit.path.leaf_node.credential,
                "V-LEAF-010",
            )
        validate_leaf_node(
            suite,
            commit.path.leaf_node,
            expected_source=LeafNodeSource.COMMIT,
            credential_validator=g._validator,
            group_id=old.group_id,
            leaf_index=committer_leaf,
            group_extensions=applied.extensions,
            members=members,
        )
        if not external:
            members.remove(committer_leaf, leaf_or_fail(tree, committer_leaf))
        members.add(committer_leaf, commit.path.leaf_node)
        result = apply_update_path(
            tree,
            committer_leaf,
            commit.path,
            keys.pruned(tree),
            group_id=old.group_id,
            excluded={leaf for leaf, _ in applied.added},
            group_context_for=provisional,
        )
        tree, commit_secret, keys = result.tree, result.commit_secret, result.private_keys
    else:
        commit_secret = None
        keys = keys.pruned(tree)
    confirmed = confirmed_transcript_hash(
        suite, ep.interim_transcript_hash, auth.confirmed_transcript_hash_input()
    )
    context = GroupContext(
        old.cipher_suite,
        old.group_id,
        new_epoch,
        tree.tree_hash(),
        confirmed,
        applied.extensions,
    )
    init_secret = ep.secrets.init_secret
    if external:
        assert applied.external_init is not None
        external_private = suite.derive_key_pair(ep.secrets.external_secret)[0]
        init_secret = external_init_receiver(
            suite, external_private, applied.external_init.kem_output
        )
    s = epoch_secrets(
        suite, init_secret, commit_secret, g._psk_secret(applied.psks), context.to_bytes()
    )
    tag = auth.auth.confirmation_tag
    verify_confirmation_tag(suite, s.confirmation_key, confirmed, tag)
    interim = interim_transcript_hash(suite, confirmed, tag)
    new = epoch_from_secrets(suite, context, tree, keys, s, g._config, interim, tag)
    new.members = members
    summary = AppliedCommit(
        epoch=new_epoch,
        committer=member_at(tree, committer_leaf),
        added=tuple(member_at(tree, leaf) for leaf, _ in applied.added),
        removed=tuple(member_of(leaf, node) for leaf, node in applied.removed),
        updated=tuple(member_of(leaf, node) for leaf, node in applied.updated),
    )
    g._advance(new)
    g._reinit = applied.reinit
    if external:
        g._pending_link_join = policy_hook.link_join_after(old.extensions, content)
    return summary

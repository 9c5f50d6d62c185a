"""Build the policy's inputs from the structs MLS already has.

The group code (``cove.protocol.mls.group``) calls :func:`authorize_mls_commit`
after RFC 9420 validation (``validate_proposal_list``) and before applying a
commit, with the ratchet tree and GroupContext extensions *before* the commit,
the resolved proposal list (:class:`~cove.protocol.mls.proposal_list.ProposalInfo`,
each with its sender) and the commit's UpdatePath. This module does not import
the group code, only the structs.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..mls.commit import UpdatePath
from ..mls.extensions import Extension
from ..mls.framing import FramedContent, Sender, SenderType
from ..mls.leaf_node import LeafNode
from ..mls.proposal_list import ProposalInfo
from ..mls.ratchet_tree import RatchetTree
from .commits import CommitInput, GroupState, ProposalInput, authorize_commit
from .decisions import Decision
from .roster import Roster


def _member_index(sender: Sender) -> int | None:
    return sender.index if sender.sender_type == SenderType.MEMBER else None


def roster_from_tree(tree: RatchetTree) -> Roster:
    """The roster of a ratchet tree whose leaves carry Cove credentials."""
    return Roster.from_leaves(tree.leaves())


def group_state(
    tree: RatchetTree, extensions: Sequence[Extension], pending_link_join: bytes | None = None
) -> GroupState:
    return GroupState(roster_from_tree(tree), tuple(extensions), pending_link_join)


def commit_input(
    proposals: Sequence[ProposalInfo],
    committer: Sender,
    path: UpdatePath | LeafNode | None,
    content: FramedContent | None = None,
) -> CommitInput:
    """A :class:`CommitInput` from a resolved proposal list, the commit's sender,
    its UpdatePath (or just the path's new leaf) and, for an external commit, its
    FramedContent."""
    leaf = path.leaf_node if isinstance(path, UpdatePath) else path
    return CommitInput(
        committer=_member_index(committer),
        proposals=tuple(ProposalInput(p.proposal.body, _member_index(p.sender)) for p in proposals),
        path_leaf=leaf,
        content=content,
    )


def authorize_mls_commit(
    tree: RatchetTree,
    extensions: Sequence[Extension],
    proposals: Sequence[ProposalInfo],
    committer: Sender,
    path: UpdatePath | LeafNode | None,
    *,
    content: FramedContent | None = None,
    pending_link_join: bytes | None = None,
) -> Decision:
    """:func:`~.commits.authorize_commit` on MLS structs (tree and extensions before the
    commit; ``content``: the commit's FramedContent, which an external commit needs;
    ``pending_link_join``: see :class:`~.commits.GroupState`). A leaf whose credential
    is not a Cove identity in the *existing* tree raises
    :class:`~cove.protocol.errors.ValidationError` (the tree was validated with Cove's
    credential validator, so that is a bug or a foreign group)."""
    return authorize_commit(
        group_state(tree, extensions, pending_link_join),
        commit_input(proposals, committer, path, content),
    )


__all__ = ["authorize_mls_commit", "commit_input", "group_state", "roster_from_tree"]

"""Cove's group policy (:mod:`cove.protocol.policy`) inside the group code.

A group is *policed* when its GroupContext's ``required_capabilities`` lists the
policy extension (``0xF0C1``): every Cove group since issue 9. The decision is
read from the group's own state, which every member holds alike, so every
member polices the same groups; a plain RFC 9420 group (the test vectors,
interop) is untouched. In a policed group:

* every commit received is judged by :func:`~cove.protocol.policy.authorize_mls_commit`
  after RFC 9420's proposal-list validation and before anything is applied, and
  every commit we build is judged before it is sent (an external commit is judged
  as a link join, with its framed content; every commit with the group's
  ``pending_link_join``, the link join that made the current epoch, which the
  group keeps and every commit we build counts: :func:`link_count`); a refusal raises
  :class:`~cove.protocol.policy.PolicyRefused` and, because processing runs in
  :meth:`Group._atomic`, leaves the group exactly as it was;
* a Welcome is joined only if :func:`~cove.protocol.policy.authorize_join`
  allows it (the GroupInfo's signer made the Add);
* an application message of an earlier epoch is accepted only if its sender's
  leaf still holds the same identity now: a member removed by a commit earlier
  in the log cannot be heard from after it (``policy.record.sender_not_member``).

The policy function cannot be switched off by a member: a commit that drops the
extension or its ``required_capabilities`` entry is refused by the rules
``policy.extension.removed`` and ``policy.extension.not_required``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ...errors import CoveError
from ...policy import (
    POLICY_EXTENSION,
    PolicyRefused,
    authorize_join,
    authorize_mls_commit,
    count_link_join,
    group_state,
    identity_of,
    link_join_of,
    refuse,
)
from ...policy import rules as R
from ..commit import UpdatePath
from ..extensions import Extension
from ..framing import FramedContent, Sender
from ..leaf_node import LeafNode
from ..proposal_list import ProposalInfo
from ..proposals import Proposal
from ..ratchet_tree import RatchetTree
from ..validation import required_capabilities


def policed(extensions: Sequence[Extension]) -> bool:
    """Whether a group with these GroupContext extensions enforces Cove's policy."""
    try:
        required = required_capabilities(extensions)
    except CoveError:
        return False
    return required is not None and POLICY_EXTENSION in required.extension_types


def check_commit(
    tree: RatchetTree,
    extensions: Sequence[Extension],
    proposals: Sequence[ProposalInfo],
    committer: Sender,
    path: UpdatePath | LeafNode | None,
    *,
    content: FramedContent | None = None,
    pending_link_join: bytes | None = None,
) -> None:
    """Raise :class:`PolicyRefused` if the policy refuses this commit (tree and
    extensions *before* it; ``content`` the commit's FramedContent, which an
    external commit needs; ``pending_link_join`` the group's)."""
    if policed(extensions):
        authorize_mls_commit(
            tree,
            extensions,
            proposals,
            committer,
            path,
            content=content,
            pending_link_join=pending_link_join,
        ).raise_if_refused()


def check_own_commit(
    tree: RatchetTree,
    extensions: Sequence[Extension],
    proposals: Sequence[ProposalInfo],
    committer: Sender,
    *,
    path: UpdatePath | LeafNode | None = None,
    content: FramedContent | None = None,
    pending_link_join: bytes | None = None,
) -> None:
    """The sender's check of a commit it builds (the same rules as a receiver's;
    kept as its own function so that a test's hostile member can go under it
    without touching what receivers run)."""
    check_commit(
        tree,
        extensions,
        proposals,
        committer,
        path,
        content=content,
        pending_link_join=pending_link_join,
    )


def link_count(
    extensions: Sequence[Extension], proposals: Sequence[Proposal], pending_link_join: bytes | None
) -> list[Proposal]:
    """The proposals of a commit we build, with the count of the link join that made
    the current epoch when there is one (:func:`~cove.protocol.policy.count_link_join`)."""
    if pending_link_join is None or not policed(extensions):
        return list(proposals)
    return count_link_join(extensions, proposals, pending_link_join)


def link_join_after(extensions: Sequence[Extension], content: FramedContent) -> bytes | None:
    """The group's ``pending_link_join`` after an external commit the policy allowed
    (``extensions`` before it): the link id of its proof in a policed group."""
    if not policed(extensions):
        return None
    return link_join_of(extensions, content.authenticated_data)


def check_join(
    tree: RatchetTree, extensions: Sequence[Extension], signer: int, own_leaf: LeafNode
) -> None:
    """Raise :class:`PolicyRefused` if we must not join from this Welcome."""
    if policed(extensions):
        own_key, _ = identity_of(own_leaf)
        authorize_join(group_state(tree, extensions), signer, own_key).raise_if_refused()


def check_late_application(
    extensions: Sequence[Extension], past_tree: RatchetTree, tree: RatchetTree, sender: int
) -> None:
    """A message of an earlier epoch: its sender must still be the same member now."""
    if not policed(extensions):
        return
    then = past_tree.leaf(sender)
    now = tree.leaf(sender) if sender < tree.n_leaves else None
    assert then is not None  # decryption found the sender's leaf in that epoch
    handle = identity_of(then)[1]
    if now is None or identity_of(now)[0] != identity_of(then)[0]:
        raise PolicyRefused(refuse(R.RECORD_SENDER_NOT_MEMBER, handle, "post after being removed"))


__all__ = [
    "check_commit",
    "check_join",
    "check_late_application",
    "check_own_commit",
    "link_count",
    "link_join_after",
    "policed",
]

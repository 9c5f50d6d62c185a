"""The proposals of the moderation actions, for the member who sends them.

Each function returns the proposal bodies (:mod:`cove.protocol.mls.proposals`)
that a commit must carry for the action to pass :func:`~.commits.authorize_commit`
— e.g. a ban is the Remove of every leaf of the identity *and* the
GroupContextExtensions that writes the ban. The sender still runs
``authorize_commit`` on its commit before sending.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UsageError
from ..mls.proposals import GroupContextExtensions, ProposalBody, Remove
from .commits import GroupState
from .extension import GroupPolicy, with_policy
from .roles import Role


def current_policy(state: GroupState) -> GroupPolicy:
    policy = GroupPolicy.from_extensions(state.extensions)
    if policy is None:
        raise UsageError("this group has no policy extension")
    return policy


def _gce(state: GroupState, policy: GroupPolicy) -> GroupContextExtensions:
    return GroupContextExtensions(with_policy(state.extensions, policy))


def remove_proposals(state: GroupState, leaves: Iterable[int]) -> list[ProposalBody]:
    """Remove these leaves; clear their owner/moderator roles in the same commit."""
    leaves = sorted(set(leaves))
    members = [state.roster.at(leaf) for leaf in leaves]
    if any(m is None for m in members):
        raise UsageError("not a member's leaf")
    out: list[ProposalBody] = [Remove(leaf) for leaf in leaves]
    policy = current_policy(state)
    cleared = policy.without(m.identity_key for m in members if m is not None)
    if cleared != policy:
        out.append(_gce(state, cleared))
    return out


def ban_proposals(state: GroupState, identity_key: bytes) -> list[ProposalBody]:
    """Ban an identity: Remove its leaves (if in the group) and write the ban."""
    policy = current_policy(state).ban(identity_key)
    leaves = [m.leaf for m in state.roster if m.identity_key == identity_key]
    return [*(Remove(leaf) for leaf in leaves), _gce(state, policy)]


def unban_proposals(state: GroupState, identity_key: bytes) -> list[ProposalBody]:
    return [_gce(state, current_policy(state).unban(identity_key))]


def set_role_proposals(state: GroupState, identity_key: bytes, role: Role) -> list[ProposalBody]:
    """Give a member ``role`` (member, moderator or owner)."""
    if role not in (Role.MEMBER, Role.MODERATOR, Role.OWNER):
        raise UsageError("use ban_proposals / unban_proposals for bans")
    if state.roster.by_identity(identity_key) is None:
        raise UsageError("only members have roles")
    return [_gce(state, current_policy(state).with_role(identity_key, role))]


__all__ = [
    "ban_proposals",
    "current_policy",
    "remove_proposals",
    "set_role_proposals",
    "unban_proposals",
]

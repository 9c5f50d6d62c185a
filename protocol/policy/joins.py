"""Checks for a member who joins from a Welcome.

A joiner has no state before the commit that added them, so it cannot run
:func:`~.commits.authorize_commit` on it. What it can check from the Welcome
alone (the GroupInfo's tree and extensions, and its signer, who made the
commit): the group's state is sound (:func:`check_state`) and the member who
added it may add members (:func:`authorize_join`). A joiner refuses a Welcome
that fails either, and shows why ("cara tried to add you — refused: ...").
"""

from __future__ import annotations

from ..errors import DecodeError
from . import rules as R
from .commits import GroupState
from .decisions import ALLOWED, Decision, refuse
from .extension import GroupPolicy
from .roles import Capability, Role, can
from .roster import handle_key


def _policy(state: GroupState) -> GroupPolicy | Decision:
    try:
        policy = GroupPolicy.from_extensions(state.extensions)
    except DecodeError:
        return refuse(R.STATE_MALFORMED, None, "show you the group")
    if policy is None:
        return refuse(R.STATE_MISSING, None, "show you the group")
    return policy


def check_state(state: GroupState) -> Decision:
    """The invariants every allowed commit keeps: a readable policy, unique
    identities and handles, roles only for members, no banned member, an owner."""
    policy = _policy(state)
    if isinstance(policy, Decision):
        return policy
    keys: set[bytes] = set()
    handles: set[str] = set()
    for m in state.roster:
        if m.identity_key in keys:
            return refuse(R.DUPLICATE_KEY, m.handle, "be in the group twice")
        if handle_key(m.handle) in handles:
            return refuse(R.DUPLICATE_HANDLE, m.handle, "share a name with another member")
        keys.add(m.identity_key)
        handles.add(handle_key(m.handle))
    for key, role in policy.assignments.items():
        if (role == Role.BANNED) == (key in keys):
            return refuse(R.STATE_INCONSISTENT, None, "show you the group")
    if not policy.owners:
        return refuse(R.STATE_INCONSISTENT, None, "show you the group")
    return ALLOWED


def authorize_join(state: GroupState, adder_leaf: int, joiner_identity: bytes) -> Decision:
    """Whether to accept a Welcome: ``state`` is the group as the Welcome shows it,
    ``adder_leaf`` the GroupInfo's signer (who committed the Add)."""
    decision = check_state(state)
    if not decision.allowed:
        return decision
    policy = GroupPolicy.from_extensions(state.extensions)
    assert policy is not None
    adder = state.roster.at(adder_leaf)
    if adder is None:
        return refuse(R.COMMITTER_NOT_MEMBER, None, "add you")
    if adder.identity_key == joiner_identity:
        return refuse(R.COMMITTER_NOT_MEMBER, adder.handle, "add themselves")
    if not can(policy.role_of(adder.identity_key, in_group=True), Capability.CAN_ADD_PARTICIPANT):
        return refuse(R.ADD_REQUIRES_MODERATOR, adder.handle, "add you")
    return ALLOWED


__all__ = ["authorize_join", "check_state"]

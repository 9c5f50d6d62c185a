"""Whether a commit is allowed: one pure function of values every member holds.

:func:`authorize_commit` takes the group's state before the commit
(:class:`GroupState`: the roster and the GroupContext extensions, which hold
the policy) and the commit (:class:`CommitInput`: committer leaf, proposals
with their proposers, the new leaf of the commit path) and returns a
:class:`~.decisions.Decision`. No clock, no local data, no I/O: every honest
member reaches the same decision on the same commit, so a refused commit is
skipped by all of them alike.

Order of checks (the first refusal wins; ``docs/protocol/policy.md`` lists them):

1. the policy before the commit can be read;
2. the committer is a member; an external commit is judged as a link join
   (:func:`~cove.protocol.invites.check_external_join`: open links on, a valid link
   proof, uses left, the previous link join counted, only the joiner's own old
   leaf removed) and then by step 5;
3. the commit path's new leaf keeps the committer's identity;
4. every proposal against its proposer's role before the commit, in list order
   except that GroupContextExtensions come last;
5. the state after the commit: no banned identity added, identities and handles
   unique, banned identities out, roles only for members, at least one owner.

Every member commit of a group with join settings is also judged by
:func:`~cove.protocol.invites.check_join_settings_change` (even without a
GroupContextExtensions proposal): the commit right after a link join must count it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ..errors import DecodeError, ValidationError
from ..group_metadata import GROUP_METADATA_EXTENSION, GroupMetadata
from ..invites.errors import InviteRefused
from ..invites.join_settings import (
    JOIN_SETTINGS_EXTENSION,
    JoinSettings,
    check_join_settings_change,
)
from ..invites.open_join import check_external_join, external_join_of
from ..mls.extensions import Extension, ExtensionType, RequiredCapabilities
from ..mls.framing import FramedContent
from ..mls.leaf_node import LeafNode
from ..mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ProposalBody,
    ReInit,
    Remove,
    Update,
)
from . import rules as R
from .decisions import ALLOWED, Decision, Rule, refuse
from .extension import POLICY_EXTENSION, GroupPolicy
from .roles import Capability, Role, can, outranks
from .roster import Member, Roster, handle_key, identity_of


@dataclass(frozen=True, slots=True)
class GroupState:
    """What the policy reads of the group before a commit. ``pending_link_join``:
    the link id of the external link join that made the current epoch (``None``
    if the last commit was not one) — every member knows it: she processed that
    commit, or made it."""

    roster: Roster
    extensions: tuple[Extension, ...]
    pending_link_join: bytes | None = None


@dataclass(frozen=True, slots=True)
class ProposalInput:
    """A proposal in a commit and the leaf index of the member who proposed it
    (the committer for inline proposals; ``None`` for a non-member sender)."""

    body: ProposalBody
    proposer: int | None


@dataclass(frozen=True, slots=True)
class CommitInput:
    """A commit as the policy sees it. ``committer`` is ``None`` for an external
    commit; ``path_leaf`` is the UpdatePath's new leaf, if the commit has a path;
    ``content`` is the commit's FramedContent, needed for an external commit (its
    ``authenticated_data`` holds the link proof; without it an external commit is
    refused)."""

    committer: int | None
    proposals: tuple[ProposalInput, ...] = ()
    path_leaf: LeafNode | None = None
    content: FramedContent | None = None


class _Refused(Exception):
    def __init__(self, decision: Decision) -> None:
        self.decision = decision


def _no(r: Rule, actor: Member | None, action: str) -> _Refused:
    return _Refused(refuse(r, actor.handle if actor is not None else None, action))


@dataclass(slots=True)
class _Commit:
    """Working state of one check."""

    policy: GroupPolicy
    roster: Roster
    extensions: tuple[Extension, ...]
    committer: Member
    new_policy: GroupPolicy
    removed: dict[int, Member] = field(default_factory=dict)
    added: list[tuple[Member, Member]] = field(default_factory=list)  # (new member, adder)
    pending_link_join: bytes | None = None

    def role(self, m: Member) -> Role:
        return self.policy.role_of(m.identity_key, in_group=True)

    def name(self, identity_key: bytes) -> str:
        m = self.roster.by_identity(identity_key)
        if m is not None:
            return m.handle
        for new, _ in self.added:
            if new.identity_key == identity_key:
                return new.handle
        return "someone outside the group"


def authorize_commit(state: GroupState, commit: CommitInput) -> Decision:
    """Allowed, or refused with the rule that refused it (see the module docstring)."""
    try:
        return _authorize(state, commit)
    except _Refused as r:
        return r.decision


def _authorize(state: GroupState, commit: CommitInput) -> Decision:
    try:
        policy = GroupPolicy.from_extensions(state.extensions)
    except DecodeError:
        raise _no(R.STATE_MALFORMED, None, "change the group") from None
    if policy is None:
        raise _no(R.STATE_MISSING, None, "change the group")
    roster = state.roster
    if commit.committer is None:
        _check_result(_external(state, policy, commit))
        return ALLOWED
    committer = roster.at(commit.committer)
    if committer is None:
        raise _no(R.COMMITTER_NOT_MEMBER, None, "change the group")
    c = _Commit(policy, roster, tuple(state.extensions), committer, policy)
    c.pending_link_join = state.pending_link_join
    if commit.path_leaf is not None:
        _check_continuity(committer, commit.path_leaf)
    # GroupContextExtensions last: clearing a removed member's role depends on the
    # Removes of the whole commit, wherever they stand in the list.
    gce = [p for p in commit.proposals if isinstance(p.body, GroupContextExtensions)]
    rest = [p for p in commit.proposals if not isinstance(p.body, GroupContextExtensions)]
    for p in rest + gce:
        _check_proposal(c, p)
    old_settings = _ext_map(c.extensions).get(JOIN_SETTINGS_EXTENSION)
    if not gce and old_settings is not None:
        # No GroupContextExtensions: the settings stay as they are, which the commit
        # right after a link join may not do (policy.join.settings.count_missing).
        _check_join_settings(c, committer, c.role(committer), old_settings, old_settings)
    _check_result(c)
    return ALLOWED


_JOIN_ACTION = "join the group through a link"


def _external(state: GroupState, policy: GroupPolicy, commit: CommitInput) -> _Commit:
    """An external commit: a link join judged by ``check_external_join`` (its
    refusals are ``policy.join.open.<x>``); a group without join settings admits
    nobody from outside (``policy.external.not_allowed``). Returns the working
    state for the after-commit checks (the joiner added, her old leaf removed)."""
    roster = state.roster
    try:
        settings = JoinSettings.from_extensions(state.extensions)
    except DecodeError:
        raise _no(R.JOIN_RULES["invite.settings.malformed"], None, _JOIN_ACTION) from None
    if settings is None or commit.content is None:
        raise _no(R.EXTERNAL_NOT_ALLOWED, None, "join the group from outside")
    handle: str | None = None
    if commit.path_leaf is not None:
        try:
            handle = identity_of(commit.path_leaf)[1]
        except ValidationError:
            handle = None

    def identity_at(leaf: int) -> bytes | None:
        m = roster.at(leaf)
        return None if m is None else m.identity_key

    try:
        join = external_join_of(commit.content, identity_at)
        check_external_join(
            settings,
            join,
            members=roster.identities(),
            banned=policy.banned,
            pending_link_join=state.pending_link_join,
        )
    except InviteRefused as exc:
        raise _Refused(refuse(R.JOIN_RULES[exc.rule], handle, _JOIN_ACTION)) from None
    assert handle is not None  # external_join_of read a Cove credential
    joiner = Member(-1, join.joiner_identity_key, handle)
    c = _Commit(policy, roster, tuple(state.extensions), joiner, policy)
    for p in commit.proposals:
        if isinstance(p.body, Remove):
            target = roster.at(p.body.removed)
            assert target is not None  # external_join_of refused a blank leaf
            c.removed[target.leaf] = target
    c.added.append((joiner, joiner))
    return c


def _check_continuity(old: Member, leaf: LeafNode) -> None:
    """RFC 9420 §5.3.1: a member's replacement leaf names the same identity."""
    key, handle = _identity(old, leaf, "update their keys")
    if key != old.identity_key:
        raise _no(R.IDENTITY_KEY_CHANGED, old, "replace their identity key")
    if handle != old.handle:
        raise _no(R.IDENTITY_HANDLE_CHANGED, old, f"rename themselves to {handle!r}")


def _identity(actor: Member, leaf: LeafNode, action: str) -> tuple[bytes, str]:
    try:
        return identity_of(leaf)
    except ValidationError:
        raise _no(R.IDENTITY_NOT_COVE, actor, action) from None


def _check_proposal(c: _Commit, p: ProposalInput) -> None:
    actor = c.roster.at(p.proposer)
    body = p.body
    if actor is None:
        raise _no(R.PROPOSER_NOT_MEMBER, None, "propose a change")
    role = c.role(actor)
    if isinstance(body, Add):
        _check_add(c, actor, role, body)
    elif isinstance(body, Update):
        _check_continuity(actor, body.leaf_node)
    elif isinstance(body, Remove):
        _check_remove(c, actor, role, body)
    elif isinstance(body, PreSharedKey):
        if not can(role, Capability.CAN_USE_PSK):
            raise _no(R.PSK_REQUIRES_OWNER, actor, "use a pre-shared key")
    elif isinstance(body, ReInit):
        if not can(role, Capability.CAN_SEND_MLS_REINIT_PROPOSAL):
            raise _no(R.REINIT_REQUIRES_OWNER, actor, "restart the group")
    elif isinstance(body, ExternalInit):
        raise _no(R.EXTERNAL_NOT_ALLOWED, actor, "let someone join from outside")
    elif isinstance(body, GroupContextExtensions):
        _check_extensions(c, actor, role, tuple(body.extensions))


def _check_add(c: _Commit, actor: Member, role: Role, body: Add) -> None:
    key, handle = _identity(actor, body.key_package.leaf_node, "add someone")
    # Hook for later: an approved invite (a moderator's signed approval carried in
    # the policy) will authorise an Add by a member without CAN_ADD_PARTICIPANT here.
    if not can(role, Capability.CAN_ADD_PARTICIPANT):
        raise _no(R.ADD_REQUIRES_MODERATOR, actor, f"add {handle}")
    c.added.append((Member(-1, key, handle), actor))


def _check_remove(c: _Commit, actor: Member, role: Role, body: Remove) -> None:
    target = c.roster.at(body.removed)
    if target is None:
        raise _no(R.REMOVE_NOT_MEMBER, actor, f"remove leaf {body.removed}")
    if target.leaf != actor.leaf:  # anyone may remove themselves (canRemoveSelf)
        if not can(role, Capability.CAN_REMOVE_PARTICIPANT):
            raise _no(R.REMOVE_REQUIRES_MODERATOR, actor, f"remove {target.handle}")
        if not outranks(role, c.role(target)):
            raise _no(R.REMOVE_TARGET_OUTRANKS, actor, f"remove {target.handle}")
    c.removed[target.leaf] = target


def _ext_map(extensions: Sequence[Extension]) -> dict[int, bytes]:
    return {e.extension_type: e.extension_data for e in extensions}


def _check_extensions(
    c: _Commit, actor: Member, role: Role, extensions: tuple[Extension, ...]
) -> None:
    old, new = _ext_map(c.extensions), _ext_map(extensions)
    if POLICY_EXTENSION not in new:
        raise _no(R.POLICY_REMOVED, actor, "remove the group's policy")
    try:
        c.new_policy = GroupPolicy.from_bytes(new[POLICY_EXTENSION])
    except DecodeError:
        raise _no(R.POLICY_MALFORMED, actor, "change the group's policy") from None
    try:
        required = RequiredCapabilities.from_bytes(
            new.get(ExtensionType.REQUIRED_CAPABILITIES, b"\x00\x00\x00")
        )
    except DecodeError:
        required = RequiredCapabilities()
    must_require = {POLICY_EXTENSION, GROUP_METADATA_EXTENSION}
    if JOIN_SETTINGS_EXTENSION in old:
        must_require.add(JOIN_SETTINGS_EXTENSION)
    if not must_require <= set(required.extension_types):
        raise _no(R.POLICY_NOT_REQUIRED, actor, "stop requiring the group's policy")
    if JOIN_SETTINGS_EXTENSION in old.keys() | new.keys():
        # Judged even when unchanged: the commit after a link join must count it.
        _check_join_settings(
            c, actor, role, old.get(JOIN_SETTINGS_EXTENSION), new.get(JOIN_SETTINGS_EXTENSION)
        )
    for ext_type in sorted(old.keys() | new.keys()):
        if old.get(ext_type) == new.get(ext_type) or ext_type in (
            POLICY_EXTENSION,
            JOIN_SETTINGS_EXTENSION,
        ):
            continue
        if ext_type == GROUP_METADATA_EXTENSION:
            if not can(role, Capability.CAN_CHANGE_ROOM_NAME):
                raise _no(R.METADATA_REQUIRES_MODERATOR, actor, "rename the group")
            try:
                if GroupMetadata.from_extensions(extensions) is None:
                    raise DecodeError("no group metadata")
            except DecodeError:
                raise _no(R.METADATA_MALFORMED, actor, "rename the group") from None
        elif not can(role, Capability.CAN_CHANGE_GROUP_EXTENSIONS):
            raise _no(R.EXTENSIONS_REQUIRE_OWNER, actor, "change the group's settings")
    _check_assignments(c, actor, role)


def _check_join_settings(
    c: _Commit, actor: Member, role: Role, before: bytes | None, after: bytes | None
) -> None:
    """Links, rules version and history level: moderators; open links: owners; the
    count of the previous link join: anyone, and it must be there
    (:func:`~cove.protocol.invites.check_join_settings_change`)."""
    try:
        check_join_settings_change(
            before, after,
            may_manage=can(role, Capability.CAN_ADD_PARTICIPANT),
            may_configure=can(role, Capability.CAN_CHANGE_GROUP_EXTENSIONS),
            pending_link_join=c.pending_link_join,
        )  # fmt: skip
    except InviteRefused as exc:
        raise _no(R.JOIN_RULES[exc.rule], actor, "change how people join the group") from None


def _check_assignments(c: _Commit, actor: Member, role: Role) -> None:
    old, new = c.policy, c.new_policy
    # Identities that leave with this commit (removed and not re-added).
    leaving = {m.identity_key for m in c.removed.values()} - {m.identity_key for m, _ in c.added}
    in_group = c.roster.identities()
    for key in sorted(old.assignments.keys() | new.assignments.keys()):
        before, after = old.assigned(key), new.assigned(key)
        if before == after:
            continue
        name = c.name(key)
        if after == Role.BANNED:
            target_role = old.role_of(key, in_group=key in in_group)
            if not can(role, Capability.CAN_BAN):
                raise _no(R.BAN_REQUIRES_MODERATOR, actor, f"ban {name}")
            if not outranks(role, target_role):
                raise _no(R.BAN_TARGET_OUTRANKS, actor, f"ban {name}")
            continue
        if before == Role.BANNED:
            if not can(role, Capability.CAN_UNBAN):
                raise _no(R.UNBAN_REQUIRES_MODERATOR, actor, f"unban {name}")
            if after is None:
                continue
        elif after is None and key in leaving:
            continue  # the role of someone leaving with this commit goes with them
        new_label = (after or Role.MEMBER).label
        if not can(role, Capability.CAN_CHANGE_USER_ROLE):
            raise _no(R.ROLE_REQUIRES_OWNER, actor, f"make {name} {_article(new_label)}")


def _article(label: str) -> str:
    return f"an {label}" if label[0] in "aeiou" else f"a {label}"


def _check_result(c: _Commit) -> None:
    removed, added = c.removed, c.added
    new = c.new_policy
    for member, by in added:
        if new.is_banned(member.identity_key):
            raise _no(R.ADD_BANNED, by, f"add {member.handle}")
    members = [m for m in c.roster if m.leaf not in removed] + [m for m, _ in added]
    keys: set[bytes] = set()
    handles: set[str] = set()
    adders = {id(m): by for m, by in added}
    for m in members:
        by = adders.get(id(m), c.committer)
        if m.identity_key in keys:
            raise _no(R.DUPLICATE_KEY, by, f"add {m.handle} a second time")
        if handle_key(m.handle) in handles:
            raise _no(R.DUPLICATE_HANDLE, by, f"add a second member named {m.handle}")
        keys.add(m.identity_key)
        handles.add(handle_key(m.handle))
    removed_keys = {m.identity_key for m in removed.values()}
    for key, r in new.assignments.items():
        if r == Role.BANNED:
            if key in keys:
                raise _no(R.BAN_REQUIRES_REMOVE, c.committer, f"ban {c.name(key)}")
        elif key not in keys:
            rule = R.REMOVE_ROLE_NOT_CLEARED if key in removed_keys else R.ROLE_NOT_MEMBER
            raise _no(rule, c.committer, f"give a role to {c.name(key)}")
    if not new.owners:
        raise _no(R.LAST_OWNER, c.committer, "leave the group without an owner")


__all__ = ["CommitInput", "GroupState", "ProposalInput", "authorize_commit"]

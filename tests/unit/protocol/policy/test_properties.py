"""Property tests of the commit policy: determinism, and a stateful model in which
random members (honest or not) try random changes; only allowed ones are applied.

After every step: the group has an owner, roles belong to members, bans to
non-members, handles and identities are unique; no banned identity was added
without an unban in the same commit; every role grant came from an owner and
every ban from a moderator or owner who outranked the banned person."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from cove.protocol.group_metadata import GroupKind, GroupMetadata
from cove.protocol.mls.extensions import Extension
from cove.protocol.mls.leaf_node import LeafNodeSource
from cove.protocol.mls.proposals import (
    Add,
    GroupContextExtensions,
    ProposalBody,
    ReInit,
    Remove,
    Update,
)
from cove.protocol.policy import (
    CommitInput,
    GroupPolicy,
    GroupState,
    Member,
    ProposalInput,
    Role,
    Roster,
    authorize_commit,
    initial_extensions,
    outranks,
    with_policy,
)

from .people import METADATA, PEOPLE, P, World

NAMES = sorted(PEOPLE)
roles = st.sampled_from([Role.MEMBER, Role.MODERATOR, Role.OWNER])


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.leaves: list[str | None] = ["olga"]
        self.extensions: tuple[Extension, ...] = initial_extensions(
            P("olga").identity_key, METADATA
        )
        self.applied = 0

    # -- the model ----------------------------------------------------------------

    @property
    def policy(self) -> GroupPolicy:
        policy = GroupPolicy.from_extensions(self.extensions)
        assert policy is not None
        return policy

    @property
    def roster(self) -> Roster:
        return Roster.of(
            Member(i, P(n).identity_key, n) for i, n in enumerate(self.leaves) if n is not None
        )

    def members(self) -> list[str]:
        return [n for n in self.leaves if n is not None]

    def leaf(self, name: str) -> int:
        return self.leaves.index(name)

    def role(self, name: str) -> Role:
        return self.policy.role_of(P(name).identity_key, in_group=name in self.members())

    def gce(self, policy: GroupPolicy) -> GroupContextExtensions:
        return GroupContextExtensions(with_policy(self.extensions, policy))

    def attempt(self, committer: str, items: list[tuple[ProposalBody, str]], path: bool) -> None:
        commit = CommitInput(
            self.leaf(committer),
            tuple(ProposalInput(b, self.leaf(who)) for b, who in items),
            P(committer).leaf() if path else None,
        )
        state = GroupState(self.roster, self.extensions)
        decision = authorize_commit(state, commit)
        again = authorize_commit(GroupState(Roster.of(list(self.roster)), self.extensions), commit)
        assert decision == again  # deterministic, whatever order the roster was built in
        if decision.allowed:
            self.check_authorised(items)
            self.apply(items)
            self.applied += 1

    def check_authorised(self, items: list[tuple[ProposalBody, str]]) -> None:
        """The allowed commit's changes were made by someone entitled to make them."""
        before = self.policy
        after = before
        removed = {self.leaves[b.removed] for b, _ in items if isinstance(b, Remove)}
        removed -= {
            n
            for n in NAMES
            for b, _ in items
            if isinstance(b, Add) and _key(b) == P(n).identity_key
        }
        for body, who in items:
            if isinstance(body, GroupContextExtensions):
                new = GroupPolicy.from_extensions(body.extensions)
                assert new is not None
                after = new
                for key in before.assignments.keys() | after.assignments.keys():
                    old_r, new_r = before.assigned(key), after.assigned(key)
                    name = next(n for n in NAMES if P(n).identity_key == key)
                    if old_r == new_r:
                        continue
                    if new_r == Role.BANNED:
                        assert self.role(who) >= Role.MODERATOR
                        assert outranks(self.role(who), self.role(name))
                    elif old_r == Role.BANNED:
                        assert self.role(who) >= Role.MODERATOR
                        assert new_r is None or self.role(who) == Role.OWNER
                    elif not (new_r is None and name in removed):
                        assert self.role(who) == Role.OWNER  # grants and demotions
            if isinstance(body, Add):
                assert self.role(who) >= Role.MODERATOR
        for body, _ in items:
            if isinstance(body, Add):
                assert not after.is_banned(_key(body))
                if before.is_banned(_key(body)):  # only with an unban in the same commit
                    assert any(isinstance(b, GroupContextExtensions) for b, _ in items)

    def apply(self, items: list[tuple[ProposalBody, str]]) -> None:
        for body, _ in items:
            if isinstance(body, GroupContextExtensions):
                self.extensions = body.extensions
        for body, _ in items:
            if isinstance(body, Remove):
                self.leaves[body.removed] = None
        for body, _ in items:
            if isinstance(body, Add):
                name = next(n for n in NAMES if P(n).identity_key == _key(body))
                blank = [i for i, n in enumerate(self.leaves) if n is None]
                if blank:
                    self.leaves[blank[0]] = name
                else:
                    self.leaves.append(name)

    # -- what members try ----------------------------------------------------------------

    @rule(data=st.data(), cleanup=st.booleans(), forged=st.booleans())
    def add(self, data: st.DataObject, cleanup: bool, forged: bool) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        who = data.draw(st.sampled_from(NAMES))
        handle = data.draw(st.sampled_from(NAMES)) if forged else None
        items: list[tuple[ProposalBody, str]] = [(Add(P(who).key_package(handle=handle)), actor)]
        if cleanup and self.policy.is_banned(P(who).identity_key):
            items.insert(0, (self.gce(self.policy.unban(P(who).identity_key)), actor))
        self.attempt(actor, items, path=False)

    @rule(data=st.data(), cleanup=st.booleans(), by_self=st.booleans())
    def remove(self, data: st.DataObject, cleanup: bool, by_self: bool) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        target = data.draw(st.sampled_from(self.members()))
        committer = actor
        if target == actor:
            others = [m for m in self.members() if m != actor]
            if not others:
                return
            committer = data.draw(st.sampled_from(others))  # MLS: nobody commits their own removal
        proposer = target if by_self else actor
        items: list[tuple[ProposalBody, str]] = [(Remove(self.leaf(target)), proposer)]
        if cleanup:
            items.append((self.gce(self.policy.without([P(target).identity_key])), committer))
        self.attempt(committer, items, path=True)

    @rule(data=st.data(), with_remove=st.booleans())
    def ban(self, data: st.DataObject, with_remove: bool) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        target = data.draw(st.sampled_from([n for n in NAMES if n != actor]))
        items: list[tuple[ProposalBody, str]] = []
        if with_remove and target in self.members():
            items.append((Remove(self.leaf(target)), actor))
        items.append((self.gce(self.policy.ban(P(target).identity_key)), actor))
        self.attempt(actor, items, path=True)

    @rule(data=st.data())
    def unban(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        banned = [n for n in NAMES if self.policy.is_banned(P(n).identity_key)]
        if banned:
            target = data.draw(st.sampled_from(banned))
            self.attempt(
                actor, [(self.gce(self.policy.unban(P(target).identity_key)), actor)], True
            )

    @rule(data=st.data(), role=roles)
    def set_role(self, data: st.DataObject, role: Role) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        target = data.draw(st.sampled_from(NAMES))
        policy = self.policy.with_role(P(target).identity_key, role)
        self.attempt(actor, [(self.gce(policy), actor)], path=True)

    @rule(data=st.data(), forged=st.booleans())
    def update(self, data: st.DataObject, forged: bool) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        handle = data.draw(st.sampled_from(NAMES)) if forged else None
        members = self.members()
        if len(members) > 1 and data.draw(st.booleans()):
            committer = data.draw(st.sampled_from([m for m in members if m != actor]))
            leaf = P(actor).leaf(LeafNodeSource.UPDATE, handle=handle)
            self.attempt(committer, [(Update(leaf), actor)], path=True)
        else:
            commit = CommitInput(self.leaf(actor), (), P(actor).leaf(handle=handle))
            decision = authorize_commit(GroupState(self.roster, self.extensions), commit)
            assert decision.allowed == (handle in (None, actor))

    @rule(data=st.data())
    def rename_or_reinit(self, data: st.DataObject) -> None:
        actor = data.draw(st.sampled_from(self.members()))
        rename = GroupMetadata(GroupKind.GROUP, data.draw(st.sampled_from(["a", "b"])))
        exts = tuple(e for e in self.extensions if e.extension_type != 0xF0C0)
        self.attempt(actor, [(GroupContextExtensions((*exts, rename.extension())), actor)], True)
        state = GroupState(self.roster, self.extensions)
        reinit = authorize_commit(
            state,
            CommitInput(self.leaf(actor), (ProposalInput(ReInit(b"g", 1, 1), self.leaf(actor)),)),
        )
        assert reinit.allowed == (self.role(actor) == Role.OWNER)

    # -- what always holds ---------------------------------------------------------------------

    @invariant()
    def group_is_sound(self) -> None:
        policy, members = self.policy, self.members()
        keys = {P(n).identity_key for n in members}
        assert policy.owners and policy.owners <= keys
        assert policy.holders(Role.MODERATOR) <= keys
        assert not policy.banned & keys
        assert len(set(members)) == len(members)


def _key(add: Add) -> bytes:
    from cove.protocol.policy import identity_of

    return identity_of(add.key_package.leaf_node)[0]


TestPolicyMachine = PolicyMachine.TestCase
TestPolicyMachine.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)


@given(st.data())
def test_decisions_are_deterministic(data: st.DataObject) -> None:
    w = World.make()
    actor = data.draw(st.sampled_from(w.names))
    target = data.draw(st.sampled_from(w.names))
    role = data.draw(roles)
    commit = w.commit(actor, w.gce(w.policy.with_role(P(target).identity_key, role)))
    first = authorize_commit(w.state, commit)
    for _ in range(3):
        assert authorize_commit(World.make().state, commit) == first

"""A hypothesis state machine: honest and malicious members of a policed Cove
group do random things — add, remove, ban, unban, role changes, renames,
forged records, stale-epoch sends — and the "relay" delivers every commit to
every member.

Malicious members go under their group code's sender check
(``tests.support.hostile``); receivers run the real code. An independent
model of the rules (written here, not the policy engine) says what each action
should do. After every step every member agrees on epoch, epoch authenticator,
roster and GroupContext extensions (roles, bans, name), and the roles equal the
model's: no unauthorized change was ever applied, every authorized one was.
"""

from __future__ import annotations

import os

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from cove.protocol.app import Edit
from cove.protocol.crypto import SeededRandom
from cove.protocol.errors import StateError
from cove.protocol.group_metadata import GROUP_METADATA_EXTENSION, GroupKind, GroupMetadata
from cove.protocol.identity import CoveCredentialValidator, CoveIdentity
from cove.protocol.mls.group import ApplicationMessage, AppliedCommit, Group, GroupConfig
from cove.protocol.mls.key_package_bundle import KeyPackageBundle
from cove.protocol.mls.proposals import GroupContextExtensions, Proposal, ProposalBody
from cove.protocol.policy import (
    GroupPolicy,
    GroupState,
    Member,
    PolicyRefused,
    Role,
    Roster,
    authorize_record,
    ban_proposals,
    initial_extensions,
    remove_proposals,
    set_role_proposals,
    unban_proposals,
)
from tests.support.hostile import under_the_client
from tests.unit.protocol.policy.people import CAPS, METADATA, Person

NOW = 1_800_000_000
PEOPLE = [f"p{i}" for i in range(7)]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
VALIDATOR = CoveCredentialValidator()
CONFIG = GroupConfig()
RANK = {Role.MEMBER: 2, Role.MODERATOR: 3, Role.OWNER: 4}
_PERSONS = {name: Person.make(name) for name in PEOPLE}


def P(name: str) -> Person:
    return _PERSONS[name]


def roster_of(g: Group) -> Roster:
    out = []
    for m in g.members():
        ident = CoveIdentity.from_credential(m.credential)
        out.append(Member(m.leaf_index, ident.identity_key, ident.handle))
    return Roster.of(out)


class PolicyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.rng = SeededRandom(b"policy machine")
        self.groups: dict[str, Group] = {}
        self.malicious: set[str] = set()
        # the model: roles of members (MEMBER default), bans, the group's name
        self.roles: dict[str, Role] = {}
        self.banned: set[str] = set()
        self.name = ""
        self.stale: list[tuple[str, int, bytes]] = []  # (sender, epoch, message)
        self.renames = 0
        self.last_welcome: bytes | None = None

    # -- the model's rules (independent of cove.protocol.policy) ----------------------

    def rank(self, name: str) -> int:
        return RANK[self.roles[name]] if name in self.groups else 0

    def mod_or_up(self, name: str) -> bool:
        return self.rank(name) >= 3

    # -- delivery --------------------------------------------------------------------

    def deliver(self, sender: str, build: object, allowed: bool) -> AppliedCommit | None:
        """Build (honest: with the sender check) and deliver a commit to everyone."""
        g = self.groups[sender]
        before = (g.epoch, g.epoch_authenticator)
        try:
            if sender in self.malicious:
                with under_the_client():
                    out = build(g)  # type: ignore[operator]
            else:
                out = build(g)  # type: ignore[operator]
        except PolicyRefused:
            assert not allowed, "an honest member's allowed action was refused by her own app"
            assert (g.epoch, g.epoch_authenticator) == before and not g.has_pending_commit
            return None
        results: dict[str, object] = {}
        for name, other in list(self.groups.items()):
            if name == sender:
                continue
            try:
                results[name] = other.process(out.commit, now=NOW)
            except PolicyRefused as exc:
                results[name] = exc.decision.rule_id
        if allowed:
            assert all(isinstance(r, AppliedCommit) for r in results.values()), results
            summary = g.apply_pending_commit()
            for name, r in results.items():
                if isinstance(r, AppliedCommit) and r.removed_me:
                    del self.groups[name]
            self.last_welcome = out.welcome
            return summary
        assert all(isinstance(r, str) and r.startswith("policy.") for r in results.values()), (
            results
        )
        g.discard_pending_commit()
        return None

    def state(self, name: str) -> GroupState:
        g = self.groups[name]
        return GroupState(roster_of(g), tuple(g.extensions))

    def bundle(self, person: str) -> KeyPackageBundle:
        p = P(person)
        return KeyPackageBundle.create(
            1, p.identity().credential(), self.rng, now=NOW,
            signature_private=p.device_private, capabilities=CAPS,
        )  # fmt: skip

    # -- rules -----------------------------------------------------------------------

    @initialize(third_malicious=st.booleans())
    def create(self, third_malicious: bool) -> None:
        """The owner p0, a moderator p1, a malicious member p2, a member p3."""
        owner = PEOPLE[0]
        self.groups[owner] = Group.create(
            1, b"policy-machine-g", P(owner).identity().credential(), self.rng,
            signature_private=P(owner).device_private,
            extensions=initial_extensions(P(owner).identity_key, METADATA),
            capabilities=CAPS, config=CONFIG, credential_validator=VALIDATOR, now=NOW,
        )  # fmt: skip
        self.roles[owner] = Role.OWNER
        meta = GroupMetadata.from_extensions([METADATA])
        assert meta is not None
        self.name = meta.name
        for person, malicious in (("p1", False), ("p2", True), ("p3", third_malicious)):
            self._join(owner, person, malicious)
        p1 = P("p1").identity_key

        def promote(g: Group) -> object:
            props = set_role_proposals(
                GroupState(roster_of(g), tuple(g.extensions)), p1, Role.MODERATOR
            )
            return g.commit([Proposal(p) for p in props])

        assert self.deliver(owner, promote, True) is not None
        self.roles["p1"] = Role.MODERATOR

    def _join(self, actor: str, person: str, malicious: bool) -> None:
        b = self.bundle(person)
        allowed = self.mod_or_up(actor) and person not in self.banned
        done = self.deliver(actor, lambda g: g.add([b.key_package], now=NOW), allowed)
        if done is not None:
            welcome = self.last_welcome
            assert welcome is not None
            self.groups[person] = Group.join(
                welcome, b, self.rng, config=CONFIG, credential_validator=VALIDATOR
            )
            self.roles[person] = Role.MEMBER
            if malicious:
                self.malicious.add(person)

    def pick(self, data: st.DataObject, pool: list[str]) -> str:
        return data.draw(st.sampled_from(sorted(pool)))

    @rule(data=st.data(), malicious=st.booleans())
    def add(self, data: st.DataObject, malicious: bool) -> None:
        outsiders = [p for p in PEOPLE if p not in self.groups]
        if not outsiders:
            return
        actor, person = self.pick(data, list(self.groups)), self.pick(data, outsiders)
        self._join(actor, person, malicious)

    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        if len(self.groups) < 2:
            return
        actor = self.pick(data, list(self.groups))
        target = self.pick(data, [n for n in self.groups if n != actor])
        allowed = self.mod_or_up(actor) and self.rank(target) < self.rank(actor)

        def build(g: Group) -> object:
            st_ = GroupState(roster_of(g), tuple(g.extensions))
            leaf = next(m.leaf for m in st_.roster if m.handle == target)
            return g.commit([Proposal(p) for p in remove_proposals(st_, [leaf])])

        if self.deliver(actor, build, allowed) is not None:
            del self.roles[target]

    @rule(data=st.data())
    def ban(self, data: st.DataObject) -> None:
        actor = self.pick(data, list(self.groups))
        targets = [p for p in PEOPLE if p != actor and p not in self.banned]
        if not targets:
            return
        target = self.pick(data, targets)
        allowed = self.mod_or_up(actor) and self.rank(target) < self.rank(actor)
        key = P(target).identity_key

        def build(g: Group) -> object:
            props = ban_proposals(GroupState(roster_of(g), tuple(g.extensions)), key)
            return g.commit([Proposal(p) for p in props])

        if self.deliver(actor, build, allowed) is not None:
            self.banned.add(target)
            self.roles.pop(target, None)

    @rule(data=st.data())
    def unban(self, data: st.DataObject) -> None:
        if not self.banned:
            return
        actor, target = self.pick(data, list(self.groups)), self.pick(data, list(self.banned))
        key = P(target).identity_key

        def build(g: Group) -> object:
            props = unban_proposals(GroupState(roster_of(g), tuple(g.extensions)), key)
            return g.commit([Proposal(p) for p in props])

        if self.deliver(actor, build, self.mod_or_up(actor)) is not None:
            self.banned.discard(target)

    @rule(data=st.data(), role=st.sampled_from([Role.MEMBER, Role.MODERATOR, Role.OWNER]))
    def set_role(self, data: st.DataObject, role: Role) -> None:
        actor, target = self.pick(data, list(self.groups)), self.pick(data, list(self.groups))
        if self.roles[target] == role:
            return
        owners = [n for n, r in self.roles.items() if r == Role.OWNER]
        last_owner = self.roles[target] == Role.OWNER and owners == [target]
        allowed = self.roles[actor] == Role.OWNER and not last_owner
        key = P(target).identity_key

        def build(g: Group) -> object:
            props = set_role_proposals(GroupState(roster_of(g), tuple(g.extensions)), key, role)
            return g.commit([Proposal(p) for p in props])

        if self.deliver(actor, build, allowed) is not None:
            self.roles[target] = role

    @rule(data=st.data())
    def rename(self, data: st.DataObject) -> None:
        actor = self.pick(data, list(self.groups))
        self.renames += 1
        new = f"renamed {self.renames}"

        def build(g: Group) -> object:
            others = [e for e in g.extensions if e.extension_type != GROUP_METADATA_EXTENSION]
            meta = GroupMetadata(GroupKind.GROUP, new, "")
            body: ProposalBody = GroupContextExtensions((*others, meta.extension()))
            return g.commit([Proposal(body)])

        if self.deliver(actor, build, self.mod_or_up(actor)) is not None:
            self.name = new

    @rule(data=st.data())
    def forged_edit(self, data: st.DataObject) -> None:
        """An edit of another member's post is refused by every member's policy."""
        if len(self.groups) < 2:
            return
        actor = self.pick(data, list(self.groups))
        author = self.pick(data, [n for n in self.groups if n != actor])
        record = Edit(id=b"e" * 16, sent_at=NOW, target=b"t" * 16, body="forged")
        for g in self.groups.values():
            policy = GroupPolicy.from_extensions(g.extensions)
            assert policy is not None
            decision = authorize_record(
                policy, roster_of(g), P(actor).identity_key, record,
                target_author=P(author).identity_key,
            )  # fmt: skip
            assert decision.rule_id == "policy.record.edit_not_author"

    @rule(data=st.data())
    def stale_send(self, data: st.DataObject) -> None:
        """Encrypt now, deliver after later commits (see deliver_stale)."""
        actor = self.pick(data, list(self.groups))
        g = self.groups[actor]
        self.stale.append((actor, g.epoch, g.encrypt(b"stale " + actor.encode())))

    @rule()
    def deliver_stale(self) -> None:
        if not self.stale:
            return
        sender, _epoch, message = self.stale.pop(0)
        still = sender in self.groups
        for name, g in self.groups.items():
            if name == sender:
                continue
            try:
                got = g.process(message)
            except PolicyRefused as exc:
                assert not still and exc.decision.rule_id == "policy.record.sender_not_member"
            except StateError:
                pass  # that epoch's secrets are no longer kept (or already used)
            else:
                assert still and isinstance(got, ApplicationMessage)

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def everyone_agrees_with_the_model(self) -> None:
        views = {
            (g.epoch, g.epoch_authenticator, g.tree_hash, tuple(g.extensions))
            for g in self.groups.values()
        }
        assert len(views) == 1
        g = next(iter(self.groups.values()))
        roster = roster_of(g)
        assert {m.handle for m in roster} == set(self.groups)
        policy = GroupPolicy.from_extensions(g.extensions)
        assert policy is not None
        for m in roster:
            assert policy.role_of(m.identity_key, in_group=True) == self.roles[m.handle]
        assert {k for k, r in policy.assignments.items() if r == Role.BANNED} == {
            P(n).identity_key for n in self.banned
        }
        meta = GroupMetadata.from_extensions(g.extensions)
        assert meta is not None and meta.name == self.name


TestPolicyMachine = PolicyMachine.TestCase
TestPolicyMachine.settings = settings(
    max_examples=40 if IN_CI else 8, stateful_step_count=18, deadline=None
)

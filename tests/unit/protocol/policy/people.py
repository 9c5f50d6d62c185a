"""Test people and groups for the policy tests: real Cove identities (Ed25519
bindings signed by real identity keys) in hand-built leaves."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cove.protocol.crypto import suite_for
from cove.protocol.group_metadata import GroupKind, GroupMetadata
from cove.protocol.identity import CoveIdentity
from cove.protocol.mls.extensions import Extension
from cove.protocol.mls.key_package import KeyPackage
from cove.protocol.mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from cove.protocol.mls.proposals import GroupContextExtensions, ProposalBody
from cove.protocol.policy import (
    COVE_EXTENSION_TYPES,
    CommitInput,
    Decision,
    GroupPolicy,
    GroupState,
    Member,
    ProposalInput,
    Role,
    Roster,
    initial_extensions,
    with_policy,
)

ED = suite_for(1)
CAPS = Capabilities(cipher_suites=(1,), extensions=COVE_EXTENSION_TYPES, credentials=(1,))


def _seed(label: str) -> bytes:
    return hashlib.sha256(label.encode()).digest()


@dataclass(frozen=True)
class Person:
    name: str
    identity_private: bytes = field(repr=False)
    device_private: bytes = field(repr=False)

    @classmethod
    def make(cls, name: str, device: int = 0) -> Person:
        return cls(name, _seed(f"identity {name}"), _seed(f"device {name} {device}"))

    @property
    def identity_key(self) -> bytes:
        return ED.signature_public_key(self.identity_private)

    @property
    def device_key(self) -> bytes:
        return ED.signature_public_key(self.device_private)

    def identity(self, handle: str | None = None) -> CoveIdentity:
        return CoveIdentity.create(handle or self.name, self.identity_private, self.device_key)

    def leaf(
        self, source: LeafNodeSource = LeafNodeSource.COMMIT, *, handle: str | None = None
    ) -> LeafNode:
        return LeafNode(
            encryption_key=_seed(f"hpke {self.name} {source}"),
            signature_key=self.device_key,
            credential=self.identity(handle).credential(),
            capabilities=CAPS,
            leaf_node_source=source,
            lifetime=Lifetime(0, 2**63) if source == LeafNodeSource.KEY_PACKAGE else None,
            parent_hash=b"" if source == LeafNodeSource.COMMIT else None,
        )

    def key_package(self, *, handle: str | None = None) -> KeyPackage:
        leaf = self.leaf(LeafNodeSource.KEY_PACKAGE, handle=handle)
        return KeyPackage(1, 1, _seed(f"init {self.name}"), leaf)


PEOPLE = {n: Person.make(n) for n in ("olga", "otto", "mona", "mike", "ana", "cara", "dan", "eve")}


def P(name: str) -> Person:
    return PEOPLE[name]


METADATA = GroupMetadata(GroupKind.GROUP, "Spoonies", "").extension()


@dataclass
class World:
    """A group: ``names`` in leaf order, ``roles`` for the non-members."""

    names: list[str]
    policy: GroupPolicy
    extensions: tuple[Extension, ...]

    @classmethod
    def make(
        cls,
        names: tuple[str, ...] = ("olga", "mona", "ana", "cara"),
        roles: dict[str, Role] | None = None,
    ) -> World:
        roles = {"olga": Role.OWNER, "mona": Role.MODERATOR} if roles is None else roles
        policy = GroupPolicy({P(n).identity_key: r for n, r in roles.items()})
        exts = with_policy(initial_extensions(P(names[0]).identity_key, METADATA), policy)
        return cls(list(names), policy, exts)

    def leaf(self, name: str) -> int:
        return self.names.index(name)

    @property
    def roster(self) -> Roster:
        return Roster.of(Member(i, P(n).identity_key, n) for i, n in enumerate(self.names) if n)

    @property
    def state(self) -> GroupState:
        return GroupState(self.roster, self.extensions)

    def gce(self, policy: GroupPolicy) -> GroupContextExtensions:
        return GroupContextExtensions(with_policy(self.extensions, policy))

    def commit(
        self,
        committer: str,
        *proposals: ProposalBody | tuple[ProposalBody, str],
        path: LeafNode | None = None,
    ) -> CommitInput:
        items = []
        for p in proposals:
            body, who = p if isinstance(p, tuple) else (p, committer)
            items.append(ProposalInput(body, self.leaf(who)))
        return CommitInput(self.leaf(committer), tuple(items), path)


def refused(decision: Decision, rule_id: str) -> str:
    """Assert that exactly ``rule_id`` refused; return the explanation."""
    assert not decision.allowed, "expected a refusal"
    assert decision.rule_id == rule_id, decision.explain()
    return decision.explain()

"""Who is in the group, as the policy sees it: leaf index → Cove identity.

A :class:`Roster` is built from the ratchet tree's leaves (each carries a Cove
identity in its basic credential, :mod:`cove.protocol.identity`). Every member
builds the same roster from the same tree, so it is a valid policy input.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from ..identity import CoveIdentity
from ..mls.leaf_node import LeafNode


@dataclass(frozen=True, slots=True)
class Member:
    """One leaf of the group: its index, stable identity key and handle."""

    leaf: int
    identity_key: bytes
    handle: str


def identity_of(leaf: LeafNode) -> tuple[bytes, str]:
    """(identity key, handle) of a leaf's Cove credential.

    Raises :class:`~cove.protocol.errors.ValidationError` (``V-CRED-*``) for a
    credential that is not a Cove identity. The signature binding is the MLS
    credential validator's job (:class:`cove.protocol.identity.CoveCredentialValidator`);
    this only reads."""
    ident = CoveIdentity.from_credential(leaf.credential)
    return ident.identity_key, ident.handle


def handle_key(handle: str) -> str:
    """The form in which handles must be unique in a group (case-insensitive)."""
    return handle.lower()


@dataclass(frozen=True, slots=True)
class Roster:
    """The group's members by leaf index."""

    members: Mapping[int, Member] = field(default_factory=dict)
    _by_key: dict[bytes, Member] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "members", dict(sorted(self.members.items())))
        by_key: dict[bytes, Member] = {}
        for m in self.members.values():
            by_key.setdefault(m.identity_key, m)  # the lowest leaf, if a key is there twice
        object.__setattr__(self, "_by_key", by_key)

    @classmethod
    def of(cls, members: Iterable[Member]) -> Roster:
        return cls({m.leaf: m for m in members})

    @classmethod
    def from_leaves(cls, leaves: Iterable[tuple[int, LeafNode]]) -> Roster:
        """A roster from ``(leaf index, LeafNode)`` pairs, e.g. ``tree.leaves()``."""
        out: dict[int, Member] = {}
        for index, leaf in leaves:
            key, handle = identity_of(leaf)
            out[int(index)] = Member(int(index), key, handle)
        return cls(out)

    def __hash__(self) -> int:
        return hash(tuple(self.members.values()))

    def __iter__(self) -> Iterator[Member]:
        return iter(self.members.values())

    def __len__(self) -> int:
        return len(self.members)

    def at(self, leaf: int | None) -> Member | None:
        return None if leaf is None else self.members.get(leaf)

    def by_identity(self, identity_key: bytes) -> Member | None:
        return self._by_key.get(identity_key)

    def identities(self) -> frozenset[bytes]:
        return frozenset(self._by_key)

    def handle_for(self, identity_key: bytes) -> str | None:
        m = self.by_identity(identity_key)
        return None if m is None else m.handle


__all__ = ["Member", "Roster", "handle_key", "identity_of"]

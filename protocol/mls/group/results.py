"""What the group API returns: members, processed messages, commit outputs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from ...codec import Reader, Writer
from ...errors import ValidationError
from ..credentials import Credential
from ..framing import Sender
from ..leaf_node import LeafNode
from ..proposals import Proposal
from ..ratchet_tree import RatchetTree


@dataclass(frozen=True, slots=True)
class Member:
    leaf_index: int
    credential: Credential
    signature_key: bytes
    encryption_key: bytes

    @property
    def identity(self) -> bytes:
        return self.credential.identity

    def encode(self, w: Writer) -> None:
        w.uint32(self.leaf_index)
        self.credential.encode(w)
        w.opaque(self.signature_key)
        w.opaque(self.encryption_key)

    @classmethod
    def decode(cls, r: Reader) -> Member:
        return cls(r.uint32(), Credential.decode(r), r.opaque(), r.opaque())


@dataclass(frozen=True, slots=True, repr=False)
class ApplicationMessage:
    data: bytes
    sender: Member
    authenticated_data: bytes
    epoch: int
    #: the sender's application generation in ``epoch`` (PrivateMessage; RFC 9420 §6.3.2):
    #: receivers use it to notice messages the relay dropped (relay-integrity.md)
    generation: int | None = None

    def __repr__(self) -> str:
        # The data is a member's plaintext: never in a repr (or a log line).
        return (
            f"ApplicationMessage(data=<{len(self.data)} bytes redacted>, "
            f"sender={self.sender.leaf_index}, epoch={self.epoch})"
        )


@dataclass(frozen=True, slots=True)
class ProposalMessage:
    ref: bytes
    proposal: Proposal
    sender: Sender


@dataclass(frozen=True, slots=True)
class AppliedCommit:
    """A commit that moved the group to ``epoch`` (or removed us: ``removed_me``)."""

    epoch: int
    committer: Member
    added: tuple[Member, ...]
    removed: tuple[Member, ...]
    updated: tuple[Member, ...]
    removed_me: bool = False

    def encode(self, w: Writer) -> None:
        w.uint64(self.epoch)
        self.committer.encode(w)
        for members in (self.added, self.removed, self.updated):
            w.uint32(len(members))
            for m in members:
                m.encode(w)
        w.boolean(self.removed_me)

    @classmethod
    def decode(cls, r: Reader) -> AppliedCommit:
        epoch = r.uint64()
        committer = Member.decode(r)
        added, removed, updated = (
            tuple(Member.decode(r) for _ in range(r.uint32())) for _ in range(3)
        )
        return cls(epoch, committer, added, removed, updated, r.boolean())


ProcessedMessage: TypeAlias = ApplicationMessage | ProposalMessage | AppliedCommit


class CommitOutput:
    """What to send: the commit (MLSMessage bytes) and, if members were added, their
    Welcome. ``group_info`` (a signed GroupInfo of the new epoch, for external joins)
    is built on first access: it carries the whole tree, so it costs O(n).
    ``left_out`` names the stored proposals the commit does not include, and why."""

    __slots__ = ("_group_info", "_make_group_info", "commit", "epoch", "left_out", "welcome")

    def __init__(
        self,
        commit: bytes,
        welcome: bytes | None,
        epoch: int,
        make_group_info: Callable[[], bytes],
    ) -> None:
        self.commit = commit
        self.welcome = welcome
        self.epoch = epoch  # the epoch the commit leads to
        self._make_group_info = make_group_info
        self._group_info: bytes | None = None
        #: Stored proposals of the epoch this commit does not include: (ref, reason).
        self.left_out: tuple[tuple[bytes, str], ...] = ()

    def __repr__(self) -> str:
        return f"CommitOutput(epoch={self.epoch}, welcome={self.welcome is not None})"

    @property
    def group_info(self) -> bytes:
        if self._group_info is None:
            self._group_info = self._make_group_info()
        return self._group_info


def leaf_or_fail(tree: RatchetTree, leaf: int) -> LeafNode:
    node = tree.leaf(leaf) if 0 <= leaf < tree.n_leaves else None
    if node is None:
        raise ValidationError("V-GROUP-001", f"leaf {leaf} is not a member")
    return node


def member_of(leaf: int, node: LeafNode) -> Member:
    return Member(leaf, node.credential, node.signature_key, node.encryption_key)


def member_at(tree: RatchetTree, leaf: int) -> Member:
    """The member at ``leaf`` (O(1)); V-GROUP-001 if the leaf is blank."""
    return member_of(leaf, leaf_or_fail(tree, leaf))

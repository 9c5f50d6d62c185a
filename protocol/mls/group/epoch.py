"""What a member holds for one epoch, for kept past epochs, and for its pending commit.

The epoch's secrets from the key schedule are the fields of :class:`EpochKeys`;
that one definition drives their construction (from :class:`EpochSecrets`),
the redacted ``repr`` and the snapshot encoding (in field order).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ...codec import Reader, Writer
from ...crypto import Suite
from ...crypto.labels import ref_hash
from ..framing import AuthenticatedContent
from ..group_context import GroupContext
from ..key_schedule import EpochSecrets
from ..proposal_list import AppliedProposals, ProposalInfo
from ..proposals import PROPOSAL_REF_LABEL
from ..ratchet_tree import RatchetTree
from ..secret_tree import SecretTree
from ..tree_math import LeafIndex
from ..treekem import TreePrivateKeys
from ..validation import MemberIndex
from .config import GroupConfig
from .results import AppliedCommit, leaf_or_fail


@dataclass(frozen=True, slots=True, repr=False)
class EpochKeys:
    """The secrets of one epoch that a member keeps (RFC 9420 §8), in snapshot order.

    ``encryption_secret`` is not here: it lives on as the epoch's secret tree.
    """

    sender_data_secret: bytes
    exporter_secret: bytes
    external_secret: bytes
    confirmation_key: bytes
    membership_key: bytes
    resumption_psk: bytes
    epoch_authenticator: bytes
    init_secret: bytes

    def __repr__(self) -> str:
        return f"EpochKeys(<{len(EPOCH_KEY_NAMES)} secrets redacted>)"

    @classmethod
    def from_schedule(cls, s: EpochSecrets) -> EpochKeys:
        return cls(**{name: getattr(s, name) for name in EPOCH_KEY_NAMES})

    @classmethod
    def blank(cls) -> EpochKeys:
        """Empty secrets, for the throw-away state an external joiner commits from."""
        return cls(**dict.fromkeys(EPOCH_KEY_NAMES, b""))

    def encode(self, w: Writer) -> None:
        for name in EPOCH_KEY_NAMES:
            w.opaque(getattr(self, name))

    @classmethod
    def decode(cls, r: Reader) -> EpochKeys:
        return cls(**{name: r.opaque() for name in EPOCH_KEY_NAMES})


#: The field names of :class:`EpochKeys`, in declaration (= snapshot) order.
EPOCH_KEY_NAMES: tuple[str, ...] = tuple(f.name for f in fields(EpochKeys))


@dataclass(slots=True, repr=False)
class Epoch:
    """Everything a member holds for one epoch."""

    context: GroupContext
    tree: RatchetTree
    keys: TreePrivateKeys
    secret_tree: SecretTree
    secrets: EpochKeys
    interim_transcript_hash: bytes
    confirmation_tag: bytes
    proposals: dict[bytes, ProposalInfo] = field(default_factory=dict)
    #: Keys and credentials of the tree's leaves; built on first use, then carried
    #: from epoch to epoch with each commit's changes. Not part of the snapshot.
    members: MemberIndex | None = None

    def __repr__(self) -> str:
        return f"Epoch(epoch={self.context.epoch}, <secrets redacted>)"

    @property
    def membership_key(self) -> bytes:
        return self.secrets.membership_key

    @property
    def sender_data_secret(self) -> bytes:
        return self.secrets.sender_data_secret

    def member_index(self) -> MemberIndex:
        if self.members is None:
            self.members = MemberIndex(self.tree.leaves())
        return self.members


@dataclass(slots=True, repr=False)
class PastEpoch:
    """What is kept of an old epoch: enough to open late application messages."""

    context: GroupContext
    tree: RatchetTree
    secret_tree: SecretTree
    sender_data_secret: bytes
    resumption_psk: bytes

    def __repr__(self) -> str:
        return f"PastEpoch(epoch={self.context.epoch}, <secrets redacted>)"

    @classmethod
    def of(cls, ep: Epoch) -> PastEpoch:
        s = ep.secrets
        return cls(ep.context, ep.tree, ep.secret_tree, s.sender_data_secret, s.resumption_psk)


@dataclass(slots=True, repr=False)
class Pending:
    """Our own commit, built but not yet accepted by the relay."""

    epoch: Epoch
    my_leaf: LeafIndex
    signature_private: bytes
    summary: AppliedCommit

    def __repr__(self) -> str:
        return f"Pending(epoch={self.epoch.context.epoch}, <secrets redacted>)"


def epoch_from_secrets(
    suite: Suite,
    context: GroupContext,
    tree: RatchetTree,
    keys: TreePrivateKeys,
    s: EpochSecrets,
    config: GroupConfig,
    interim: bytes,
    tag: bytes,
) -> Epoch:
    return Epoch(
        context=context,
        tree=tree,
        keys=keys,
        secret_tree=SecretTree(suite, s.encryption_secret, tree.n_leaves, config.secret_tree),
        secrets=EpochKeys.from_schedule(s),
        interim_transcript_hash=interim,
        confirmation_tag=tag,
    )


def proposal_ref(suite: Suite, auth_content: AuthenticatedContent) -> bytes:
    """ProposalRef = RefHash("MLS 1.0 Proposal Reference", AuthenticatedContent) (§5.2)."""
    return ref_hash(suite, PROPOSAL_REF_LABEL, auth_content.to_bytes())


def index_after(base: MemberIndex, old_tree: RatchetTree, applied: AppliedProposals) -> MemberIndex:
    """The member index of ``old_tree`` after ``applied`` (before any UpdatePath).

    A copy (O(n)), made once per commit, never per message."""
    members = base.copy()
    for leaf, node in applied.removed:
        members.remove(leaf, node)
    for leaf, node in applied.updated:
        members.remove(leaf, leaf_or_fail(old_tree, leaf))
        members.add(leaf, node)
    for leaf, kp in applied.added:
        members.add(leaf, kp.leaf_node)
    return members

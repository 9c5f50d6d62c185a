"""Persistence of a group: the epoch part, the message part, and the one-blob snapshot.

Byte layouts are in ``docs/protocol/group.md`` ("Persistence"). In short::

    epoch_state   = 0x03 0x01 serial suite active my_leaf signature_private config
                    psks epoch past_epochs pending pending_link_join
                                                            (changes with state_serial)
    message_state = 0x02 0x02 serial group_id epoch secret_tree past_secret_trees
                                                            (changes per message; O(senders))
    to_bytes()    = 0x02 opaque(epoch_state) opaque(message_state)

Epoch states of format 2 (no ``pending_link_join``) and version 1 snapshots (one
blob, no pending commit) are still read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...codec import Reader, Writer
from ...crypto import RandomProvider, Suite, suite_for
from ...errors import DecodeError
from ..framing import Sender
from ..group_context import GroupContext
from ..proposal_list import ProposalInfo
from ..proposals import Proposal, ReInit
from ..ratchet_tree import RatchetTree
from ..secret_tree import SecretTree
from ..tree_math import LeafIndex
from ..treekem import TreePrivateKeys
from ..validation import CredentialValidator
from .config import GroupConfig, read_config, write_config
from .epoch import EPOCH_KEY_NAMES, Epoch, EpochKeys, PastEpoch, Pending
from .results import AppliedCommit

if TYPE_CHECKING:
    from .group import Group

SNAPSHOT_VERSION = 2
#: The epoch part's format: 3 adds ``pending_link_join`` at the end; 2 is still read.
EPOCH_STATE_VERSION = 3
_V1 = 1
_LINK_ID_MAX = 255
_EPOCH_PART = 1
_MESSAGE_PART = 2
_MISMATCH = "epoch and message state do not match"


# -- the epoch part ------------------------------------------------------------------


def epoch_state(g: Group) -> bytes:
    w = Writer()
    w.uint8(EPOCH_STATE_VERSION)
    w.uint8(_EPOCH_PART)
    w.uint64(g._serial)
    w.uint16(g._suite.suite_id)
    w.boolean(g._active)
    w.optional(g._reinit, Writer.struct)
    w.uint32(g._my_leaf)
    w.opaque(g._signature_private)
    write_config(w, g._config)
    w.uint32(len(g._external_psks))
    for k, v in sorted(g._external_psks.items()):
        w.opaque(k)
        w.opaque(v)
    _write_epoch(w, g._epoch)
    w.uint32(len(g._past))
    for past in g._past:
        past.context.encode(w)
        w.opaque(past.tree.to_bytes())
        w.opaque(past.sender_data_secret)
        w.opaque(past.resumption_psk)
    pending = g._pending
    w.boolean(pending is not None)
    if pending is not None:
        w.uint32(pending.my_leaf)
        w.opaque(pending.signature_private)
        _write_epoch(w, pending.epoch)
        pending.epoch.secret_tree.encode(w)
        pending.summary.encode(w)
        w.optional(pending.reinit, Writer.struct)
    w.optional(g._pending_link_join, Writer.opaque)
    return w.getvalue()


def _write_epoch(w: Writer, ep: Epoch) -> None:
    """An epoch without its secret tree (that is in the message part)."""
    ep.context.encode(w)
    w.opaque(ep.tree.to_bytes())
    w.opaque(ep.keys.to_bytes())
    ep.secrets.encode(w)
    w.opaque(ep.interim_transcript_hash)
    w.opaque(ep.confirmation_tag)
    w.uint32(len(ep.proposals))
    for ref, info in ep.proposals.items():
        w.opaque(ref)
        info.proposal.encode(w)
        info.sender.encode(w)


def _read_epoch(r: Reader, suite: Suite, secret_tree: SecretTree | None) -> Epoch:
    context = GroupContext.decode(r)
    tree = RatchetTree.from_bytes(suite, r.opaque())
    keys = TreePrivateKeys.from_bytes(r.opaque())
    secrets = EpochKeys.decode(r)
    interim, tag = r.opaque(), r.opaque()
    proposals = _read_proposals(r)
    return Epoch(
        context=context,
        tree=tree,
        keys=keys,
        # Filled in from the message part; a placeholder until then.
        secret_tree=secret_tree or SecretTree(suite, b"", tree.n_leaves),
        secrets=secrets,
        interim_transcript_hash=interim,
        confirmation_tag=tag,
        proposals=proposals,
    )


def _read_proposals(r: Reader) -> dict[bytes, ProposalInfo]:
    proposals = {}
    for _ in range(r.uint32()):
        ref = r.opaque()
        proposal = Proposal.decode(r)
        proposals[ref] = ProposalInfo(proposal, Sender.decode(r), ref)
    return proposals


def _read_epoch_state(
    cls: type[Group],
    data: bytes,
    rng: RandomProvider,
    credential_validator: CredentialValidator | None,
) -> Group:
    r = Reader(data, type_name="GroupEpochState")
    version = r.uint8()
    if version not in (SNAPSHOT_VERSION, EPOCH_STATE_VERSION) or r.uint8() != _EPOCH_PART:
        raise r.error("not a version 2 or 3 group epoch state")
    serial = r.uint64()
    suite = suite_for(r.uint16())
    active = r.boolean()
    reinit = r.optional(ReInit.decode)
    my_leaf = LeafIndex(r.uint32())
    signature_private = r.opaque()
    config = read_config(r)
    psks = _read_psks(r)
    epoch = _read_epoch(r, suite, None)
    group = cls(
        suite,
        my_leaf,
        signature_private,
        epoch,
        rng=rng,
        config=config,
        credential_validator=credential_validator,
        external_psks=psks,
    )
    group._active = active
    group._reinit = reinit
    group._serial = serial
    for _ in range(r.uint32()):
        context = GroupContext.decode(r)
        tree = RatchetTree.from_bytes(suite, r.opaque())
        placeholder = SecretTree(suite, b"", tree.n_leaves)
        group._past.append(PastEpoch(context, tree, placeholder, r.opaque(), r.opaque()))
    if r.boolean():
        pending_leaf = LeafIndex(r.uint32())
        pending_key = r.opaque()
        pending_epoch = _read_epoch(r, suite, None)
        pending_epoch.secret_tree = SecretTree.decode(suite, r)
        summary = AppliedCommit.decode(r)
        group._pending = Pending(
            pending_epoch, pending_leaf, pending_key, summary, r.optional(ReInit.decode)
        )
    if version == EPOCH_STATE_VERSION:
        group._pending_link_join = r.optional(lambda r: r.opaque(_LINK_ID_MAX))
    r.expect_end()
    return group


def _read_psks(r: Reader) -> dict[bytes, bytes]:
    psks = {}
    for _ in range(r.uint32()):
        k = r.opaque()
        psks[k] = r.opaque()
    return psks


# -- the message part ----------------------------------------------------------------


def message_state(g: Group) -> bytes:
    """O(secret-tree nodes and ratchets in use): nothing here grows with the tree."""
    w = Writer()
    w.uint8(SNAPSHOT_VERSION)
    w.uint8(_MESSAGE_PART)
    w.uint64(g._serial)
    w.opaque(g._epoch.context.group_id)
    w.uint64(g._epoch.context.epoch)
    g._epoch.secret_tree.encode(w)
    w.uint32(len(g._past))
    for past in g._past:
        w.uint64(past.context.epoch)
        past.secret_tree.encode(w)
    return w.getvalue()


def _apply_message_state(group: Group, data: bytes) -> None:
    r = Reader(data, type_name="GroupMessageState")
    if r.uint8() != SNAPSHOT_VERSION or r.uint8() != _MESSAGE_PART:
        raise r.error("not a version 2 group message state")
    serial, group_id, epoch = r.uint64(), r.opaque(), r.uint64()
    if serial != group._serial or group_id != group.group_id or epoch != group.epoch:
        raise DecodeError(_MISMATCH, type_name="GroupMessageState")
    suite = group._suite
    group._epoch.secret_tree = _read_secret_tree(r, suite, group._epoch.tree)
    if r.uint32() != len(group._past):
        raise DecodeError(_MISMATCH, type_name="GroupMessageState")
    for past in group._past:
        if r.uint64() != past.context.epoch:
            raise DecodeError(_MISMATCH, type_name="GroupMessageState")
        past.secret_tree = _read_secret_tree(r, suite, past.tree)
    r.expect_end()


def _read_secret_tree(r: Reader, suite: Suite, tree: RatchetTree) -> SecretTree:
    secret_tree = SecretTree.decode(suite, r)
    if secret_tree.n_leaves != tree.n_leaves:
        raise DecodeError(_MISMATCH, type_name="GroupMessageState")
    return secret_tree


def from_state(
    cls: type[Group],
    epoch_part: bytes,
    message_part: bytes,
    rng: RandomProvider,
    *,
    credential_validator: CredentialValidator | None,
) -> Group:
    group = _read_epoch_state(cls, epoch_part, rng, credential_validator)
    _apply_message_state(group, message_part)
    return group


# -- the one-blob snapshot -----------------------------------------------------------


def to_bytes(g: Group) -> bytes:
    w = Writer()
    w.uint8(SNAPSHOT_VERSION)
    w.opaque(epoch_state(g))
    w.opaque(message_state(g))
    return w.getvalue()


def from_bytes(
    cls: type[Group],
    data: bytes,
    rng: RandomProvider,
    *,
    credential_validator: CredentialValidator | None,
) -> Group:
    r = Reader(data, type_name="GroupSnapshot")
    version = r.uint8()
    if version == _V1:
        return _read_v1(cls, r, rng, credential_validator)
    if version != SNAPSHOT_VERSION:
        raise r.error("unknown snapshot version")
    epoch_part, message_part = r.opaque(), r.opaque()
    r.expect_end()
    return from_state(cls, epoch_part, message_part, rng, credential_validator=credential_validator)


def _read_v1(
    cls: type[Group],
    r: Reader,
    rng: RandomProvider,
    credential_validator: CredentialValidator | None,
) -> Group:
    """A version 1 snapshot: one blob, the secret tree inside the epoch, the epoch
    secrets followed by interim hash and tag, no pending commit."""
    suite = suite_for(r.uint16())
    active = r.boolean()
    my_leaf = LeafIndex(r.uint32())
    signature_private = r.opaque()
    config: GroupConfig = read_config(r)
    psks = _read_psks(r)
    context = GroupContext.decode(r)
    tree = RatchetTree.from_bytes(suite, r.opaque())
    keys = TreePrivateKeys.from_bytes(r.opaque())
    secret_tree = SecretTree.decode(suite, r)
    secrets = EpochKeys(**{name: r.opaque() for name in EPOCH_KEY_NAMES})
    interim, tag = r.opaque(), r.opaque()
    epoch = Epoch(context, tree, keys, secret_tree, secrets, interim, tag, _read_proposals(r))
    group = cls(
        suite,
        my_leaf,
        signature_private,
        epoch,
        rng=rng,
        config=config,
        credential_validator=credential_validator,
        external_psks=psks,
    )
    group._active = active
    for _ in range(r.uint32()):
        past_context = GroupContext.decode(r)
        past_tree = RatchetTree.from_bytes(suite, r.opaque())
        past_secret_tree = SecretTree.decode(suite, r)
        group._past.append(
            PastEpoch(past_context, past_tree, past_secret_tree, r.opaque(), r.opaque())
        )
    r.expect_end()
    return group

"""Per-group local policy (:class:`GroupConfig`) and its snapshot encoding."""

from __future__ import annotations

from dataclasses import dataclass, field

from ...codec import Reader, Writer
from ...errors import UsageError
from ..framing import WireFormat
from ..secret_tree import SecretTreeConfig


@dataclass(frozen=True, slots=True)
class GroupConfig:
    """Per-group policy. Everything here is local: members may differ."""

    #: How this member sends proposals and commits (PrivateMessage hides them from the relay).
    handshake_wire_format: WireFormat = WireFormat.PRIVATE_MESSAGE
    #: PrivateMessage plaintexts are zero-padded to a multiple of this many bytes.
    padding_block: int = 32
    #: Old epochs whose secrets are kept for late application messages.
    max_past_epochs: int = 2
    secret_tree: SecretTreeConfig = field(default_factory=SecretTreeConfig)
    #: Put the ratchet tree into Welcome/GroupInfo (else it travels out of band).
    ratchet_tree_extension: bool = True
    #: Largest number of proposals kept for the next commit.
    max_pending_proposals: int = 1024

    def __post_init__(self) -> None:
        if self.handshake_wire_format not in (
            WireFormat.PUBLIC_MESSAGE,
            WireFormat.PRIVATE_MESSAGE,
        ):
            raise UsageError("handshake messages are PublicMessage or PrivateMessage")
        if self.max_past_epochs < 0 or self.padding_block < 1:
            raise UsageError("bad group config")


def write_config(w: Writer, c: GroupConfig) -> None:
    w.uint16(c.handshake_wire_format)
    w.uint32(c.padding_block)
    w.uint32(c.max_past_epochs)
    w.uint32(c.secret_tree.max_skipped_keys)
    w.uint32(c.secret_tree.max_forward_distance)
    w.boolean(c.ratchet_tree_extension)
    w.uint32(c.max_pending_proposals)


def read_config(r: Reader) -> GroupConfig:
    wf = r.uint16()
    if wf not in (WireFormat.PUBLIC_MESSAGE, WireFormat.PRIVATE_MESSAGE):
        raise r.error("bad handshake wire format")
    padding, past = r.uint32(), r.uint32()
    st = SecretTreeConfig(r.uint32(), r.uint32())
    return GroupConfig(WireFormat(wf), max(1, padding), past, st, r.boolean(), r.uint32())

"""Cove's authenticated data: the fork check every Cove message carries.

::

    struct {
        uint8  version = 1;
        opaque fork_check[16];   /* MLS-Exporter("cove fork check", "", 16) of the
                                    sender's epoch (RFC 9420 §8.5) */
    } CoveAuthenticatedData;     /* the MLS authenticated_data, 17 octets */

The relay sees a PrivateMessage's ``authenticated_data`` in the clear, so the value
is *derived* from the epoch's secrets (an exporter output: one-way, reveals nothing
of the epoch authenticator members compare out of band nor of any other secret),
the same for every member of one epoch, and names no sender. A receiver at the
same epoch compares it with its own: a different value means the sender's group
has the same epoch number but different secrets — the relay delivered different
commits to different members (a fork). ``docs/protocol/relay-integrity.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import CoveError
from .mls.framing import MLSMessage, PrivateMessage, PublicMessage
from .mls.group import Group

VERSION = 1
FORK_LABEL = b"cove fork check"
FORK_CHECK_LEN = 16
AAD_LEN = 1 + FORK_CHECK_LEN


def fork_check(group: Group) -> bytes:
    """The fork check of ``group``'s current epoch."""
    return group.export_secret(FORK_LABEL, b"", FORK_CHECK_LEN)


def authenticated_data(group: Group) -> bytes:
    """The ``authenticated_data`` a Cove client puts on every message it sends."""
    return bytes([VERSION]) + fork_check(group)


def parse(aad: bytes) -> bytes | None:
    """The fork check in ``aad``; None if it is not Cove's format (empty: an older
    client, an external commit)."""
    if len(aad) != AAD_LEN or aad[0] != VERSION:
        return None
    return aad[1:]


@dataclass(frozen=True, slots=True)
class Framing:
    """What any reader of a framed MLS message can see (the relay too)."""

    epoch: int
    fork_check: bytes | None


def peek(message: bytes) -> Framing | None:
    """The epoch and fork check of a PublicMessage or PrivateMessage; None otherwise."""
    try:
        body = MLSMessage.from_bytes(message).body
    except CoveError:
        return None
    if isinstance(body, PrivateMessage):
        return Framing(body.epoch, parse(body.authenticated_data))
    if isinstance(body, PublicMessage):
        return Framing(body.content.epoch, parse(body.content.authenticated_data))
    return None

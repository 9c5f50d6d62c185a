"""Read markers: what the member has read, kept in the encrypted store (collection
``read_marker``), so that new-message counts survive a restart.

A marker says "everything up to the relay's log position ``seq`` in this place has
been read". A place is one thread of a group (``thread`` is the thread root's id)
or, for what is not in a thread (private messages), the whole group
(``thread`` absent). Key: the group id, followed by the thread id if there is one;
partition: the group id. A marker only moves forward.

A message counts as new (unread) when it is a thread root, post or private
message, another member sent it, it is not deleted, it has a log position, and
that position is above its place's marker.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, ClassVar

from cove.client.context import Context
from cove.client.errors import UsageProblem
from cove.client.records import MessageView
from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol.wire.schema import Bytes, Int

READ = "read_marker"
CONTENT = ("thread", "post", "dm")
I63 = 2**63 - 1
ID_BYTES = 16


@dataclass(frozen=True, slots=True)
class ReadMarker(StoreRecord):
    """Everything up to ``seq`` in ``group`` (one thread of it, or outside threads) is read."""

    KIND: ClassVar[str] = "read_marker"

    group: Annotated[bytes, Bytes(1, 255)]
    seq: Annotated[int, Int(0, I63)]
    thread: Annotated[bytes | None, Bytes(ID_BYTES, ID_BYTES)] = None


def marker_key(group_id: bytes, thread: bytes | None) -> bytes:
    return group_id + (thread or b"")


def place(m: MessageView) -> bytes | None:
    """The thread a message belongs to (None: outside threads, e.g. a private message)."""
    return m.thread if m.type in ("thread", "post") else None


def count_unread(
    messages: Sequence[MessageView], markers: dict[bytes | None, int], me: str
) -> dict[bytes | None, int]:
    """New messages per place (only places with at least one)."""
    out: dict[bytes | None, int] = {}
    for m in messages:
        if m.type not in CONTENT or m.sender == me or m.deleted or m.seq is None:
            continue
        where = place(m)
        if m.seq > markers.get(where, 0):
            out[where] = out.get(where, 0) + 1
    return out


class Reading:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def markers(self, txn: Txn, group_id: bytes) -> dict[bytes | None, int]:
        out: dict[bytes | None, int] = {}
        for _, value in await txn.scan(READ, partition=group_id):
            marker = ReadMarker.unpack(value)
            if marker.group == group_id:
                out[marker.thread] = marker.seq
        return out

    async def mark(self, group_id: bytes, thread: bytes | None, seq: int) -> int:
        """Move the place's marker up to ``seq`` (never back); returns the marker now."""
        if thread is not None and len(thread) != ID_BYTES:
            raise UsageProblem("a thread id is 16 bytes")
        if not 0 <= seq <= I63:
            raise UsageProblem("a log position is a number from 0")
        key = marker_key(group_id, thread)
        async with self.ctx.store.transaction() as txn:
            value = await txn.get(READ, key)
            current = ReadMarker.unpack(value).seq if value is not None else 0
            if seq > current:
                marker = ReadMarker(group_id, seq, thread)
                await txn.put(READ, key, marker.pack(), partition=group_id)
                current = seq
        return current

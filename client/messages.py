"""The message store: every app record received or sent, as its plaintext, with
what the client learnt when it arrived (collection ``message``, key: the record
id, partition: the group id), and quarantined log entries (``quarantine``).

A record id seen before in the store is ignored (replays and re-encryptions
show once). Rows are read back in the relay's log order (``seq``); our own
records not yet acknowledged by the relay come last, in the order we wrote them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from cove.client.store import Txn
from cove.client.store.records import StoreRecord
from cove.protocol import CoveError
from cove.protocol.app import RECORD_MAX, AppRecord
from cove.protocol.app import decode as decode_record
from cove.protocol.wire.schema import Bytes, Int, Str

MESSAGE, QUARANTINE = "message", "quarantine"
I63 = 2**63 - 1
_MAX_MESSAGE = 16 << 20  # an MLS message as the relay logged it (the relay allows 256 KiB)


@dataclass(slots=True)
class MessageRow(StoreRecord):
    KIND: ClassVar[str] = "message"

    group: Annotated[bytes, Bytes(1, 255)]
    #: the app record exactly as it was in the MLS application message (padded msgpack)
    record: Annotated[bytes, Bytes(1, RECORD_MAX)]
    sender: Annotated[str, Str(1, 64)]
    epoch: Annotated[int, Int(0, I63)]
    received_at: Annotated[int, Int(0, I63)]
    order: Annotated[int, Int(1, I63)]
    #: the relay's log position; None for our own record until the relay acknowledged it
    seq: Annotated[int | None, Int(1, I63)] = None
    #: the author's identity key: authorship (edits, deletions) is compared by it
    sender_key: Annotated[bytes | None, Bytes(32, 32)] = None

    def __repr__(self) -> str:
        return f"MessageRow(sender={self.sender!r}, seq={self.seq}, <record redacted>)"


@dataclass(slots=True)
class QuarantineRow(StoreRecord):
    """A log entry that could not be processed, kept for inspection. A record this
    client could not read (a newer app version or record type) keeps its plaintext
    and sender, so that it can be read after an upgrade."""

    KIND: ClassVar[str] = "quarantined"
    MAX_BYTES: ClassVar[int] = 4 << 20

    group: Annotated[bytes, Bytes(1, 255)]
    seq: Annotated[int, Int(0, I63)]
    reason: Annotated[str, Str(0, 4096)]
    message: Annotated[bytes, Bytes(0, _MAX_MESSAGE)] = b""
    plaintext: Annotated[bytes | None, Bytes(0, _MAX_MESSAGE)] = None
    sender: Annotated[str | None, Str(1, 64)] = None
    epoch: Annotated[int | None, Int(0, I63)] = None

    def __repr__(self) -> str:
        return f"QuarantineRow(seq={self.seq}, reason={self.reason!r}, <content redacted>)"


@dataclass(frozen=True, slots=True)
class Stored:
    """A decoded message as the read models see it."""

    record: AppRecord
    sender: str
    seq: int | None
    epoch: int
    received_at: int
    order: int
    sender_key: bytes = b""

    def __repr__(self) -> str:
        return f"Stored(sender={self.sender!r}, seq={self.seq}, <record redacted>)"


def log_order(rows: list[Stored]) -> list[Stored]:
    """The relay's order; unacknowledged own records last, as written."""
    return sorted(rows, key=lambda m: (m.seq is None, m.seq or 0, m.order))


class MessageStore:
    async def prefetch(self, txn: Txn, records: list[bytes]) -> None:
        """Read ahead whether these encoded app records' ids are kept (one query for a
        page of messages instead of one per message); ones that do not decode are skipped."""
        ids = []
        for data in records:
            try:
                record_id = getattr(decode_record(data), "id", None)
            except CoveError:
                continue
            if isinstance(record_id, bytes):
                ids.append(record_id)
        await self.prefetch_ids(txn, ids)

    async def prefetch_ids(self, txn: Txn, ids: list[bytes]) -> None:
        """Read ahead whether records with these ids are kept (one query for a page)."""
        if ids:
            await txn.get_many(MESSAGE, ids)

    async def keep(
        self,
        txn: Txn,
        group_id: bytes,
        record: AppRecord,
        sender: str,
        *,
        seq: int | None,
        epoch: int,
        now: int,
        sender_key: bytes = b"",
    ) -> Stored | None:
        """Keep a record; None if a record with its id is already kept."""
        if await txn.get(MESSAGE, record.id) is not None:
            return None
        order = await txn.next_order(MESSAGE, group_id)
        row = MessageRow(
            group_id, record.encode(), sender, epoch, now, order, seq, sender_key or None
        )
        await txn.put(MESSAGE, record.id, row.pack(), partition=group_id, order=order)
        return Stored(record, sender, seq, epoch, now, order, sender_key)

    async def mark_sent(self, txn: Txn, record_id: bytes, seq: int) -> None:
        value = await txn.get(MESSAGE, record_id)
        if value is None:
            return
        row = MessageRow.unpack(value)
        row.seq = seq
        await txn.put(MESSAGE, record_id, row.pack(), partition=row.group, order=row.order)

    async def find(self, txn: Txn, record_id: bytes) -> tuple[bytes, Stored] | None:
        value = await txn.get(MESSAGE, record_id)
        if value is None:
            return None
        row = MessageRow.unpack(value)
        stored = _decode(row)
        return None if stored is None else (row.group, stored)

    async def group(self, txn: Txn, group_id: bytes) -> list[Stored]:
        """A group's messages in log order."""
        out = []
        for _, value in await txn.scan(MESSAGE, partition=group_id):
            stored = _decode(MessageRow.unpack(value))
            if stored is not None:
                out.append(stored)
        return log_order(out)

    async def ids(self, txn: Txn, group_ids: list[bytes]) -> list[bytes]:
        """The ids of every kept record of these groups."""
        out = []
        for gid in group_ids:
            out += [k for k, _ in await txn.scan(MESSAGE, partition=gid)]
        return out

    async def quarantine(self, txn: Txn, row: QuarantineRow) -> None:
        order = await txn.next_order(QUARANTINE, row.group)
        await txn.put(
            QUARANTINE,
            row.group + row.seq.to_bytes(8, "big"),
            row.pack(),
            partition=row.group,
            order=order,
        )

    async def quarantined(self, txn: Txn, group_id: bytes) -> list[QuarantineRow]:
        return [QuarantineRow.unpack(v) for _, v in await txn.scan(QUARANTINE, partition=group_id)]

    async def release(self, txn: Txn, row: QuarantineRow) -> None:
        await txn.delete(QUARANTINE, row.group + row.seq.to_bytes(8, "big"))


def _decode(row: MessageRow) -> Stored | None:
    try:
        record = decode_record(row.record)
    except CoveError:
        return None  # kept rows were decoded once; a newer client's rows are skipped
    return Stored(
        record, row.sender, row.seq, row.epoch, row.received_at, row.order, row.sender_key or b""
    )


def quarantine_doc(row: QuarantineRow) -> dict[str, Any]:
    """What :meth:`CoveClient.quarantined` returns for one row."""
    return {
        "group": row.group, "seq": row.seq, "reason": row.reason, "message": row.message,
        "sender": row.sender, "readable_later": row.plaintext is not None,
    }  # fmt: skip

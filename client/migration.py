"""Store format migrations, run when a store is opened.

Format 1 (Cove until December 2026) kept positional msgpack lists and untyped
maps: ``account`` a list of 11 fields, ``group`` a list of 11 fields with the
MLS snapshot inside, ``message`` a map per record plus a ``msgindex`` row
(``[group id, order]``), ``pin`` and ``kp_bundle`` lists, ``outbox`` maps
whose kind showed only by which keys were present, ``quarantine`` maps.
Format 2 is the typed records of :mod:`cove.client.store.records`, with the
format number in ``meta``/``format``. A migration runs in one transaction: the
store is either all format 1 or all format 2.
"""

from __future__ import annotations

from typing import Any

import msgpack  # type: ignore[import-untyped]

from cove.client.account import ACCOUNT, SELF, Account
from cove.client.errors import StoreDamaged
from cove.client.group_state import GROUP, GroupRecord, GroupStates
from cove.client.key_packages import BUNDLE, Bundle
from cove.client.messages import MESSAGE, QUARANTINE, MessageRow, QuarantineRow
from cove.client.outbox import OUTBOX, ApplicationEntry, CommitEntry, HandshakeEntry, OutboxEntry
from cove.client.store import Store, Txn
from cove.client.store.records import FORMAT, FormatRecord
from cove.client.trust import PIN, Pin
from cove.protocol import CoveError, RandomProvider
from cove.protocol.app import (
    AppRecord,
    AttachmentRef,
    DirectMessage,
    Edit,
    Post,
    Reaction,
    Redaction,
    ThreadRoot,
)

META, FORMAT_KEY = "meta", b"format"
MSGINDEX = "msgindex"  # format 1 only


async def read_format(txn: Txn) -> int:
    """The store's format: the ``meta`` row, else 1 if it holds a format-1 account."""
    value = await txn.get(META, FORMAT_KEY)
    if value is not None:
        return FormatRecord.unpack(value).format
    account = await txn.get(ACCOUNT, SELF)
    if account is not None and isinstance(_old(account), list):
        return 1
    return FORMAT


async def write_format(txn: Txn) -> None:
    await txn.put(META, FORMAT_KEY, FormatRecord(FORMAT).pack())


async def migrate(store: Store, rng: RandomProvider) -> int:
    """Bring the store to :data:`FORMAT`; returns the format it had."""
    async with store.transaction() as txn:
        found = await read_format(txn)
        if found > FORMAT:
            raise StoreDamaged(
                f"this store was written by a newer Cove (format {found}); upgrade Cove to open it"
            )
        if found == 1:
            try:
                await _from_format_1(txn, rng)
            except (KeyError, TypeError, ValueError, CoveError) as exc:
                raise StoreDamaged(f"cannot migrate the store from format 1: {exc}") from None
        if found < FORMAT or await txn.get(META, FORMAT_KEY) is None:
            await write_format(txn)
    return found


def _old(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


async def _from_format_1(txn: Txn, rng: RandomProvider) -> None:
    account = _old(await txn.get(ACCOUNT, SELF) or b"")
    await txn.put(ACCOUNT, SELF, Account(*account).pack())
    for key, value in await txn.scan(PIN):
        h, ikey, changed, verified = _old(value)
        await txn.put(PIN, key, Pin(h, ikey, changed, bool(verified)).pack())
    for key, value in await txn.scan(BUNDLE):
        data, last_resort = _old(value)
        await txn.put(BUNDLE, key, Bundle(data, bool(last_resort)).pack())
    for key, value in await txn.scan(OUTBOX):
        await txn.put(OUTBOX, key, _outbox_entry(_old(value)).pack())
    states = GroupStates(rng)
    for key, value in await txn.scan(GROUP):
        gid, snap, seq, hs, own, kind, peer, active, last, sent, needs = _old(value)
        record = GroupRecord(
            gid, seq, hs, kind=kind, peer=peer, active=bool(active), last_update=last,
            sent_since_update=sent, needs_update=bool(needs),
        )  # fmt: skip
        c = record.cursor()
        c.own = set(own)
        record.set_cursor(c)
        if snap:
            await states.save_snapshot(txn, record, snap)
        else:
            record.active = False
            await txn.put(GROUP, key, record.pack())
        await _messages(txn, gid)
        for qkey, qvalue in await txn.scan(QUARANTINE, partition=gid):
            q = _old(qvalue)
            row = QuarantineRow(q["group"], q["seq"], q["reason"], q.get("message") or b"")
            # same key, partition and order as before (a fresh order keeps the sequence)
            await txn.put(QUARANTINE, qkey, row.pack(), partition=gid,
                          order=await txn.next_order(QUARANTINE, gid))  # fmt: skip


async def _messages(txn: Txn, gid: bytes) -> None:
    for key, value in await txn.scan(MESSAGE, partition=gid):
        row = _old(value)
        index = await txn.get(MSGINDEX, key)
        await txn.delete(MSGINDEX, key)
        record = _record(row)
        if record is None or index is None:
            await txn.delete(MESSAGE, key)  # nothing readable was kept for it
            continue
        order = int(_old(index)[1])
        new = MessageRow(gid, record.encode(), row["sender"], int(row.get("epoch") or 0),
                         int(row.get("received_at") or 0), order, row.get("seq"))  # fmt: skip
        await txn.put(MESSAGE, key, new.pack(), partition=gid, order=order)


def _refs(row: dict[str, Any]) -> tuple[AttachmentRef, ...]:
    return tuple(
        AttachmentRef(
            blob_id=a["blob_id"],
            key=a["key"],
            sha256=a["sha256"],
            size=a["size"],
            media_type=a["media_type"],
            file_name=a["name"],
            chunk_size=a["chunk_size"],
        )
        for a in row.get("attachments") or []
    )


def _record(row: dict[str, Any]) -> AppRecord | None:
    """A format-1 message row back as the app record it was made from."""
    base = {"id": row["id"], "sent_at": row["sent_at"]}
    t = row["type"]
    if t == "thread":
        return ThreadRoot(
            **base, title=row["title"], body=row.get("body", ""), attachments=_refs(row)
        )
    if t == "post":
        return Post(**base, thread=row["thread"], body=row.get("body", ""),
                    reply_to=row.get("reply_to"), attachments=_refs(row))  # fmt: skip
    if t == "dm":
        return DirectMessage(**base, body=row.get("body", ""), attachments=_refs(row))
    if t == "reaction":
        return Reaction(
            **base, target=row["target"], emoji=row["emoji"], remove=bool(row.get("remove"))
        )
    if t == "edit":
        return Edit(**base, target=row["target"], body=row.get("body", ""))
    if t == "redaction":
        return Redaction(**base, target=row["target"])
    return None


def _outbox_entry(e: dict[str, Any]) -> OutboxEntry:
    if e.get("after"):
        return CommitEntry(
            e["group"], e["key"], e["message"], e["position"], e["before"], e["after"],
            e.get("welcome"), tuple(e.get("welcome_devices") or ()), tuple(e.get("remove") or ()),
        )  # fmt: skip
    if e.get("handshake"):
        return HandshakeEntry(e["group"], e["key"], e["message"], e["position"])
    return ApplicationEntry(e["group"], e["key"], e["message"], e["record_id"])

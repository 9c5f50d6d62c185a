"""SQLite statements of invite links: mixed into :class:`~.sqlite.SqliteTxn` and
:class:`~.sqlite_batch.SqliteBatchTxn` (migrations ``0003_invite_links.sql``,
``0004_group_info_position.sql``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from .base import GroupRecord, StoredMessage
from .links_base import (
    JoinRequestRecord,
    LinkPurgeCounts,
    LinkRecord,
    Pickup,
    QueuedRequest,
    StoredGroupInfo,
)

_LINK_COLS = (
    "l.link_id, l.group_id, l.capability_verifier, l.mode, l.expires_at, l.max_uses, l.uses,"
    " l.registrations, l.created_at, l.revoked_at,"
    " (SELECT COUNT(*) FROM join_requests r WHERE r.link_id = l.link_id)"
)
SQL_LINK = f"SELECT {_LINK_COLS} FROM links l WHERE l.link_id = ?"  # noqa: S608
SQL_COUNT_USE = "UPDATE links SET uses = uses + 1 WHERE link_id = ? RETURNING uses"


def link_record(row: tuple[Any, ...] | sqlite3.Row) -> LinkRecord:
    return LinkRecord(
        bytes(row[0]), bytes(row[1]), bytes(row[2]), str(row[3]), int(row[4]), int(row[5]),
        int(row[6]), int(row[7]), int(row[8]), None if row[9] is None else int(row[9]),
        int(row[10]),
    )  # fmt: skip


class SqliteLinksTxn:
    """Async link statements; the host class provides ``_one``, ``_all``, ``_run``."""

    __slots__ = ()

    async def _one(self, sql: str, args: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        raise NotImplementedError

    async def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    async def _run(self, sql: str, args: tuple[object, ...] = ()) -> int:
        raise NotImplementedError

    async def insert_link(
        self, link_id: bytes, group_id: bytes, verifier: bytes, mode: str, expires_at: int,
        max_uses: int, now: int, preview: bytes,
    ) -> bool:  # fmt: skip
        n = await self._run(
            "INSERT OR IGNORE INTO links (link_id, group_id, capability_verifier, mode,"
            " expires_at, max_uses, created_at, preview) VALUES (?,?,?,?,?,?,?,?)",
            (link_id, group_id, verifier, mode, expires_at, max_uses, now, preview),
        )
        return n == 1

    async def link(self, link_id: bytes) -> LinkRecord | None:
        row = await self._one(SQL_LINK, (link_id,))
        return None if row is None else link_record(row)

    async def links_of(self, group_id: bytes) -> list[LinkRecord]:
        rows = await self._all(
            f"SELECT {_LINK_COLS} FROM links l WHERE l.group_id = ?"  # noqa: S608
            " ORDER BY l.created_at, l.link_id",
            (group_id,),
        )
        return [link_record(r) for r in rows]

    async def forget_dead_links(self, group_id: bytes, now: int, keep: int) -> None:
        await self._run(
            "DELETE FROM links WHERE link_id IN (SELECT link_id FROM links WHERE group_id = ?"
            " AND (revoked_at IS NOT NULL OR expires_at <= ?)"
            " ORDER BY COALESCE(revoked_at, expires_at), link_id"
            " LIMIT MAX(0, (SELECT COUNT(*) FROM links WHERE group_id = ?) - ? + 1))",
            (group_id, now, group_id, keep),
        )

    async def revoke_link(self, link_id: bytes, now: int) -> None:
        await self._run(
            "UPDATE links SET revoked_at = ?, preview = NULL WHERE link_id = ?", (now, link_id)
        )
        await self._run("DELETE FROM link_group_info WHERE link_id = ?", (link_id,))
        await self._run("DELETE FROM join_requests WHERE link_id = ?", (link_id,))

    async def set_link_preview(self, link_id: bytes, preview: bytes) -> None:
        await self._run("UPDATE links SET preview = ? WHERE link_id = ?", (preview, link_id))

    async def link_preview(self, link_id: bytes) -> bytes | None:
        row = await self._one("SELECT preview FROM links WHERE link_id = ?", (link_id,))
        return None if row is None or row[0] is None else bytes(row[0])

    async def count_link_use(self, link_id: bytes) -> int:
        row = await self._one(SQL_COUNT_USE, (link_id,))
        assert row is not None
        return int(row[0])

    async def count_link_registration(self, link_id: bytes) -> None:
        await self._run(
            "UPDATE links SET registrations = registrations + 1 WHERE link_id = ?", (link_id,)
        )

    async def group_info(self, link_id: bytes) -> StoredGroupInfo | None:
        row = await self._one(
            "SELECT epoch, position, sealed FROM link_group_info WHERE link_id = ?", (link_id,)
        )
        return None if row is None else StoredGroupInfo(int(row[0]), int(row[1]), bytes(row[2]))

    async def put_group_info(
        self, link_id: bytes, epoch: int, position: int, sealed: bytes
    ) -> None:
        await self._run(
            "INSERT INTO link_group_info (link_id, epoch, position, sealed) VALUES (?,?,?,?)"
            " ON CONFLICT (link_id) DO UPDATE SET epoch = excluded.epoch,"
            " position = excluded.position, sealed = excluded.sealed",
            (link_id, epoch, position, sealed),
        )

    async def insert_join_request(
        self, request_id: bytes, link_id: bytes, position: int, device_id: bytes,
        pickup_id: bytes, pickup_verifier: bytes, now: int, sealed: bytes,
    ) -> bool:  # fmt: skip
        taken = await self._one(
            "SELECT 1 FROM join_requests WHERE pickup_id = ?"
            " UNION ALL SELECT 1 FROM join_declines WHERE pickup_id = ?",
            (pickup_id, pickup_id),
        )
        if taken is not None:
            return False
        await self._run(
            "INSERT INTO join_requests (request_id, link_id, position, device_id, pickup_id,"
            " pickup_verifier, received_at, sealed) VALUES (?,?,?,?,?,?,?,?)",
            (request_id, link_id, position, device_id, pickup_id, pickup_verifier, now, sealed),
        )
        return True

    async def request_by_pickup(self, pickup_id: bytes) -> QueuedRequest | None:
        row = await self._one(
            "SELECT request_id, link_id, position, pickup_verifier, sealed FROM join_requests"
            " WHERE pickup_id = ?",
            (pickup_id,),
        )
        if row is None:
            return None
        return QueuedRequest(bytes(row[0]), bytes(row[1]), int(row[2]), bytes(row[3]),
                             bytes(row[4]))  # fmt: skip

    async def waiting_of_account(self, account_id: bytes) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM join_requests r JOIN devices d USING (device_id)"
            " WHERE d.account_id = ?",
            (account_id,),
        )
        assert row is not None
        return int(row[0])

    async def join_requests(
        self, link_id: bytes, after: int, limit: int
    ) -> list[JoinRequestRecord]:
        rows = await self._all(
            "SELECT request_id, position, device_id, received_at, sealed FROM join_requests"
            " WHERE link_id = ? AND position > ? ORDER BY position LIMIT ?",
            (link_id, after, limit),
        )
        return [JoinRequestRecord(bytes(r[0]), int(r[1]), bytes(r[2]), int(r[3]), bytes(r[4]))
                for r in rows]  # fmt: skip

    async def delete_join_request(
        self, link_id: bytes, request_id: bytes
    ) -> tuple[bytes, bytes] | None:
        row = await self._one(
            "DELETE FROM join_requests WHERE link_id = ? AND request_id = ?"
            " RETURNING pickup_id, pickup_verifier",
            (link_id, request_id),
        )
        return None if row is None else (bytes(row[0]), bytes(row[1]))

    async def insert_decline(
        self, pickup_id: bytes, verifier: bytes, now: int, sealed: bytes
    ) -> None:
        await self._run(
            "INSERT OR REPLACE INTO join_declines (pickup_id, pickup_verifier, created_at, sealed)"
            " VALUES (?,?,?,?)",
            (pickup_id, verifier, now, sealed),
        )

    async def pickup(self, pickup_id: bytes) -> Pickup | None:
        row = await self._one(
            "SELECT pickup_verifier, NULL FROM join_requests WHERE pickup_id = ?"
            " UNION ALL SELECT pickup_verifier, sealed FROM join_declines WHERE pickup_id = ?",
            (pickup_id, pickup_id),
        )
        if row is None:
            return None
        return Pickup(bytes(row[0]), None if row[1] is None else bytes(row[1]))

    async def purge_links(self, now: int, ttl: int, dead_kept: int) -> LinkPurgeCounts:
        requests = await self._run("DELETE FROM join_requests WHERE received_at <= ?", (now - ttl,))
        declines = await self._run("DELETE FROM join_declines WHERE created_at <= ?", (now - ttl,))
        # an expired link keeps its queue (moderators may still answer) but not
        # what only a joiner needs
        await self._run(
            "UPDATE links SET preview = NULL WHERE expires_at <= ? AND preview IS NOT NULL",
            (now,),
        )
        await self._run(
            "DELETE FROM link_group_info WHERE link_id IN"
            " (SELECT link_id FROM links WHERE expires_at <= ?)",
            (now,),
        )
        links = await self._run(
            "DELETE FROM links WHERE COALESCE(revoked_at, expires_at) <= ?", (now - dead_kept,)
        )
        return LinkPurgeCounts(requests, declines, links)


class SqliteLinksBatch:
    """The statements an external commit through a link needs inside a batch."""

    __slots__ = ()
    _db: sqlite3.Connection

    def link(self, link_id: bytes) -> LinkRecord | None:
        row = self._db.execute(SQL_LINK, (link_id,)).fetchone()
        return None if row is None else link_record(row)

    def group(self, group_id: bytes) -> GroupRecord | None:
        row = self._db.execute(
            "SELECT group_id, head_seq, handshake_seq, retention_seconds, blob_bytes FROM groups"
            " WHERE group_id = ?",
            (group_id,),
        ).fetchone()
        if row is None:
            return None
        retention = row[3]
        return GroupRecord(bytes(row[0]), int(row[1]), int(row[2]),
                           None if retention is None else int(retention), int(row[4]))  # fmt: skip

    def message_by_key(self, group_id: bytes, key: bytes) -> StoredMessage | None:
        row = self._db.execute(
            "SELECT seq, data, received_at FROM messages"
            " WHERE group_id = ? AND idempotency_key = ?",
            (group_id, key),
        ).fetchone()
        return None if row is None else StoredMessage(int(row[0]), bytes(row[1]), int(row[2]))

    def count_link_use(self, link_id: bytes) -> int:
        row = self._db.execute(SQL_COUNT_USE, (link_id,)).fetchone()
        assert row is not None
        return int(row[0])

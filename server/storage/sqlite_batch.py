"""SQLite side of the group commit: the statements a post needs, run
synchronously on the writer thread inside the batch's one transaction.

:func:`run_batch` opens ``BEGIN IMMEDIATE``, hands the domain's batch function a
:class:`SqliteBatchTxn`, and commits once. Each post runs inside its own
``SAVEPOINT`` (:meth:`SqliteBatchTxn.savepoint`), so a refused post rolls back
only its own statements; if the function or the ``COMMIT`` fails, the whole
batch is rolled back and nothing in it is acknowledged.

The statement texts here are shared with :class:`~.sqlite.SqliteTxn`, which runs
the same ones one trip at a time for the other endpoints.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from .base import DeviceRecord, GroupRecord, MemberRecord, StoredMessage
from .sqlite_links import SqliteLinksBatch

T = TypeVar("T")

GROUP_COLS = "g.group_id, g.head_seq, g.handshake_seq, g.retention_seconds, g.blob_bytes"
SQL_MEMBER = (
    "SELECT m.account_id, a.handle, m.role, m.joined_seq FROM members m"
    " JOIN accounts a USING (account_id) WHERE m.group_id = ? AND m.account_id = ?"
)
SQL_MEMBER_ACCOUNTS = "SELECT account_id FROM members WHERE group_id = ?"
SQL_UPSERT_MEMBER = (
    "INSERT INTO members (group_id, account_id, role, joined_seq) VALUES (?,?,?,?)"
    " ON CONFLICT (group_id, account_id) DO UPDATE SET role = excluded.role"
)
SQL_DELETE_MEMBER = "DELETE FROM members WHERE group_id = ? AND account_id = ?"
SQL_IS_BANNED = "SELECT 1 FROM bans WHERE group_id = ? AND account_id = ?"
SQL_DEVICE_BY_ID = "SELECT device_id, account_id, device_key FROM devices WHERE device_id = ?"
SQL_INSERT_INBOX = (
    "INSERT INTO inbox (device_id, group_id, commit_seq, received_at, data) VALUES (?,?,?,?,?)"
)
SQL_POST_CONTEXT = (
    f"SELECT m.account_id, a.handle, m.role, m.joined_seq, {GROUP_COLS},"  # noqa: S608
    " x.seq, x.data, x.received_at"
    " FROM members m JOIN accounts a USING (account_id)"
    " JOIN groups g ON g.group_id = m.group_id"
    " LEFT JOIN messages x ON x.group_id = m.group_id AND x.idempotency_key = ?"
    " WHERE m.group_id = ? AND m.account_id = ?"
)
# the messages_advance_heads trigger (migration 0002) moves the group's heads
SQL_APPEND = (
    "INSERT INTO messages (group_id, seq, idempotency_key, handshake, received_at, data)"
    " VALUES (?,?,?,?,?,?)"
)


def group_record(row: tuple[Any, ...] | sqlite3.Row) -> GroupRecord:
    retention = row[3]
    return GroupRecord(bytes(row[0]), int(row[1]), int(row[2]),
                       None if retention is None else int(retention), int(row[4]))  # fmt: skip


def member_record(row: tuple[Any, ...] | sqlite3.Row) -> MemberRecord:
    return MemberRecord(bytes(row[0]), str(row[1]), str(row[2]), int(row[3]))


class SqliteBatchTxn(SqliteLinksBatch):
    """:class:`~.base.BatchTxn` on the writer's ``sqlite3`` connection."""

    __slots__ = ("_db",)

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT post")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO post")
            self._db.execute("RELEASE post")
            raise
        self._db.execute("RELEASE post")

    def in_transaction(self) -> bool:
        return self._db.in_transaction

    def post_context(
        self, group_id: bytes, account_id: bytes, key: bytes
    ) -> tuple[MemberRecord | None, GroupRecord | None, StoredMessage | None]:
        row = self._db.execute(SQL_POST_CONTEXT, (key, group_id, account_id)).fetchone()
        if row is None:
            return None, None, None
        earlier = None if row[9] is None else StoredMessage(int(row[9]), bytes(row[10]),
                                                            int(row[11]))  # fmt: skip
        return member_record(row[:4]), group_record(row[4:9]), earlier

    def append_message(
        self, group: GroupRecord, key: bytes, handshake: bool, now: int, data: bytes
    ) -> int:
        seq = group.head_seq + 1
        self._db.execute(SQL_APPEND, (group.group_id, seq, key, int(handshake), now, data))
        return seq

    def member(self, group_id: bytes, account_id: bytes) -> MemberRecord | None:
        row = self._db.execute(SQL_MEMBER, (group_id, account_id)).fetchone()
        return None if row is None else member_record(row)

    def member_accounts(self, group_id: bytes) -> list[bytes]:
        return [bytes(r[0]) for r in self._db.execute(SQL_MEMBER_ACCOUNTS, (group_id,))]

    def devices_by_ids(self, device_ids: list[bytes]) -> list[DeviceRecord]:
        out = []
        for device_id in device_ids:
            row = self._db.execute(SQL_DEVICE_BY_ID, (device_id,)).fetchone()
            if row is not None:
                out.append(DeviceRecord(bytes(row[0]), bytes(row[1]), bytes(row[2])))
        return out

    def is_banned(self, group_id: bytes, account_id: bytes) -> bool:
        return self._db.execute(SQL_IS_BANNED, (group_id, account_id)).fetchone() is not None

    def upsert_member(self, group_id: bytes, account_id: bytes, role: str, joined_seq: int) -> None:
        self._db.execute(SQL_UPSERT_MEMBER, (group_id, account_id, role, joined_seq))

    def delete_member(self, group_id: bytes, account_id: bytes) -> bool:
        return self._db.execute(SQL_DELETE_MEMBER, (group_id, account_id)).rowcount == 1

    def insert_inbox(
        self, device_id: bytes, group_id: bytes, commit_seq: int, now: int, data: bytes
    ) -> int:
        cur = self._db.execute(SQL_INSERT_INBOX, (device_id, group_id, commit_seq, now, data))
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


def run_batch(db: sqlite3.Connection, work: Callable[[SqliteBatchTxn], T]) -> T:
    """``work`` inside one ``BEGIN IMMEDIATE … COMMIT`` (on the writer thread)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(SqliteBatchTxn(db))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result

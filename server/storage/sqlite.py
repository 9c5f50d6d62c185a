"""The SQLite backend: one writer connection, one reader connection, WAL.

PRAGMAs (set on every connection): ``journal_mode=WAL``, ``synchronous=FULL``
(every commit is fsynced before the relay answers — see
``docs/decisions/0003-sqlite-durability.md``), ``foreign_keys=ON``,
``secure_delete=ON`` (deleted content is overwritten), ``busy_timeout`` so the
admin CLI can write while the relay serves.

Migrations are the ``migrations/NNNN_*.sql`` files of this package, read with
:mod:`importlib.resources` and applied in order; ``schema_version`` records the
last one applied, and a database newer than this code is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite

from .base import (
    AccountRecord,
    DeviceRecord,
    GroupRecord,
    InboxRecord,
    InviteRecord,
    MemberRecord,
    PurgeCounts,
    Session,
    StoredMessage,
)
from .sqlite_batch import (
    GROUP_COLS,
    SQL_DELETE_MEMBER,
    SQL_DEVICE_BY_ID,
    SQL_INSERT_INBOX,
    SQL_IS_BANNED,
    SQL_MEMBER,
    SQL_MEMBER_ACCOUNTS,
    SQL_UPSERT_MEMBER,
    SqliteBatchTxn,
    group_record,
    member_record,
    run_batch,
)
from .writer import PRAGMAS, DbThread

T = TypeVar("T")

_MIGRATION = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every migration shipped with this package, in order."""
    out = []
    for entry in importlib.resources.files(__package__).joinpath("migrations").iterdir():
        m = _MIGRATION.fullmatch(entry.name)
        if m:
            out.append((int(m.group(1)), entry.read_text(encoding="utf-8")))
    return sorted(out)


class SchemaTooNew(Exception):
    """The database was written by a newer relay."""


async def _connect(path: Path) -> aiosqlite.Connection:
    db = await aiosqlite.connect(path, isolation_level=None)
    for pragma in PRAGMAS:
        await db.execute(pragma)
    return db


class _Connection(Protocol):
    """What :class:`SqliteTxn` needs of a connection: aiosqlite's reader, or the
    writer's :class:`~.writer.DbThread`."""

    async def execute(self, sql: str, args: Any = ...) -> Any: ...
    async def execute_fetchall(self, sql: str, args: Any = ...) -> Iterable[Any]: ...
    async def execute_insert(self, sql: str, args: Any = ...) -> Any: ...
    async def executemany(self, sql: str, rows: Any) -> Any: ...


class SqliteTxn:
    """:class:`~.base.Txn` over one connection inside BEGIN ... COMMIT."""

    __slots__ = ("_db",)

    def __init__(self, db: _Connection) -> None:
        self._db = db

    # Each helper is one trip to the connection's thread (execute and fetch together).

    async def _one(self, sql: str, args: tuple[object, ...] = ()) -> tuple[Any, ...] | None:
        rows = list(await self._db.execute_fetchall(sql, args))
        return tuple(rows[0]) if rows else None

    async def _all(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in await self._db.execute_fetchall(sql, args)]

    async def _run(self, sql: str, args: tuple[object, ...] = ()) -> int:
        cur = await self._db.execute(sql, args)
        return int(cur.rowcount)

    # -- relay_meta, invites ------------------------------------------------

    async def get_meta(self, key: str) -> bytes | None:
        row = await self._one("SELECT value FROM relay_meta WHERE key = ?", (key,))
        return None if row is None else bytes(row[0])

    async def set_meta(self, key: str, value: bytes) -> None:
        await self._run(
            "INSERT OR REPLACE INTO relay_meta (key, value) VALUES (?, ?)", (key, value)
        )

    async def insert_invite(
        self, code_hash: bytes, uses: int, expires_at: int | None, now: int
    ) -> None:
        await self._run(
            "INSERT INTO invites (code_hash, uses_left, expires_at, created_at) VALUES (?,?,?,?)",
            (code_hash, uses, expires_at, now),
        )

    async def use_invite(self, code_hash: bytes, now: int) -> bool:
        n = await self._run(
            "UPDATE invites SET uses_left = uses_left - 1 WHERE code_hash = ? AND uses_left > 0"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (code_hash, now),
        )
        await self._run("DELETE FROM invites WHERE uses_left = 0")
        return n == 1

    async def invites(self, now: int) -> list[InviteRecord]:
        rows = await self._all(
            "SELECT code_hash, uses_left, expires_at, created_at FROM invites"
            " WHERE uses_left > 0 AND (expires_at IS NULL OR expires_at > ?)"
            " ORDER BY created_at, rowid",
            (now,),
        )
        return [
            InviteRecord(bytes(r[0]), int(r[1]), None if r[2] is None else int(r[2]), int(r[3]))
            for r in rows
        ]

    async def delete_invite(self, code_hash: bytes) -> bool:
        return await self._run("DELETE FROM invites WHERE code_hash = ?", (code_hash,)) == 1

    # -- accounts, devices, tokens ----------------------------------------------

    async def insert_account(
        self, account_id: bytes, handle: str, identity_key: bytes, now: int
    ) -> None:
        await self._run(
            "INSERT INTO accounts (account_id, handle, identity_key, created_at) VALUES (?,?,?,?)",
            (account_id, handle, identity_key, now),
        )

    @staticmethod
    def _account(row: tuple[Any, ...] | None) -> AccountRecord | None:
        if row is None:
            return None
        return AccountRecord(bytes(row[0]), str(row[1]), bytes(row[2]))

    async def account_by_id(self, account_id: bytes) -> AccountRecord | None:
        return self._account(
            await self._one(
                "SELECT account_id, handle, identity_key FROM accounts WHERE account_id = ?",
                (account_id,),
            )
        )

    async def account_by_handle(self, handle: str) -> AccountRecord | None:
        return self._account(
            await self._one(
                "SELECT account_id, handle, identity_key FROM accounts WHERE handle = ?", (handle,)
            )
        )

    async def key_in_use(self, key: bytes) -> bool:
        row = await self._one(
            "SELECT EXISTS (SELECT 1 FROM accounts WHERE identity_key = ?)"
            " OR EXISTS (SELECT 1 FROM devices WHERE device_key = ?)",
            (key, key),
        )
        return bool(row and row[0])

    async def insert_device(
        self, device_id: bytes, account_id: bytes, device_key: bytes, now: int
    ) -> None:
        await self._run(
            "INSERT INTO devices (device_id, account_id, device_key, created_at) VALUES (?,?,?,?)",
            (device_id, account_id, device_key, now),
        )

    @staticmethod
    def _device(row: tuple[Any, ...]) -> DeviceRecord:
        return DeviceRecord(bytes(row[0]), bytes(row[1]), bytes(row[2]))

    async def device_by_key(self, device_key: bytes) -> DeviceRecord | None:
        row = await self._one(
            "SELECT device_id, account_id, device_key FROM devices WHERE device_key = ?",
            (device_key,),
        )
        return None if row is None else self._device(row)

    async def devices_of(self, account_id: bytes) -> list[DeviceRecord]:
        rows = await self._all(
            "SELECT device_id, account_id, device_key FROM devices WHERE account_id = ?"
            " ORDER BY created_at, device_id",
            (account_id,),
        )
        return [self._device(r) for r in rows]

    async def devices_by_ids(self, device_ids: list[bytes]) -> list[DeviceRecord]:
        out = []
        for device_id in device_ids:
            row = await self._one(SQL_DEVICE_BY_ID, (device_id,))
            if row is not None:
                out.append(self._device(row))
        return out

    async def delete_account(self, account_id: bytes) -> None:
        # devices, tokens, key_packages, inbox, members, bans go by ON DELETE CASCADE.
        await self._run("DELETE FROM accounts WHERE account_id = ?", (account_id,))

    async def insert_token(self, token_hash: bytes, device_id: bytes, expires_at: int) -> None:
        await self._run(
            "INSERT INTO tokens (token_hash, device_id, expires_at) VALUES (?,?,?)",
            (token_hash, device_id, expires_at),
        )

    async def session_by_token(self, token_hash: bytes, now: int) -> Session | None:
        row = await self._one(
            "SELECT d.account_id, t.device_id, t.expires_at FROM tokens t"
            " JOIN devices d USING (device_id) WHERE t.token_hash = ? AND t.expires_at > ?",
            (token_hash, now),
        )
        if row is None:
            return None
        return Session(bytes(row[0]), bytes(row[1]), int(row[2]))

    async def delete_token(self, token_hash: bytes) -> None:
        await self._run("DELETE FROM tokens WHERE token_hash = ?", (token_hash,))

    # -- key_packages -----------------------------------------------------------

    async def count_key_packages(self, device_id: bytes) -> tuple[int, bool]:
        row = await self._one(
            "SELECT COALESCE(SUM(last_resort = 0), 0), COALESCE(MAX(last_resort), 0)"
            " FROM key_packages WHERE device_id = ?",
            (device_id,),
        )
        assert row is not None
        return int(row[0]), bool(row[1])

    async def insert_key_packages(self, device_id: bytes, data: list[bytes]) -> None:
        await self._db.executemany(
            "INSERT INTO key_packages (device_id, last_resort, data) VALUES (?, 0, ?)",
            [(device_id, d) for d in data],
        )

    async def set_last_resort(self, device_id: bytes, data: bytes) -> None:
        await self._run(
            "DELETE FROM key_packages WHERE device_id = ? AND last_resort = 1", (device_id,)
        )
        await self._run(
            "INSERT INTO key_packages (device_id, last_resort, data) VALUES (?, 1, ?)",
            (device_id, data),
        )

    async def take_key_package(self, device_id: bytes) -> tuple[bytes, bool] | None:
        row = await self._one(
            "SELECT kp_id, data, last_resort FROM key_packages WHERE device_id = ?"
            " ORDER BY last_resort, kp_id LIMIT 1",
            (device_id,),
        )
        if row is None:
            return None
        last_resort = bool(row[2])
        if not last_resort:
            await self._run("DELETE FROM key_packages WHERE kp_id = ?", (row[0],))
        return bytes(row[1]), last_resort

    # -- groups, members, bans ---------------------------------------------------

    async def insert_group(self, group_id: bytes, now: int) -> bool:
        n = await self._run(
            "INSERT OR IGNORE INTO groups (group_id, created_at) VALUES (?, ?)", (group_id, now)
        )
        return n == 1

    _GROUP_COLS = GROUP_COLS

    @staticmethod
    def _group(row: tuple[Any, ...]) -> GroupRecord:
        return group_record(row)

    async def group(self, group_id: bytes) -> GroupRecord | None:
        row = await self._one(
            f"SELECT {self._GROUP_COLS} FROM groups g WHERE g.group_id = ?",  # noqa: S608
            (group_id,),
        )
        return None if row is None else self._group(row)

    async def groups_of(self, account_id: bytes) -> list[tuple[GroupRecord, str]]:
        rows = await self._all(
            f"SELECT {self._GROUP_COLS}, m.role FROM members m JOIN groups g USING (group_id)"  # noqa: S608
            " WHERE m.account_id = ? ORDER BY g.group_id",
            (account_id,),
        )
        return [(self._group(r), str(r[5])) for r in rows]

    async def member(self, group_id: bytes, account_id: bytes) -> MemberRecord | None:
        row = await self._one(SQL_MEMBER, (group_id, account_id))
        return None if row is None else member_record(row)

    async def members(self, group_id: bytes) -> list[MemberRecord]:
        rows = await self._all(
            "SELECT m.account_id, a.handle, m.role, m.joined_seq FROM members m"
            " JOIN accounts a USING (account_id) WHERE m.group_id = ? ORDER BY a.handle",
            (group_id,),
        )
        return [MemberRecord(bytes(r[0]), str(r[1]), str(r[2]), int(r[3])) for r in rows]

    async def member_accounts(self, group_id: bytes) -> list[bytes]:
        rows = await self._all(SQL_MEMBER_ACCOUNTS, (group_id,))
        return [bytes(r[0]) for r in rows]

    async def count_members(self, group_id: bytes) -> int:
        row = await self._one("SELECT COUNT(*) FROM members WHERE group_id = ?", (group_id,))
        assert row is not None
        return int(row[0])

    async def upsert_member(
        self, group_id: bytes, account_id: bytes, role: str, joined_seq: int
    ) -> None:
        await self._run(SQL_UPSERT_MEMBER, (group_id, account_id, role, joined_seq))

    async def delete_member(self, group_id: bytes, account_id: bytes) -> bool:
        return await self._run(SQL_DELETE_MEMBER, (group_id, account_id)) == 1

    async def is_banned(self, group_id: bytes, account_id: bytes) -> bool:
        return await self._one(SQL_IS_BANNED, (group_id, account_id)) is not None

    async def set_ban(self, group_id: bytes, account_id: bytes, banned: bool) -> None:
        if banned:
            await self._run(
                "INSERT OR IGNORE INTO bans (group_id, account_id) VALUES (?, ?)",
                (group_id, account_id),
            )
        else:
            await self._run(
                "DELETE FROM bans WHERE group_id = ? AND account_id = ?", (group_id, account_id)
            )

    async def set_retention(self, group_id: bytes, seconds: int | None) -> None:
        await self._run(
            "UPDATE groups SET retention_seconds = ? WHERE group_id = ?", (seconds, group_id)
        )

    async def delete_group(self, group_id: bytes) -> None:
        await self._run("DELETE FROM groups WHERE group_id = ?", (group_id,))

    async def empty_groups(self) -> list[bytes]:
        rows = await self._all(
            "SELECT group_id FROM groups g WHERE NOT EXISTS"
            " (SELECT 1 FROM members m WHERE m.group_id = g.group_id)"
        )
        return [bytes(r[0]) for r in rows]

    # -- messages ---------------------------------------------------------------

    async def messages_after(self, group_id: bytes, after: int, limit: int) -> list[StoredMessage]:
        rows = await self._all(
            "SELECT seq, data, received_at FROM messages WHERE group_id = ? AND seq > ?"
            " ORDER BY seq LIMIT ?",
            (group_id, after, limit),
        )
        return [StoredMessage(int(r[0]), bytes(r[1]), int(r[2])) for r in rows]

    # -- inbox ------------------------------------------------------------------

    async def insert_inbox(
        self, device_id: bytes, group_id: bytes, commit_seq: int, now: int, data: bytes
    ) -> int:
        row = await self._db.execute_insert(
            SQL_INSERT_INBOX, (device_id, group_id, commit_seq, now, data)
        )
        assert row is not None
        return int(row[0])

    async def inbox_after(self, device_id: bytes, after: int, limit: int) -> list[InboxRecord]:
        rows = await self._all(
            "SELECT inbox_id, group_id, commit_seq, data FROM inbox"
            " WHERE device_id = ? AND inbox_id > ? ORDER BY inbox_id LIMIT ?",
            (device_id, after, limit),
        )
        return [InboxRecord(int(r[0]), bytes(r[1]), int(r[2]), bytes(r[3])) for r in rows]

    async def delete_inbox_upto(self, device_id: bytes, up_to: int) -> None:
        await self._run(
            "DELETE FROM inbox WHERE device_id = ? AND inbox_id <= ?", (device_id, up_to)
        )

    # -- blobs ------------------------------------------------------------------

    async def insert_blob(self, group_id: bytes, blob_id: bytes, data: bytes, now: int) -> None:
        await self._run(
            "INSERT INTO blobs (blob_id, group_id, size, created_at, data) VALUES (?,?,?,?,?)",
            (blob_id, group_id, len(data), now, data),
        )
        await self._run(
            "UPDATE groups SET blob_bytes = blob_bytes + ? WHERE group_id = ?",
            (len(data), group_id),
        )

    async def blob(self, group_id: bytes, blob_id: bytes) -> bytes | None:
        row = await self._one(
            "SELECT data FROM blobs WHERE group_id = ? AND blob_id = ?", (group_id, blob_id)
        )
        return None if row is None else bytes(row[0])

    async def delete_blob(self, group_id: bytes, blob_id: bytes) -> bool:
        row = await self._one(
            "SELECT size FROM blobs WHERE group_id = ? AND blob_id = ?", (group_id, blob_id)
        )
        if row is None:
            return False
        await self._run("DELETE FROM blobs WHERE group_id = ? AND blob_id = ?", (group_id, blob_id))
        await self._run(
            "UPDATE groups SET blob_bytes = blob_bytes - ? WHERE group_id = ?",
            (int(row[0]), group_id),
        )
        return True

    async def delete_application_message(self, group_id: bytes, seq: int) -> bool:
        """A moderator's redaction: drop an application message's row (never a handshake)."""
        n = await self._run(
            "DELETE FROM messages WHERE group_id = ? AND seq = ? AND handshake = 0",
            (group_id, seq),
        )
        return n > 0

    # -- retention and status ------------------------------------------------------

    async def purge_expired(self, now: int, default_max_age: int) -> PurgeCounts:
        cutoff = (
            "? - (SELECT CASE WHEN g.retention_seconds IS NULL OR g.retention_seconds > ?"
            " THEN ? ELSE g.retention_seconds END FROM groups g WHERE g.group_id = t.group_id)"
        )
        args = (now, default_max_age, default_max_age)
        messages = await self._run(
            f"DELETE FROM messages AS t WHERE t.received_at <= {cutoff}",  # noqa: S608
            args,
        )
        blobs = await self._run(
            f"DELETE FROM blobs AS t WHERE t.created_at <= {cutoff}",  # noqa: S608
            args,
        )
        inbox = await self._run(
            f"DELETE FROM inbox AS t WHERE t.received_at <= {cutoff}",  # noqa: S608
            args,
        )
        if blobs:
            await self._run(
                "UPDATE groups SET blob_bytes = (SELECT COALESCE(SUM(size), 0) FROM blobs b"
                " WHERE b.group_id = groups.group_id)"
            )
        await self._run("DELETE FROM tokens WHERE expires_at <= ?", (now,))
        await self._run(
            "DELETE FROM invites WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return PurgeCounts(messages, blobs, inbox)

    async def counts(self) -> dict[str, int]:
        out = {}
        for table in ("accounts", "devices", "groups", "members", "messages", "blobs",
                      "key_packages", "inbox", "invites"):  # fmt: skip
            row = await self._one(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
            assert row is not None
            out[table] = int(row[0])
        return out


class SqliteStorage:
    """:class:`~.base.Storage` on a SQLite file: the writer on its own thread
    (:class:`~.writer.DbThread`), one aiosqlite reader."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: DbThread | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()

    async def open(self) -> None:
        writer = DbThread(self.path)
        await writer.open()
        self._writer = writer
        await writer.call(_migrate)
        self._reader = await _connect(self.path)

    async def close(self) -> None:
        if self._reader is not None:
            await self._reader.close()
        if self._writer is not None:
            await self._writer.close()
        self._reader = self._writer = None

    @asynccontextmanager
    async def _transaction(
        self, db: _Connection | None, lock: asyncio.Lock, begin: str
    ) -> AsyncIterator[SqliteTxn]:
        if db is None:
            raise RuntimeError("storage is not open")
        async with lock:
            # BEGIN inside the try: a task cancelled while BEGIN runs (a client that
            # hangs up mid-request) must still roll back, or the connection stays in
            # a transaction and every later request on it fails. The rollback is
            # shielded from a second cancellation; aiosqlite runs statements in order.
            try:
                await db.execute(begin)
                yield SqliteTxn(db)
            except BaseException:
                with contextlib.suppress(sqlite3.OperationalError):  # BEGIN never ran
                    await asyncio.shield(db.execute("ROLLBACK"))
                raise
            await db.execute("COMMIT")

    async def run_batch(self, work: Callable[[SqliteBatchTxn], T]) -> T:
        """One trip to the writer thread: ``BEGIN IMMEDIATE``, ``work``, ``COMMIT``."""
        if self._writer is None:
            raise RuntimeError("storage is not open")
        async with self._write_lock:
            return await self._writer.call(lambda db: run_batch(db, work))

    def read(self) -> AbstractAsyncContextManager[SqliteTxn]:
        return self._transaction(self._reader, self._read_lock, "BEGIN")

    def write(self) -> AbstractAsyncContextManager[SqliteTxn]:
        return self._transaction(self._writer, self._write_lock, "BEGIN IMMEDIATE")

    async def backup(self, target: Path) -> None:
        """A consistent online copy (SQLite's backup API) to ``target``."""
        if self._reader is None:
            raise RuntimeError("storage is not open")
        dest = await aiosqlite.connect(target)
        try:
            async with self._read_lock:
                await self._reader.backup(dest)
        finally:
            await dest.close()

    async def checkpoint(self) -> None:
        """Move the WAL into the database and truncate it (after purges)."""
        if self._writer is None:
            return
        async with self._write_lock:
            await self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    async def schema(self) -> dict[str, list[str]]:
        """Table -> column names, for the data-inventory test."""
        if self._reader is None:
            raise RuntimeError("storage is not open")
        out: dict[str, list[str]] = {}
        async with self._read_lock:
            async with self._reader.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND (name NOT LIKE 'sqlite_%' OR name = 'sqlite_sequence')"
                " ORDER BY name"
            ) as cur:
                tables = [str(r[0]) for r in await cur.fetchall()]
            for table in tables:
                async with self._reader.execute(f"PRAGMA table_info({table})") as cur:
                    out[table] = [str(r[1]) for r in await cur.fetchall()]
        return out


def _migrate(db: sqlite3.Connection) -> None:
    """Apply the migrations this relay has and the database lacks, in one transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT")
        row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        current = int(row[0]) if row and row[0] is not None else 0
        available = migrations()
        newest = available[-1][0] if available else 0
        if current > newest:
            raise SchemaTooNew(f"database schema {current} is newer than this relay ({newest})")
        for version, sql in available:
            if version > current:
                for statement in _statements(sql):
                    db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _statements(sql: str) -> list[str]:
    """Split a migration into complete statements (trigger bodies included)."""
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--"):
            continue
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    if buf.strip():
        raise ValueError("migration ends inside a statement")
    return out

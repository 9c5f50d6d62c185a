"""The store's SQLite layer: schema, PRAGMAs, the connection wrapper that turns SQLite
errors into store errors, and the checks run when a file is opened or created
(``docs/client/local-store.md`` §3, §8, §9)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

import aiosqlite

from .crypto import Header
from .errors import StoreCorrupted, StoreError, StoreLocked, StoreNotFound

#: SQLite header field ``application_id`` (offset 68): ASCII "COVE"
APPLICATION_ID = 0x434F5645
#: SQLite ``user_version`` (offset 60): the schema version, equal to the format version
SCHEMA_VERSION = 1
PAGE_SIZE = 4096

SCHEMA = (
    "CREATE TABLE store_header (\n"
    "    id INTEGER PRIMARY KEY CHECK (id = 1),\n"
    "    header BLOB NOT NULL\n"
    ")",
    "CREATE TABLE rows (\n"
    "    coll BLOB NOT NULL,\n"
    "    k BLOB NOT NULL,\n"
    "    part BLOB NOT NULL,\n"
    "    ord INTEGER,\n"
    "    v BLOB NOT NULL,\n"
    "    PRIMARY KEY (coll, k)\n"
    ") WITHOUT ROWID",
    "CREATE INDEX rows_by_order ON rows (coll, part, ord)",
    "CREATE TABLE counters (\n"
    "    coll BLOB NOT NULL,\n"
    "    part BLOB NOT NULL,\n"
    "    next INTEGER NOT NULL,\n"
    "    PRIMARY KEY (coll, part)\n"
    ") WITHOUT ROWID",
)

PRAGMAS = (
    "PRAGMA trusted_schema=OFF",
    "PRAGMA locking_mode=EXCLUSIVE",
    "PRAGMA busy_timeout=0",
    "PRAGMA cell_size_check=ON",
    "PRAGMA mmap_size=0",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA secure_delete=ON",
    "PRAGMA synchronous=FULL",
    "PRAGMA fullfsync=ON",
    "PRAGMA checkpoint_fullfsync=ON",
)


_SQLITE_MAGIC = b"SQLite format 3\x00"

SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)

# SQLite primary result codes
_BUSY, _LOCKED, _CORRUPT, _NOTADB, _FORMAT = 5, 6, 11, 26, 24


def store_error(exc: sqlite3.Error | UnicodeDecodeError) -> StoreError:
    """Map an SQLite error to the store's errors (messages carry no data).

    A UnicodeDecodeError comes from text SQLite read from the file (schema SQL,
    an error message quoting it): the file is damaged.
    """
    if isinstance(exc, UnicodeDecodeError):
        return StoreCorrupted("the database file is damaged or not a Cove store")
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (_BUSY, _LOCKED):
        return StoreLocked("the store is in use by another connection or process")
    if primary in (_CORRUPT, _NOTADB, _FORMAT) or "malformed" in str(exc):
        return StoreCorrupted("the database file is damaged or not a Cove store")
    name = getattr(exc, "sqlite_errorname", type(exc).__name__)
    return StoreError(f"SQLite error {name}")


class Connection:
    """An aiosqlite connection whose SQLite errors become store errors."""

    __slots__ = ("db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def run(self, sql: str, args: Sequence[object] = ()) -> None:
        try:
            await self.db.execute(sql, tuple(args))
        except SQLITE_ERRORS as exc:
            raise store_error(exc) from None

    async def one(self, sql: str, args: Sequence[object] = ()) -> tuple[Any, ...] | None:
        # execute_fetchall: one trip to aiosqlite's thread (a cursor costs three)
        try:
            rows = await self.db.execute_fetchall(sql, tuple(args))
        except SQLITE_ERRORS as exc:
            raise store_error(exc) from None
        for row in rows:
            return tuple(row)
        return None

    async def all(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            rows = await self.db.execute_fetchall(sql, tuple(args))
        except SQLITE_ERRORS as exc:
            raise store_error(exc) from None
        return [tuple(r) for r in rows]

    async def run_many(self, sql: str, rows: Sequence[Sequence[object]]) -> None:
        """One statement for many parameter rows, in one trip to aiosqlite's thread."""
        try:
            await self.db.executemany(sql, [tuple(r) for r in rows])
        except SQLITE_ERRORS as exc:
            raise store_error(exc) from None

    async def close(self) -> None:
        with suppress(sqlite3.Error):
            await self.db.close()


def check_sqlite_header(path: Path) -> None:
    """Cheap identification before SQLite touches the file (it is never written here)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreNotFound(f"no store at {path}") from None
    if not stat.S_ISREG(st.st_mode):
        raise StoreCorrupted("not a Cove store (not a regular file)")
    with open(path, "rb") as f:
        head = f.read(100)
    if (
        len(head) < 100
        or head[:16] != _SQLITE_MAGIC
        or head[18:20] != b"\x02\x02"  # WAL
        or int.from_bytes(head[60:64], "big") != SCHEMA_VERSION
        or int.from_bytes(head[68:72], "big") != APPLICATION_ID
    ):
        raise StoreCorrupted("not a Cove store")


async def connect(path: Path) -> Connection:
    """Open ``path`` read-write (never creating it) with the store's PRAGMAs."""
    uri = "file:" + pathname2url(str(path)) + "?mode=rw"
    try:
        db = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=0)
    except SQLITE_ERRORS as exc:
        raise store_error(exc) from None
    conn = Connection(db)
    try:
        for pragma in PRAGMAS:
            await conn.run(pragma)
        mode = await conn.one("PRAGMA journal_mode=WAL")
        if mode is None or str(mode[0]).lower() != "wal":
            raise StoreCorrupted("the store is not in WAL mode")
    except BaseException:
        await conn.close()
        raise
    return conn


def _expected_schema() -> list[tuple[Any, ...]]:
    mem = sqlite3.connect(":memory:")
    try:
        for sql in SCHEMA:
            mem.execute(sql)
        return [tuple(r) for r in mem.execute(_SCHEMA_QUERY)]
    finally:
        mem.close()


_SCHEMA_QUERY = "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
_EXPECTED_SCHEMA = _expected_schema()


async def check_file(conn: Connection, path: Path) -> None:
    """Recover the WAL, then check identity, schema and size (StoreCorrupted if off)."""
    await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")  # takes the exclusive lock
    for pragma, expected in (
        ("PRAGMA application_id", APPLICATION_ID),
        ("PRAGMA user_version", SCHEMA_VERSION),
        ("PRAGMA page_size", PAGE_SIZE),
    ):
        row = await conn.one(pragma)
        if row is None or row[0] != expected:
            raise StoreCorrupted("not a Cove store")
    if await conn.all(_SCHEMA_QUERY) != _EXPECTED_SCHEMA:
        raise StoreCorrupted("the store's schema has been altered")
    pages = await conn.one("PRAGMA page_count")
    if pages is None or pages[0] * PAGE_SIZE != os.path.getsize(path):
        raise StoreCorrupted("the store file has been truncated or extended")


async def initialize(path: Path, header: Header) -> None:
    """Write the schema and header into the empty file at ``path``, then close it."""
    try:
        db = await aiosqlite.connect(str(path), isolation_level=None, timeout=0)
    except SQLITE_ERRORS as exc:
        raise store_error(exc) from None
    conn = Connection(db)
    try:
        for pragma in PRAGMAS:
            await conn.run(pragma)
        await conn.run(f"PRAGMA page_size={PAGE_SIZE}")
        await conn.run("PRAGMA journal_mode=WAL")
        await conn.run("BEGIN IMMEDIATE")
        for sql in SCHEMA:
            await conn.run(sql)
        await conn.run("INSERT INTO store_header (id, header) VALUES (1, ?)", (header.encode(),))
        await conn.run(f"PRAGMA application_id={APPLICATION_ID}")
        await conn.run(f"PRAGMA user_version={SCHEMA_VERSION}")
        await conn.run("COMMIT")
        await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await conn.close()

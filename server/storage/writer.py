"""The writer connection: one ``sqlite3`` connection owned by one thread.

Every write the relay makes runs on this thread, one at a time (the storage's
write lock orders them). Ordinary transactions go statement by statement —
:meth:`DbThread.execute`, :meth:`execute_fetchall` and :meth:`execute_insert`
and :meth:`executemany`
are the subset of aiosqlite's interface :class:`~.sqlite.SqliteTxn` uses —
while a group commit hands the thread one function that runs a whole batch
of posts inside one transaction (:meth:`call`): one trip to the thread and one
fsync for the batch instead of several trips and one fsync per post.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA secure_delete=ON",
    "PRAGMA busy_timeout=10000",
)


class DbThread:
    """A ``sqlite3`` connection used only from its own worker thread."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cove-relay-writer")
        self._conn: sqlite3.Connection | None = None

    async def open(self) -> None:
        def connect() -> sqlite3.Connection:
            conn = sqlite3.connect(self._path, isolation_level=None)
            for pragma in PRAGMAS:
                conn.execute(pragma)
            return conn

        self._conn = await self._run(connect)

    async def close(self) -> None:
        conn = self._conn
        self._conn = None
        if conn is not None:
            await self._run(conn.close)
        self._pool.shutdown(wait=True)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("storage is not open")
        return self._conn

    async def _run(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the writer thread and return its result."""
        db = self._db()
        return await self._run(lambda: fn(db))

    async def execute(self, sql: str, args: Iterable[Any] = ()) -> sqlite3.Cursor:
        db = self._db()
        return await self._run(lambda: db.execute(sql, tuple(args)))

    async def executemany(self, sql: str, rows: Iterable[Iterable[Any]]) -> sqlite3.Cursor:
        db = self._db()
        batch = [tuple(r) for r in rows]
        return await self._run(lambda: db.executemany(sql, batch))

    async def execute_fetchall(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        db = self._db()
        return await self._run(lambda: db.execute(sql, tuple(args)).fetchall())

    async def execute_insert(self, sql: str, args: Iterable[Any] = ()) -> tuple[int] | None:
        db = self._db()

        def insert() -> tuple[int] | None:
            cur = db.execute(sql, tuple(args))
            return None if cur.lastrowid is None else (cur.lastrowid,)

        return await self._run(insert)

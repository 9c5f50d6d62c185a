"""SQLite storage: PRAGMAs, migrations, transactions."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from cove.server.storage.sqlite import SchemaTooNew, SqliteStorage, migrations


def test_pragmas_and_migrations(tmp_path: Path) -> None:
    async def main() -> None:
        storage = SqliteStorage(tmp_path / "r.sqlite3")
        await storage.open()
        try:
            for db in (storage._writer, storage._reader):  # the writer thread and the reader
                assert db is not None
                for pragma, want in (("journal_mode", "wal"), ("synchronous", 2),
                                     ("foreign_keys", 1), ("secure_delete", 1)):  # fmt: skip
                    rows = list(await db.execute_fetchall(f"PRAGMA {pragma}"))
                    assert rows and rows[0][0] == want, pragma
            async with storage.write() as txn:
                await txn.set_meta("k", b"v")
            with pytest.raises(RuntimeError):
                async with storage.write() as txn:
                    await txn.set_meta("k", b"changed")
                    raise RuntimeError("roll back")
            async with storage.read() as txn:
                assert await txn.get_meta("k") == b"v"
        finally:
            await storage.close()
        # opening again applies nothing new
        again = SqliteStorage(tmp_path / "r.sqlite3")
        await again.open()
        await again.close()

    asyncio.run(main())
    db = sqlite3.connect(tmp_path / "r.sqlite3")
    versions = [r[0] for r in db.execute("SELECT version FROM schema_version")]
    assert versions == [v for v, _ in migrations()]
    db.execute("INSERT INTO schema_version VALUES (9999)")
    db.commit()
    db.close()

    async def newer() -> None:
        storage = SqliteStorage(tmp_path / "r.sqlite3")
        try:
            await storage.open()
        finally:
            await storage.close()

    with pytest.raises(SchemaTooNew):
        asyncio.run(newer())


def test_migrations_ship_as_package_data() -> None:
    found = migrations()
    assert found and found[0][0] == 1
    assert "CREATE TABLE messages" in found[0][1]


def test_a_request_cancelled_during_begin_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A client hanging up while its request's BEGIN runs must not wedge the connection
    ("cannot start a transaction within a transaction" for every later request)."""

    async def main() -> None:
        storage = SqliteStorage(tmp_path / "r.sqlite3")
        await storage.open()
        try:
            for make in (storage.read, storage.write):
                started = asyncio.Event()

                async def hold(make=make, started=started) -> None:
                    async with make():
                        started.set()
                        await asyncio.Event().wait()

                task = asyncio.create_task(hold())
                await asyncio.sleep(0)  # the task now waits on BEGIN in aiosqlite's thread
                assert not started.is_set()
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                async with make() as txn:
                    assert await txn.get_meta("absent") is None
        finally:
            await storage.close()

    asyncio.run(main())

"""cove.client.store: the encrypted local store (docs/client/local-store.md).

Most tests use ``KdfParams.insecure_for_tests()`` (Argon2id t=1, 1 MiB) so that
each open costs milliseconds; ``test_real_default_kdf_end_to_end`` runs the real
default parameters. Each test drives the async API with ``asyncio.run``.

Raw-file helpers open the store with the standard library's ``sqlite3`` (in
exclusive locking mode, so no ``-shm`` file appears) to play the attacker who
edits the file while the client is not running.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import unicodedata
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from cove.client.store import (
    KDF_FLOOR,
    KdfParams,
    Store,
    StoreClosed,
    StoreExists,
    StoreNotFound,
    WrongPassphrase,
)

FAST = KdfParams.insecure_for_tests()
PASS = "correct horse battery staple"
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def _create(path: Path, passphrase: str = PASS) -> Store:
    return await Store.create(path, passphrase, kdf=FAST)


async def _open(path: Path, passphrase: str = PASS) -> Store:
    return await Store.open(path, passphrase, kdf_floor=FAST)


def _try_open(path: Path, passphrase: str = PASS) -> None:
    async def go() -> None:
        store = await _open(path, passphrase)
        await store.close()

    run(go())


def _raw(path: Path) -> sqlite3.Connection:
    """The attacker's view: the file through plain sqlite3, one exclusive connection."""
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA locking_mode=EXCLUSIVE")
    return db


def _raw_edit(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    db = _raw(path)
    try:
        for sql, args in statements:
            db.execute(sql, args)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def _raw_header(path: Path) -> bytes:
    db = _raw(path)
    try:
        return bytes(db.execute("SELECT header FROM store_header").fetchone()[0])
    finally:
        db.close()


def _store_with_rows(path: Path, rows: int = 3) -> dict[str, bytes]:
    """A closed store with ``rows`` messages in partition g1; returns their tags."""

    async def go() -> dict[str, bytes]:
        store = await _create(path)
        async with store.transaction() as txn:
            for i in range(rows):
                await txn.put("message", b"m%d" % i, b"body %d" % i, partition=b"g1", order=i + 1)
        keys = store._keys
        assert keys is not None
        tags = {f"m{i}": keys.key_tag(b"message", b"m%d" % i) for i in range(rows)}
        tags["g1"] = keys.partition_tag(b"message", b"g1")
        tags["g2"] = keys.partition_tag(b"message", b"g2")
        tags["message"] = keys.collection_tag(b"message")
        tags["thread"] = keys.collection_tag(b"thread")
        await store.close()
        return tags

    return run(go())


def _read_all(
    path: Path, keys: list[bytes], partition: bytes = b"g1", passphrase: str = PASS
) -> dict[bytes, bytes]:
    """Every row of the partition (scan), cross-checked with get() for ``keys``."""

    async def go() -> dict[bytes, bytes]:
        store = await _open(path, passphrase)
        try:
            async with store.transaction() as txn:
                out = dict(await txn.scan("message", partition=partition))
                for k in keys:
                    v = await txn.get("message", k)
                    assert v == out.get(k)
                return out
        finally:
            await store.close()

    return run(go())


# -- round trip and the Txn API -----------------------------------------------------------


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    blob = os.urandom(5000)

    async def write() -> None:
        store = await _create(path)
        async with store.transaction() as txn:
            await txn.put("account", b"me", b"identity key bytes")
            await txn.put("group", b"\x00\xffgid", blob, partition=b"\x01")
            await txn.put("empty", b"", b"")
            assert await txn.get("account", b"me") == b"identity key bytes"
            assert await txn.get("account", b"nobody") is None
            assert await txn.get("group", b"\x00\xffgid") == blob
            assert await txn.get("empty", b"") == b""
        await store.put("cursor", b"relay", b"42")
        assert await store.get("cursor", b"relay") == b"42"
        await store.close()

    async def read() -> None:
        async with await _open(path) as store:
            assert await store.get("account", b"me") == b"identity key bytes"
            assert await store.get("group", b"\x00\xffgid") == blob
            assert await store.get("empty", b"") == b""
            assert await store.get("cursor", b"relay") == b"42"
            # same key, different collection: independent rows
            assert await store.get("group", b"me") is None
            await store.delete("account", b"me")
            assert await store.get("account", b"me") is None
            assert await store.count("group", partition=b"\x01") == 1
        assert store.closed

    run(write())
    run(read())


def test_scan_order_partitions_after_limit_reverse(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        async with store.transaction() as txn:
            # written out of order; g2 interleaved
            for n in (5, 1, 4, 2, 3):
                await txn.put("message", b"a%d" % n, b"A%d" % n, partition=b"g1", order=n * 10)
                await txn.put("message", b"b%d" % n, b"B%d" % n, partition=b"g2", order=n)
        async with store.transaction() as txn:
            g1 = await txn.scan("message", partition=b"g1")
            assert g1 == [(b"a%d" % n, b"A%d" % n) for n in (1, 2, 3, 4, 5)]
            assert [k for k, _ in await txn.scan("message", partition=b"g2")] == [
                b"b1",
                b"b2",
                b"b3",
                b"b4",
                b"b5",
            ]
            assert await txn.scan("message") == []  # default partition is b""
            assert await txn.scan("thread", partition=b"g1") == []
            keys = [k for k, _ in await txn.scan("message", partition=b"g1", after_order=20)]
            assert keys == [b"a3", b"a4", b"a5"]
            keys = [k for k, _ in await txn.scan("message", partition=b"g1", after_order=25)]
            assert keys == [b"a3", b"a4", b"a5"]
            keys = [k for k, _ in await txn.scan("message", partition=b"g1", limit=2)]
            assert keys == [b"a1", b"a2"]
            keys = [
                k for k, _ in await txn.scan("message", partition=b"g1", after_order=20, limit=2)
            ]
            assert keys == [b"a3", b"a4"]
            keys = [k for k, _ in await txn.scan("message", partition=b"g1", reverse=True)]
            assert keys == [b"a5", b"a4", b"a3", b"a2", b"a1"]
            # reverse paging: after_order is a cursor in the scan's direction
            page = await txn.scan("message", partition=b"g1", reverse=True, after_order=40, limit=2)
            assert [k for k, _ in page] == [b"a3", b"a2"]
            assert await txn.scan("message", partition=b"g1", limit=0) == []
            assert await txn.count("message", partition=b"g1") == 5
            assert await txn.count("message", partition=b"g2") == 5
            assert await txn.count("message") == 0
        await store.close()

    run(go())


def test_rows_without_order_and_ties(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        async with store.transaction() as txn:
            await txn.put("pin", b"x", b"1", order=7)
            await txn.put("pin", b"y", b"2")
            await txn.put("pin", b"z", b"3", order=7)
            await txn.put("pin", b"w", b"4", order=-3)
            keys = [k for k, _ in await txn.scan("pin")]
            assert keys[0] == b"y" and keys[1] == b"w"  # no order first, then ascending
            assert set(keys[2:]) == {b"x", b"z"}
            assert [k for k, _ in await txn.scan("pin", reverse=True)] == keys[::-1]
            # the cursor skips rows without an order
            assert {k for k, _ in await txn.scan("pin", after_order=-10)} == {b"w", b"x", b"z"}
            assert await txn.scan("pin", after_order=100, reverse=True) == [
                (k, v) for k, v in (await txn.scan("pin", reverse=True)) if k != b"y"
            ]
        await store.close()

    run(go())


def test_put_replaces_value_partition_and_order(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        await store.put("thread", b"t", b"old", partition=b"g1", order=1)
        await store.put("thread", b"t", b"new", partition=b"g2", order=9)
        assert await store.get("thread", b"t") == b"new"
        assert await store.scan("thread", partition=b"g1") == []
        assert await store.scan("thread", partition=b"g2") == [(b"t", b"new")]
        assert await store.scan("thread", partition=b"g2", after_order=8) == [(b"t", b"new")]
        await store.close()

    run(go())


def test_next_order_is_monotonic(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def first() -> None:
        store = await _create(path)
        async with store.transaction() as txn:
            assert await txn.next_order("message", b"g1") == 1
            assert await txn.next_order("message", b"g1") == 2
            assert await txn.next_order("message", b"g2") == 1  # per partition
            assert await txn.next_order("thread", b"g1") == 1  # per collection
            await txn.put("message", b"k", b"v", partition=b"g1", order=100)
            assert await txn.next_order("message", b"g1") == 101  # above stored orders
            await txn.delete("message", b"k")
            assert await txn.next_order("message", b"g1") == 102  # never goes back
        with pytest.raises(ZeroDivisionError):
            async with store.transaction() as txn:
                assert await txn.next_order("message", b"g1") == 103
                raise ZeroDivisionError
        await store.close()

    async def second() -> None:
        store = await _open(path)
        assert await store.next_order("message", b"g1") == 103  # rolled back, then reopened
        await store.close()

    run(first())
    run(second())


def test_delete_partition(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        async with store.transaction() as txn:
            for i in range(4):
                await txn.put("message", b"%d" % i, b"x", partition=b"g1", order=i)
            await txn.put("message", b"other", b"y", partition=b"g2", order=1)
            assert await txn.delete_partition("message", b"g1") == 4
            assert await txn.count("message", partition=b"g1") == 0
            assert await txn.get("message", b"other") == b"y"
            assert await txn.next_order("message", b"g1") == 4
        await store.close()

    run(go())


def test_transaction_is_atomic(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        await store.put("message", b"keep", b"before", partition=b"g", order=1)

        class Boom(Exception):
            pass

        with pytest.raises(Boom):
            async with store.transaction() as txn:
                await txn.put("message", b"new", b"x", partition=b"g", order=2)
                await txn.put("message", b"keep", b"changed", partition=b"g", order=1)
                await txn.delete("message", b"keep")
                await txn.put("snapshot", b"gid", b"epoch 2")
                assert await txn.count("message", partition=b"g") == 1
                raise Boom
        async with store.transaction() as txn:
            assert await txn.get("message", b"keep") == b"before"
            assert await txn.get("message", b"new") is None
            assert await txn.get("snapshot", b"gid") is None
            assert await txn.count("message", partition=b"g") == 1
        # a cancelled transaction rolls back too
        started = asyncio.Event()

        async def slow() -> None:
            async with store.transaction() as txn:
                await txn.put("message", b"cancelled", b"x")
                started.set()
                await asyncio.sleep(10)

        task = asyncio.ensure_future(slow())
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await store.get("message", b"cancelled") is None
        await store.close()

    run(go())


def test_transactions_are_serialized_and_not_reentrant(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        seen: list[bytes | None] = []

        async def a() -> None:
            async with store.transaction() as txn:
                await txn.put("cursor", b"c", b"A")
                await asyncio.sleep(0.05)
                seen.append(await txn.get("cursor", b"c"))

        async def b() -> None:
            await asyncio.sleep(0.01)
            async with store.transaction() as txn:
                await txn.put("cursor", b"c", b"B")

        await asyncio.gather(a(), b())
        assert seen == [b"A"]
        assert await store.get("cursor", b"c") == b"B"
        async with store.transaction():
            with pytest.raises(RuntimeError):
                store.transaction()
        await store.close()

    run(go())


def test_closed_store_and_finished_txn(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        async with store.transaction() as txn:
            pass
        with pytest.raises(StoreClosed):
            await txn.get("account", b"k")
        await store.close()
        await store.close()  # idempotent
        with pytest.raises(StoreClosed):
            store.transaction()
        with pytest.raises(StoreClosed):
            await store.get("account", b"k")

    run(go())


def test_argument_checks(tmp_path: Path) -> None:
    async def go() -> None:
        store = await _create(tmp_path / "s.db")
        async with store.transaction() as txn:
            for bad_collection in ("", "Message", "a b", "x" * 33, "é", "1abc"):
                with pytest.raises(ValueError):
                    await txn.get(bad_collection, b"k")
            with pytest.raises(TypeError):
                await txn.get(b"message", b"k")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await txn.put("message", "k", b"v")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await txn.put("message", b"k", "v")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await txn.put("message", b"k", b"v", partition="p")  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await txn.put("message", b"k", b"v", order=1.5)  # type: ignore[arg-type]
            with pytest.raises(TypeError):
                await txn.put("message", b"k", b"v", order=True)
            with pytest.raises(ValueError):
                await txn.put("message", b"k", b"v", order=2**63)
            with pytest.raises(ValueError):
                await txn.scan("message", limit=-1)
            # bytearray and memoryview are accepted as bytes
            await txn.put("message", bytearray(b"k"), memoryview(b"v"))
            assert await txn.get("message", b"k") == b"v"
        await store.close()

    run(go())


def test_open_missing_and_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with pytest.raises(StoreNotFound):
        _try_open(path)
    with pytest.raises(FileNotFoundError):  # StoreNotFound is also a FileNotFoundError
        _try_open(path)
    run(_close_after(_create(path)))
    before = path.read_bytes()
    with pytest.raises(StoreExists):
        run(_create(path, "another"))
    assert path.read_bytes() == before
    _try_open(path)

    # a leftover journal next to a missing store is refused too (it would be replayed)
    other = tmp_path / "t.db"
    (tmp_path / "t.db-wal").write_bytes(b"stale")
    with pytest.raises(StoreExists):
        run(_create(other))
    assert not other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.db", "t.db-wal"]


async def _close_after(make: Awaitable[Store]) -> None:
    store = await make
    await store.close()


def test_create_argument_checks(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    for bad in ("", "\ud800"):
        with pytest.raises(ValueError):
            run(Store.create(path, bad, kdf=FAST))
    with pytest.raises(TypeError):
        run(Store.create(path, b"bytes", kdf=FAST))  # type: ignore[arg-type]
    # below the floor without the testing hook: refused, however it is spelled
    for weak in (
        KdfParams(time_cost=2),
        KdfParams(memory_kib=19 * 1024),
        KdfParams(parallelism=0),
        KdfParams(time_cost=1, memory_kib=1024, parallelism=1),  # == FAST, but not marked
        KdfParams(memory_kib=8 * 1024 * 1024),  # above the ceiling
    ):
        with pytest.raises(ValueError):
            run(Store.create(path, PASS, kdf=weak))
    with pytest.raises(ValueError):
        run(Store.open(path, PASS, kdf_floor=KdfParams(time_cost=1, memory_kib=1024)))
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []
    assert "INSECURE_FOR_TESTS" in repr(FAST)
    assert KdfParams() == KdfParams(3, 65536, 4)
    assert KdfParams(3, 65536, 1) == KDF_FLOOR


# -- passphrases -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "wrong",
    [
        "",
        " ",
        PASS + " ",
        PASS.upper(),
        "x" * 1_000_000,
        "pässwörd ✓ 🔐 كلمة المرور 密码",
        "\ud800 lone surrogate",
        "\x00",
    ],
    ids=["empty", "space", "trailing-space", "case", "very-long", "unicode", "surrogate", "nul"],
)
def test_wrong_passphrase_fails_closed(tmp_path: Path, wrong: str) -> None:
    path = tmp_path / "s.db"
    _store_with_rows(path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(WrongPassphrase) as info:
        _try_open(path, wrong)
    assert str(info.value) == WrongPassphrase.MESSAGE == "the passphrase does not open this store"
    # no chained exception to leak details through a traceback
    exc = info.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    # nothing written: same files, same bytes
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert _read_all(path, []) == {b"m0": b"body 0", b"m1": b"body 1", b"m2": b"body 2"}


def test_passphrase_is_nfc_normalized(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    composed = "caf\u00e9 \u1e9b\u0323"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    run(_close_after(_create(path, composed)))
    _try_open(path, decomposed)
    _try_open(path, composed)


def test_change_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    _store_with_rows(path)
    old_header = _raw_header(path)

    async def change() -> None:
        store = await _open(path)
        with pytest.raises(WrongPassphrase):
            await store.change_passphrase("not it", "new passphrase")
        with pytest.raises(ValueError):
            await store.change_passphrase(PASS, "")
        await store.change_passphrase(PASS, "new passphrase ✓")
        # still usable in the same session
        assert await store.get("message", b"m1") == b"body 1"
        await store.close()

    run(change())
    new_header = _raw_header(path)
    assert new_header[:15] == old_header[:15]  # magic, version, KDF id, t, m ...
    assert new_header[23:39] != old_header[23:39]  # fresh salt
    assert new_header[39:] != old_header[39:]  # fresh nonce and wrapping
    raw = path.read_bytes()
    assert old_header[39:] not in raw  # the old wrapped key is not left in the file
    with pytest.raises(WrongPassphrase):
        _try_open(path, PASS)
    rows = _read_all(path, [b"m0", b"m1"], passphrase="new passphrase ✓")
    assert rows == {b"m0": b"body 0", b"m1": b"body 1", b"m2": b"body 2"}

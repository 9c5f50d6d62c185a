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
import base64
import os
import random
import secrets
import signal
import sqlite3
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cove.client.store import (
    KDF_FLOOR,
    KdfParams,
    Store,
    StoreClosed,
    StoreCorrupted,
    StoreError,
    StoreExists,
    StoreLocked,
    StoreNotFound,
    WrongPassphrase,
)
from cove.client.store import crypto as store_crypto
from cove.client.store import db as store_db

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
            await txn.put("thread", b"t1", b"thread title", partition=b"g1", order=1)
        keys = store._keys
        assert keys is not None
        tags = {f"m{i}": keys.key_tag(b"message", b"m%d" % i) for i in range(rows)}
        tags["g1"] = keys.partition_tag(b"message", b"g1")
        tags["g2"] = keys.partition_tag(b"message", b"g2")
        tags["message"] = keys.collection_tag(b"message")
        tags["t1"] = keys.key_tag(b"thread", b"t1")
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
                await asyncio.Event().wait()  # until cancelled

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
        a_inside, b_trying = asyncio.Event(), asyncio.Event()

        async def a() -> None:
            async with store.transaction() as txn:
                await txn.put("cursor", b"c", b"A")
                a_inside.set()
                # b runs until it blocks on the store's lock before this wakes up
                await b_trying.wait()
                await txn.get("cursor", b"c")  # a round trip to SQLite: b could run
                seen.append(await txn.get("cursor", b"c"))

        async def b() -> None:
            await a_inside.wait()
            b_trying.set()
            async with store.transaction() as txn:
                seen.append(b"B entered")
                await txn.put("cursor", b"c", b"B")

        await asyncio.gather(a(), b())
        assert seen == [b"A", b"B entered"]
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
            await txn.put("message", bytearray(b"k"), memoryview(b"v"))  # type: ignore[arg-type]
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


def test_real_default_kdf_end_to_end(tmp_path: Path) -> None:
    """RFC 9106 second option (t=3, 64 MiB, p=4) from create to open, no testing hook."""
    path = tmp_path / "real.db"

    async def go() -> None:
        store = await Store.create(path, PASS)
        assert store.kdf == KdfParams(3, 65536, 4)
        await store.put("account", b"self", b"identity")
        await store.close()
        store = await Store.open(path, PASS)
        assert await store.get("account", b"self") == b"identity"
        await store.close()
        with pytest.raises(WrongPassphrase):
            await Store.open(path, PASS + "!")

    run(go())
    header = _raw_header(path)
    assert header[:8] == b"COVESTOR"
    assert struct.unpack(">HBIII", header[8:23]) == (1, 1, 3, 65536, 4)


# -- header and file tampering -------------------------------------------------------------


def _edit_header(path: Path, edit: Callable[[bytearray], bytes | bytearray]) -> None:
    header = bytearray(_raw_header(path))
    _raw_edit(path, ("UPDATE store_header SET header = ?", (bytes(edit(header)),)))


def _put_u32(offset: int, value: int) -> Callable[[bytearray], bytearray]:
    def edit(h: bytearray) -> bytearray:
        h[offset : offset + 4] = value.to_bytes(4, "big")
        return h

    return edit


def _flip(offset: int) -> Callable[[bytearray], bytearray]:
    def edit(h: bytearray) -> bytearray:
        h[offset] ^= 0x01
        return h

    return edit


# FAST is t=1, m=1024, p=1: header offsets 11 (t), 15 (m), 19 (p), 23 (salt), 39 (nonce), 63 (key)
HEADER_EDITS: dict[str, tuple[Callable[[bytearray], bytes | bytearray], type[StoreError]]] = {
    "magic": (_flip(0), StoreCorrupted),
    "version": (_flip(9), StoreCorrupted),
    "kdf-id": (_flip(10), StoreCorrupted),
    "time-cost-up": (_put_u32(11, 2), WrongPassphrase),
    "memory-up": (_put_u32(15, 2048), WrongPassphrase),
    "parallelism-up": (_put_u32(19, 2), WrongPassphrase),
    "time-cost-zero": (_put_u32(11, 0), StoreCorrupted),
    "memory-below-argon2-min": (_put_u32(15, 4), StoreCorrupted),
    "memory-above-ceiling": (_put_u32(15, 0xFFFFFFFF), StoreCorrupted),
    "time-above-ceiling": (_put_u32(11, 1_000_000), StoreCorrupted),
    "salt": (_flip(30), WrongPassphrase),
    "nonce": (_flip(40), WrongPassphrase),
    "wrapped-key": (_flip(70), WrongPassphrase),
    "wrapped-key-tag": (_flip(110), WrongPassphrase),
    "truncated": (lambda h: h[:-1], StoreCorrupted),
    "extended": (lambda h: h + b"\x00", StoreCorrupted),
    "empty": (lambda h: b"", StoreCorrupted),
}


@pytest.mark.parametrize("name", sorted(HEADER_EDITS))
def test_tampered_header_fails_closed(tmp_path: Path, name: str) -> None:
    path = tmp_path / "s.db"
    _store_with_rows(path)
    edit, expected = HEADER_EDITS[name]
    _edit_header(path, edit)
    with pytest.raises(expected) as info:
        _try_open(path)
    assert type(info.value) is expected


def test_weakened_header_is_refused_before_running_the_kdf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header edited down to weaker-than-floor parameters never reaches Argon2id."""
    path = tmp_path / "s.db"
    _store_with_rows(path)  # FAST parameters: below the real floor
    calls: list[object] = []
    real = store_crypto.argon2id

    def counting(*args: Any) -> bytes:
        calls.append(args[2])
        return real(*args)

    monkeypatch.setattr(store_db, "argon2id", counting)
    with pytest.raises(StoreCorrupted):
        run(Store.open(path, PASS))  # default floor
    assert calls == []
    # OWASP's minimum (19 MiB, t=2, p=1) is below Cove's floor as well
    _edit_header(path, lambda h: _put_u32(15, 19 * 1024)(_put_u32(11, 2)(h)))
    with pytest.raises(StoreCorrupted):
        run(Store.open(path, PASS))
    assert calls == []
    # with the testing floor they are in range: the KDF runs and the wrap's tag fails
    with pytest.raises(WrongPassphrase):
        _try_open(path)
    assert calls == [KdfParams(2, 19 * 1024, 1)]


def test_missing_header_row_and_altered_schema(tmp_path: Path) -> None:
    edits: list[tuple[str, tuple[Any, ...]]] = [
        ("DELETE FROM store_header", ()),
        ("CREATE TRIGGER t AFTER INSERT ON rows BEGIN SELECT 1; END", ()),
        ("CREATE TABLE extra (x)", ()),
        ("DROP INDEX rows_by_order", ()),
        ("PRAGMA application_id=1", ()),
        ("PRAGMA user_version=2", ()),
    ]
    for i, edit in enumerate(edits):
        path = tmp_path / f"s{i}.db"
        _store_with_rows(path)
        _raw_edit(path, edit)
        with pytest.raises(StoreCorrupted):
            _try_open(path)


# -- row tampering -----------------------------------------------------------------------------


def _row_blob(path: Path, ktag: bytes) -> bytes:
    db = _raw(path)
    try:
        return bytes(db.execute("SELECT v FROM rows WHERE k = ?", (ktag,)).fetchone()[0])
    finally:
        db.close()


def _expect_corrupted_read(path: Path, key: bytes, partition: bytes = b"g1") -> None:
    """Opening works (the header is intact), reading the damaged row fails closed."""

    async def go() -> None:
        store = await _open(path)
        try:
            with pytest.raises(StoreCorrupted):
                await store.get("message", key)
            with pytest.raises(StoreCorrupted):
                await store.scan("message", partition=partition)
        finally:
            await store.close()

    run(go())


@pytest.mark.parametrize("where", ["nonce", "first", "middle", "last", "tag", "every"])
def test_flipped_bytes_in_a_row_value(tmp_path: Path, where: str) -> None:
    path = tmp_path / "s.db"
    tags = _store_with_rows(path)
    blob = bytearray(_row_blob(path, tags["m1"]))
    n = len(blob)
    positions = {
        "nonce": [3],
        "first": [24],
        "middle": [n // 2],
        "last": [n - 17],
        "tag": [n - 1],
        "every": list(range(0, n, 7)),
    }[where]
    for i in positions:
        blob[i] ^= 0x80
    _raw_edit(path, ("UPDATE rows SET v = ? WHERE k = ?", (bytes(blob), tags["m1"])))
    _expect_corrupted_read(path, b"m1")
    # the other rows still read (damage is per row)
    assert run(_get(path, b"m0")) == b"body 0"


async def _get(path: Path, key: bytes) -> bytes | None:
    store = await _open(path)
    try:
        return await store.get("message", key)
    finally:
        await store.close()


def test_rows_cannot_be_moved_swapped_or_reordered(tmp_path: Path) -> None:
    """The attacker cannot compute tags, but can move stored values and tags around."""
    for case in ("swap", "copy", "partition", "order", "no-order", "collection"):
        path = tmp_path / f"{case}.db"
        tags = _store_with_rows(path)
        m0, m1 = _row_blob(path, tags["m0"]), _row_blob(path, tags["m1"])
        all_edits: dict[str, list[tuple[str, tuple[Any, ...]]]] = {
            "swap": [
                ("UPDATE rows SET v = ? WHERE k = ?", (m1, tags["m0"])),
                ("UPDATE rows SET v = ? WHERE k = ?", (m0, tags["m1"])),
            ],
            "copy": [("UPDATE rows SET v = ? WHERE k = ?", (m0, tags["m1"]))],
            "partition": [("UPDATE rows SET part = ? WHERE k = ?", (tags["g2"], tags["m1"]))],
            "order": [("UPDATE rows SET ord = 99 WHERE k = ?", (tags["m1"],))],
            "no-order": [("UPDATE rows SET ord = NULL WHERE k = ?", (tags["m1"],))],
            # a message's value in place of the thread row's value
            "collection": [("UPDATE rows SET v = ? WHERE k = ?", (m1, tags["t1"]))],
        }
        _raw_edit(path, *all_edits[case])

        async def go(case: str = case, path: Path = path) -> None:
            store = await _open(path)
            try:
                if case == "collection":
                    with pytest.raises(StoreCorrupted):
                        await store.get("thread", b"t1")
                    with pytest.raises(StoreCorrupted):
                        await store.scan("thread", partition=b"g1")
                    assert await store.get("message", b"m1") == b"body 1"
                    return
                with pytest.raises(StoreCorrupted):
                    await store.scan("message", partition=b"g2" if case == "partition" else b"g1")
                with pytest.raises(StoreCorrupted):
                    await store.get("message", b"m1")
            finally:
                await store.close()

        run(go())


def test_wrong_column_types_are_corruption(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    tags = _store_with_rows(path)
    _raw_edit(path, ("UPDATE rows SET v = 'text', ord = 'x' WHERE k = ?", (tags["m1"],)))
    _expect_corrupted_read(path, b"m1")


# -- damaged, truncated, extended and foreign files -------------------------------------------


def test_truncated_and_extended_files(tmp_path: Path) -> None:
    src = tmp_path / "src.db"
    _store_with_rows(src, rows=40)
    data = src.read_bytes()
    assert len(data) >= 4 * 4096
    cuts = [0, 1, 50, 99, 100, 4095, 4096, 4097, len(data) // 2, len(data) - 4096, len(data) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.db"
        path.write_bytes(data[:cut])
        with pytest.raises(StoreCorrupted):
            _try_open(path)
        assert path.read_bytes() == data[:cut]  # never "repaired" or written
    for extra in (b"\x00", b"x" * 4096, os.urandom(10_000)):
        path = tmp_path / "extended.db"
        path.write_bytes(data + extra)
        with pytest.raises(StoreCorrupted):
            _try_open(path)


def test_foreign_and_garbage_files(tmp_path: Path) -> None:
    rng = random.Random(7)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(rng.randrange(256) for _ in range(50_000)))
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    plain = tmp_path / "plain.db"
    db = sqlite3.connect(plain)
    db.execute("CREATE TABLE rows (k, v)")
    db.commit()
    db.close()
    fake = tmp_path / "fake.db"  # a Cove-looking SQLite header, nothing behind it
    header = bytearray(4096)
    header[:16] = b"SQLite format 3\x00"
    header[16:18] = (4096).to_bytes(2, "big")
    header[18:20] = b"\x02\x02"
    header[60:64] = (1).to_bytes(4, "big")
    header[68:72] = store_db.APPLICATION_ID.to_bytes(4, "big")
    fake.write_bytes(bytes(header) + os.urandom(4096))
    for path in (garbage, text, plain, fake):
        before = path.read_bytes()
        with pytest.raises(StoreCorrupted):
            _try_open(path)
        assert path.read_bytes() == before
    with pytest.raises(StoreCorrupted):
        _try_open(tmp_path)  # a directory


def test_random_byte_flips_fail_closed_or_change_nothing(tmp_path: Path) -> None:
    """Flip one byte at many offsets: open+read either raises a StoreError or returns
    exactly the original data (bytes SQLite does not use, e.g. free space in a page)."""
    src = tmp_path / "src.db"
    _store_with_rows(src, rows=30)
    data = src.read_bytes()
    keys = [b"m%d" % i for i in range(30)]
    original = _read_all(src, keys)
    rng = random.Random(20240601)
    offsets = sorted({*range(0, 100, 3), *rng.sample(range(len(data)), 120)})
    outcomes: dict[str, int] = {}
    path = tmp_path / "flipped.db"
    for off in offsets:
        damaged = bytearray(data)
        damaged[off] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            got = _read_all(path, keys)
        except StoreError as exc:
            outcomes[type(exc).__name__] = outcomes.get(type(exc).__name__, 0) + 1
        else:
            assert got == original, f"offset {off}: wrong data returned"
            outcomes["unchanged"] = outcomes.get("unchanged", 0) + 1
        for suffix in store_db.SIBLING_SUFFIXES:
            Path(str(path) + suffix).unlink(missing_ok=True)
    assert outcomes.get("StoreCorrupted", 0) > len(offsets) // 4, outcomes


# -- crash safety -------------------------------------------------------------------------------

CRASH_CHILD = r"""
import asyncio, sys
from pathlib import Path
from cove.client.store import KdfParams, Store

ROWS = int(sys.argv[3])

async def main(path: str, start: int) -> None:
    store = await Store.open(Path(path), "pw", kdf_floor=KdfParams.insecure_for_tests())
    # a tiny page cache makes SQLite spill uncommitted pages into the WAL mid-transaction
    await store._conn.run("PRAGMA cache_size=8")
    for i in range(start, start + 5000):
        print(f"begin {i}", flush=True)
        async with store.transaction() as txn:
            for j in range(ROWS):
                await txn.put("crash", b"%d/%d" % (i, j), b"v" * 2000, partition=b"tx%d" % i,
                              order=j)
            await txn.put("meta", b"last", b"%d" % i)
        print(f"commit {i}", flush=True)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def test_sigkill_mid_transaction_leaves_whole_transactions(tmp_path: Path) -> None:
    """SIGKILL a writer just after it begins a transaction; the store opens and each
    transaction is entirely present or entirely absent; every reported commit survives."""
    path = tmp_path / "crash.db"
    rows = 40
    run(_close_after(Store.create(path, "pw", kdf=FAST)))
    rng = random.Random(99)
    start = 0
    wal_sizes: list[int] = []
    for _ in range(3):
        target = start + rng.randrange(3, 15)
        proc = subprocess.Popen(
            [sys.executable, "-c", CRASH_CHILD, str(path), str(start), str(rows)],
            stdout=subprocess.PIPE,
            text=True,
        )
        guard = threading.Timer(30, proc.kill)
        guard.start()
        committed = -1
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                word, n = line.split()
                if word == "commit":
                    committed = int(n)
                elif int(n) >= target:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
        finally:
            guard.cancel()
            proc.wait(timeout=30)
            assert proc.stdout is not None
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        wal_sizes.append(Path(str(path) + "-wal").stat().st_size)

        async def check(committed: int = committed, start: int = start) -> int:
            store = await Store.open(path, "pw", kdf_floor=FAST)
            async with store.transaction() as txn:
                last_raw = await txn.get("meta", b"last")
                last = int(last_raw) if last_raw is not None else -1
                assert last >= committed  # every commit reported to the caller survived
                for i in range(max(start - 2, 0), last + 3):
                    n = await txn.count("crash", partition=b"tx%d" % i)
                    assert n == (rows if i <= last else 0), (i, n, last)
            await store.close()
            return last

        start = run(check()) + 1
    assert start >= 3
    assert all(size > 0 for size in wal_sizes)  # the killed writer left a WAL to recover


# -- files on disk ------------------------------------------------------------------------------


def test_file_and_directory_modes(tmp_path: Path) -> None:
    old = os.umask(0)  # permissive umask: the store must not rely on it
    try:
        path = tmp_path / "new" / "deeper" / "store.db"

        async def go() -> None:
            store = await _create(path)
            await store.put("message", b"k", b"v")
            for p in (path, Path(str(path) + "-wal")):
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
            assert not Path(str(path) + "-shm").exists()  # exclusive locking: no shm
            await store.close()

        run(go())
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert sorted(p.name for p in path.parent.iterdir()) == ["store.db"]  # no temp files
        # a loosened file is tightened again on open
        os.chmod(path, 0o644)
        _try_open(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_second_opener_gets_store_locked(tmp_path: Path) -> None:
    path = tmp_path / "s.db"

    async def go() -> None:
        store = await _create(path)
        with pytest.raises(StoreLocked):
            await _open(path)
        with pytest.raises(StoreLocked):  # even with a wrong passphrase: nothing to learn
            await _open(path, "wrong")
        await store.put("message", b"k", b"v")  # the first one is unaffected
        await store.close()
        again = await _open(path)
        assert await again.get("message", b"k") == b"v"
        await again.close()

    run(go())


# -- canary scan ----------------------------------------------------------------------------------


def _renderings(canary: bytes) -> dict[str, bytes]:
    """How a canary could appear in a file: raw, UTF-16, hex, base64/base64url at 3 alignments."""
    out = {"raw": canary, "hex": canary.hex().encode(), "HEX": canary.hex().upper().encode()}
    try:
        text = canary.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        out["utf-16-le"] = text.encode("utf-16-le")
        out["utf-16-be"] = text.encode("utf-16-be")
    for shift in range(3):
        enc = base64.b64encode(b"\x00" * shift + canary)
        first = (shift + 2) // 3 * 4  # first character that depends only on the canary
        last = (shift + len(canary)) // 3 * 4
        inner = enc[first:last]
        out[f"base64+{shift}"] = inner
        out[f"base64url+{shift}"] = inner.replace(b"+", b"-").replace(b"/", b"_")
    return out


def _scan(paths: list[Path], canaries: dict[str, bytes]) -> list[tuple[str, str, str]]:
    hits = []
    for path in paths:
        data = path.read_bytes()
        for name, canary in canaries.items():
            for how, pattern in _renderings(canary).items():
                if len(pattern) >= 8 and pattern in data:
                    hits.append((path.name, name, how))
    return hits


def test_canary_scanner_finds_planted_canaries(tmp_path: Path) -> None:
    canary = b"canary-" + secrets.token_hex(16).encode()
    for how, pattern in _renderings(canary).items():
        decoy = tmp_path / f"decoy-{how}"
        decoy.write_bytes(os.urandom(1000) + pattern + os.urandom(1000))
        assert (decoy.name, "c", how) in _scan([decoy], {"c": canary}), how
    # and base64 of the canary at an arbitrary position inside a larger blob
    for shift in range(3):
        decoy = tmp_path / f"decoy-b64-{shift}"
        decoy.write_bytes(base64.b64encode(os.urandom(shift) + canary + os.urandom(5)))
        assert _scan([decoy], {"c": canary}), shift


def test_no_plaintext_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    token = secrets.token_hex(16)
    canaries = {
        "key": f"canary-key-{token}".encode(),
        "partition": f"canary-group-{token}".encode(),
        "value": f"canary-health-story-{token}".encode(),
        "unicode": f"Diagnose-Kanarienvogel-ü-{token}".encode(),
        "binary-key": os.urandom(16),
        "passphrase": f"canary-passphrase-{token}".encode(),
    }
    collection = "c" + token[:20]
    seen: dict[str, bytes] = {}

    async def go() -> None:
        store = await _create(path, canaries["passphrase"].decode())
        assert store._keys is not None
        seen["data-key"] = store._keys.data_key
        async with store.transaction() as txn:
            for i in range(50):
                order = await txn.next_order(collection, canaries["partition"])
                await txn.put(
                    collection,
                    canaries["key"] + b"-%d" % i,
                    b"I was diagnosed ... " + canaries["value"] + b" " + canaries["unicode"],
                    partition=canaries["partition"],
                    order=order,
                )
            await txn.put("pin", canaries["binary-key"], canaries["binary-key"])
            await txn.put("message", canaries["key"], b"deleted soon " + canaries["value"])
        await store.delete("message", canaries["key"])
        # while open: the main file and its WAL
        live = [p for p in tmp_path.iterdir() if p.is_file()]
        assert any(p.name.endswith("-wal") for p in live)
        assert _scan(live, {**canaries, **seen}) == []
        await store.close()

    run(go())
    files = [p for p in tmp_path.iterdir() if p.is_file()]
    assert [p.name for p in files] == ["store.db"]
    assert _scan(files, {**canaries, **seen}) == []
    # sanity: the data is really there
    rows = run(_scan_collection(path, collection, canaries["partition"], canaries["passphrase"]))
    assert len(rows) == 50


async def _scan_collection(
    path: Path, collection: str, partition: bytes, passphrase: bytes
) -> list[tuple[bytes, bytes]]:
    store = await _open(path, passphrase.decode())
    try:
        return await store.scan(collection, partition=partition)
    finally:
        await store.close()


def test_stored_length_depends_on_length_only(tmp_path: Path) -> None:
    """No compression: equal-length values give equal-length rows whatever their content,
    and lengths are padded (Padmé) so nearby lengths share a size."""
    path = tmp_path / "s.db"

    async def go() -> dict[bytes, int]:
        store = await _create(path)
        assert store._keys is not None
        keys = store._keys
        values = {
            b"zeros": bytes(3000),
            b"random": os.urandom(3000),
            b"repeat": b"diabetes " * 333 + b"xxx",
            b"short1": b"a" * 1000,
            b"short2": b"b" * 1010,
        }
        async with store.transaction() as txn:
            for k, v in values.items():
                await txn.put("message", k, v)
        tags = {k: keys.key_tag(b"message", k) for k in values}
        await store.close()
        return {k: len(_row_blob(path, t)) for k, t in tags.items()}

    sizes = run(go())
    assert sizes[b"zeros"] == sizes[b"random"] == sizes[b"repeat"]
    assert sizes[b"short1"] == sizes[b"short2"]


def test_padme() -> None:
    from cove.client.store.crypto import padme

    previous = 0
    for n in range(2, 70_000):
        p = padme(n)
        assert p >= n and p >= previous
        assert p - n <= n * 0.12 + 1
        previous = p
    assert padme(64) == 64 and padme(65) == 72 and padme(1000) == 1024


def test_reprs_and_errors_carry_no_secrets(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    secret_pass = "canary-pass-" + secrets.token_hex(8)

    async def go() -> list[str]:
        store = await _create(path, secret_pass)
        assert store._keys is not None
        dk = store._keys.data_key
        texts = [repr(store), str(store), repr(store._keys), repr(store._header), repr(store.kdf)]
        async with store.transaction() as txn:
            texts.append(repr(txn))
        await store.close()
        try:
            await _open(path, secret_pass + "x")
        except WrongPassphrase as exc:
            texts.append(str(exc))
        texts.append(repr(store))
        return [t for t in texts if dk.hex() in t or secret_pass in t or repr(dk) in t]

    assert run(go()) == []


# -- the documented format, reimplemented from docs/client/local-store.md -------------------------


def test_format_matches_the_document(tmp_path: Path) -> None:
    """Decrypt a store with only the primitives and the doc's byte layout (no store code)."""
    import hashlib
    import hmac

    from argon2.low_level import Type, hash_secret_raw
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt as xchacha_open

    path = tmp_path / "doc.db"
    passphrase = "Ünïcode pass"  # NFC form; the doc says NFC then UTF-8

    async def write() -> None:
        store = await _create(path, passphrase)
        await store.put("message", b"msg-1", b"my health story", partition=b"group-A", order=7)
        await store.put("account", b"self", b"x" * 100)
        await store.close()

    run(write())
    raw = path.read_bytes()
    assert raw[:16] == b"SQLite format 3\x00"
    assert raw[68:72] == b"COVE" and raw[60:64] == (1).to_bytes(4, "big")

    header = _raw_header(path)
    assert len(header) == 111
    magic, version, kdf_id, t, m, p, salt = struct.unpack(">8sHBIII16s", header[:39])
    assert (magic, version, kdf_id) == (b"COVESTOR", 1, 1)
    nonce, wrapped = header[39:63], header[63:111]
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    kek = hash_secret_raw(secret, salt, t, m, p, 32, Type.ID, 19)
    data_key = xchacha_open(wrapped, header[:39], nonce, kek)

    def hkdf(info: bytes) -> bytes:
        return HKDF(hashes.SHA256(), 32, None, info).derive(data_key)

    k_enc = hkdf(b"cove-store v1 row encryption key")
    k_idx = hkdf(b"cove-store v1 row index key")

    def tag(label: bytes, collection: bytes, data: bytes) -> bytes:
        msg = b"cove-store v1 " + label + b"\x00" + bytes([len(collection)]) + collection + data
        return hmac.new(k_idx, msg, hashlib.sha256).digest()

    coll = b"message"
    ctag, ktag = tag(b"collection", coll, b""), tag(b"key", coll, b"msg-1")
    ptag = tag(b"partition", coll, b"group-A")
    db = _raw(path)
    try:
        row = db.execute("SELECT coll, k, part, ord, v FROM rows WHERE k = ?", (ktag,)).fetchone()
        counter = db.execute("SELECT next FROM counters WHERE coll = ? AND part = ?", (ctag, ptag))
        assert counter.fetchone()[0] == 8
    finally:
        db.close()
    assert (row[0], row[2], row[3]) == (ctag, ptag, 7)
    blob = bytes(row[4])
    aad = (
        b"cove-store v1 row\x00"
        + bytes([len(coll)])
        + coll
        + ktag
        + ptag
        + b"\x01"
        + (7).to_bytes(8, "big", signed=True)
    )
    padded = xchacha_open(blob[24:], aad, blob[:24], k_enc)
    klen = int.from_bytes(padded[:4], "big")
    vlen = int.from_bytes(padded[4 + klen : 8 + klen], "big")
    assert padded[4 : 4 + klen] == b"msg-1"
    assert padded[8 + klen : 8 + klen + vlen] == b"my health story"
    assert len(padded) == 64 and not any(padded[8 + klen + vlen :])  # Padmé(max(32, 64))
    assert len(blob) == 24 + 64 + 16


# -- model-based property test -------------------------------------------------------------------

_KEYS = st.sampled_from([b"", b"a", b"b", b"c\x00", b"d" * 40])
_PARTS = st.sampled_from([b"", b"g1", b"g2"])
_ORDERS = st.one_of(st.none(), st.integers(-3, 3), st.sampled_from([-(2**63), 2**63 - 1]))
_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("put"),
            st.sampled_from(["message", "thread"]),
            _KEYS,
            st.binary(max_size=80),
            _PARTS,
            _ORDERS,
        ),
        st.tuples(st.just("delete"), st.sampled_from(["message", "thread"]), _KEYS),
        st.tuples(
            st.just("scan"),
            st.sampled_from(["message", "thread"]),
            _PARTS,
            _ORDERS,
            st.one_of(st.none(), st.integers(0, 4)),
            st.booleans(),
        ),
        st.tuples(st.just("fail")),  # a transaction that raises: nothing of it remains
    ),
    max_size=25,
)


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(ops=_OPS)
def test_store_behaves_like_a_dict_model(ops: list[tuple[Any, ...]]) -> None:
    """Random put/delete/scan sequences agree with a plain-Python model of the documented
    semantics (NULL orders first, ties by key tag, after_order in the scan direction)."""

    async def go(path: Path) -> None:
        store = await _create(path)
        keys = store._keys
        assert keys is not None
        model: dict[tuple[str, bytes], tuple[bytes, int | None, bytes]] = {}

        def expected(
            coll: str, part: bytes, after: int | None, limit: int | None, rev: bool
        ) -> list[tuple[bytes, bytes]]:
            rows = [
                (order, keys.key_tag(coll.encode(), k), k, v)
                for (c, k), (p, order, v) in model.items()
                if c == coll and p == part
            ]
            if after is not None:
                rows = [
                    r for r in rows if r[0] is not None and (r[0] < after if rev else r[0] > after)
                ]
            rows.sort(key=lambda r: (r[0] is not None, r[0] or 0, r[1]), reverse=rev)
            return [(k, v) for _, _, k, v in rows][:limit]

        for op in ops:
            if op[0] == "put":
                _, coll, k, v, part, order = op
                await store.put(coll, k, v, partition=part, order=order)
                model[(coll, k)] = (part, order, v)
            elif op[0] == "delete":
                await store.delete(op[1], op[2])
                model.pop((op[1], op[2]), None)
            elif op[0] == "scan":
                _, coll, part, after, limit, rev = op
                got = await store.scan(
                    coll, partition=part, after_order=after, limit=limit, reverse=rev
                )
                assert got == expected(coll, part, after, limit, rev)
                assert await store.count(coll, partition=part) == len(
                    expected(coll, part, None, None, False)
                )
            else:
                with pytest.raises(KeyError):
                    async with store.transaction() as txn:
                        await txn.put("message", b"a", b"never", partition=b"g1", order=0)
                        await txn.delete("thread", b"b")
                        raise KeyError
        for (coll, k), (_, _, v) in model.items():
            assert await store.get(coll, k) == v
        await store.close()

    with tempfile.TemporaryDirectory() as d:
        run(go(Path(d) / "s.db"))

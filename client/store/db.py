"""The encrypted local store: one SQLite file, every row sealed under the data key.

::

    Store.create(path, passphrase)   new file (0600) in a 0700 directory, never overwrites
    Store.open(path, passphrase)     one Argon2id run; WrongPassphrase, StoreCorrupted, StoreLocked
      async with store.transaction() as txn:     one SQLite transaction (BEGIN IMMEDIATE)
          await txn.put("message", msg_id, body, partition=group_id, order=n)
          await txn.scan("message", partition=group_id, after_order=cursor, limit=50)

SQLite settings (``docs/client/local-store.md`` "Durability" argues them):
``journal_mode=WAL``, ``synchronous=FULL`` (+ ``fullfsync`` on macOS),
``locking_mode=EXCLUSIVE`` (one connection owns the file; no ``-shm`` file),
``secure_delete=ON``, ``temp_store=MEMORY``, ``trusted_schema=OFF``,
``cell_size_check=ON``. On open the schema must match this module's exactly.

SQL tables hold only tags (HMAC-SHA256 under the index key), ciphertext,
``order`` integers and per-partition counters; see :mod:`.crypto`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from argon2.exceptions import HashingError

from .crypto import (
    KDF_FLOOR,
    SALT_LEN,
    Header,
    KdfParams,
    StoreKeys,
    argon2id,
    check_kdf_params,
    check_order,
    encode_passphrase,
    new_header,
    unwrap_data_key,
)
from .errors import (
    StoreClosed,
    StoreCorrupted,
    StoreError,
    WrongPassphrase,
)
from .files import (
    O_CLOEXEC,
    O_NOFOLLOW,
    SIBLING_SUFFIXES,
    fsync_dir,
    fsync_path,
    make_private_dir,
    publish,
    refuse_existing,
    sibling,
    tighten_modes,
)
from .sqlite import (
    APPLICATION_ID,
    SCHEMA,
    Connection,
    check_file,
    check_sqlite_header,
    connect,
    initialize,
)

__all__ = ["APPLICATION_ID", "SCHEMA", "SIBLING_SUFFIXES", "Store", "Txn"]

#: RFC 9106's second recommended option: t=3, m=64 MiB, p=4
DEFAULT_KDF = KdfParams()

_COLLECTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
_I64_MAX = 2**63 - 1


def _collection(name: str) -> bytes:
    if not isinstance(name, str):
        raise TypeError("collection must be str")
    if not _COLLECTION.fullmatch(name):
        raise ValueError("collection must match [a-z][a-z0-9_]{0,31}")
    return name.encode("ascii")


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{what} must be bytes")


def _blob(value: object) -> bytes:
    if not isinstance(value, bytes):
        raise StoreCorrupted("a stored column has the wrong type")
    return value


def _order_from_row(value: object) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise StoreCorrupted("a stored order has the wrong type")


_PUT_ROW = "INSERT OR REPLACE INTO rows (coll, k, part, ord, v) VALUES (?, ?, ?, ?, ?)"
_BUMP_COUNTER = (
    "INSERT INTO counters (coll, part, next) VALUES (?, ?, ?)"
    " ON CONFLICT (coll, part) DO UPDATE SET next = max(next, excluded.next)"
)


class Txn:
    """Operations inside one :meth:`Store.transaction` block.

    Keys, partitions and values are bytes; ``order`` is a signed 64-bit integer
    or None. A Txn must not be used after its ``async with`` block ends.
    """

    __slots__ = ("_active", "_bump", "_conn", "_keys", "_known", "_read", "_rows")

    def __init__(self, conn: Connection, keys: StoreKeys) -> None:
        self._conn = conn
        self._keys = keys
        self._active = True
        # Order counters: raised in memory and written once, just before COMMIT
        # (:meth:`_flush`), so keeping a page of messages costs no counter round trips.
        #: (collection tag, partition tag) -> the value the stored counter must reach
        self._bump: dict[tuple[bytes, bytes], int] = {}
        #: counters read in this transaction -> their exact next value
        self._known: dict[tuple[bytes, bytes], int] = {}
        # Rows put are written in one statement before the next read that could see
        # them (scan, count, delete) and before COMMIT; ``get`` answers from here.
        #: (collection tag, key tag) -> (the row's columns, its value)
        self._rows: dict[tuple[bytes, bytes], tuple[tuple[object, ...], bytes]] = {}
        #: rows read ahead by :meth:`get_many` (None: not stored), until written or deleted
        self._read: dict[tuple[bytes, bytes], bytes | None] = {}

    def _raise_counter(self, ctag: bytes, ptag: bytes, at_least: int) -> None:
        slot = (ctag, ptag)
        if at_least > self._bump.get(slot, 0):
            self._bump[slot] = at_least
        known = self._known.get(slot)
        if known is not None and at_least > known:
            self._known[slot] = at_least

    async def _write_rows(self) -> None:
        if self._rows:
            rows = [columns for columns, _ in self._rows.values()]
            self._rows.clear()
            await self._conn.run_many(_PUT_ROW, rows)

    async def _flush(self) -> None:
        """Write the rows put and the raised order counters (a round trip each)."""
        conn, _ = self._check()
        await self._write_rows()
        if self._bump:
            await conn.run_many(_BUMP_COUNTER, [(c, p, n) for (c, p), n in self._bump.items()])
            self._bump.clear()

    def __repr__(self) -> str:
        return f"<Txn {'active' if self._active else 'finished'}>"

    def _check(self) -> tuple[Connection, StoreKeys]:
        if not self._active:
            raise StoreClosed("the transaction has ended")
        return self._conn, self._keys

    async def get(self, collection: str, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        conn, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        pending = self._rows.get((ctag, ktag))
        if pending is not None:
            return pending[1]
        if (ctag, ktag) in self._read:
            return self._read[(ctag, ktag)]
        row = await conn.one("SELECT part, ord, v FROM rows WHERE coll = ? AND k = ?", (ctag, ktag))
        if row is None:
            return None
        part, order, blob = _blob(row[0]), _order_from_row(row[1]), _blob(row[2])
        _, value = keys.open_row(coll, ktag, part, order, blob)
        return value

    async def get_many(self, collection: str, keys: list[bytes]) -> None:
        """Read the rows of ``keys`` ahead, in one query: the following :meth:`get` of any
        of them answers without a round trip (a page of messages checks its ids so)."""
        conn, store_keys = self._check()
        coll = _collection(collection)
        ctag = store_keys.collection_tag(coll)
        tags: dict[bytes, None] = {}
        for key in keys:
            ktag = store_keys.key_tag(coll, _bytes(key, "key"))
            if (ctag, ktag) not in self._rows:
                tags[ktag] = None
        found: dict[bytes, bytes | None] = dict.fromkeys(tags)
        chunk = list(tags)
        for start in range(0, len(chunk), 500):  # SQLite's default limit is 32,766 variables
            part_tags = chunk[start : start + 500]
            marks = ", ".join("?" * len(part_tags))
            rows = await conn.all(
                f"SELECT k, part, ord, v FROM rows WHERE coll = ? AND k IN ({marks})",  # noqa: S608 (only placeholders)
                [ctag, *part_tags],
            )
            for ktag, part, order, blob in rows:
                _, value = store_keys.open_row(
                    coll, _blob(ktag), _blob(part), _order_from_row(order), _blob(blob)
                )
                found[_blob(ktag)] = value
        for ktag, kept in found.items():
            self._read[(ctag, ktag)] = kept

    async def put(
        self,
        collection: str,
        key: bytes,
        value: bytes,
        *,
        partition: bytes = b"",
        order: int | None = None,
    ) -> None:
        """Insert or replace the row ``key`` (value, partition and order all replaced)."""
        _, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        value = _bytes(value, "value")
        partition = _bytes(partition, "partition")
        check_order(order)
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        ptag = keys.partition_tag(coll, partition)
        blob = keys.seal_row(coll, ktag, ptag, order, key, value)
        self._rows.pop((ctag, ktag), None)  # a replaced row is written in its new place
        self._read.pop((ctag, ktag), None)
        self._rows[(ctag, ktag)] = ((ctag, ktag, ptag, order, blob), value)
        if order is not None:
            self._raise_counter(ctag, ptag, min(order + 1, _I64_MAX))

    async def delete(self, collection: str, key: bytes) -> None:
        """Remove the row ``key`` if present (its bytes are zeroed: secure_delete)."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        key = _bytes(key, "key")
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        self._read.pop((ctag, ktag), None)
        await conn.run("DELETE FROM rows WHERE coll = ? AND k = ?", (ctag, ktag))

    async def delete_partition(self, collection: str, partition: bytes) -> int:
        """Remove every row of ``partition``; returns how many. Its counter is kept."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        self._read.clear()
        row = await conn.one("SELECT count(*) FROM rows WHERE coll = ? AND part = ?", (ctag, ptag))
        await conn.run("DELETE FROM rows WHERE coll = ? AND part = ?", (ctag, ptag))
        return int(row[0]) if row else 0

    async def scan(
        self,
        collection: str,
        *,
        partition: bytes = b"",
        after_order: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        """(key, value) pairs of one partition by ascending ``order`` (descending if ``reverse``).

        ``after_order`` is a paging cursor in the scan's direction: only rows
        with ``order > after_order`` (``< after_order`` when ``reverse``) are
        returned, and rows stored without an order are skipped. Without it,
        rows stored without an order come before all others (after them when
        ``reverse``). Ties in ``order`` come in a stable, unspecified order.
        """
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        check_order(after_order, "after_order")
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool):
                raise TypeError("limit must be int or None")
            if limit < 0:
                raise ValueError("limit must be >= 0")
            if limit == 0:
                return []
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        sql = "SELECT k, ord, v FROM rows WHERE coll = ? AND part = ?"
        args: list[object] = [ctag, ptag]
        if after_order is not None:
            sql += " AND ord < ?" if reverse else " AND ord > ?"
            args.append(after_order)
        sql += " ORDER BY ord DESC, k DESC" if reverse else " ORDER BY ord ASC, k ASC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        out = []
        for ktag, order, blob in await conn.all(sql, args):
            out.append(keys.open_row(coll, _blob(ktag), ptag, _order_from_row(order), _blob(blob)))
        return out

    async def count(self, collection: str, *, partition: bytes = b"") -> int:
        """Number of rows in one partition of ``collection``."""
        conn, keys = self._check()
        await self._write_rows()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        row = await conn.one(
            "SELECT count(*) FROM rows WHERE coll = ? AND part = ?",
            (keys.collection_tag(coll), keys.partition_tag(coll, partition)),
        )
        return int(row[0]) if row else 0

    async def next_order(self, collection: str, partition: bytes = b"") -> int:
        """A fresh ``order`` for this partition, starting at 1.

        Strictly greater than every value it returned before for the partition
        and every ``order`` ever ``put`` into it (also after deletions and
        reopening). Rolled back with the transaction.
        """
        conn, keys = self._check()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
        slot = (ctag, ptag)
        n = self._known.get(slot)
        if n is None:
            row = await conn.one(
                "SELECT next FROM counters WHERE coll = ? AND part = ?", (ctag, ptag)
            )
            n = 1 if row is None else max(1, _order_from_row(row[0]) or 1)
            n = max(n, self._bump.get(slot, 1))
        if n >= _I64_MAX:
            raise StoreError("order counter exhausted")
        self._known[slot] = n + 1
        self._raise_counter(ctag, ptag, n + 1)
        return n


class Store:
    """The client's encrypted local store. Create with :meth:`create` or :meth:`open`.

    One ``Store`` owns its file exclusively until :meth:`close`; transactions
    are serialized (not re-entrant: do not open one inside another).
    """

    def __init__(self, path: Path, conn: Connection, keys: StoreKeys, header: Header) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self._path = path
        self._conn: Connection | None = conn
        self._keys: StoreKeys | None = keys
        self._header = header
        self._lock = asyncio.Lock()
        self._txn_task: asyncio.Task[Any] | None = None

    def __repr__(self) -> str:
        return f"<Store {self._path.name!r} {'open' if self._conn else 'closed'}>"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def kdf(self) -> KdfParams:
        """The Argon2id parameters in the header."""
        return self._header.kdf

    @property
    def closed(self) -> bool:
        return self._conn is None

    # -- lifecycle ----------------------------------------------------------------------

    @classmethod
    async def create(
        cls, path: Path | str, passphrase: str, *, kdf: KdfParams = DEFAULT_KDF
    ) -> Store:
        """Create a new store at ``path`` and return it open.

        Refuses (StoreExists) if ``path`` or one of its ``-wal``/``-shm``/``-journal``
        siblings exists. Creates missing directories with mode 0700. The file
        appears at ``path`` only once complete (built under a temporary name,
        then hard-linked into place), so a crash never leaves half a store.
        """
        path = Path(os.path.abspath(path))
        if not isinstance(kdf, KdfParams):
            raise TypeError("kdf must be KdfParams")
        floor = kdf if kdf.is_insecure_for_tests else KDF_FLOOR
        if not check_kdf_params(kdf, floor):
            raise ValueError(f"KDF parameters must be at least {KDF_FLOOR!r}")
        try:
            secret = encode_passphrase(passphrase)
        except UnicodeError:
            raise ValueError("passphrase is not valid Unicode text") from None
        if not secret:
            raise ValueError("passphrase must not be empty")
        make_private_dir(path.parent)
        refuse_existing(path)

        keys = StoreKeys.generate()
        salt = secrets.token_bytes(SALT_LEN)
        kek = await _kdf(secret, salt, kdf)
        header = new_header(kek, keys.data_key, kdf, salt)
        del kek, secret

        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.creating")
        try:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | O_NOFOLLOW | O_CLOEXEC
            fd = os.open(tmp, flags, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            await initialize(tmp, header)
            fsync_path(tmp)
            publish(tmp, path)
            fsync_dir(path.parent)
        finally:
            for leftover in (tmp, *(sibling(tmp, s) for s in SIBLING_SUFFIXES)):
                with suppress(FileNotFoundError):
                    os.unlink(leftover)
        conn = await connect(path)
        try:
            await check_file(conn, path)
        except BaseException:
            await conn.close()
            raise
        return cls(path, conn, keys, header)

    @classmethod
    async def open(
        cls, path: Path | str, passphrase: str, *, kdf_floor: KdfParams = KDF_FLOOR
    ) -> Store:
        """Open an existing store.

        Raises StoreNotFound, StoreCorrupted (not a Cove store, damaged,
        truncated or extended, unknown version, KDF parameters outside
        ``[kdf_floor, KDF_CEILING]``), StoreLocked, or WrongPassphrase.
        ``kdf_floor`` below the default is accepted only from
        ``KdfParams.insecure_for_tests()``. Costs one Argon2id run.
        """
        path = Path(os.path.abspath(path))
        if not isinstance(kdf_floor, KdfParams):
            raise TypeError("kdf_floor must be KdfParams")
        if not kdf_floor.is_insecure_for_tests and not check_kdf_params(kdf_floor, KDF_FLOOR):
            raise ValueError("kdf_floor below the minimum requires KdfParams.insecure_for_tests()")
        try:
            secret: bytes | None = encode_passphrase(passphrase)
        except UnicodeError:
            secret = None  # cannot be right; still fails with the generic error below
        check_sqlite_header(path)
        tighten_modes(path)
        conn = await connect(path)
        try:
            await check_file(conn, path)
            row = await conn.one("SELECT header FROM store_header WHERE id = 1")
            if row is None:
                raise StoreCorrupted("store header is missing")
            header = Header.decode(row[0])
            if not check_kdf_params(header.kdf, kdf_floor):
                raise StoreCorrupted("KDF parameters in the header are outside the accepted range")
            kek_task = asyncio.ensure_future(_kdf(secret or b"", header.salt, header.kdf))
            try:
                check = await conn.all("PRAGMA integrity_check")
            finally:
                kek = await kek_task
            if check != [("ok",)]:
                raise StoreCorrupted("the database file is damaged")
            if secret is None:
                raise WrongPassphrase()
            keys = StoreKeys(unwrap_data_key(kek, header))
        except BaseException:
            await conn.close()
            raise
        return cls(path, conn, keys, header)

    async def close(self) -> None:
        """Checkpoint the WAL into the file, release the lock, forget the keys. Idempotent."""
        if self._conn is None:
            return
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            with suppress(StoreError):
                await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")
            await conn.close()
            if self._keys is not None:
                self._keys.forget()
                self._keys = None

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def change_passphrase(self, old: str, new: str, *, kdf: KdfParams | None = None) -> None:
        """Rewrap the data key under ``new`` (fresh salt and nonce; rows untouched).

        ``old`` must open the header (WrongPassphrase otherwise). ``kdf``
        defaults to the header's current parameters. The old header is then
        checkpointed out of the WAL; copies of the file taken before the change
        still open with ``old`` (see the doc, "Changing the passphrase").
        """
        if kdf is None:
            kdf = self._header.kdf  # accepted when the store was opened or created
        elif not check_kdf_params(kdf, kdf if kdf.is_insecure_for_tests else KDF_FLOOR):
            raise ValueError(f"KDF parameters must be at least {KDF_FLOOR!r}")
        try:
            new_secret = encode_passphrase(new)
        except UnicodeError:
            raise ValueError("new passphrase is not valid Unicode text") from None
        if not new_secret:
            raise ValueError("new passphrase must not be empty")
        try:
            old_secret = encode_passphrase(old)
        except UnicodeError:
            raise WrongPassphrase() from None
        conn, keys = self._require_open()
        header = self._header
        old_kek = await _kdf(old_secret, header.salt, header.kdf)
        if not hmac.compare_digest(unwrap_data_key(old_kek, header), keys.data_key):
            raise WrongPassphrase()
        salt = secrets.token_bytes(SALT_LEN)
        kek = await _kdf(new_secret, salt, kdf)
        rewrapped = new_header(kek, keys.data_key, kdf, salt)
        async with self.transaction():
            await conn.run("UPDATE store_header SET header = ? WHERE id = 1", (rewrapped.encode(),))
        self._header = rewrapped
        async with self._lock:  # no transaction may be open during a checkpoint
            await conn.run("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- transactions -------------------------------------------------------------------

    def _require_open(self) -> tuple[Connection, StoreKeys]:
        if self._conn is None or self._keys is None:
            raise StoreClosed("the store is closed")
        return self._conn, self._keys

    def transaction(self) -> AbstractAsyncContextManager[Txn]:
        """One atomic SQLite transaction: committed when the block ends, rolled back
        if it raises (the exception propagates). Transactions are serialized."""
        self._require_open()
        task = asyncio.current_task()
        if task is not None and task is self._txn_task:
            raise RuntimeError("Store.transaction() is not re-entrant")
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Txn]:
        async with self._lock:
            conn, keys = self._require_open()
            self._txn_task = asyncio.current_task()
            txn = Txn(conn, keys)
            try:
                await conn.run("BEGIN IMMEDIATE")
                try:
                    yield txn
                except BaseException:
                    txn._active = False
                    with suppress(StoreError):
                        await conn.run("ROLLBACK")
                    raise
                try:
                    await txn._flush()
                    txn._active = False
                    await conn.run("COMMIT")
                except BaseException:
                    with suppress(StoreError):
                        await conn.run("ROLLBACK")
                    raise
            finally:
                txn._active = False
                self._txn_task = None

    # -- single-operation conveniences (each its own transaction) ------------------------

    async def get(self, collection: str, key: bytes) -> bytes | None:
        async with self.transaction() as txn:
            return await txn.get(collection, key)

    async def put(
        self,
        collection: str,
        key: bytes,
        value: bytes,
        *,
        partition: bytes = b"",
        order: int | None = None,
    ) -> None:
        async with self.transaction() as txn:
            await txn.put(collection, key, value, partition=partition, order=order)

    async def delete(self, collection: str, key: bytes) -> None:
        async with self.transaction() as txn:
            await txn.delete(collection, key)

    async def scan(
        self,
        collection: str,
        *,
        partition: bytes = b"",
        after_order: int | None = None,
        limit: int | None = None,
        reverse: bool = False,
    ) -> list[tuple[bytes, bytes]]:
        async with self.transaction() as txn:
            return await txn.scan(
                collection,
                partition=partition,
                after_order=after_order,
                limit=limit,
                reverse=reverse,
            )

    async def count(self, collection: str, *, partition: bytes = b"") -> int:
        async with self.transaction() as txn:
            return await txn.count(collection, partition=partition)

    async def next_order(self, collection: str, partition: bytes = b"") -> int:
        async with self.transaction() as txn:
            return await txn.next_order(collection, partition)


async def _kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id off the event loop; a failure (e.g. memory exhausted) is a StoreError."""
    try:
        return await asyncio.to_thread(argon2id, secret, salt, params)
    except HashingError as exc:
        raise StoreError(f"key derivation failed: {exc}") from None

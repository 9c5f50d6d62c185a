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
import sqlite3
import stat
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.request import pathname2url

import aiosqlite
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
    StoreExists,
    StoreLocked,
    StoreNotFound,
    WrongPassphrase,
)

__all__ = ["APPLICATION_ID", "SCHEMA", "SIBLING_SUFFIXES", "Store", "Txn"]

#: SQLite header field ``application_id`` (offset 68): ASCII "COVE"
APPLICATION_ID = 0x434F5645
#: SQLite ``user_version`` (offset 60): the schema version, equal to the format version
SCHEMA_VERSION = 1
PAGE_SIZE = 4096
#: files SQLite may keep next to the store
SIBLING_SUFFIXES = ("-wal", "-shm", "-journal")

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

_PRAGMAS = (
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

#: RFC 9106's second recommended option: t=3, m=64 MiB, p=4
DEFAULT_KDF = KdfParams()

_COLLECTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_I64_MAX = 2**63 - 1

_SQLITE_ERRORS = (sqlite3.Error, UnicodeDecodeError)

# SQLite primary result codes
_BUSY, _LOCKED, _CORRUPT, _NOTADB, _FORMAT = 5, 6, 11, 26, 24


def _store_error(exc: sqlite3.Error | UnicodeDecodeError) -> StoreError:
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


class _Conn:
    """An aiosqlite connection whose SQLite errors become store errors."""

    __slots__ = ("db",)

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db

    async def run(self, sql: str, args: Sequence[object] = ()) -> None:
        try:
            await self.db.execute(sql, tuple(args))
        except _SQLITE_ERRORS as exc:
            raise _store_error(exc) from None

    async def one(self, sql: str, args: Sequence[object] = ()) -> tuple[Any, ...] | None:
        try:
            async with self.db.execute(sql, tuple(args)) as cur:
                row = await cur.fetchone()
        except _SQLITE_ERRORS as exc:
            raise _store_error(exc) from None
        return None if row is None else tuple(row)

    async def all(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            async with self.db.execute(sql, tuple(args)) as cur:
                rows = await cur.fetchall()
        except _SQLITE_ERRORS as exc:
            raise _store_error(exc) from None
        return [tuple(r) for r in rows]

    async def close(self) -> None:
        with suppress(sqlite3.Error):
            await self.db.close()


async def _bump_counter(conn: _Conn, ctag: bytes, ptag: bytes, at_least: int) -> None:
    await conn.run(
        "INSERT INTO counters (coll, part, next) VALUES (?, ?, ?)"
        " ON CONFLICT (coll, part) DO UPDATE SET next = max(next, excluded.next)",
        (ctag, ptag, at_least),
    )


class Txn:
    """Operations inside one :meth:`Store.transaction` block.

    Keys, partitions and values are bytes; ``order`` is a signed 64-bit integer
    or None. A Txn must not be used after its ``async with`` block ends.
    """

    __slots__ = ("_active", "_conn", "_keys")

    def __init__(self, conn: _Conn, keys: StoreKeys) -> None:
        self._conn = conn
        self._keys = keys
        self._active = True

    def __repr__(self) -> str:
        return f"<Txn {'active' if self._active else 'finished'}>"

    def _check(self) -> tuple[_Conn, StoreKeys]:
        if not self._active:
            raise StoreClosed("the transaction has ended")
        return self._conn, self._keys

    async def get(self, collection: str, key: bytes) -> bytes | None:
        """The value stored under ``key``, or None."""
        conn, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        row = await conn.one("SELECT part, ord, v FROM rows WHERE coll = ? AND k = ?", (ctag, ktag))
        if row is None:
            return None
        part, order, blob = _blob(row[0]), _order_from_row(row[1]), _blob(row[2])
        _, value = keys.open_row(coll, ktag, part, order, blob)
        return value

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
        conn, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        value = _bytes(value, "value")
        partition = _bytes(partition, "partition")
        check_order(order)
        ctag, ktag = keys.collection_tag(coll), keys.key_tag(coll, key)
        ptag = keys.partition_tag(coll, partition)
        blob = keys.seal_row(coll, ktag, ptag, order, key, value)
        await conn.run(
            "INSERT OR REPLACE INTO rows (coll, k, part, ord, v) VALUES (?, ?, ?, ?, ?)",
            (ctag, ktag, ptag, order, blob),
        )
        if order is not None:
            await _bump_counter(conn, ctag, ptag, min(order + 1, _I64_MAX))

    async def delete(self, collection: str, key: bytes) -> None:
        """Remove the row ``key`` if present (its bytes are zeroed: secure_delete)."""
        conn, keys = self._check()
        coll = _collection(collection)
        key = _bytes(key, "key")
        await conn.run(
            "DELETE FROM rows WHERE coll = ? AND k = ?",
            (keys.collection_tag(coll), keys.key_tag(coll, key)),
        )

    async def delete_partition(self, collection: str, partition: bytes) -> int:
        """Remove every row of ``partition``; returns how many. Its counter is kept."""
        conn, keys = self._check()
        coll = _collection(collection)
        partition = _bytes(partition, "partition")
        ctag, ptag = keys.collection_tag(coll), keys.partition_tag(coll, partition)
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
        row = await conn.one("SELECT next FROM counters WHERE coll = ? AND part = ?", (ctag, ptag))
        n = 1 if row is None else max(1, _order_from_row(row[0]) or 1)
        if n >= _I64_MAX:
            raise StoreError("order counter exhausted")
        await _bump_counter(conn, ctag, ptag, n + 1)
        return n


class Store:
    """The client's encrypted local store. Create with :meth:`create` or :meth:`open`.

    One ``Store`` owns its file exclusively until :meth:`close`; transactions
    are serialized (not re-entrant: do not open one inside another).
    """

    def __init__(self, path: Path, conn: _Conn, keys: StoreKeys, header: Header) -> None:
        """Internal: use :meth:`create` or :meth:`open`."""
        self._path = path
        self._conn: _Conn | None = conn
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
        _make_private_dir(path.parent)
        _refuse_existing(path)

        keys = StoreKeys.generate()
        salt = secrets.token_bytes(SALT_LEN)
        kek = await _kdf(secret, salt, kdf)
        header = new_header(kek, keys.data_key, kdf, salt)
        del kek, secret

        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.creating")
        try:
            flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | _O_NOFOLLOW | _O_CLOEXEC
            fd = os.open(tmp, flags, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
            await _initialize(tmp, header)
            _fsync_path(tmp)
            _publish(tmp, path)
            _fsync_dir(path.parent)
        finally:
            for leftover in (tmp, *(_sibling(tmp, s) for s in SIBLING_SUFFIXES)):
                with suppress(FileNotFoundError):
                    os.unlink(leftover)
        conn = await _connect(path)
        try:
            await _check_file(conn, path)
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
        _check_sqlite_header(path)
        _tighten_modes(path)
        conn = await _connect(path)
        try:
            await _check_file(conn, path)
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

    def _require_open(self) -> tuple[_Conn, StoreKeys]:
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
                txn._active = False
                try:
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


# -- files --------------------------------------------------------------------------------

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _make_private_dir(directory: Path) -> None:
    """Create ``directory`` and missing parents with mode 0700; leave existing ones alone."""
    missing = []
    d = directory
    while not d.exists():
        missing.append(d)
        if d.parent == d:
            break
        d = d.parent
    for d in reversed(missing):
        with suppress(FileExistsError):
            d.mkdir(mode=0o700)
            os.chmod(d, 0o700)
    if not directory.is_dir():
        raise NotADirectoryError(f"not a directory: {directory}")


def _refuse_existing(path: Path) -> None:
    for p in (path, *(_sibling(path, s) for s in SIBLING_SUFFIXES)):
        if os.path.lexists(p):
            raise StoreExists(f"refusing to overwrite existing file: {p}")


def _publish(tmp: Path, path: Path) -> None:
    """Move the finished file into place without ever overwriting ``path``."""
    if os.path.lexists(_sibling(path, "-wal")) or os.path.lexists(_sibling(path, "-journal")):
        raise StoreExists(f"refusing to overwrite existing file: {path}")
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise StoreExists(f"refusing to overwrite existing file: {path}") from None
    except OSError:
        # file systems without hard links: check-then-rename (a narrow race)
        if os.path.lexists(path):
            raise StoreExists(f"refusing to overwrite existing file: {path}") from None
        os.rename(tmp, path)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    flag = getattr(os, "O_DIRECTORY", None)
    if flag is None:
        return
    fd = os.open(directory, os.O_RDONLY | flag | _O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tighten_modes(path: Path) -> None:
    """Set the store and its siblings to 0600 if group or others have any access."""
    for p in (path, *(_sibling(path, s) for s in SIBLING_SUFFIXES)):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            continue
        if stat.S_ISREG(st.st_mode) and st.st_mode & 0o077:
            os.chmod(p, 0o600)


def _check_sqlite_header(path: Path) -> None:
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


# -- SQLite -------------------------------------------------------------------------------


async def _connect(path: Path) -> _Conn:
    """Open ``path`` read-write (never creating it) with the store's PRAGMAs."""
    uri = "file:" + pathname2url(str(path)) + "?mode=rw"
    try:
        db = await aiosqlite.connect(uri, uri=True, isolation_level=None, timeout=0)
    except _SQLITE_ERRORS as exc:
        raise _store_error(exc) from None
    conn = _Conn(db)
    try:
        for pragma in _PRAGMAS:
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


async def _check_file(conn: _Conn, path: Path) -> None:
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


async def _initialize(path: Path, header: Header) -> None:
    """Write the schema and header into the empty file at ``path``, then close it."""
    try:
        db = await aiosqlite.connect(str(path), isolation_level=None, timeout=0)
    except _SQLITE_ERRORS as exc:
        raise _store_error(exc) from None
    conn = _Conn(db)
    try:
        for pragma in _PRAGMAS:
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
